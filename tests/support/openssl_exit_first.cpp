// Linked into the test executables that run gRPC with TLS or tokens in process: OpenSSL starts
// without its exit handler before any test touches it, as in the tools' mains (gateway/openssl_exit.h).
#include "gateway/openssl_exit.h"

namespace {
[[maybe_unused]] const bool kOpenSslStartedWithoutExitCleanup = (sluice::gateway::skip_openssl_cleanup_at_exit(), true);
}  // namespace
