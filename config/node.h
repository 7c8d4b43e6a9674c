#pragma once
// Location-aware, strict access to YAML. Every error names file:line:column and the offending
// key, and maps that declare their keys reject unknown ones (Envoy-style strict validation).
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/error.h"

namespace sluice::config {

class ConfigError : public Error {
 public:
  ConfigError(const std::string& file, int line, int column, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string message_;
};

class Node {
 public:
  Node(YAML::Node node, std::shared_ptr<const std::string> file);

  // "file:line:column" of this node (1-based). The root of an empty document has no position in
  // the text (yaml-cpp's null mark, -1); its errors point at 1:1.
  std::string where() const;
  int line() const { return std::max(node_.Mark().line, 0) + 1; }
  int column() const { return std::max(node_.Mark().column, 0) + 1; }
  const std::string& file() const { return *file_; }
  [[noreturn]] void fail(const std::string& message) const;
  // For errors inside a scalar (e.g. an expression): `offset` is 0-based within the scalar text.
  [[noreturn]] void fail_at(size_t offset, const std::string& message) const;

  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_null() const { return node_.IsNull(); }

  // Requires a map whose keys are all in `allowed` (and unique); `what` names the map in errors.
  void expect_keys(std::initializer_list<std::string_view> allowed, std::string_view what) const;
  void expect_map(std::string_view what) const;

  std::optional<Node> get(std::string_view key) const;
  Node require(std::string_view key, std::string_view what) const;

  std::string as_string() const;
  int64_t as_int() const;
  double as_double() const;
  bool as_bool() const;
  // Byte sizes: a plain integer or a number with a unit: 64KiB, 8MiB, 1GiB (also KB/MB/GB = 1000s).
  uint64_t as_bytes() const;
  // Limits and sizes that must be above zero: a count that fits 32 bits, or a byte size.
  uint32_t as_positive_u32() const;
  uint64_t as_positive_bytes() const;
  std::vector<Node> items() const;                               // a sequence's elements
  std::vector<std::pair<std::string, Node>> entries() const;     // a map's entries, in order
  std::vector<std::string> as_string_list() const;               // a sequence of scalars (or one)

  std::string string_or(std::string_view key, std::string fallback) const;
  int64_t int_or(std::string_view key, int64_t fallback) const;
  bool bool_or(std::string_view key, bool fallback) const;
  uint64_t bytes_or(std::string_view key, uint64_t fallback) const;

  const YAML::Node& raw() const { return node_; }

 private:
  Node child(const YAML::Node& n) const { return Node(n, file_); }
  std::string scalar(std::string_view expected) const;

  YAML::Node node_;
  std::shared_ptr<const std::string> file_;
};

// A byte size: a plain number or one with a unit (64KiB, 8MiB, 1GiB; KB/MB/GB are 1000s);
// nullopt when `text` is not one.
std::optional<uint64_t> parse_byte_size(std::string_view text);

// Parse errors become ConfigError with the YAML parser's line and column.
Node load_file(const std::string& path);
Node load_string(const std::string& text, const std::string& name = "<string>");

}  // namespace sluice::config
