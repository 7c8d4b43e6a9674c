// TLS, mutual TLS and bearer tokens, end to end: the real gateway in process, the real client
// library and sluice-client, and certificates made for this run by the openssl CLI.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include "support/access_log.h"
#include "support/gateway_harness.h"

namespace sluice::gateway {
namespace {

using namespace sluice::testing;
namespace fs = std::filesystem;

// A throwaway PKI in its own mkdtemp folder (test processes run in parallel): a CA with a server
// certificate for localhost and 127.0.0.1 and a client certificate, and another CA with a client
// certificate of its own. Made once per test process.
class TestPki {
 public:
  TestPki() {
    std::string pattern = ::testing::TempDir() + "sluice_pki_XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    dir_ = pattern;
    make_ca("ca");
    make_cert("server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    make_cert("client", "ca", "extendedKeyUsage=clientAuth\n");
    make_ca("other_ca");
    make_cert("other_client", "other_ca", "extendedKeyUsage=clientAuth\n");
  }
  ~TestPki() { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name)) << content;
    return path(name);
  }

 private:
  void openssl(const std::string& args) {
    const std::string command = "cd '" + dir_.string() + "' && openssl " + args + " >>openssl.log 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl failed: " + command);
  }
  void make_ca(const std::string& name) {
    openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" + name +
            " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -keyout " + name +
            ".key -out " + name + ".pem");
  }
  void make_cert(const std::string& name, const std::string& ca, const std::string& extensions) {
    write(name + ".ext", extensions);
    openssl("req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + name + " -keyout " + name +
            ".key -out " + name + ".csr");
    openssl("x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca + ".key -set_serial " +
            std::to_string(++serial_) + " -days 2 -extfile " + name + ".ext -out " + name + ".pem");
  }

  fs::path dir_;
  int serial_ = 0;
};

const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

constexpr std::string_view kToken = "s3cret-token_1";

std::string gateway_yaml(const std::string& server_security) {
  return "server:\n  listen: 127.0.0.1:0\n" + server_security + "pipelines:\n  errors:\n" +
         indent(kErrorsPipelineYaml, "    ");
}

std::string tls_yaml(const std::string& extra = "") {
  return "  tls: {cert: " + pki().path("server.pem") + ", key: " + pki().path("server.key") + extra + "}\n";
}

std::string mtls_yaml() { return tls_yaml(", client_ca: " + pki().path("ca.pem") + ", require_client_cert: true"); }

const std::string kTokenYaml = "  auth: {tokens: [other-token, " + std::string(kToken) + "]}\n";

ChannelOptions trusting_client(const TestGateway& gateway) {
  return {.target = gateway.address(), .tls = true, .ca_file = pki().path("ca.pem")};
}

ChannelOptions with_client_cert(ChannelOptions options, const std::string& name) {
  options.cert_file = pki().path(name + ".pem");
  options.key_file = pki().path(name + ".key");
  return options;
}

ChannelOptions with_token(ChannelOptions options, std::string_view token) {
  options.token = token;
  return options;
}

// How a call ended; calls get a deadline so that a hang fails the test instead of ctest's timeout.
Status outcome(const std::function<void(const CallOptions&)>& call) {
  try {
    call({.timeout = std::chrono::seconds(30)});
  } catch (const Error& e) {
    return e.status();
  }
  return Status::Ok();
}

Status describe_with(const ChannelOptions& options) {
  Client client(Client::connect(options));
  return outcome([&](const CallOptions& call) { client.describe(call); });
}

Status upload_with(const ChannelOptions& options) {
  Client client(Client::connect(options));
  const std::string csv = to_csv(make_access_records(200, 3));
  return outcome([&](const CallOptions& call) { client.upload(header_for("errors"), chunks_of(csv, 500), call); });
}

std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> as_map(const v1::ResultBatch& batch) {
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, int64_t>> out;
  for (const auto& row : batch.rows()) {
    out[{row.values(0).string_value(), row.values(1).int_value()}] = {row.values(2).int_value(),
                                                                      row.values(3).int_value()};
  }
  return out;
}

TEST(Tls, ProcessOverTlsGivesTheIndependentlyComputedAggregates) {
  TestGateway gateway(gateway_yaml(tls_yaml()));
  Client client(Client::connect(trusting_client(gateway)));
  const auto records = make_access_records(3000, 21);
  std::vector<v1::ResultBatch> batches;
  const v1::Summary summary = client.process(header_for("errors"), chunks_of(to_csv(records), 700),
                                             [&](const v1::ResultBatch& b) { batches.push_back(b); });
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(as_map(batches[0]), expected_error_aggregates(records));
  EXPECT_EQ(summary.counters().records_in(), records.size());
}

