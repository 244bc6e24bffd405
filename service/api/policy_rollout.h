// Safe policy roll-out: the policy file is read again on SIGHUP, on Admin.Reload and when its
// content changes (a Kubernetes ConfigMap update swaps the mounted file), then validated,
// compiled and swapped whole into the PolicyHolder. A file that does not load keeps the
// running policy; the refusal is logged with every error and shown by
// sendgate_policy_last_reload_successful. Every load runs on the roll-out's own thread, one at
// a time: callers (gRPC threads, the signal loop) are answered through a callback and never
// wait for the file or the compiler.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/api/policy_holder.h"
#include "service/core/policy.h"
#include "service/metrics/catalog.h"

namespace sendgate::api {

struct ReloadResult {
  std::string previous_version;
  std::string version;
  bool changed = false;  // false when the file holds the policy already in force
};

struct RolloutState {
  std::string path;
  absl::Time loaded_at;
  bool last_reload_ok = true;
  std::string last_reload_error;
  std::string shadow_path;   // "" without shadow mode
  std::string shadow_error;  // why the shadow file's text was refused, if it was
  std::string authz_error;   // why the authorization policy's file was refused, if it was
};

// Shadow mode's candidate policy: read from `path` like the policy, into `holder` (null while
// the file is missing or empty: no shadow mode). A refused text keeps the previous candidate.
struct ShadowSource {
  std::string path;
  PolicyHolder* holder = nullptr;
};

// The authorization policy (--authz_policy_file): read again with the policy into `holder`,
// which holds the one `text` (the file as read at start) made. A file that does not load, or
// cannot be read, keeps the running one.
struct AuthzSource {
  std::string path;  // "" without an authorization policy
  std::string text;
  AuthzHolder* holder = nullptr;
};

class PolicyRollout {
 public:
  // `text` is the content `policies.Current()` was loaded from `path`. The file is looked at
  // every `watch_every` (ZeroDuration: never; SIGHUP and Admin.Reload still reload).
  PolicyRollout(std::string path, std::string text, PolicyHolder& policies,
                metrics::Catalog& catalog, absl::Duration watch_every, ShadowSource shadow = {},
                AuthzSource authz = {});
  ~PolicyRollout();
  PolicyRollout(const PolicyRollout&) = delete;
  PolicyRollout& operator=(const PolicyRollout&) = delete;

  using ReloadCallback = absl::AnyInvocable<void(absl::StatusOr<ReloadResult>)>;
  // Reads the file again; `trigger` ("SIGHUP", "Admin.Reload") is logged. `done` runs on the
  // roll-out thread: FAILED_PRECONDITION with every error when the file does not load.
  void Reload(std::string trigger, ReloadCallback done);

  using ValidateCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::shared_ptr<const core::Policy>>)>;
  // Compiles `text` as a policy named `name` without applying it; `done` runs on the roll-out
  // thread with the policy or INVALID_ARGUMENT listing every error.
  void Validate(std::string text, std::string name, ValidateCallback done);

  RolloutState state() const;

 private:
  void Run();
  void Post(absl::AnyInvocable<void()> job);
  // Reads the file; when `only_if_changed`, nothing happens (an OK result, unchanged) unless
  // its content differs from what was last read.
  absl::StatusOr<ReloadResult> ReloadNow(absl::string_view trigger, bool only_if_changed);
  void Refused(absl::string_view trigger, const absl::Status& status);
  // The shadow file, read again (when its content changed, with `only_if_changed`).
  void ReloadShadow(absl::string_view trigger, bool only_if_changed);
  // The authorization policy's file, read again (when its content changed, with
  // `only_if_changed`).
  void ReloadAuthz(absl::string_view trigger, bool only_if_changed);
  // Every file beside the policy.
  void ReloadOthers(absl::string_view trigger, bool only_if_changed);

  const std::string path_;
  PolicyHolder& policies_;
  metrics::Catalog& catalog_;
  const absl::Duration watch_every_;

  // The roll-out thread's only: the file's text as last read, and whether it is in force.
  std::string last_read_;
  bool last_read_loaded_ = true;
  const ShadowSource shadow_;
  std::optional<std::string> shadow_read_;  // the shadow file's text as last read
  AuthzSource authz_;  // its text: the file as last read
  mutable absl::Mutex mutex_;
  std::deque<absl::AnyInvocable<void()>> jobs_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  RolloutState state_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

// Shows `policy` as the one in force in sendgate_policy_info (`before`, if any, set to 0).
void ShowPolicy(metrics::Catalog& catalog, const core::Policy& policy, const std::string& before);

}  // namespace sendgate::api
