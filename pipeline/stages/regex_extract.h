#pragma once
// `regex_extract`: matches a field against an RE2 pattern and turns its named groups into fields:
//   field: path
//   pattern: '^/api/(?P<version>v\d+)/(?P<resource>\w+)'
//   on_mismatch: null        # null (the default) | reject | drop
// The new fields are strings, added after the others (or replacing fields of the same name); a
// group that did not take part in the match gives null. The pattern may match anywhere unless it
// is anchored. A null field gives nulls; other non-strings are matched on their display text.
// When the pattern does not match, the new fields are null, or the record is rejected, or it is
// dropped (counted as filtered).
#include <memory>
#include <string>
#include <vector>

#include "config/node.h"
#include "pipeline/registry.h"
#include "pipeline/stage.h"

namespace re2 {
class RE2;
}

namespace sluice::pipeline {

enum class OnMismatch { Null, Reject, Drop };

struct RegexExtractConfig {
  std::string field;
  std::string pattern;
  OnMismatch on_mismatch = OnMismatch::Null;

  static RegexExtractConfig from_yaml(const config::Node& node);
};

class RegexExtractStage : public TransformStage {
 public:
  // Throws Error(InvalidArgument) for a pattern that from_yaml would refuse.
  explicit RegexExtractStage(RegexExtractConfig config);
  ~RegexExtractStage() override;
  void apply(RecordBatch& batch) const override;

 private:
  RegexExtractConfig config_;
  std::unique_ptr<const re2::RE2> regex_;
  std::vector<std::string> group_names_;  // the new fields, in pattern order
  std::vector<int> group_numbers_;        // parallel to group_names_
  int submatches_ = 0;                    // 1 + the highest group number read
};

void register_regex_extract(StageRegistry& registry);

}  // namespace sluice::pipeline
