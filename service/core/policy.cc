#include "service/core/policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/core/names.h"

namespace sendgate::core {
namespace {

template <typename T>
int FindByName(const std::vector<T>& items, absl::string_view name) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

template <typename T>
const std::string* NameById(const std::vector<T>& items, uint32_t id) {
  for (const T& item : items) {
    if (item.id == id) return &item.name;
  }
  return nullptr;
}

}  // namespace

absl::Duration Policy::Retention() const {
  absl::Duration longest = idempotency_window;
  for (const Cap& cap : caps) longest = std::max(longest, cap.window.Reach());
  return longest;
}

int Policy::FindChannel(absl::string_view name) const { return FindByName(channels, name); }
int Policy::FindCategory(absl::string_view name) const { return FindByName(categories, name); }
int Policy::FindSubscription(absl::string_view name) const {
  return FindByName(subscriptions, name);
}

int64_t Capacity::ShareOf(int shard) const {
  return limit / shards + (shard < limit % shards ? 1 : 0);
}

std::vector<std::string> Policy::RuleIds() const {
  std::vector<std::string> ids;
  for (const Cap& cap : caps) ids.push_back(cap.id);
  for (const QuietHours& rule : quiet_hours) ids.push_back(rule.id);
  for (const Capacity& rule : capacity) ids.push_back(rule.id);
  return ids;
}

bool Subscription::Covers(uint32_t channel) const {
  return channels.empty() || std::find(channels.begin(), channels.end(), channel) != channels.end();
}

absl::Status Policy::CallerMayDeclare(absl::string_view caller, int category,
                                      bool dry_run) const {
  if (caller.empty() || !restricts_callers) return absl::OkStatus();
  const auto listed = std::find_if(callers.begin(), callers.end(),
                                   [caller](const Caller& entry) { return entry.name == caller; });
  if (listed == callers.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "caller '", caller, "' is not among the callers of policy ", version, ": it may send nothing"));
  }
  if (dry_run) {
    if (listed->dry_run) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("dry_run: caller '", caller, "' may not ask dry runs (policy ", version, ")"));
  }
  if (std::find(listed->categories.begin(), listed->categories.end(), category) !=
      listed->categories.end()) {
    return absl::OkStatus();
  }
  std::vector<std::string> allowed;
  for (int index : listed->categories) allowed.push_back(categories[index].name);
  return absl::PermissionDeniedError(absl::StrCat(
      "category: caller '", caller, "' may not send '", categories[category].name, "' (policy ",
      version, " lets it send: ", allowed.empty() ? "nothing" : absl::StrJoin(allowed, ", "), ")"));
}

int Policy::FindProgram(absl::string_view name) const {
  for (size_t i = 0; i < programs.size(); ++i) {
    if (programs[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool Policy::KnowsSegment(absl::string_view segment) const {
  return segments.empty() || std::find(segments.begin(), segments.end(), segment) != segments.end();
}

const Channel* Policy::ChannelById(uint32_t id) const {
  for (const Channel& channel : channels) {
    if (channel.id == id) return &channel;
  }
  return nullptr;
}

const Subscription* Policy::SubscriptionById(uint32_t id) const {
  for (const Subscription& subscription : subscriptions) {
    if (subscription.id == id) return &subscription;
  }
  return nullptr;
}

std::string Policy::NameOf(Field field, uint32_t id) const {
  if (id == 0) return "";
  const std::string* name = nullptr;
  switch (field) {
    case Field::kChannel: name = NameById(channels, id); break;
    case Field::kCategory: name = NameById(categories, id); break;
    case Field::kSubscription: name = NameById(subscriptions, id); break;
    case Field::kProgram: name = NameById(programs, id); break;
    case Field::kCampaign:
    case Field::kEdition: break;
  }
  return name != nullptr ? *name : HexId(id, IsFreeForm(field) ? 8 : 4);
}

}  // namespace sendgate::core
