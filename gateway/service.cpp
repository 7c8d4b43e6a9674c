#include "gateway/service.h"

#include <spdlog/spdlog.h>

#include "config/node.h"
#include "core/tsan_handoff.h"
#include "gateway/auth.h"
#include "gateway/version.h"

namespace sluice::gateway {

namespace {

// Each streaming reactor owns a PipelineCall and forwards its reactions to it; the call decides
// when to read, write and finish.
//
// gRPC runs the reactions on its own threads, inside libgrpc, which is not built with TSan; so the
// reactor also states to TSan the ordering that gRPC's callback API guarantees
// (grpcpp/support/server_callback.h): a StartRead or StartWrite happens before the OnReadDone or
// OnWriteDone that completes it; the method handler (the reactor's constructor) happens before
// OnCancel; and OnDone "is called after all others", so the handler, Finish and every reaction
// happen before it. Reactions may run concurrently with each other and with the graph's threads:
// PipelineCall's mutex orders those, visibly to TSan.
template <typename Reactor>
class CallReactor : public Reactor {
 public:
  void OnCancel() override { react(handler_returned_, [this] { call_.on_cancel(); }); }
  void OnDone() override {
    handoff_receive(&all_done_);
    delete this;
  }

 protected:
  CallReactor(GatewayState& state, grpc::CallbackServerContext* context, v1::Summary* upload_response)
      : call_(state, context, io(), upload_response) {}

  // The method handler's end: the last thing the most derived constructor does.
  void handler_returns() {
    handoff_send(&handler_returned_);
    handoff_send(&all_done_);
  }

  template <typename Reaction>
  void react(const char& started_by, Reaction&& reaction) {
    handoff_receive(&started_by);
    reaction();
    handoff_send(&all_done_);
  }

  // Hand-off tokens for TSan: only their addresses matter.
  char read_started_ = 0;
  char write_started_ = 0;
  char handler_returned_ = 0;
  char all_done_ = 0;
  PipelineCall call_;

