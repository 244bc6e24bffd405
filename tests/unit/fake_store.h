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
      result = core::EvaluateCheck(plan, history);
      history = core::HistoryAfter(plan, result, history);
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

  bool healthy() const override { return failure.ok(); }

  absl::Status failure;  // when not OK, every call fails with it
  absl::Time last_deadline;
  int checks = 0;

 private:
  std::mutex mutex_;
  std::map<std::string, core::History> histories_;
};

}  // namespace sendgate::testing
