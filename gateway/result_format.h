#pragma once
// Renders results for people (aligned tables) and programs (JSON), for the client and replay tools.
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "sluice/v1/sluice.pb.h"

namespace sluice::gateway {

void print_table(std::ostream& out, const v1::ResultBatch& batch);
void print_counters(std::ostream& out, const v1::Counters& counters);

nlohmann::ordered_json to_json(const v1::Value& value);
nlohmann::ordered_json to_json(const v1::ResultBatch& batch);
nlohmann::ordered_json to_json(const v1::Counters& counters);
// The summary with the given result batches (streamed ones are not inside the Summary itself).
nlohmann::ordered_json to_json(const v1::Summary& summary, const std::vector<v1::ResultBatch>& batches);

std::string display(const v1::Value& value);

}  // namespace sluice::gateway
