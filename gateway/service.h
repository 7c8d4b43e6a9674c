#pragma once
// The sluice.v1.Sluice service on gRPC's callback (reactor) API.
#include <memory>

#include "gateway/pipeline_call.h"
#include "sluice/v1/sluice.grpc.pb.h"

namespace sluice::gateway {

class SluiceService final : public v1::Sluice::CallbackService {
 public:
  explicit SluiceService(GatewayState& state) : state_(state) {}

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context, const v1::DescribeRequest* request,
                                     v1::DescribeResponse* response) override;
  grpc::ServerUnaryReactor* ValidateConfig(grpc::CallbackServerContext* context,
                                           const v1::ValidateConfigRequest* request,
                                           v1::ValidateConfigResponse* response) override;
  grpc::ServerReadReactor<v1::InputMessage>* Upload(grpc::CallbackServerContext* context,
                                                    v1::Summary* response) override;
  grpc::ServerBidiReactor<v1::InputMessage, v1::OutputMessage>* Process(grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::OutputMessage>* ProcessFile(grpc::CallbackServerContext* context,
                                                           const v1::ProcessFileRequest* request) override;

 private:
  GatewayState& state_;
};

}  // namespace sluice::gateway