 private:
  // The operations this RPC shape has.
  PipelineCall::Io io() {
    PipelineCall::Io io;
    if constexpr (requires(Reactor& r, v1::InputMessage* m) { r.StartRead(m); }) {
      io.start_read = [this](v1::InputMessage* m) {
        handoff_send(&read_started_);
        this->StartRead(m);
      };
    }
    if constexpr (requires(Reactor& r, const v1::OutputMessage* m) { r.StartWrite(m); }) {
      io.start_write = [this](const v1::OutputMessage* m) {
        handoff_send(&write_started_);
        this->StartWrite(m);
      };
    }
    io.finish = [this](const grpc::Status& s) {
      handoff_send(&all_done_);
      this->Finish(s);
    };
    return io;
  }
};

class UploadReactor final : public CallReactor<grpc::ServerReadReactor<v1::InputMessage>> {
 public:
  UploadReactor(GatewayState& state, grpc::CallbackServerContext* context, v1::Summary* response)
      : CallReactor(state, context, response) {
    call_.start_client_input();
    handler_returns();
  }
  void OnReadDone(bool ok) override { react(read_started_, [&] { call_.on_read_done(ok); }); }
};

class ProcessReactor final : public CallReactor<grpc::ServerBidiReactor<v1::InputMessage, v1::OutputMessage>> {
 public:
  ProcessReactor(GatewayState& state, grpc::CallbackServerContext* context) : CallReactor(state, context, nullptr) {
    call_.start_client_input();
    handler_returns();
  }
  void OnReadDone(bool ok) override { react(read_started_, [&] { call_.on_read_done(ok); }); }
  void OnWriteDone(bool ok) override { react(write_started_, [&] { call_.on_write_done(ok); }); }
};

class ProcessFileReactor final : public CallReactor<grpc::ServerWriteReactor<v1::OutputMessage>> {
 public:
  ProcessFileReactor(GatewayState& state, grpc::CallbackServerContext* context, const v1::ProcessFileRequest& request)
      : CallReactor(state, context, nullptr) {
    call_.start_file_input(request);
    handler_returns();
  }
  void OnWriteDone(bool ok) override { react(write_started_, [&] { call_.on_write_done(ok); }); }
};

// Finishes a call whose caller failed authentication; none of its messages is read. (For TSan:
// the constructor, which calls Finish, happens before OnDone, as in CallReactor.)
template <typename Reactor>
class RejectedCall final : public Reactor {
 public:
  explicit RejectedCall(const grpc::Status& status) {
    // Before binding, Finish only records the status (OnDone cannot run yet), so the hand-off
    // comes after it.
    this->Finish(status);
    handoff_send(this);
  }
  void OnDone() override {
    handoff_receive(this);
    delete this;
  }
};

// Every sluice.v1 method goes through here: `serve` runs only for an authenticated caller, so a
// rejected call takes no stream slot and starts no pipeline. Health checking and reflection are
// other services and stay open: load balancers probe health without credentials, and reflection
// serves only the public proto schema, no data or config.
template <typename Reactor, typename Serve>
Reactor* authenticated(GatewayState& state, std::string_view method, grpc::CallbackServerContext* context,
                       Serve serve) {
  const grpc::Status status = authenticate(state.config.server.auth_tokens, *context);
  if (status.ok()) return serve();
  state.metrics.call_unauthenticated(method);
  spdlog::warn("call rejected method={} peer={} status=UNAUTHENTICATED message=\"{}\"", method, context->peer(),
               status.error_message());
  return new RejectedCall<Reactor>(status);
}

grpc::ServerUnaryReactor* finish_ok(grpc::CallbackServerContext* context) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

std::string error_policy_name(pipeline::ErrorPolicy policy) {
  switch (policy) {
    case pipeline::ErrorPolicy::Skip: return "skip";
    case pipeline::ErrorPolicy::DeadLetter: return "dead_letter";
    case pipeline::ErrorPolicy::Fail: return "fail";
  }
  return "?";
}

void describe(const GatewayConfig& config, v1::DescribeResponse* response) {
  response->set_version(kVersion);
  const pipeline::StageRegistry registry = pipeline::StageRegistry::with_builtins();
  for (const auto& [name, p] : config.pipelines) {
    v1::PipelineInfo* info = response->add_pipelines();
    info->set_name(name);
    info->set_description(p->description);
    info->set_format(p->format());
    info->set_on_error(error_policy_name(p->options.on_error));
    for (const std::string& type : p->stage_types) {
      v1::StageInfo* stage = info->add_stages();
      stage->set_type(type);
      if (const auto* entry = registry.find(type)) stage->set_kind(std::string(pipeline::stage_kind_name(entry->kind)));
    }
  }
  for (const auto& [type, entry] : registry.entries()) {
    v1::StageInfo* stage = response->add_available_stages();
    stage->set_type(type);
    stage->set_kind(std::string(pipeline::stage_kind_name(entry.kind)));
  }
  const ServerOptions& server = config.server;
  v1::Limits* limits = response->mutable_limits();
  limits->set_max_message_bytes(server.max_message_bytes);
  limits->set_max_concurrent_streams(server.max_concurrent_streams);
  limits->set_max_chunks_in_flight(static_cast<uint32_t>(server.stream_limits.max_chunks_in_flight));
  limits->set_max_bytes_in_flight(server.stream_limits.max_bytes_in_flight);
  limits->set_max_pending_results(static_cast<uint32_t>(server.stream_limits.max_pending_results));
  limits->set_max_inline_chunk_bytes(server.stream_limits.max_inline_chunk_bytes);
  limits->set_transport_window_bytes(server.transport_window_bytes);
}

void validate(const std::string& yaml, v1::ValidateConfigResponse* response) {
  try {
    const config::Node root = config::load_string(yaml, "<request>");
    const GatewayConfig parsed =
        load_gateway_config(root, pipeline::StageRegistry::with_builtins(), ServerFiles::Skip);
    response->set_valid(true);
    for (const auto& [name, p] : parsed.pipelines) response->add_pipelines(name);
  } catch (const config::ConfigError& e) {
    response->set_valid(false);
    response->set_error(e.what());
    response->set_line(static_cast<uint32_t>(e.line()));
    response->set_column(static_cast<uint32_t>(e.column()));
  } catch (const Error& e) {
    response->set_valid(false);
    response->set_error(e.what());
  }
}

}  // namespace

grpc::ServerUnaryReactor* SluiceService::Describe(grpc::CallbackServerContext* context, const v1::DescribeRequest*,
                                                  v1::DescribeResponse* response) {
  return authenticated<grpc::ServerUnaryReactor>(state_, "Describe", context, [&] {
    describe(state_.config, response);
    return finish_ok(context);
  });
}

grpc::ServerUnaryReactor* SluiceService::ValidateConfig(grpc::CallbackServerContext* context,
                                                        const v1::ValidateConfigRequest* request,
                                                        v1::ValidateConfigResponse* response) {
  return authenticated<grpc::ServerUnaryReactor>(state_, "ValidateConfig", context, [&] {
    validate(request->yaml(), response);
    return finish_ok(context);
  });
}

grpc::ServerReadReactor<v1::InputMessage>* SluiceService::Upload(grpc::CallbackServerContext* context,
                                                                 v1::Summary* response) {
  return authenticated<grpc::ServerReadReactor<v1::InputMessage>>(
      state_, "Upload", context, [&] { return new UploadReactor(state_, context, response); });
}

grpc::ServerBidiReactor<v1::InputMessage, v1::OutputMessage>* SluiceService::Process(
    grpc::CallbackServerContext* context) {
  return authenticated<grpc::ServerBidiReactor<v1::InputMessage, v1::OutputMessage>>(
      state_, "Process", context, [&] { return new ProcessReactor(state_, context); });
}

grpc::ServerWriteReactor<v1::OutputMessage>* SluiceService::ProcessFile(grpc::CallbackServerContext* context,
                                                                        const v1::ProcessFileRequest* request) {
  return authenticated<grpc::ServerWriteReactor<v1::OutputMessage>>(
      state_, "ProcessFile", context, [&] { return new ProcessFileReactor(state_, context, *request); });
}

}  // namespace sluice::gateway