TEST(Tls, PlaintextClientIsRefusedAsUnavailable) {
  TestGateway gateway(gateway_yaml(tls_yaml()));
  EXPECT_EQ(describe_with({.target = gateway.address()}).code, ErrorCode::Unavailable);
  EXPECT_EQ(gateway.state().streams_started.load(), 0u);
}

TEST(Tls, ClientThatTrustsAnotherCaRefusesTheServer) {
  TestGateway gateway(gateway_yaml(tls_yaml()));
  ChannelOptions options = trusting_client(gateway);
  options.ca_file = pki().path("other_ca.pem");
  EXPECT_EQ(describe_with(options).code, ErrorCode::Unavailable);
}

TEST(Tls, ServerNameIsCheckedAgainstTheCertificate) {
  TestGateway gateway(gateway_yaml(tls_yaml()));
  ChannelOptions options = trusting_client(gateway);
  options.server_name = "localhost";
  EXPECT_EQ(describe_with(options).code, ErrorCode::Ok);
  options.server_name = "elsewhere.invalid";
  EXPECT_EQ(describe_with(options).code, ErrorCode::Unavailable);
}

TEST(MutualTls, ClientWithoutCertificateIsRefused) {
  TestGateway gateway(gateway_yaml(mtls_yaml()));
  EXPECT_EQ(describe_with(trusting_client(gateway)).code, ErrorCode::Unavailable);
  EXPECT_EQ(upload_with(trusting_client(gateway)).code, ErrorCode::Unavailable);
  EXPECT_EQ(gateway.state().streams_started.load(), 0u);
}

TEST(MutualTls, ClientCertificateFromTheCaIsAccepted) {
  TestGateway gateway(gateway_yaml(mtls_yaml()));
  const ChannelOptions options = with_client_cert(trusting_client(gateway), "client");
  EXPECT_EQ(describe_with(options).code, ErrorCode::Ok);
  EXPECT_EQ(upload_with(options).code, ErrorCode::Ok);
  EXPECT_EQ(gateway.state().streams_started.load(), 1u);
}

TEST(MutualTls, ClientCertificateFromAnotherCaIsRefused) {
  TestGateway gateway(gateway_yaml(mtls_yaml()));
  EXPECT_EQ(describe_with(with_client_cert(trusting_client(gateway), "other_client")).code, ErrorCode::Unavailable);
}

TEST(MutualTls, OptionalClientCertificateMustStillVerifyWhenPresented) {
  TestGateway gateway(gateway_yaml(tls_yaml(", client_ca: " + pki().path("ca.pem"))));
  EXPECT_EQ(describe_with(trusting_client(gateway)).code, ErrorCode::Ok);
  EXPECT_EQ(describe_with(with_client_cert(trusting_client(gateway), "client")).code, ErrorCode::Ok);
  EXPECT_EQ(describe_with(with_client_cert(trusting_client(gateway), "other_client")).code, ErrorCode::Unavailable);
}

// Tokens over plaintext: the check does not depend on the transport.
TEST(Tokens, MissingTokenIsUnauthenticatedForStreamingAndUnaryCalls) {
  TestGateway gateway(gateway_yaml(kTokenYaml));
  const ChannelOptions without_token = {.target = gateway.address()};
  for (const Status& status : {describe_with(without_token), upload_with(without_token)}) {
    EXPECT_EQ(status.code, ErrorCode::Unauthenticated);
    EXPECT_NE(status.message.find("missing bearer token"), std::string::npos) << status.message;
  }
  EXPECT_EQ(gateway.state().streams_started.load(), 0u) << "a rejected call must not start a stream";
}

TEST(Tokens, WrongTokenIsUnauthenticatedForStreamingAndUnaryCalls) {
  TestGateway gateway(gateway_yaml(kTokenYaml));
  const ChannelOptions options = with_token({.target = gateway.address()}, "s3cret-token_2");
  for (const Status& status : {describe_with(options), upload_with(options)}) {
    EXPECT_EQ(status.code, ErrorCode::Unauthenticated);
    EXPECT_EQ(status.message, "invalid bearer token");
  }
}

TEST(Tokens, RightTokenIsAcceptedForStreamingAndUnaryCalls) {
  TestGateway gateway(gateway_yaml(kTokenYaml));
  const ChannelOptions options = with_token({.target = gateway.address()}, kToken);
  EXPECT_EQ(describe_with(options).code, ErrorCode::Ok);
  EXPECT_EQ(upload_with(options).code, ErrorCode::Ok);
  EXPECT_EQ(describe_with(with_token({.target = gateway.address()}, "other-token")).code, ErrorCode::Ok);
  EXPECT_EQ(gateway.state().streams_started.load(), 1u);
}

