#include "gateway/auth.h"

#include <cctype>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/error.h"

namespace sluice::gateway {

namespace {

constexpr std::string_view kBearer = "bearer ";  // the scheme is case-insensitive (RFC 6750, 7235)

bool has_bearer_scheme(std::string_view value) {
  if (value.size() < kBearer.size()) return false;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kBearer[i]) return false;
  }
  return true;
}

}  // namespace

TokenDigest digest_token(std::string_view token) {
  TokenDigest digest;
  unsigned int size = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    throw Error(ErrorCode::Internal, "SHA-256 is not available from OpenSSL");
  }
  return digest;
}

grpc::Status authenticate(const std::vector<TokenDigest>& tokens, const grpc::CallbackServerContext& context) {
  if (tokens.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto header = metadata.find("authorization");
  if (header == metadata.end()) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            "missing bearer token: send the metadata 'authorization: Bearer <token>'"};
  }
  const std::string_view value(header->second.data(), header->second.size());
  if (!has_bearer_scheme(value)) {
    return {grpc::StatusCode::UNAUTHENTICATED, "the authorization metadata must be 'Bearer <token>'"};
  }
  const TokenDigest presented = digest_token(value.substr(kBearer.size()));
  // Every configured token is compared, so the time taken does not tell which one matched.
  bool accepted = false;
  for (const TokenDigest& token : tokens) {
    accepted |= CRYPTO_memcmp(token.data(), presented.data(), presented.size()) == 0;
  }
  if (!accepted) return {grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token"};
  return grpc::Status::OK;
}

}  // namespace sluice::gateway
