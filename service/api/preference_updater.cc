#include "service/api/preference_updater.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "service/api/proto_conversion.h"

namespace sendgate::api {
namespace {

// Writes that found the contact changed since it was read, before giving up.
constexpr int kAttempts = 8;

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

v1::ConsentEvent Event(absl::Time at, const v1::Evidence& evidence,
                       const std::vector<core::AppliedChange>& changes, int64_t version) {
  v1::ConsentEvent event;
  ToTimestamp(at, event.mutable_at());
  *event.mutable_evidence() = evidence;
  for (const core::AppliedChange& change : changes) {
    v1::PreferenceChange* out = event.add_changes();
    out->set_field(change.field);
    out->set_before(change.before);
    out->set_after(change.after);
  }
  event.set_version(version);
  return event;
}

absl::Status KeptChanging() {
  return absl::AbortedError("the contact's preferences kept changing during the update; retry");
}

}  // namespace

void PreferenceUpdater::Update(std::shared_ptr<const core::Policy> policy,
                               PreferenceUpdate update, absl::Time deadline,
                               UpdateCallback done) {
  UpdateAttempt(std::move(policy), std::make_shared<const PreferenceUpdate>(std::move(update)),
                deadline, 1, std::move(done));
}

void PreferenceUpdater::UpdateAttempt(std::shared_ptr<const core::Policy> policy,
                                      std::shared_ptr<const PreferenceUpdate> update,
                                      absl::Time deadline, int attempt, UpdateCallback done) {
  if (attempt > kAttempts) return done(KeptChanging());
  store_.ReadPreferences(
      update->contact_id, hasher_.Hash(update->contact_id), deadline,
      [this, policy, update, deadline, attempt,
       done = std::move(done)](absl::StatusOr<store::Store::StoredPreferences> stored) mutable {
        if (!stored.ok()) return done(stored.status());
        const int64_t read_version = stored->preferences.version;
        if (update->expected_version.has_value() && *update->expected_version != read_version) {
          return done(absl::FailedPreconditionError(
              absl::StrCat("expected_version: the stored version is ", read_version, ", not ",
                           *update->expected_version)));
        }
        core::Preferences preferences = std::move(stored->preferences);
        const std::vector<core::AppliedChange> changes =
            core::Apply(*policy, update->changes,
                        static_cast<core::ConsentSource>(update->evidence.source()), preferences);
        if (changes.empty()) {
          return Confirm(std::move(policy), std::move(update), std::move(preferences), deadline,
                         attempt, std::move(done));
        }
        preferences.version = read_version + 1;
        const v1::ConsentEvent event =
            Event(clock_.Now(), update->evidence, changes, preferences.version);
        store::Store::PreferencesWrite write{
            .contact_id = update->contact_id,
            .read_version = read_version,
            .preferences = preferences,
            .consent_event = event.SerializeAsString(),
            .feed_entry = {{"contact_id", update->contact_id},
                           {"version", absl::StrCat(preferences.version)},
                           {"event", Json(event)}}};
        store_.WritePreferences(
            write, deadline,
            [this, policy, update, deadline, attempt, preferences = std::move(preferences),
             done = std::move(done)](absl::StatusOr<bool> written) mutable {
              if (!written.ok()) return done(written.status());
              if (!*written) {
                return UpdateAttempt(std::move(policy), std::move(update), deadline, attempt + 1,
                                     std::move(done));
              }
              profiles_.Remember(update->contact_id,
                                 {preferences.timezone, preferences.segments});
              done(Updated{.preferences = std::move(preferences), .changed = true});
            });
      });
}

void PreferenceUpdater::Confirm(std::shared_ptr<const core::Policy> policy,
                                std::shared_ptr<const PreferenceUpdate> update,
                                core::Preferences stored, absl::Time deadline, int attempt,
                                UpdateCallback done) {
  const std::string& contact_id = update->contact_id;
  const int64_t version = stored.version;
  store_.ConfirmPreferences(
      contact_id, version, deadline,
      [this, policy, update, deadline, attempt, stored = std::move(stored),
       done = std::move(done)](absl::StatusOr<bool> confirmed) mutable {
        if (!confirmed.ok()) return done(confirmed.status());
        if (!*confirmed) {
          return UpdateAttempt(std::move(policy), std::move(update), deadline, attempt + 1,
                               std::move(done));
        }
        done(Updated{.preferences = std::move(stored)});
      });
}

void PreferenceUpdater::Forget(std::string contact_id, v1::Evidence evidence, absl::Time deadline,
                               ForgetCallback done) {
  if (!hasher_.enabled()) {
    return done(absl::FailedPreconditionError(
        "no suppression key is configured (--suppression_key_file): erasing a contact without "
        "it would let a contact who opted out be messaged again if brought back"));
  }
  ForgetAttempt(std::make_shared<const std::pair<std::string, v1::Evidence>>(
                    std::move(contact_id), std::move(evidence)),
                deadline, 1, std::move(done));
}

void PreferenceUpdater::ForgetAttempt(
    std::shared_ptr<const std::pair<std::string, v1::Evidence>> request, absl::Time deadline,
    int attempt, ForgetCallback done) {
  if (attempt > kAttempts) return done(KeptChanging());
  const std::string& contact_id = request->first;
  const std::string hash = hasher_.Hash(contact_id);
  store_.ReadPreferences(
      contact_id, hash, deadline,
      [this, request, hash, deadline, attempt,
       done = std::move(done)](absl::StatusOr<store::Store::StoredPreferences> stored) mutable {
        if (!stored.ok()) return done(stored.status());
        const std::optional<core::Preferences> kept = core::SuppressionOf(stored->preferences);
        v1::ConsentEvent event = Event(clock_.Now(), request->second,
                                       {{"contact", "stored", "forgotten"}}, 0);
        store::Store::Erasure erasure{
            .contact_id = request->first,
            .read_version = stored->from_suppression ? 0 : stored->preferences.version,
            .suppression_hash = hash,
            .suppression = kept.value_or(core::Preferences{}),
            .feed_entry = {{"contact_id", request->first},
                           {"forgotten", "true"},
                           {"event", Json(event)}}};
        store_.Forget(erasure, deadline,
                      [this, request, deadline, attempt, suppressed = kept.has_value(),
                       done = std::move(done)](absl::StatusOr<std::optional<bool>> erased) mutable {
                        if (!erased.ok()) return done(erased.status());
                        if (!erased->has_value()) {
                          return ForgetAttempt(std::move(request), deadline, attempt + 1,
                                               std::move(done));
                        }
                        profiles_.Remember(request->first, {});
                        done(Forgotten{.erased = **erased, .suppressed = suppressed});
                      });
      });
}

}  // namespace sendgate::api
