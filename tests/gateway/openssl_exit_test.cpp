// skip_openssl_cleanup_at_exit, seen from the last exit handler of a fresh process: OpenSSL must
// still work there, which it does not once its own cleanup has run (the second test shows that
// this check can fail). Each check runs in a child process of its own, started by re-running this
// executable, so nothing has touched OpenSSL before the test body.
#include <sys/wait.h>

#include <cstdlib>
#include <string_view>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "gateway/openssl_exit.h"

namespace sluice::gateway {
namespace {

bool sha256_works() {
  constexpr std::string_view kInput = "abc";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  return EVP_Digest(kInput.data(), kInput.size(), digest, &size, EVP_sha256(), nullptr) == 1 && size == 32 &&
         digest[0] == 0xba && digest[31] == 0xad;  // SHA-256("abc") = ba7816bf...f20015ad
}

// Registered before OpenSSL starts, so it runs after any exit handler that OpenSSL registers.
void exit_with_whether_sha256_still_works() {
  std::atexit([] { std::_Exit(sha256_works() ? 0 : 1); });
}

bool exited_zero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

class OpenSslExit : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(OpenSslExit, OpenSslStillWorksInTheLastExitHandlerWhenItsCleanupIsSkipped) {
  EXPECT_EXIT(
      {
        exit_with_whether_sha256_still_works();
        skip_openssl_cleanup_at_exit();
        if (!sha256_works()) std::_Exit(2);
        std::exit(0);
      },
      exited_zero, "");
}

TEST_F(OpenSslExit, OpenSslStartedTheUsualWayIsGoneByTheLastExitHandler) {
  EXPECT_EXIT(
      {
        exit_with_whether_sha256_still_works();
        if (!sha256_works()) std::_Exit(2);
        std::exit(0);
      },
      [](int status) { return !exited_zero(status); }, "");
}

}  // namespace
}  // namespace sluice::gateway