TEST(Tokens, OnlyTheBearerSchemeIsAccepted) {
  TestGateway gateway(gateway_yaml(kTokenYaml));
  auto describe_with_header = [&](const std::string& value) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", value);
    v1::DescribeResponse response;
    return gateway.stub()->Describe(&context, v1::DescribeRequest(), &response).error_code();
  };
  EXPECT_EQ(describe_with_header("Basic " + std::string(kToken)), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(describe_with_header(std::string(kToken)), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(describe_with_header("bearer " + std::string(kToken)), grpc::StatusCode::OK);  // schemes ignore case
}

TEST(Tokens, HealthCheckNeedsNoToken) {
  TestGateway gateway(gateway_yaml(kTokenYaml));
  grpc::GenericStub health(grpc::CreateChannel(gateway.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::Slice empty_message("");
  const grpc::ByteBuffer request(&empty_message, 1);  // HealthCheckRequest{service: ""}: the whole server
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  health.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "expected HealthCheckResponse{status: SERVING}";
}

TEST(Tokens, MutualTlsAndTokenAreBothRequired) {
  TestGateway gateway(gateway_yaml(mtls_yaml() + kTokenYaml));
  const ChannelOptions with_cert = with_client_cert(trusting_client(gateway), "client");
  EXPECT_EQ(upload_with(with_cert).code, ErrorCode::Unauthenticated);
  EXPECT_EQ(upload_with(with_token(with_cert, kToken)).code, ErrorCode::Ok);
  EXPECT_EQ(upload_with(with_token(trusting_client(gateway), kToken)).code, ErrorCode::Unavailable);
}

// ValidateConfig checks a caller's YAML on the server: it must not read, or reveal, server files.
TEST(ValidateConfig, DoesNotReadTheFilesItNames) {
  TestGateway gateway(gateway_yaml(""));
  const std::string yaml = gateway_yaml(
      "  tls: {cert: /nonexistent/server.pem, key: /nonexistent/server.key}\n  auth: {tokens_file: /etc/hostname}\n");
  const v1::ValidateConfigResponse response = gateway.client().validate_config(yaml);
  EXPECT_TRUE(response.valid()) << response.error();
  const v1::ValidateConfigResponse bad =
      gateway.client().validate_config(gateway_yaml("  tls: {key: /nonexistent/server.key}\n"));
  EXPECT_FALSE(bad.valid());
  EXPECT_NE(bad.error().find("tls needs the key 'cert'"), std::string::npos) << bad.error();
}

// sluice-client takes the TLS files from options and the token from a file or SLUICE_TOKEN.
struct ClientRun {
  int exit_code;
  std::string output;
};

ClientRun run_client(const std::string& env_and_args) {
  const std::string command = "env -u SLUICE_TOKEN " + env_and_args + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(SluiceClientCli, ReachesAMutualTlsGatewayWithATokenFromAFileOrTheEnvironment) {
  TestGateway gateway(gateway_yaml(mtls_yaml() + kTokenYaml));
  const std::string token_file = pki().write("client_token.txt", std::string(kToken) + "\n");
  const std::string client = std::string(SLUICE_CLIENT_BIN) + " --target " + gateway.address() + " --tls --ca " +
                             pki().path("ca.pem") + " --cert " + pki().path("client.pem") + " --key " +
                             pki().path("client.key");

  const ClientRun from_file = run_client(client + " --token-file " + token_file + " describe");
  EXPECT_EQ(from_file.exit_code, 0) << from_file.output;
  EXPECT_NE(from_file.output.find("errors (csv"), std::string::npos) << from_file.output;

  const ClientRun from_environment = run_client("SLUICE_TOKEN=" + std::string(kToken) + " " + client + " describe");
  EXPECT_EQ(from_environment.exit_code, 0) << from_environment.output;

  const ClientRun without_token = run_client(client + " describe");
  EXPECT_EQ(without_token.exit_code, 1);
  EXPECT_NE(without_token.output.find("UNAUTHENTICATED"), std::string::npos) << without_token.output;
}

TEST(ClientLibrary, RejectsInconsistentOrUnreadableChannelOptions) {
  const auto code_of = [](const ChannelOptions& options) {
    try {
      Client::connect(options);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Ok;
  };
  EXPECT_EQ(code_of({.ca_file = pki().path("ca.pem")}), ErrorCode::InvalidArgument) << "a CA file needs tls";
  EXPECT_EQ(code_of({.tls = true, .ca_file = pki().path("missing.pem")}), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of({.tls = true, .cert_file = pki().path("client.pem")}), ErrorCode::InvalidArgument)
      << "a certificate without its key";
  EXPECT_EQ(code_of({.token = "two words"}), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of({.tls = true, .ca_file = pki().path("ca.pem"), .token = std::string(kToken)}), ErrorCode::Ok);
}

TEST(ClientLibrary, TokenFileLosesItsNewlineAndHoldsOneToken) {
  EXPECT_EQ(read_token_file(pki().write("one_token.txt", "  abc.def\n")), "abc.def");
  EXPECT_THROW(read_token_file(pki().write("two_tokens.txt", "abc\ndef\n")), Error);
  EXPECT_THROW(read_token_file(pki().write("no_token.txt", "\n")), Error);
}

// Config errors name the file, line and column of the offending value, never a secret.
config::ConfigError server_config_error(const std::string& server_yaml) {
  try {
    parse_server_options(config::load_string(server_yaml, pki().path("gateway.yaml")));
  } catch (const config::ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << server_yaml;
  return config::ConfigError("", 0, 0, "");
}

TEST(SecurityConfig, MissingCertFileNamesItsLineAndColumn) {
  const auto e = server_config_error("listen: 127.0.0.1:0\ntls:\n  cert: missing.pem\n  key: server.key\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.column(), 9);
  EXPECT_EQ(e.file(), pki().path("gateway.yaml"));
  EXPECT_NE(e.message().find("cannot open '" + pki().path("missing.pem") + "'"), std::string::npos) << e.what();
}

TEST(SecurityConfig, UnknownKeyUnderTlsNamesItsLineAndColumn) {
  const auto e = server_config_error("tls:\n  cert: server.pem\n  key: server.key\n  ciphers: all\n");
  EXPECT_EQ(e.line(), 4);
  EXPECT_EQ(e.column(), 3);
  EXPECT_NE(e.message().find("ciphers"), std::string::npos) << e.what();
}

TEST(SecurityConfig, KeyWithoutCertIsRejected) {
  const auto e = server_config_error("tls: {key: server.key}\n");
  EXPECT_EQ(e.line(), 1);
  EXPECT_EQ(e.message(), "tls needs the key 'cert'");
}

TEST(SecurityConfig, RequireClientCertNeedsClientCa) {
  const auto e = server_config_error("tls:\n  cert: server.pem\n  key: server.key\n  require_client_cert: true\n");
  EXPECT_EQ(e.line(), 4);
  EXPECT_NE(e.message().find("needs client_ca"), std::string::npos) << e.what();
}

TEST(SecurityConfig, FilesThatDoNotHoldWhatTheirKeySaysAreRejected) {
  auto e = server_config_error("tls:\n  cert: server.key\n  key: server.key\n");
  EXPECT_EQ(e.line(), 2);
  EXPECT_EQ(e.message(), "the cert file holds no PEM certificate");
  e = server_config_error("tls:\n  cert: server.pem\n  key: server.pem\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.message(), "the key file holds no unencrypted PEM private key");
  e = server_config_error("tls:\n  cert: server.pem\n  key: client.key\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.message(), "the key does not belong to the certificate in the cert file");
}

TEST(SecurityConfig, PathsAreTakenBesideTheConfigAndPemsLoaded) {
  pki().write("tokens.txt", "# rotated monthly\nfrom-file-1\n\n  from-file-2  \n");
  const ServerOptions options = parse_server_options(config::load_string(
      "tls: {cert: server.pem, key: server.key, client_ca: ca.pem, require_client_cert: true}\n"
      "auth: {tokens_file: tokens.txt, tokens: [inline-token]}\n",
      pki().path("gateway.yaml")));
  ASSERT_TRUE(options.tls.has_value());
  EXPECT_NE(options.tls->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(options.tls->key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_NE(options.tls->client_ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_TRUE(options.tls->require_client_cert);
  EXPECT_EQ(options.auth_tokens, (std::vector<TokenDigest>{digest_token("inline-token"), digest_token("from-file-1"),
                                                           digest_token("from-file-2")}));
}

TEST(SecurityConfig, BadTokenNamesItsLineWithoutQuotingIt) {
  pki().write("bad_tokens.txt", "good-token\nhas a space\n");
  const auto e = server_config_error("auth:\n  tokens_file: bad_tokens.txt\n");
  EXPECT_EQ(e.line(), 2);
  EXPECT_NE(e.message().find("line 2 of the tokens file"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("has a space"), std::string::npos) << "the error quotes a secret";
  EXPECT_EQ(server_config_error("auth: {tokens: ['']}\n").line(), 1);
}

TEST(SecurityConfig, DirectoryGivenAsAFileIsReported) {
  const auto e = server_config_error("auth: {tokens_file: .}\n");
  EXPECT_EQ(e.column(), 21);
  EXPECT_NE(e.message().find("cannot read"), std::string::npos) << e.what();
}

TEST(SecurityConfig, AuthWithoutAnyTokenIsRejected) {
  pki().write("empty_tokens.txt", "# nobody yet\n");
  const auto e = server_config_error("auth: {tokens_file: empty_tokens.txt}\n");
  EXPECT_NE(e.message().find("auth has no token"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace sluice::gateway
