// Embedding sluice's pipeline in a program of your own, without gRPC: a custom stage registered
// next to the built-in ones, a pipeline from YAML, and a run over in-memory input.
#include <iostream>

#include "config/node.h"
#include "pipeline/engine.h"
#include "pipeline/pipeline.h"
#include "pipeline/registry.h"

namespace {

// A custom transform: upper-cases one string field.
class UppercaseStage : public sluice::pipeline::TransformStage {
 public:
  explicit UppercaseStage(std::string field) : field_(std::move(field)) {}
  void apply(sluice::RecordBatch& batch) const override {
    const int column = batch.schema ? batch.schema->index_of(field_) : -1;
    if (column < 0) return;
    for (size_t r = 0; r < batch.rows(); ++r) {
      if (auto* s = std::get_if<std::string>(&batch.row(r)[column])) {
        for (char& c : *s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
    }
  }

 private:
  std::string field_;
};

const char* kPipeline = R"(
stages:
  - type: csv
    types: {amount: int}
  - type: uppercase
    field: city
  - type: group_by
    keys: [city]
    aggregates: [{fn: sum, field: amount, as: total}]
)";

}  // namespace

int main() {
  using namespace sluice;
  pipeline::StageRegistry registry = pipeline::StageRegistry::with_builtins();
  registry.add("uppercase", pipeline::StageKind::Transform, "upper-case a string field",
               [](const config::Node& node) -> pipeline::StagePtr {
                 node.expect_keys({"type", "field"}, "stage 'uppercase'");
                 return std::make_shared<const UppercaseStage>(node.require("field", "stage 'uppercase'").as_string());
               });
  const auto pipeline = pipeline::build_pipeline("example", config::load_string(kPipeline, "example.yaml"), registry);

  const std::string input = "city,amount\nparis,3\nlyon,4\nParis,5\n";
  bool sent = false;
  std::vector<ResultBatch> results;
  pipeline::run_stream(
      pipeline, {},
      [&](std::string& chunk) {
        if (sent) return false;
        chunk = input;
        sent = true;
        return true;
      },
      [&](ResultBatch&& batch) { results.push_back(std::move(batch)); });

  for (const auto& row : results.at(0).rows) std::cout << to_display(row[0]) << " " << to_display(row[1]) << "\n";
  // LYON 4, PARIS 8: the custom stage merged "paris" and "Paris".
  const bool ok = results.at(0).rows.size() == 2 && to_display(results[0].rows[1][0]) == "PARIS" &&
                  to_display(results[0].rows[1][1]) == "8";
  return ok ? 0 : 1;
}
