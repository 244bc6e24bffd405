// Unit-test helpers for core: policies written in YAML, messages with defaults, and a contact's
// history kept in memory and updated exactly as the store does it (core/history.h).
#pragma once

#include <memory>
#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "service/core/check_plan.h"
#include "service/core/decision.h"
#include "service/core/history.h"
#include "service/core/message.h"
#include "service/core/policy.h"
#include "service/core/preferences.h"

namespace sendgate::core {
// Readable test failures.
void PrintTo(const SendRecord& record, std::ostream* out);
}  // namespace sendgate::core

namespace sendgate::testing {

// Parses `yaml` as a policy; fails the test (and returns a default policy) if it is invalid.
std::shared_ptr<const core::Policy> PolicyFromYaml(const std::string& yaml);

// A message as a sending tool would describe it; names are resolved against the policy.
struct TestMessage {
  std::string id = "m1";
  std::string contact = "c1";
  std::string channel = "email";
  std::string category = "marketing";
  std::string subscription;
  std::string program;
  std::string campaign;
  std::string edition;
  int weight = 1;
  int priority = 50;
  std::vector<std::string> segments;
  std::string zone = "Europe/Paris";
  absl::Time send_at;
  std::optional<absl::Time> expires_at;
};

core::Message BuildMessage(const core::Policy& policy, const TestMessage& message);

// The planned send a campaign tool announces at `announced` for `message` (its send_at the
// planned time).
core::PlannedSend PlannedFor(const core::Policy& policy, const TestMessage& message,
                             absl::Time announced);

// The codes of a decision's reasons, in order.
std::vector<core::ReasonCode> ReasonCodes(const core::Decision& decision);

// Paris wall-clock time, the zone most tests live in.
absl::Time Paris(int year, int month, int day, int hour = 0, int minute = 0);

// One contact's history, decided against in memory.
class ContactHistory {
 public:
  // Plans, evaluates and records like the store, with the server clock at `now`
  // (defaults to the message's send_at).
  core::Decision Decide(const core::Policy& policy, const TestMessage& message,
                        std::optional<absl::Time> now = std::nullopt);

  const core::History& history() const { return history_; }
  // Applies planned-send changes as the store does (core::PlanSends).
  void Plan(const std::vector<core::PlannedChange>& changes, absl::Time now,
            absl::Duration grace) {
    core::PlanSends(changes, now, grace, history_.planned);
  }
  core::CheckPlan last_plan;
  // The contact's stored preferences (or suppression entry), as the store would read them.
  std::optional<core::Preferences> preferences;
  // The capacity counters, shared by every contact of a test (nullptr: all 0, never counted).
  core::CapacityCounters* capacity = nullptr;

 private:
  core::History history_;
};

}  // namespace sendgate::testing
