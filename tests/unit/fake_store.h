// A Store in memory for tests of the layers above it: it keeps histories exactly as the Redis
// store does (core/history.h), answers on the caller's thread, and can be told to fail.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "service/core/history.h"
#include "service/core/names.h"
#include "service/store/store.h"

namespace sendgate::testing {

class FakeStore final : public store::Store {
 public:
  void Check(const core::CheckPlan& plan, absl::Time deadline, CheckCallback done) override {
    last_deadline = deadline;
    ++checks;
    if (!failure.ok()) return done(failure);
    core::CheckResult result;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      core::History& history = histories_[plan.contact_id];
      const core::Preferences* stored = nullptr;
      if (auto it = preferences_.find(plan.contact_id); it != preferences_.end()) {
        stored = &it->second;
      } else if (auto entry = suppression_.find(plan.preferences.suppression_hash);
                 !plan.preferences.suppression_hash.empty() && entry != suppression_.end()) {
        stored = &entry->second;
      }
      result = core::EvaluateCheck(plan, history, stored, &counters_);
      if (plan.shadow != nullptr && result.outcome != core::CheckOutcome::kReplayAllowed &&
          result.outcome != core::CheckOutcome::kReplayDenied &&
          result.outcome != core::CheckOutcome::kProfileChanged) {
        result.shadow = std::make_shared<const core::CheckResult>(
            core::EvaluateCheck(*plan.shadow, history, stored, &counters_));
      }
      history = core::HistoryAfter(plan, result, history);
      core::CountCapacity(plan, result, counters_);
    }
    done(result);
  }

  void Cancel(absl::string_view contact_id, absl::string_view message_id, absl::Time deadline,
              CancelCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    core::History& history = histories_[std::string(contact_id)];
    const uint64_t hash = core::MessageHash(message_id);
    for (std::vector<core::SendRecord>* list : {&history.main, &history.exempt}) {
      for (auto it = list->begin(); it != list->end(); ++it) {
        if (it->message_hash != hash) continue;
        if (!it->counted()) return done(false);
        list->erase(it);
        return done(true);
      }
    }
    done(false);
  }

  void ReadHistory(absl::string_view contact_id, absl::Time deadline,
                   HistoryCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    done(histories_[std::string(contact_id)]);
  }

  void PlanSends(absl::string_view contact_id, const std::vector<core::PlannedChange>& changes,
                 absl::Time now, absl::Duration grace, absl::Time deadline,
                 PlanCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    core::PlanSends(changes, now, grace, histories_[std::string(contact_id)].planned);
    done(absl::OkStatus());
  }

  void ReadPreferences(absl::string_view contact_id, absl::string_view suppression_hash,
                       absl::Time deadline, PreferencesCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = preferences_.find(std::string(contact_id)); it != preferences_.end()) {
      return done(StoredPreferences{.preferences = it->second});
    }
    if (auto it = suppression_.find(std::string(suppression_hash));
        !suppression_hash.empty() && it != suppression_.end()) {
      return done(StoredPreferences{.preferences = it->second, .from_suppression = true});
    }
    done(StoredPreferences{});
  }

  void WritePreferences(const PreferencesWrite& write, absl::Time deadline,
                        WriteCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = preferences_.find(write.contact_id);
    if ((it == preferences_.end() ? 0 : it->second.version) != write.read_version) {
      return done(false);
    }
    preferences_[write.contact_id] = write.preferences;
    trails_[write.contact_id].insert(trails_[write.contact_id].begin(), write.consent_event);
    feed.push_back(write.feed_entry);
    done(true);
  }

  void ConfirmPreferences(absl::string_view contact_id, int64_t read_version,
                          absl::Time deadline, WriteCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = preferences_.find(std::string(contact_id));
    done((it == preferences_.end() ? 0 : it->second.version) == read_version);
  }

  void ReadConsentTrail(absl::string_view contact_id, absl::Time deadline,
                        TrailCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    done(trails_[std::string(contact_id)]);
  }

  void Forget(const Erasure& erasure, absl::Time deadline, ForgetCallback done) override {
    if (!failure.ok()) return done(failure);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = preferences_.find(erasure.contact_id);
    if ((it == preferences_.end() ? 0 : it->second.version) != erasure.read_version) {
      return done(std::optional<bool>());
    }
    // Each erase runs (no short circuit): the contact goes from every map.
    const size_t erased_entries = preferences_.erase(erasure.contact_id) +
                                  histories_.erase(erasure.contact_id) +
                                  trails_.erase(erasure.contact_id);
    const bool erased = erased_entries > 0;
    suppression_[erasure.suppression_hash] = erasure.suppression;
    feed.push_back(erasure.feed_entry);
    done(std::optional<bool>(erased));
  }

  bool healthy() const override { return failure.ok(); }

  // A contact's history as stored.
  core::History History(const std::string& contact_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return histories_[contact_id];
  }

  // The change feed's entries, in order.
  std::vector<std::vector<std::pair<std::string, std::string>>> feed;

  absl::Status failure;  // when not OK, every call fails with it
  absl::Time last_deadline;
  int checks = 0;

 private:
  std::mutex mutex_;
  std::map<std::string, core::History> histories_;
  core::CapacityCounters counters_;
  std::map<std::string, core::Preferences> preferences_;
  std::map<std::string, std::vector<std::string>> trails_;
  std::map<std::string, core::Preferences> suppression_;
};

}  // namespace sendgate::testing
