#include "tests/unit/core_harness.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "service/core/history.h"
#include "service/core/names.h"
#include "service/core/plan.h"
#include "service/policy/loader.h"
#include "service/policy/time_zones.h"

namespace sendgate::core {
void PrintTo(const SendRecord& record, std::ostream* out) {
  *out << "{at=" << absl::FormatTime(record.at) << " hash=" << std::hex << record.message_hash
       << " ids=" << record.ids[0] << "," << record.ids[1] << "," << record.ids[2] << ","
       << record.ids[3] << "," << record.ids[4] << std::dec << " weight=" << record.weight
       << " priority=" << int{record.priority} << " denied=" << int{record.denied_code} << "}";
}
}  // namespace sendgate::core

namespace sendgate::testing {

std::shared_ptr<const core::Policy> PolicyFromYaml(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy =
      policy::ParsePolicy(yaml, "test.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : std::make_shared<core::Policy>();
}

core::Message BuildMessage(const core::Policy& policy, const TestMessage& m) {
  core::Message message;
  message.message_id = m.id;
  message.contact_id = m.contact;
  message.channel = policy.FindChannel(m.channel);
  message.category = policy.FindCategory(m.category);
  message.program = policy.FindProgram(m.program);
  EXPECT_GE(message.channel, 0) << m.channel;
  EXPECT_GE(message.category, 0) << m.category;
  using core::Field;
  message.ids = {core::FieldId(Field::kChannel, m.channel),
                 core::FieldId(Field::kCategory, m.category),
                 core::FieldId(Field::kSubscription, m.subscription),
                 core::FieldId(Field::kProgram, m.program),
                 core::FieldId(Field::kCampaign, m.campaign),
                 core::FieldId(Field::kEdition, m.edition)};
  message.weight = m.weight;
  message.priority = m.priority;
  message.segments = m.segments;
  std::sort(message.segments.begin(), message.segments.end());
  std::optional<absl::TimeZone> zone = policy::FindTimeZone(m.zone);
  EXPECT_TRUE(zone.has_value()) << m.zone;
  message.timezone = zone.value_or(absl::UTCTimeZone());
  message.send_at = m.send_at;
  message.expires_at = m.expires_at;
  return message;
}

core::PlannedSend PlannedFor(const core::Policy& policy, const TestMessage& test_message,
                             absl::Time announced) {
  const core::Message message = BuildMessage(policy, test_message);
  return core::PlannedSend{.at = message.send_at,
                           .announced = announced,
                           .ids = message.ids,
                           .weight = static_cast<uint16_t>(message.weight),
                           .priority = static_cast<uint8_t>(message.priority)};
}

std::vector<core::ReasonCode> ReasonCodes(const core::Decision& decision) {
  std::vector<core::ReasonCode> codes;
  for (const core::Reason& reason : decision.reasons) codes.push_back(reason.code);
  return codes;
}

absl::Time Paris(int year, int month, int day, int hour, int minute) {
  const absl::TimeZone zone = *policy::FindTimeZone("Europe/Paris");
  return absl::FromCivil(absl::CivilMinute(year, month, day, hour, minute), zone);
}

core::Decision ContactHistory::Decide(const core::Policy& policy, const TestMessage& test_message,
                                      std::optional<absl::Time> now) {
  const core::Message message = BuildMessage(policy, test_message);
  std::variant<core::Decision, core::CheckPlan> start =
      core::StartDecision(policy, message, now.value_or(message.send_at));
  if (auto* decision = std::get_if<core::Decision>(&start)) return *decision;
  last_plan = std::get<core::CheckPlan>(std::move(start));
  const core::CheckResult result =
      core::EvaluateCheck(last_plan, history_, preferences ? &*preferences : nullptr, capacity);
  history_ = core::HistoryAfter(last_plan, result, history_);
  if (capacity != nullptr) core::CountCapacity(last_plan, result, *capacity);
  return core::DecisionFromCheck(policy, message, last_plan, result);
}

}  // namespace sendgate::testing
