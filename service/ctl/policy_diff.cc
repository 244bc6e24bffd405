#include "service/ctl/policy_diff.h"

#include <map>

namespace sendgate::ctl {
namespace {

std::string Render(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

// The key a list element is matched by: its `id`, else its `name`, else none ("").
std::string ElementKey(const YAML::Node& element) {
  if (!element.IsMap()) return "";
  for (const char* field : {"id", "name"}) {
    if (element[field] && element[field].IsScalar()) return element[field].Scalar();
  }
  return "";
}

// The elements of a list by key, when every element has a distinct one.
bool Keyed(const YAML::Node& list, std::map<std::string, YAML::Node>& by_key) {
  for (const YAML::Node& element : list) {
    const std::string key = ElementKey(element);
    if (key.empty() || !by_key.emplace(key, element).second) return false;
  }
  return true;
}

class Differ {
 public:
  std::vector<PolicyChange> changes;

  void Compare(const std::string& path, const YAML::Node& before, const YAML::Node& after) {
    if (before.IsMap() && after.IsMap()) return CompareMaps(path, before, after);
    if (before.IsSequence() && after.IsSequence()) return CompareLists(path, before, after);
    if (Render(before) != Render(after)) {
      changes.push_back({PolicyChange::Kind::kChanged, path, Render(before), Render(after)});
    }
  }

 private:
  static std::string Child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  void CompareMaps(const std::string& path, const YAML::Node& before, const YAML::Node& after) {
    std::map<std::string, std::pair<YAML::Node, YAML::Node>> keys;
    for (const auto& entry : before) keys[entry.first.as<std::string>()].first = entry.second;
    for (const auto& entry : after) keys[entry.first.as<std::string>()].second = entry.second;
    for (const auto& [key, pair] : keys) Pair(Child(path, key), pair.first, pair.second);
  }

  void CompareLists(const std::string& path, const YAML::Node& before, const YAML::Node& after) {
    std::map<std::string, YAML::Node> old_keyed, new_keyed;
    if (Keyed(before, old_keyed) && Keyed(after, new_keyed)) {
      std::map<std::string, std::pair<YAML::Node, YAML::Node>> keys;
      for (const auto& [key, node] : old_keyed) keys[key].first = node;
      for (const auto& [key, node] : new_keyed) keys[key].second = node;
      for (const auto& [key, pair] : keys) Pair(path + "[" + key + "]", pair.first, pair.second);
      return;
    }
    if (AllScalars(before) && AllScalars(after)) return CompareSets(path, before, after);
    const size_t n = std::max(before.size(), after.size());
    for (size_t i = 0; i < n; ++i) {
      Pair(path + "[" + std::to_string(i) + "]", i < before.size() ? before[i] : YAML::Node(),
           i < after.size() ? after[i] : YAML::Node());
    }
  }

  static bool AllScalars(const YAML::Node& list) {
    for (const YAML::Node& element : list) {
      if (!element.IsScalar()) return false;
    }
    return true;
  }

  // Lists of names (channels: [email, sms]): what was added and what was removed.
  void CompareSets(const std::string& path, const YAML::Node& before, const YAML::Node& after) {
    std::map<std::string, int> seen;
    for (const YAML::Node& element : before) seen[element.Scalar()] -= 1;
    for (const YAML::Node& element : after) seen[element.Scalar()] += 1;
    for (const auto& [value, balance] : seen) {
      if (balance < 0) changes.push_back({PolicyChange::Kind::kRemoved, path, value, ""});
      if (balance > 0) changes.push_back({PolicyChange::Kind::kAdded, path, "", value});
    }
  }

  void Pair(const std::string& path, const YAML::Node& before, const YAML::Node& after) {
    const bool had = before.IsDefined() && !before.IsNull();
    const bool has = after.IsDefined() && !after.IsNull();
    if (had && has) return Compare(path, before, after);
    if (had) changes.push_back({PolicyChange::Kind::kRemoved, path, Render(before), ""});
    if (has) changes.push_back({PolicyChange::Kind::kAdded, path, "", Render(after)});
  }
};

}  // namespace

std::vector<PolicyChange> DiffPolicies(const YAML::Node& before, const YAML::Node& after) {
  Differ differ;
  differ.Compare("", before, after);
  return differ.changes;
}

std::string ChangeLine(const PolicyChange& change) {
  switch (change.kind) {
    case PolicyChange::Kind::kAdded:
      return "+ " + change.path + ": " + change.after;
    case PolicyChange::Kind::kRemoved:
      return "- " + change.path + ": " + change.before;
    case PolicyChange::Kind::kChanged:
      return "~ " + change.path + ": " + change.before + " -> " + change.after;
  }
  return "";
}

}  // namespace sendgate::ctl
