#include "gateway/openssl_exit.h"

#include <openssl/crypto.h>

#include "core/error.h"

namespace sluice::gateway {

void skip_openssl_cleanup_at_exit() {
  if (OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) != 1) {
    throw Error(ErrorCode::Internal, "OpenSSL failed to start");
  }
}

}  // namespace sluice::gateway
