#include "config/node.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/value.h"

namespace sluice::config {

namespace {
// A map key as a name: a key that is a list or a map (`? [a, b] : 1`) is a ConfigError here,
// where yaml-cpp's as<std::string>() would throw its own exception.
std::string key_name(const Node& key) {
  if (key.is_null()) return "null";  // what as<std::string>() made of a null key (`~: 1`)
  if (!key.is_scalar()) key.fail("expected a plain string as the key");
  return key.raw().Scalar();
}
}  // namespace

ConfigError::ConfigError(const std::string& file, int line, int column, const std::string& message)
    : Error(ErrorCode::InvalidArgument, fmt::format("{}:{}:{}: {}", file, line, column, message)),
      file_(file),
      line_(line),
      column_(column),
      message_(message) {}

Node::Node(YAML::Node node, std::shared_ptr<const std::string> file) : node_(std::move(node)), file_(std::move(file)) {}

std::string Node::where() const { return fmt::format("{}:{}:{}", *file_, line(), column()); }

void Node::fail(const std::string& message) const { throw ConfigError(*file_, line(), column(), message); }

void Node::fail_at(size_t offset, const std::string& message) const {
  // Plain and quoted one-line scalars map offsets to columns directly; a quote shifts by one.
  const bool quoted = node_.Tag() == "!";
  throw ConfigError(*file_, line(), column() + static_cast<int>(offset) + (quoted ? 1 : 0), message);
}

void Node::expect_map(std::string_view what) const {
  if (!node_.IsMap()) fail(fmt::format("{} must be a map of key: value", what));
}

void Node::expect_keys(std::initializer_list<std::string_view> allowed, std::string_view what) const {
  expect_map(what);
  std::set<std::string> seen;
  for (const auto& entry : node_) {
    const Node key = child(entry.first);
    const std::string name = key_name(key);
    bool known = false;
    for (std::string_view a : allowed) known = known || a == name;
    if (!known) {
      std::string expected;
      for (std::string_view a : allowed) expected += fmt::format("{}{}", expected.empty() ? "" : ", ", a);
      key.fail(fmt::format("unknown key '{}' in {} (expected one of: {})", name, what, expected));
    }
    if (!seen.insert(name).second) key.fail(fmt::format("duplicate key '{}' in {}", name, what));
  }
}

std::optional<Node> Node::get(std::string_view key) const {
  if (!node_.IsMap()) return std::nullopt;
  for (const auto& entry : node_) {
    if (key_name(child(entry.first)) == key) return child(entry.second);
  }
  return std::nullopt;
}

Node Node::require(std::string_view key, std::string_view what) const {
  auto n = get(key);
  if (!n) fail(fmt::format("{} needs the key '{}'", what, key));
  return *n;
}

std::string Node::scalar(std::string_view expected) const {
  if (!node_.IsScalar()) fail(fmt::format("expected {}", expected));
  return node_.Scalar();
}

std::string Node::as_string() const { return scalar("a string"); }

int64_t Node::as_int() const {
  const std::string s = scalar("an integer");
  auto v = parse_int(s);
  if (!v) fail(fmt::format("expected an integer, got '{}'", s));
  return *v;
}

double Node::as_double() const {
  const std::string s = scalar("a number");
  auto v = parse_double(s);
  if (!v) fail(fmt::format("expected a number, got '{}'", s));
  return *v;
}

bool Node::as_bool() const {
  const std::string s = scalar("true or false");
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(fmt::format("expected true or false, got '{}'", s));
}

std::optional<uint64_t> parse_byte_size(std::string_view text) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}, {"KB", 1000ULL},
      {"MB", 1000000ULL},  {"GB", 1000000000ULL}, {"B", 1ULL},       {"", 1ULL}};
  for (auto [unit, factor] : kUnits) {
    if (!text.ends_with(unit)) continue;
    std::string_view number = text.substr(0, text.size() - unit.size());
    while (!number.empty() && number.back() == ' ') number.remove_suffix(1);
    if (auto n = parse_double(number); n && *n >= 0 && std::isfinite(*n)) return static_cast<uint64_t>(*n * factor);
    return std::nullopt;
  }
  return std::nullopt;
}

uint64_t Node::as_bytes() const {
  const std::string s = scalar("a byte size");
  if (auto bytes = parse_byte_size(s)) return *bytes;
  fail(fmt::format("expected a byte size such as 65536, 64KiB or 8MiB, got '{}'", s));
}

uint32_t Node::as_positive_u32() const {
  const int64_t v = as_int();
  if (v <= 0 || v > UINT32_MAX) fail(fmt::format("expected a positive integer, got {}", v));
  return static_cast<uint32_t>(v);
}

uint64_t Node::as_positive_bytes() const {
  const uint64_t v = as_bytes();
  if (v == 0) fail("expected a positive size");
  return v;
}

std::vector<Node> Node::items() const {
  if (!node_.IsSequence()) fail("expected a list");
  std::vector<Node> out;
  for (const auto& item : node_) out.push_back(child(item));
  return out;
}

std::vector<std::pair<std::string, Node>> Node::entries() const {
  if (!node_.IsMap()) fail("expected a map of key: value");
  std::vector<std::pair<std::string, Node>> out;
  std::set<std::string> seen;
  for (const auto& entry : node_) {
    std::string key = key_name(child(entry.first));
    if (!seen.insert(key).second) child(entry.first).fail(fmt::format("duplicate key '{}'", key));
    out.emplace_back(std::move(key), child(entry.second));
  }
  return out;
}

std::vector<std::string> Node::as_string_list() const {
  if (node_.IsScalar()) return {node_.Scalar()};
  std::vector<std::string> out;
  for (const Node& item : items()) out.push_back(item.as_string());
  return out;
}

std::string Node::string_or(std::string_view key, std::string fallback) const {
  auto n = get(key);
  return n ? n->as_string() : std::move(fallback);
}
int64_t Node::int_or(std::string_view key, int64_t fallback) const {
  auto n = get(key);
  return n ? n->as_int() : fallback;
}
bool Node::bool_or(std::string_view key, bool fallback) const {
  auto n = get(key);
  return n ? n->as_bool() : fallback;
}
uint64_t Node::bytes_or(std::string_view key, uint64_t fallback) const {
  auto n = get(key);
  return n ? n->as_bytes() : fallback;
}

Node load_string(const std::string& text, const std::string& name) {
  auto file = std::make_shared<const std::string>(name);
  try {
    return Node(YAML::Load(text), file);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
}

Node load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::NotFound, fmt::format("cannot open config file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return load_string(text.str(), path);
}

}  // namespace sluice::config
