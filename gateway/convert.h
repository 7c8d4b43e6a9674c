#pragma once
// Conversions between the engine's types and the API's messages, and from engine errors to gRPC
// statuses.
#include <grpcpp/support/status.h>

#include "core/error.h"
#include "core/record.h"
#include "pipeline/engine.h"
#include "sluice/v1/sluice.pb.h"

namespace sluice::gateway {

void to_proto(const Value& value, v1::Value& out);
Value from_proto(const v1::Value& value);
void to_proto(ResultBatch&& batch, v1::ResultBatch& out);
ResultBatch from_proto(const v1::ResultBatch& batch);
void to_proto(const pipeline::Summary& summary, v1::Summary& out);

grpc::Status to_grpc(const Status& status);
Status from_grpc(const grpc::Status& status);

}  // namespace sluice::gateway
