#include "gateway/client.h"

#include <exception>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"

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

}  // namespace

Client::Client(std::shared_ptr<grpc::Channel> channel) : stub_(v1::Sluice::NewStub(std::move(channel))) {}

std::shared_ptr<grpc::Channel> Client::connect(const std::string& target, int max_receive_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_receive_bytes);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
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
