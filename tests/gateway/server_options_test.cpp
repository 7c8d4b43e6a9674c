#include <gtest/gtest.h>

#include "config/node.h"
#include "gateway/gateway_config.h"
#include "support/gateway_harness.h"

namespace sluice {
namespace {

gateway::ServerOptions server_options(const std::string& server_lines) {
  return testing::config_with_server(server_lines).server;
}

TEST(ServerOptions, CpuSchedulingIsBatchUnlessSetToNormal) {
  EXPECT_EQ(server_options("  listen: 127.0.0.1:0\n").cpu_scheduling, CpuScheduling::Batch);
  EXPECT_EQ(server_options("  cpu_scheduling: batch\n").cpu_scheduling, CpuScheduling::Batch);
  EXPECT_EQ(server_options("  cpu_scheduling: normal\n").cpu_scheduling, CpuScheduling::Normal);
  try {
    server_options("  cpu_scheduling: realtime\n");
    ADD_FAILURE() << "an unknown policy was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 19);
    EXPECT_NE(e.message().find("batch or normal, got 'realtime'"), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace sluice
