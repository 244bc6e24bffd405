// The YAML reading every policy file shares (the pressure policy, the authorization policy):
// errors collected as "source:line:column: message", so a file is fixed in one pass.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sendgate::policy {

inline constexpr size_t kMaxNameBytes = 64;
inline constexpr size_t kMaxValueBytes = 256;

// Letters, digits, '_', '-', '.' or ':': the characters of a declared name.
bool IsNameChar(char c);

// Collects "source:line:column: message" errors while the policy is read.
class Reader {
 public:
  explicit Reader(absl::string_view source) : source_(source) {}

  void Error(const YAML::Mark& mark, absl::string_view message);
  // A key that is absent has no position: the message then names only the file.
  void Error(const YAML::Node& node, absl::string_view message);

  bool ok() const { return errors_.empty(); }
  absl::Status Status() const;

  bool IsMap(const YAML::Node& node, absl::string_view what);

  // Reports keys given twice in `map`.
  void CheckUnique(const YAML::Node& map, absl::string_view where);

  // Reports keys of `map` that are not in `allowed`, and keys given twice.
  void CheckKeys(const YAML::Node& map, const std::vector<absl::string_view>& allowed,
                 absl::string_view where);

  std::optional<std::string> Scalar(const YAML::Node& node, absl::string_view what);

  // A declared name: 1 to 64 letters, digits, '_', '-', '.' or ':'.
  std::optional<std::string> Name(const YAML::Node& node, absl::string_view what);

  // A free-form value (campaign, program, segment): 1 to 256 bytes, no control characters.
  std::optional<std::string> Value(const YAML::Node& node, absl::string_view what);

  std::optional<int64_t> Integer(const YAML::Node& node, absl::string_view what, int64_t min,
                                 int64_t max);

  std::optional<absl::Duration> Duration(const YAML::Node& node, absl::string_view what,
                                         absl::Duration min, absl::Duration max);

  // A list, or a single value standing for a list of one.
  std::vector<YAML::Node> List(const YAML::Node& node, absl::string_view what);

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

}  // namespace sendgate::policy
