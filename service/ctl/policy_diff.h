// `sendgatectl policy diff OLD NEW`: what changes between two policy files, rule by rule.
// Lists of mappings are matched by their `id` (caps) or `name` (channels, categories ...), so
// a reordered or inserted rule shows as itself, not as every rule after it changed.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace sendgate::ctl {

struct PolicyChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind;
  std::string path;    // caps[email-7d].limit
  std::string before;  // flow-style YAML; empty when added
  std::string after;   // empty when removed
};

std::vector<PolicyChange> DiffPolicies(const YAML::Node& before, const YAML::Node& after);

// One line per change: "~ caps[email-7d].limit: 3 -> 2", "+ caps[sms-day]: {...}", "- ...".
std::string ChangeLine(const PolicyChange& change);

}  // namespace sendgate::ctl
