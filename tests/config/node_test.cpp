#include "config/node.h"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

ConfigError error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError";
  return ConfigError("", 0, 0, "");
}

TEST(ConfigNode, MalformedYamlNamesLineAndColumn) {
  const ConfigError e = error_of([] { load_string("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml"); });
  EXPECT_EQ(e.file(), "bad.yaml");
  EXPECT_EQ(e.line(), 3);
  EXPECT_GT(e.column(), 0);
  EXPECT_EQ(std::string(e.what()).rfind("bad.yaml:3:", 0), 0u) << e.what();
}

TEST(ConfigNode, UnknownKeyIsRejectedAtItsPosition) {
  const Node root = load_string("server:\n  listen: x\n  lissen: y\n", "c.yaml");
  const ConfigError e = error_of([&] { root.require("server", "config").expect_keys({"listen"}, "server"); });
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.column(), 3);
  EXPECT_NE(e.message().find("unknown key 'lissen'"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("listen"), std::string::npos);
}

// Found by fuzz_config: an empty document's root has yaml-cpp's null mark, and its errors said
// "file:0:0".
TEST(ConfigNode, EmptyDocumentErrorsPointAtTheFirstLine) {
  for (const std::string text : {"", "# only a comment\n"}) {
    const Node root = load_string(text, "empty.yaml");
    const ConfigError e = error_of([&] { root.require("pipelines", "the config"); });
    EXPECT_EQ(e.line(), 1);
    EXPECT_EQ(e.column(), 1);
    EXPECT_EQ(std::string(e.what()).rfind("empty.yaml:1:1: ", 0), 0u) << e.what();
  }
}

// Found by fuzz_config: a key that is a list or a map made yaml-cpp throw its own
// TypedBadConversion out of get(), expect_keys() and entries().
TEST(ConfigNode, KeyThatIsNotAStringIsAConfigErrorAtTheKey) {
  const Node root = load_string("a: 1\n? [b, c]\n: 2\n", "k.yaml");
  for (const auto& lookup : std::vector<std::function<void()>>{[&] { root.get("z"); },
                                                                [&] { root.expect_keys({"a"}, "root"); },
                                                                [&] { root.entries(); }}) {
    const ConfigError e = error_of(lookup);
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 3);
    EXPECT_NE(e.message().find("as the key"), std::string::npos) << e.message();
  }
}

TEST(ConfigNode, DuplicateKeyIsRejected) {
  const Node root = load_string("a: 1\na: 2\n", "d.yaml");
  EXPECT_THROW(root.expect_keys({"a"}, "root"), ConfigError);
}

TEST(ConfigNode, TypedGettersNameTheBadValue) {
  const Node root = load_string("n: abc\nsize: 8MiB\nflag: maybe\n", "t.yaml");
  const ConfigError e = error_of([&] { root.require("n", "root").as_int(); });
  EXPECT_EQ(e.line(), 1);
  EXPECT_EQ(e.column(), 4);
  EXPECT_NE(e.message().find("'abc'"), std::string::npos);
  EXPECT_EQ(root.require("size", "root").as_bytes(), 8u << 20);
  EXPECT_THROW(root.require("flag", "root").as_bool(), ConfigError);
}

TEST(ConfigNode, ByteSizesAcceptUnits) {
  EXPECT_EQ(load_string("65536").as_bytes(), 65536u);
  EXPECT_EQ(load_string("64KiB").as_bytes(), 65536u);
  EXPECT_EQ(load_string("1.5 KB").as_bytes(), 1500u);
  EXPECT_THROW(load_string("lots").as_bytes(), ConfigError);
}

TEST(ConfigNode, PositiveLimitsRefuseZeroNegativeAndOversizedValuesAtTheirPosition) {
  const Node root = load_string("zero: 0\nnegative: -3\nhuge: 4294967296\nok: 7\nsize: 0KiB\nbytes: 2KiB\n", "p.yaml");
  const ConfigError zero = error_of([&] { root.require("zero", "root").as_positive_u32(); });
  EXPECT_EQ(zero.line(), 1);
  EXPECT_EQ(zero.column(), 7);
  EXPECT_THROW(root.require("negative", "root").as_positive_u32(), ConfigError);
  EXPECT_THROW(root.require("huge", "root").as_positive_u32(), ConfigError);
  EXPECT_EQ(root.require("ok", "root").as_positive_u32(), 7u);
  EXPECT_EQ(error_of([&] { root.require("size", "root").as_positive_bytes(); }).line(), 5);
  EXPECT_EQ(root.require("bytes", "root").as_positive_bytes(), 2048u);
}

TEST(ConfigNode, ErrorInsideAScalarPointsAtTheCharacter) {
  const Node root = load_string("where: status >= oops\n", "e.yaml");
  const ConfigError e = error_of([&] { root.require("where", "root").fail_at(10, "bad"); });
  EXPECT_EQ(e.line(), 1);
  EXPECT_EQ(e.column(), 18);
}

}  // namespace
}  // namespace sluice::config
