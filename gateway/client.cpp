#include "gateway/client.h"

#include <exception>
#include <thread>

#include <fmt/format.h>
#include <grpcpp/support/client_interceptor.h>

#include "core/chunk_source.h"
#include "core/error.h"
#include "gateway/token.h"

namespace sluice::gateway {

namespace {

void prepare(grpc::ClientContext& context, const CallOptions& options) {
  if (options.timeout) context.set_deadline(std::chrono::system_clock::now() + *options.timeout);
  if (options.gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
}

[[noreturn]] void raise(const grpc::Status& status) {
  throw Error(static_cast<ErrorCode>(status.error_code()), status.error_message());
}

v1::InputMessage header_message(const v1::StreamHeader& header) {
  v1::InputMessage message;
  *message.mutable_header() = header;
  return message;
}

// Reads the output stream of Process/ProcessFile: batches to the handler, the summary returned.
template <typename Reader>
v1::Summary read_outputs(Reader& reader, const BatchHandler& on_batch) {
  v1::Summary summary;
  v1::OutputMessage message;
  while (reader.Read(&message)) {
    if (message.kind_case() == v1::OutputMessage::kBatch) {
      if (on_batch) on_batch(message.batch());
    } else if (message.kind_case() == v1::OutputMessage::kSummary) {
      summary = std::move(*message.mutable_summary());
    }
  }
  return summary;
}

std::string read_file(const std::string& path, std::string_view what) {
  try {
    return read_whole_file(path);
  } catch (const Error& e) {
    throw Error(ErrorCode::InvalidArgument, fmt::format("the {}: {}", what, e.what()));
  }
}

std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const ChannelOptions& options) {
  if (!options.tls) {
    if (!options.ca_file.empty() || !options.cert_file.empty() || !options.key_file.empty() ||
        !options.server_name.empty()) {
      throw Error(ErrorCode::InvalidArgument, "a CA file, client certificate or server name needs TLS");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    throw Error(ErrorCode::InvalidArgument, "a client certificate and its key go together: give both or neither");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) ssl.pem_root_certs = read_file(options.ca_file, "CA file");
  if (!options.cert_file.empty()) {
    ssl.pem_cert_chain = read_file(options.cert_file, "client certificate");
    ssl.pem_private_key = read_file(options.key_file, "client key");
  }
  return grpc::SslCredentials(ssl);
}

// Adds the token to every call on a channel. Metadata rather than call credentials: gRPC sends
// call credentials only over TLS, and a gateway behind a TLS-terminating proxy takes tokens in
// plaintext.
class BearerToken final : public grpc::experimental::Interceptor {
 public:
  explicit BearerToken(std::string header) : header_(std::move(header)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  const std::string header_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(const std::string& token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerToken(header_);
  }

 private:
  const std::string header_;
};

}  // namespace

std::string read_token_file(const std::string& path) {
  const std::string content = read_file(path, "token file");
  const std::string token(strip_blanks(content));
  if (!is_valid_token(token)) {
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("the token file '{}' must hold one token: printable ASCII without spaces", path));
  }
  return token;
}

Client::Client(std::shared_ptr<grpc::Channel> channel) : stub_(v1::Sluice::NewStub(std::move(channel))) {}

std::shared_ptr<grpc::Channel> Client::connect(const ChannelOptions& options) {
  if (!options.token.empty() && !is_valid_token(options.token)) {
    throw Error(ErrorCode::InvalidArgument, "the token must be printable ASCII without spaces");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_bytes);
  if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!options.token.empty()) interceptors.push_back(std::make_unique<BearerTokenFactory>(options.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(options.target, channel_credentials(options), args,
                                                                 std::move(interceptors));
}

v1::DescribeResponse Client::describe(const CallOptions& options) {
  grpc::ClientContext context;
  prepare(context, options);
  v1::DescribeResponse response;
  if (grpc::Status s = stub_->Describe(&context, v1::DescribeRequest(), &response); !s.ok()) raise(s);
  return response;
}

v1::ValidateConfigResponse Client::validate_config(const std::string& yaml, const CallOptions& options) {
  grpc::ClientContext context;
  prepare(context, options);
  v1::ValidateConfigRequest request;
  request.set_yaml(yaml);
  v1::ValidateConfigResponse response;
  if (grpc::Status s = stub_->ValidateConfig(&context, request, &response); !s.ok()) raise(s);
  return response;
}

v1::Summary Client::upload(const v1::StreamHeader& header, const ChunkSource& next_chunk, const CallOptions& options) {
  grpc::ClientContext context;
  prepare(context, options);
  v1::Summary summary;
  auto writer = stub_->Upload(&context, &summary);
  // Write blocks while the server's flow-control window is full: that is the backpressure.
  bool open = writer->Write(header_message(header));
  v1::InputMessage message;
  std::exception_ptr source_error;
  try {
    while (open && next_chunk(*message.mutable_chunk())) open = writer->Write(message);
  } catch (...) {
    source_error = std::current_exception();
    context.TryCancel();
  }
  if (open) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (source_error) std::rethrow_exception(source_error);
  if (!status.ok()) raise(status);
  return summary;
}

v1::Summary Client::process(const v1::StreamHeader& header, const ChunkSource& next_chunk,
                            const BatchHandler& on_batch, const CallOptions& options) {
  grpc::ClientContext context;
  prepare(context, options);
  auto stream = stub_->Process(&context);
  std::exception_ptr source_error;
  std::thread sender([&] {
    bool open = stream->Write(header_message(header));
    v1::InputMessage message;
    try {
      while (open && next_chunk(*message.mutable_chunk())) open = stream->Write(message);
    } catch (...) {
      source_error = std::current_exception();
      context.TryCancel();
      return;
    }
    if (open) stream->WritesDone();
  });
  v1::Summary summary;
  std::exception_ptr handler_error;
  try {
    summary = read_outputs(*stream, on_batch);
  } catch (...) {
    handler_error = std::current_exception();
    context.TryCancel();
    v1::OutputMessage discard;
    while (stream->Read(&discard)) {
    }
  }
  sender.join();
  const grpc::Status status = stream->Finish();
  if (source_error) std::rethrow_exception(source_error);
  if (handler_error) std::rethrow_exception(handler_error);
  if (!status.ok()) raise(status);
  return summary;
}

v1::Summary Client::process_file(const v1::ProcessFileRequest& request, const BatchHandler& on_batch,
                                 const CallOptions& options) {
  grpc::ClientContext context;
  prepare(context, options);
  auto reader = stub_->ProcessFile(&context, request);
  v1::Summary summary = read_outputs(*reader, on_batch);
  if (grpc::Status s = reader->Finish(); !s.ok()) raise(s);
  return summary;
}

}  // namespace sluice::gateway
