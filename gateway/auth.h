#pragma once
// Bearer-token authentication for the sluice.v1 calls. Tokens are kept only as SHA-256 digests:
// the config never holds them in clear, and comparing fixed-size digests in constant time reveals
// neither a token's content nor its length through timing.
#include <array>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

namespace sluice::gateway {

using TokenDigest = std::array<unsigned char, 32>;

TokenDigest digest_token(std::string_view token);

// OK when `tokens` is empty (no auth configured) or the call carries `authorization: Bearer T`
// for a configured T; otherwise UNAUTHENTICATED saying what is missing, never echoing the token.
grpc::Status authenticate(const std::vector<TokenDigest>& tokens, const grpc::CallbackServerContext& context);

}  // namespace sluice::gateway
