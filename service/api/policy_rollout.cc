#include "service/api/policy_rollout.h"


#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/metrics/log.h"
#include "service/policy/loader.h"

namespace sendgate::api {

using metrics::Log;
using metrics::Severity;

void ShowPolicy(metrics::Catalog& catalog, const core::Policy& policy, const std::string& before) {
  if (!before.empty() && before != policy.version) catalog.policy_info.With({before}).Set(0);
  catalog.policy_info.With({policy.version}).Set(1);
}

PolicyRollout::PolicyRollout(std::string path, std::string text, PolicyHolder& policies,
                             metrics::Catalog& catalog, absl::Duration watch_every,
                             ShadowSource shadow, AuthzSource authz)
    : path_(std::move(path)),
      policies_(policies),
      catalog_(catalog),
      watch_every_(watch_every),
      last_read_(std::move(text)),
      shadow_(std::move(shadow)),
      authz_(std::move(authz)) {
  state_ = RolloutState{.path = path_, .loaded_at = absl::Now(), .shadow_path = shadow_.path};
  ShowPolicy(catalog_, *policies_.Current(), "");
  if (!shadow_.path.empty()) ReloadShadow("start", false);
  thread_ = std::thread([this] { Run(); });
}

PolicyRollout::~PolicyRollout() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();
}

void PolicyRollout::Post(absl::AnyInvocable<void()> job) {
  absl::MutexLock lock(&mutex_);
  jobs_.push_back(std::move(job));
}

void PolicyRollout::Reload(std::string trigger, ReloadCallback done) {
  Post([this, trigger = std::move(trigger), done = std::move(done)]() mutable {
    absl::StatusOr<ReloadResult> result = ReloadNow(trigger, false);
    ReloadOthers(trigger, false);
    done(std::move(result));
  });
}

void PolicyRollout::Validate(std::string text, std::string name, ValidateCallback done) {
  Post([text = std::move(text), name = std::move(name), done = std::move(done)]() mutable {
    absl::StatusOr<std::shared_ptr<const core::Policy>> policy = policy::ParsePolicy(text, name);
    if (!policy.ok()) {
      done(absl::InvalidArgumentError(policy.status().message()));
      return;
    }
    done(std::move(policy));
  });
}

RolloutState PolicyRollout::state() const {
  absl::MutexLock lock(&mutex_);
  return state_;
}

