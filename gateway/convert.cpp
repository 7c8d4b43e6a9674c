#include "gateway/convert.h"

namespace sluice::gateway {

void to_proto(const Value& value, v1::Value& out) {
  switch (type_of(value)) {
    case ValueType::Null: out.set_null_value(v1::NULL_VALUE); break;
    case ValueType::Bool: out.set_bool_value(std::get<bool>(value)); break;
    case ValueType::Int: out.set_int_value(std::get<int64_t>(value)); break;
    case ValueType::Double: out.set_double_value(std::get<double>(value)); break;
    case ValueType::String: out.set_string_value(std::get<std::string>(value)); break;
  }
}

Value from_proto(const v1::Value& value) {
  switch (value.kind_case()) {
    case v1::Value::kBoolValue: return value.bool_value();
    case v1::Value::kIntValue: return value.int_value();
    case v1::Value::kDoubleValue: return value.double_value();
    case v1::Value::kStringValue: return value.string_value();
    case v1::Value::kNullValue:
    case v1::Value::KIND_NOT_SET: return Value{};
  }
  return Value{};
}

void to_proto(ResultBatch&& batch, v1::ResultBatch& out) {
  for (std::string& column : batch.columns) out.add_columns(std::move(column));
  out.mutable_rows()->Reserve(static_cast<int>(batch.rows.size()));
  for (const auto& row : batch.rows) {
    v1::Row* out_row = out.add_rows();
    out_row->mutable_values()->Reserve(static_cast<int>(row.size()));
    for (const Value& v : row) to_proto(v, *out_row->add_values());
  }
  if (batch.windowed) {
    out.mutable_window()->set_start(batch.window_start);
    out.mutable_window()->set_end(batch.window_end);
  }
}

ResultBatch from_proto(const v1::ResultBatch& batch) {
  ResultBatch out;
  out.columns.assign(batch.columns().begin(), batch.columns().end());
  for (const v1::Row& row : batch.rows()) {
    std::vector<Value>& values = out.rows.emplace_back();
    for (const v1::Value& v : row.values()) values.push_back(from_proto(v));
  }
  if (batch.has_window()) {
    out.windowed = true;
    out.window_start = batch.window().start();
    out.window_end = batch.window().end();
  }
  return out;
}

void to_proto(const pipeline::Summary& summary, v1::Summary& out) {
  const pipeline::Counters& c = summary.counters;
  v1::Counters* counters = out.mutable_counters();
  counters->set_bytes_in(c.bytes_in);
  counters->set_chunks_in(c.chunks_in);
  counters->set_records_in(c.records_in);
  counters->set_records_out(c.records_out);
  counters->set_records_filtered(c.records_filtered);
  counters->set_records_rejected(c.records_rejected);
  counters->set_results_emitted(c.results_emitted);
  for (const auto& [reason, n] : c.rejected_by_reason) (*counters->mutable_rejected_by_reason())[reason] = n;
  for (const Rejection& r : summary.dead_letters) {
    v1::Rejected* out_r = out.add_dead_letters();
    out_r->set_reason(r.reason);
    out_r->set_field(r.field);
    out_r->set_offset(r.origin.offset);
    out_r->set_line(r.origin.line);
    out_r->set_record(r.record);
  }
}

grpc::Status to_grpc(const Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code), status.message);
}

Status from_grpc(const grpc::Status& status) {
  return {static_cast<ErrorCode>(status.error_code()), status.error_message()};
}

}  // namespace sluice::gateway
