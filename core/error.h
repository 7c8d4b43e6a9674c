#pragma once
// Errors that cross layers. Codes mirror the gRPC status codes the gateway maps them to, so a
// pipeline failure keeps its meaning all the way to the client without core depending on gRPC.
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {

enum class ErrorCode {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
};

std::string_view error_code_name(ErrorCode code);

struct Status {
  ErrorCode code = ErrorCode::Ok;
  std::string message;

  bool ok() const { return code == ErrorCode::Ok; }
  static Status Ok() { return {}; }
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  Status status() const { return {code_, what()}; }

 private:
  ErrorCode code_;
};

}  // namespace sluice