void PolicyRollout::Run() {
  absl::Time next_look = absl::Now() + watch_every_;
  for (;;) {
    absl::AnyInvocable<void()> job;
    {
      absl::MutexLock lock(&mutex_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return stopping_ || !jobs_.empty();
      };
      const absl::Time until =
          watch_every_ > absl::ZeroDuration() ? next_look : absl::InfiniteFuture();
      mutex_.AwaitWithDeadline(absl::Condition(&has_work), until);
      if (stopping_) return;
      if (!jobs_.empty()) {
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
    }
    if (job) {
      job();
      continue;
    }
    ReloadNow("file change", true).IgnoreError();
    ReloadOthers("file change", true);
    next_look = absl::Now() + watch_every_;
  }
}

absl::StatusOr<ReloadResult> PolicyRollout::ReloadNow(absl::string_view trigger,
                                                      bool only_if_changed) {
  const std::shared_ptr<const core::Policy> current = policies_.Current();
  ReloadResult result{.previous_version = current->version, .version = current->version};
  absl::StatusOr<std::string> text = policy::ReadPolicyFile(path_);
  if (!text.ok()) {
    // A file missing for a moment (a ConfigMap's symlinks being swapped) is looked at again
    // at the next turn; SIGHUP and Admin.Reload report it.
    if (only_if_changed) return result;
    Refused(trigger, text.status());
    return absl::FailedPreconditionError(text.status().message());
  }
  // The same text: in force already, or refused already (the watch says so only once).
  if (*text == last_read_ && (last_read_loaded_ || only_if_changed)) return result;
  last_read_ = *text;
  last_read_loaded_ = false;
  absl::StatusOr<std::shared_ptr<const core::Policy>> policy = policy::ParsePolicy(*text, path_);
  if (!policy.ok()) {
    Refused(trigger, policy.status());
    return absl::FailedPreconditionError(policy.status().message());
  }
  last_read_loaded_ = true;
  result.version = (*policy)->version;
  result.changed = true;
  policies_.Replace(*policy);
  ShowPolicy(catalog_, **policy, result.previous_version);
  catalog_.policy_reloads.With({"ok"}).Increment();
  catalog_.policy_last_reload_successful.With({}).Set(1);
  {
    absl::MutexLock lock(&mutex_);
    state_.loaded_at = absl::Now();
    state_.last_reload_ok = true;
    state_.last_reload_error.clear();
  }
  Log(Severity::kInfo, "policy",
      absl::StrCat("reloaded ", path_, " (", trigger, "): version ", result.previous_version,
                   " -> ", result.version));
  return result;
}

void PolicyRollout::Refused(absl::string_view trigger, const absl::Status& status) {
  catalog_.policy_reloads.With({"rejected"}).Increment();
  catalog_.policy_last_reload_successful.With({}).Set(0);
  {
    absl::MutexLock lock(&mutex_);
    state_.last_reload_ok = false;
    state_.last_reload_error = std::string(status.message());
  }
  Log(Severity::kError, "policy",
      absl::StrCat("reload refused (", trigger, "), keeping version ", policies_.Current()->version,
                   ":\n", status.message()));
}

void PolicyRollout::ReloadShadow(absl::string_view trigger, bool only_if_changed) {
  absl::StatusOr<std::string> text = policy::ReadPolicyFile(shadow_.path);
  // A missing file is no shadow mode, as an empty one.
  const std::string read = text.ok() ? *text : "";
  if (only_if_changed && shadow_read_ == read) return;
  shadow_read_ = read;
  const std::shared_ptr<const core::Policy> before = shadow_.holder->Current();
  std::string error;
  if (absl::StripAsciiWhitespace(read).empty()) {
    shadow_.holder->Replace(nullptr);
    if (before != nullptr) catalog_.shadow_policy_info.With({before->version}).Set(0);
    if (before != nullptr) Log(Severity::kInfo, "policy", "shadow mode off: no candidate policy");
  } else if (absl::StatusOr<std::shared_ptr<const core::Policy>> candidate =
                 policy::ParsePolicy(read, shadow_.path);
             !candidate.ok()) {
    error = std::string(candidate.status().message());
    Log(Severity::kError, "policy",
        absl::StrCat("shadow policy refused (", trigger, "), keeping ",
                     before != nullptr ? "version " + before->version : "no shadow mode", ":\n",
                     error));
  } else {
    shadow_.holder->Replace(*candidate);
    if (before != nullptr && before->version != (*candidate)->version) {
      catalog_.shadow_policy_info.With({before->version}).Set(0);
    }
    catalog_.shadow_policy_info.With({(*candidate)->version}).Set(1);
    Log(Severity::kInfo, "policy",
        absl::StrCat("shadow mode: candidate policy ", (*candidate)->version, " from ",
                     shadow_.path, " (", trigger, ") evaluated beside version ",
                     policies_.Current()->version));
  }
  absl::MutexLock lock(&mutex_);
  state_.shadow_error = error;
}

void PolicyRollout::ReloadOthers(absl::string_view trigger, bool only_if_changed) {
  if (!shadow_.path.empty()) ReloadShadow(trigger, only_if_changed);
  if (!authz_.path.empty()) ReloadAuthz(trigger, only_if_changed);
}

void PolicyRollout::ReloadAuthz(absl::string_view trigger, bool only_if_changed) {
  absl::StatusOr<std::string> text = policy::ReadPolicyFile(authz_.path);
  // A file missing for a moment (a Secret's symlinks being swapped) is looked at again later.
  if (!text.ok() && only_if_changed) return;
  if (text.ok() && *text == authz_.text && only_if_changed) return;
  absl::StatusOr<std::shared_ptr<const policy::AuthzPolicy>> authz =
      text.ok() ? policy::ParseAuthzPolicy(*text, authz_.path)
                : absl::StatusOr<std::shared_ptr<const policy::AuthzPolicy>>(text.status());
  if (text.ok()) authz_.text = *text;
  std::string error;
  if (authz.ok()) {
    authz_.holder->Replace(*authz);
    Log(Severity::kInfo, "policy",
        absl::StrCat("authorization policy '", (*authz)->name(), "' loaded from ", authz_.path,
                     " (", trigger, ")"));
  } else {
    error = std::string(authz.status().message());
    Log(Severity::kError, "policy",
        absl::StrCat("authorization policy refused (", trigger, "), keeping '",
                     authz_.holder->Current()->name(), "':\n", error));
  }
  catalog_.authz_policy_last_reload_successful.With({}).Set(authz.ok() ? 1 : 0);
  absl::MutexLock lock(&mutex_);
  state_.authz_error = error;
}

}  // namespace sendgate::api
