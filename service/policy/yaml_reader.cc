#include "service/policy/yaml_reader.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/policy/duration.h"

namespace sendgate::policy {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

void Reader::Error(const YAML::Mark& mark, absl::string_view message) {
  if (mark.is_null()) {
    errors_.push_back(absl::StrCat(source_, ": ", message));
  } else {
    errors_.push_back(
        absl::StrCat(source_, ":", mark.line + 1, ":", mark.column + 1, ": ", message));
  }
}

void Reader::Error(const YAML::Node& node, absl::string_view message) {
  Error(node.IsDefined() ? node.Mark() : YAML::Mark::null_mark(), message);
}

absl::Status Reader::Status() const {
  return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
}

bool Reader::IsMap(const YAML::Node& node, absl::string_view what) {
  if (node.IsMap()) return true;
  Error(node, absl::StrCat(what, " must be a mapping of keys to values"));
  return false;
}

void Reader::CheckUnique(const YAML::Node& map, absl::string_view where) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>("");
    if (!seen.insert(key).second) {
      Error(entry.first, absl::StrCat("'", key, "' is given twice in ", where));
    }
  }
}

void Reader::CheckKeys(const YAML::Node& map, const std::vector<absl::string_view>& allowed,
                       absl::string_view where) {
  CheckUnique(map, where);
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>("");
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Error(entry.first, absl::StrCat("unknown key '", key, "' in ", where,
                                      " (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
}

std::optional<std::string> Reader::Scalar(const YAML::Node& node, absl::string_view what) {
  if (node.IsScalar()) return node.Scalar();
  Error(node, absl::StrCat(what, " must be a single value"));
  return std::nullopt;
}

std::optional<std::string> Reader::Name(const YAML::Node& node, absl::string_view what) {
  std::optional<std::string> text = Scalar(node, what);
  if (!text) return std::nullopt;
  if (text->empty() || text->size() > kMaxNameBytes ||
      !std::all_of(text->begin(), text->end(), IsNameChar)) {
    Error(node, absl::StrCat(what, " '", *text,
                             "' must be 1 to 64 letters, digits, '_', '-', '.' or ':'"));
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> Reader::Value(const YAML::Node& node, absl::string_view what) {
  std::optional<std::string> text = Scalar(node, what);
  if (!text) return std::nullopt;
  if (text->empty() || text->size() > kMaxValueBytes ||
      std::any_of(text->begin(), text->end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    Error(node, absl::StrCat(what, " must be 1 to 256 bytes without control characters"));
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> Reader::Integer(const YAML::Node& node, absl::string_view what, int64_t min,
                                       int64_t max) {
  std::optional<std::string> text = Scalar(node, what);
  if (!text) return std::nullopt;
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value) || value < min || value > max) {
    Error(node, absl::StrCat(what, " must be a whole number from ", min, " to ", max, ", not '",
                             *text, "'"));
    return std::nullopt;
  }
  return value;
}

std::optional<absl::Duration> Reader::Duration(const YAML::Node& node, absl::string_view what,
                                               absl::Duration min, absl::Duration max) {
  std::optional<std::string> text = Scalar(node, what);
  if (!text) return std::nullopt;
  std::optional<absl::Duration> duration = ParseDuration(*text);
  if (!duration || *duration < min || *duration > max) {
    Error(node, absl::StrCat(what, " must be a duration such as 30m, 24h, 7d or 2w, from ",
                             absl::FormatDuration(min), " to ", absl::FormatDuration(max),
                             ", not '", *text, "'"));
    return std::nullopt;
  }
  return duration;
}

std::vector<YAML::Node> Reader::List(const YAML::Node& node, absl::string_view what) {
  std::vector<YAML::Node> items;
  if (!node.IsDefined()) return items;
  if (node.IsScalar()) {
    items.push_back(node);
  } else if (node.IsSequence()) {
    for (const auto& item : node) items.push_back(item);
  } else if (!node.IsNull()) {
    Error(node, absl::StrCat(what, " must be a list"));
  }
  return items;
}

}  // namespace sendgate::policy
