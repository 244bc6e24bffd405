#include "service/ctl/commands.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sendgate/v1/admin.grpc.pb.h"
#include "sendgate/v1/arbiter.grpc.pb.h"
#include "sendgate/v1/preferences.grpc.pb.h"
#include "service/ctl/policy_diff.h"
#include "service/ctl/table.h"
#include "service/policy/authz.h"
#include "service/policy/loader.h"
#include "service/policy/time_zones.h"
#include "service/settings/settings.h"

// decide, explain, prefs set: the message and the contact.
ABSL_FLAG(std::string, contact, "", "decide: the contact_id");
ABSL_FLAG(std::string, channel, "", "decide: the channel");
ABSL_FLAG(std::string, category, "", "decide: the category (the policy's default when empty)");
ABSL_FLAG(std::string, subscription, "", "decide: the subscription");
ABSL_FLAG(std::string, program, "", "decide: the program");
ABSL_FLAG(std::string, campaign, "", "decide: the campaign_id");
ABSL_FLAG(std::string, edition, "", "decide: the campaign's edition or the scenario's step");
ABSL_FLAG(std::string, message_id, "", "decide: the message_id (a new one when empty)");
ABSL_FLAG(std::string, priority, "", "decide: the priority (the category's when empty)");
ABSL_FLAG(std::string, weight, "", "decide: the weight (the category's when empty)");
ABSL_FLAG(std::string, send_at, "", "decide: when it would be sent, RFC 3339 (now when empty)");
ABSL_FLAG(std::string, expires_at, "", "decide: when it becomes worthless, RFC 3339");
ABSL_FLAG(std::string, segments, "",
          "decide, explain, prefs set: segments, comma-separated (the stored ones when empty)");
ABSL_FLAG(std::string, timezone, "",
          "decide, explain, prefs set: IANA time zone (the stored one when empty)");
ABSL_FLAG(std::string, at, "", "explain: the instant to look from, RFC 3339 (now when empty)");
// prefs set.
ABSL_FLAG(std::string, opt_out, "", "prefs set: true or false: the global opt-out");
ABSL_FLAG(std::string, subscribe, "", "prefs set: SUBSCRIPTION:CHANNEL,... to opt in to");
ABSL_FLAG(std::string, unsubscribe, "", "prefs set: SUBSCRIPTION:CHANNEL,... to opt out of");
ABSL_FLAG(std::string, block, "",
          "prefs set: CHANNEL[:REASON],... to block (REASON: unsubscribed, hard_bounce, "
          "complaint, manual; manual when left out)");
ABSL_FLAG(std::string, unblock, "", "prefs set: CHANNEL,... to unblock");
ABSL_FLAG(std::string, pause_until, "", "prefs set: pause every marketing message until, RFC 3339");
ABSL_FLAG(bool, clear_pause, false, "prefs set: end the pause");
ABSL_FLAG(std::string, frequency, "",
          "prefs set: CHANNEL:LIMIT/WINDOW,... the contact's own limits (email:2/7d)");
ABSL_FLAG(std::string, clear_frequency, "", "prefs set: CHANNEL,... whose own limit ends");
ABSL_FLAG(std::string, expected_version, "",
          "prefs set: apply only if the stored preferences are at this version");
ABSL_FLAG(std::string, actor, "",
          "prefs set: who makes the change, for the consent trail ($USER when empty)");
ABSL_FLAG(std::string, text_version, "", "prefs set: the wording the contact agreed to");

namespace sendgate::ctl {
namespace {

std::string Time(const google::protobuf::Timestamp& stamp) {
  if (stamp.seconds() == 0 && stamp.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(stamp.seconds()),
                          absl::UTCTimeZone());
}

bool ParseTime(absl::string_view text, google::protobuf::Timestamp* stamp) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return false;
  stamp->set_seconds(absl::ToUnixSeconds(time));
  stamp->set_nanos(
      static_cast<int>((time - absl::FromUnixSeconds(stamp->seconds())) / absl::Nanoseconds(1)));
  return true;
}

std::vector<std::string> List(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipWhitespace());
}

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

std::unique_ptr<grpc::ClientContext> CallContext(const Context& context) {
  auto call = std::make_unique<grpc::ClientContext>();
  call->set_deadline(std::chrono::system_clock::now() + context.timeout);
  if (!context.authorization.empty()) call->AddMetadata("authorization", context.authorization);
  return call;
}

int Usage(Context& context, absl::string_view problem) {
  context.err << "sendgatectl: " << problem << " (sendgatectl --help)\n";
  return kUsage;
}

// A command's single positional word, such as the contact of `explain CONTACT`.
bool OneWord(const std::vector<std::string>& words, std::string& word) {
  if (words.size() != 1 || words[0].empty()) return false;
  word = words[0];
  return true;
}

void AddSegments(const std::string& flag, google::protobuf::RepeatedPtrField<std::string>* to) {
  for (const std::string& segment : List(flag)) *to->Add() = segment;
}

// --- decide ---

absl::Status BuildDecide(v1::DecideRequest& request) {
  request.set_dry_run(true);
  request.set_contact_id(absl::GetFlag(FLAGS_contact));
  request.set_channel(absl::GetFlag(FLAGS_channel));
  request.set_category(absl::GetFlag(FLAGS_category));
  request.set_subscription(absl::GetFlag(FLAGS_subscription));
  request.set_program(absl::GetFlag(FLAGS_program));
  request.set_campaign_id(absl::GetFlag(FLAGS_campaign));
  request.set_edition(absl::GetFlag(FLAGS_edition));
  request.set_timezone(absl::GetFlag(FLAGS_timezone));
  AddSegments(absl::GetFlag(FLAGS_segments), request.mutable_segments());
  std::string id = absl::GetFlag(FLAGS_message_id);
  if (id.empty()) id = absl::StrCat("sendgatectl-", absl::ToUnixNanos(absl::Now()));
  request.set_message_id(id);
  for (auto [flag, name] : {std::pair{&FLAGS_priority, "priority"}, {&FLAGS_weight, "weight"}}) {
    const std::string text = absl::GetFlag(*flag);
    int value = 0;
    if (text.empty()) continue;
    if (!absl::SimpleAtoi(text, &value)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " must be an integer"));
    }
    name == std::string("priority") ? request.set_priority(value) : request.set_weight(value);
  }
  if (const std::string at = absl::GetFlag(FLAGS_send_at);
      !at.empty() && !ParseTime(at, request.mutable_send_at())) {
    return absl::InvalidArgumentError("--send_at must be RFC 3339 (2026-11-23T10:00:00Z)");
  }
  if (const std::string at = absl::GetFlag(FLAGS_expires_at);
      !at.empty() && !ParseTime(at, request.mutable_expires_at())) {
    return absl::InvalidArgumentError("--expires_at must be RFC 3339 (2026-11-23T10:00:00Z)");
  }
  return absl::OkStatus();
}

void PrintDecision(std::ostream& out, const v1::DecideResponse& response) {
  out << "outcome:  " << v1::Outcome_Name(response.outcome()) << " (dry run: nothing recorded)\n";
  if (response.has_retry_at()) out << "retry_at: " << Time(response.retry_at()) << "\n";
  out << "policy:   " << response.policy_version() << "\n";
  if (response.replayed()) out << "replayed: the message_id was decided before\n";
  if (response.degraded()) out << "degraded: Redis did not answer; the fail mode decided\n";
  if (response.reasons().empty()) return;
  Table reasons({"reason", "rule", "used", "limit", "why"});
  for (const v1::Reason& reason : response.reasons()) {
    reasons.Add({v1::Reason::Code_Name(reason.code()), reason.rule_id(),
                 absl::StrCat(reason.used()), absl::StrCat(reason.limit()), reason.message()});
  }
  out << "\n";
  reasons.Print(out);
}

// --- explain, prefs ---

void PrintPreferences(std::ostream& out, const v1::ContactPreferences& prefs) {
  out << "Preferences (version " << prefs.version() << ")"
      << (prefs.suppressed() ? ": SUPPRESSED (the contact was forgotten)" : "") << "\n";
  out << "  global opt-out: " << (prefs.global_opt_out() ? "yes" : "no") << "\n";
  out << "  paused until:   " << Time(prefs.pause_until()) << "\n";
  out << "  time zone:      " << (prefs.timezone().empty() ? "-" : prefs.timezone()) << "\n";
  out << "  segments:       "
      << (prefs.segments().empty() ? "-" : absl::StrJoin(prefs.segments(), ", ")) << "\n";
  Table choices({"subscription or channel", "channel", "choice"});
  for (const v1::SubscriptionChoice& choice : prefs.subscriptions()) {
    choices.Add({choice.subscription(), choice.channel().empty() ? "(all)" : choice.channel(),
                 choice.opted_in() ? "opted in" : "opted out"});
  }
  for (const v1::BlockedChannel& blocked : prefs.blocked_channels()) {
    choices.Add({"(channel blocked)", blocked.channel(),
                 absl::AsciiStrToLower(v1::BlockedChannel::Reason_Name(blocked.reason()))});
  }
  for (const v1::FrequencyLimit& limit : prefs.frequency()) {
    choices.Add(
        {"(own frequency)", limit.channel(), absl::StrCat(limit.limit(), " per ", limit.window())});
  }
  for (const v1::ChannelPause& pause : prefs.channel_pauses()) {
    choices.Add({"(channel paused)", pause.channel(), absl::StrCat("until ", Time(pause.until()))});
  }
  if (!choices.empty()) {
    out << "\n";
    choices.Print(out);
  }
}

void PrintPressure(std::ostream& out, const v1::GetPressureResponse& pressure) {
  out << "\nUsage per rule (policy " << pressure.policy_version() << ")\n";
  Table caps({"rule", "partition", "used", "limit", "window"});
  for (const v1::CapUsage& cap : pressure.caps()) {
    caps.Add({cap.rule_id(), cap.partition().empty() ? "-" : cap.partition(),
              absl::StrCat(cap.used()), absl::StrCat(cap.limit()),
              absl::StrCat(Time(cap.window_start()), " .. ", Time(cap.window_end()))});
  }
  caps.Print(out);
  out << "\nNext free slot per channel (a marketing message of weight 1)\n";
  Table channels({"channel", "next_allowed_at"});
  for (const v1::ChannelRoom& room : pressure.channels()) {
    channels.Add({room.channel(), room.has_next_allowed_at() ? Time(room.next_allowed_at())
                                                             : "never (a limit of 0)"});
  }
  channels.Print(out);
  out << "\nHistory (" << pressure.history_size() << " records)\n";
  Table history({"sent_at", "channel", "category", "campaign", "edition", "program", "weight",
                 "priority", "counted"});
  for (const v1::SendRecord& record : pressure.history()) {
    history.Add({Time(record.sent_at()), record.channel(), record.category(), record.campaign(),
                 record.edition(), record.program(), absl::StrCat(record.weight()),
                 absl::StrCat(record.priority()), record.denied() ? "no (denied)" : "yes"});
  }
  history.Print(out);
  if (pressure.planned_size() == 0) return;
  out << "\nPlanned sends (Plan): they keep their room from lower priorities\n";
  Table planned({"planned_at", "channel", "category", "campaign", "edition", "priority", "weight",
                 "announced_at"});
  for (const v1::PlannedSendRecord& send : pressure.planned()) {
    planned.Add({Time(send.planned_at()), send.channel(), send.category(), send.campaign(),
                 send.edition(), absl::StrCat(send.priority()), absl::StrCat(send.weight()),
                 Time(send.announced_at())});
  }
  planned.Print(out);
}

void AddChoices(const std::string& flag, bool opted_in, v1::UpdatePreferencesRequest& request) {
  for (const std::string& item : List(flag)) {
    std::vector<std::string> parts = absl::StrSplit(item, absl::MaxSplits(':', 1));
    v1::SubscriptionChoice* choice = request.add_subscriptions();
    choice->set_subscription(parts[0]);
    if (parts.size() > 1) choice->set_channel(parts[1]);
    choice->set_opted_in(opted_in);
  }
}

absl::Status AddBlocks(v1::UpdatePreferencesRequest& request) {
  for (const std::string& item : List(absl::GetFlag(FLAGS_block))) {
    std::vector<std::string> parts = absl::StrSplit(item, absl::MaxSplits(':', 1));
    v1::BlockedChannel* blocked = request.add_block_channels();
    blocked->set_channel(parts[0]);
    v1::BlockedChannel::Reason reason = v1::BlockedChannel::MANUAL;
    if (parts.size() > 1 &&
        !v1::BlockedChannel::Reason_Parse(absl::AsciiStrToUpper(parts[1]), &reason)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--block: '", parts[1], "' is not unsubscribed, hard_bounce, complaint or manual"));
    }
    blocked->set_reason(reason);
  }
  for (const std::string& channel : List(absl::GetFlag(FLAGS_unblock))) {
    request.add_unblock_channels(channel);
  }
  return absl::OkStatus();
}

absl::Status AddFrequencies(v1::UpdatePreferencesRequest& request) {
  for (const std::string& item : List(absl::GetFlag(FLAGS_frequency))) {
    std::vector<std::string> parts = absl::StrSplit(item, absl::ByAnyChar(":/"));
    int limit = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &limit)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--frequency: '", item, "' is not CHANNEL:LIMIT/WINDOW (email:2/7d)"));
    }
    v1::FrequencyLimit* frequency = request.add_frequency();
    frequency->set_channel(parts[0]);
    frequency->set_limit(limit);
    frequency->set_window(parts[2]);
  }
  for (const std::string& channel : List(absl::GetFlag(FLAGS_clear_frequency))) {
    request.add_clear_frequency(channel);
  }
  return absl::OkStatus();
}

absl::Status BuildUpdate(const std::string& contact, v1::UpdatePreferencesRequest& request) {
  request.set_contact_id(contact);
  const char* user = std::getenv("USER");
  const std::string actor = absl::GetFlag(FLAGS_actor);
  request.mutable_evidence()->set_source(v1::Evidence::SUPPORT);
  request.mutable_evidence()->set_actor(
      !actor.empty() ? actor : absl::StrCat("sendgatectl:", user != nullptr ? user : "unknown"));
  request.mutable_evidence()->set_text_version(absl::GetFlag(FLAGS_text_version));
  if (const std::string opt_out = absl::GetFlag(FLAGS_opt_out); !opt_out.empty()) {
    if (opt_out != "true" && opt_out != "false") {
      return absl::InvalidArgumentError("--opt_out must be true or false");
    }
    request.set_global_opt_out(opt_out == "true");
  }
  if (const std::string version = absl::GetFlag(FLAGS_expected_version); !version.empty()) {
    int64_t expected = 0;
    if (!absl::SimpleAtoi(version, &expected)) {
      return absl::InvalidArgumentError("--expected_version must be an integer");
    }
    request.set_expected_version(expected);
  }
  AddChoices(absl::GetFlag(FLAGS_subscribe), true, request);
  AddChoices(absl::GetFlag(FLAGS_unsubscribe), false, request);
  if (absl::Status blocks = AddBlocks(request); !blocks.ok()) return blocks;
  if (absl::Status frequencies = AddFrequencies(request); !frequencies.ok()) return frequencies;
  if (const std::string until = absl::GetFlag(FLAGS_pause_until);
      !until.empty() && !ParseTime(until, request.mutable_pause_until())) {
    return absl::InvalidArgumentError("--pause_until must be RFC 3339 (2026-12-01T00:00:00Z)");
  }
  request.set_clear_pause(absl::GetFlag(FLAGS_clear_pause));
  if (const std::string zone = absl::GetFlag(FLAGS_timezone); !zone.empty()) {
    request.set_timezone(zone);
  }
  if (const std::string segments = absl::GetFlag(FLAGS_segments); !segments.empty()) {
    AddSegments(segments, request.mutable_segments()->mutable_segments());
  }
  return absl::OkStatus();
}

// --- policy ---

// The name a policy file is checked under: its file name, in the characters the service
// accepts.
std::string CandidateName(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      c = '_';
    }
  }
  return name.substr(0, 200);
}

bool ReadFile(const std::string& path, std::string& text) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  std::stringstream buffer;
  buffer << file.rdbuf();
  text = buffer.str();
  return true;
}

int PolicyShow(Context& context) {
  auto stub = v1::Admin::NewStub(context.Channel());
  v1::GetPolicyResponse response;
  const grpc::Status status = stub->GetPolicy(CallContext(context).get(), {}, &response);
  if (!status.ok()) return CallFailed(context, status);
  if (context.json) {
    context.out << Json(response) << "\n";
    return kOk;
  }
  context.out << "version:    " << response.version() << "\n"
              << "file:       " << response.path() << "\n"
              << "loaded at:  " << Time(response.loaded_at()) << "\n"
              << "channels:   " << absl::StrJoin(response.channels(), ", ") << "\n"
              << "categories: " << absl::StrJoin(response.categories(), ", ") << "\n"
              << "caps:       " << absl::StrJoin(response.caps(), ", ") << "\n"
              << "shadow:     "
              << (response.shadow_version().empty()
                      ? std::string("none")
                      : response.shadow_version() + " from " + response.shadow_path())
              << (response.shadow_error().empty()
                      ? ""
                      : "\n            its file was refused:\n" + response.shadow_error())
              << "\n"
              << "last reload: "
              << (response.last_reload_ok()
                      ? "ok"
                      : "REFUSED, the file holds a bad policy:\n" + response.last_reload_error())
              << "\n";
  return kOk;
}

// One file a check looked at: a policy, a shadow candidate or a config file.
struct FileCheck {
  std::string kind;  // "policy", "shadow_policy", "authz_policy" or "config"
  std::string path;
  bool readable = true;             // false: a file named on the command line could not be read
  std::string version;              // a valid policy's
  std::vector<std::string> errors;  // none: valid
  std::string note;                 // what the check found besides, for people
};

FileCheck Checked(std::string kind, std::string path, const absl::Status& status) {
  FileCheck check{.kind = std::move(kind), .path = std::move(path)};
  check.readable = !absl::IsNotFound(status);
  for (absl::string_view line : absl::StrSplit(status.message(), '\n', absl::SkipEmpty())) {
    check.errors.emplace_back(line);
  }
  return check;
}

FileCheck CheckedPolicy(std::string kind, std::string path,
                        const absl::StatusOr<std::shared_ptr<const core::Policy>>& policy) {
  FileCheck check = Checked(std::move(kind), std::move(path), policy.status());
  if (!policy.ok()) return check;
  if (*policy == nullptr) {
    check.note = "missing or empty: no shadow mode";
  } else {
    check.version = (*policy)->version;
    check.note = absl::StrCat((*policy)->caps.size(), " caps");
  }
  return check;
}

FileCheck CheckedAuthz(const std::string& path) {
  const absl::StatusOr<std::shared_ptr<const policy::AuthzPolicy>> authz =
      policy::LoadAuthzPolicyFile(path);
  FileCheck check = Checked("authz_policy", path, authz.status());
  if (authz.ok()) {
    check.version = (*authz)->name();
    check.note = absl::StrCat((*authz)->allow_rules().size(), " allow rules");
  }
  return check;
}

// Prints the checks and returns the exit code: 0 all valid, 1 some not, 2 a file given on the
// command line could not be read.
int Report(Context& context, const std::vector<FileCheck>& checks) {
  bool valid = true, readable = true;
  google::protobuf::Struct result;
  google::protobuf::ListValue* files = (*result.mutable_fields())["files"].mutable_list_value();
  for (const FileCheck& check : checks) {
    valid = valid && check.errors.empty();
    readable = readable && check.readable;
    auto& fields = *files->add_values()->mutable_struct_value()->mutable_fields();
    fields["kind"].set_string_value(check.kind);
    fields["path"].set_string_value(check.path);
    fields["valid"].set_bool_value(check.errors.empty());
    fields["version"].set_string_value(check.version);
    google::protobuf::ListValue* errors = fields["errors"].mutable_list_value();
    for (const std::string& error : check.errors) errors->add_values()->set_string_value(error);
    if (context.json) continue;
    const std::string name = check.kind == "config" ? check.path : check.kind + " " + check.path;
    if (!check.errors.empty()) {
      context.out << name << ": NOT valid, " << check.errors.size()
                  << (check.errors.size() == 1 ? " error\n" : " errors\n");
      for (const std::string& error : check.errors) context.out << error << "\n";
    } else {
      context.out << name << (check.kind == "config" ? ": valid settings" : ": valid")
                  << (check.version.empty() ? "" : ", version " + check.version)
                  << (check.note.empty() ? "" : " (" + check.note + ")") << "\n";
    }
  }
  (*result.mutable_fields())["valid"].set_bool_value(valid);
  if (context.json) context.out << Json(result) << "\n";
  if (!readable) return kUsage;
  return valid ? kOk : kNo;
}

// A policy file checked by the running sendgate's own loader (Admin.ValidatePolicy), added to
// `checks`; kOk, or the exit code of a failed call.
int CheckRemotely(Context& context, const std::string& path, std::vector<FileCheck>& checks) {
  v1::ValidatePolicyRequest request;
  if (!ReadFile(path, *request.mutable_policy())) {
    checks.push_back(
        Checked("policy", path, absl::NotFoundError(absl::StrCat("cannot read ", path))));
    return kOk;
  }
  request.set_name(CandidateName(path));
  auto stub = v1::Admin::NewStub(context.Channel());
  v1::ValidatePolicyResponse response;
  const grpc::Status status = stub->ValidatePolicy(CallContext(context).get(), request, &response);
  if (!status.ok()) return CallFailed(context, status);
  FileCheck& check =
      checks.emplace_back(FileCheck{.kind = "policy", .path = path, .version = response.version()});
  check.errors.assign(response.errors().begin(), response.errors().end());
  check.note = absl::StrCat("checked by ", context.target);
  return kOk;
}

int PolicyCheck(Context& context, const std::vector<std::string>& paths) {
  std::vector<FileCheck> checks;
  for (const std::string& path : paths) {
    if (absl::EndsWith(path, ".json")) {
      checks.push_back(CheckedAuthz(path));  // offline always: sendgate has no RPC for it
    } else if (context.target.empty()) {
      checks.push_back(CheckedPolicy("policy", path, policy::LoadPolicyFile(path)));
    } else if (const int failed = CheckRemotely(context, path, checks); failed != kOk) {
      return failed;
    }
  }
  return Report(context, checks);
}

// A config file's settings as sendgate checks them at start, then the policy files it names,
// from the current directory as sendgate would open them.
void CheckConfig(const std::string& path, std::vector<FileCheck>& checks) {
  absl::StatusOr<settings::Settings> config = settings::LoadConfigFile(path);
  checks.push_back(Checked("config", path, config.status()));
  if (!config.ok()) return;
  checks.push_back(CheckedPolicy("policy", config->policy, policy::LoadPolicyFile(config->policy)));
  checks.back().readable = true;  // a missing policy file is the config's error, not a usage one
  if (!config->authz_policy_file.empty()) {
    checks.push_back(CheckedAuthz(config->authz_policy_file));
    checks.back().readable = true;
  }
  if (config->shadow_policy.empty()) return;
  checks.push_back(CheckedPolicy("shadow_policy", config->shadow_policy,
                                 policy::LoadCandidatePolicyFile(config->shadow_policy)));
}

int PolicyDiff(Context& context, const std::string& old_path, const std::string& new_path) {
  YAML::Node before, after;
  try {
    before = YAML::LoadFile(old_path);
    after = YAML::LoadFile(new_path);
  } catch (const YAML::Exception& error) {
    return Usage(context, absl::StrCat("cannot read the policies: ", error.what()));
  }
  const std::vector<PolicyChange> changes = DiffPolicies(before, after);
  if (context.json) {
    google::protobuf::Struct result;
    google::protobuf::ListValue* list = (*result.mutable_fields())["changes"].mutable_list_value();
    for (const PolicyChange& change : changes) {
      auto& fields = *list->add_values()->mutable_struct_value()->mutable_fields();
      const char* kinds[] = {"added", "removed", "changed"};
      fields["kind"].set_string_value(kinds[static_cast<int>(change.kind)]);
      fields["path"].set_string_value(change.path);
      fields["before"].set_string_value(change.before);
      fields["after"].set_string_value(change.after);
    }
    context.out << Json(result) << "\n";
  } else if (changes.empty()) {
    context.out << "no difference\n";
  } else {
    for (const PolicyChange& change : changes) context.out << ChangeLine(change) << "\n";
  }
  return changes.empty() ? kOk : kNo;
}

// Policies name IANA time zones: without the system's tzdata no policy can be checked.
absl::Status TimeZonesLoaded(Context& context) {
  absl::StatusOr<const policy::TimeZones*> zones = policy::SystemTimeZones();
  if (!zones.ok()) context.err << "sendgatectl: " << zones.status().message() << "\n";
  return zones.status();
}

}  // namespace

std::shared_ptr<grpc::Channel> Context::Channel() {
  if (channel == nullptr) {
    channel = grpc::CreateChannel(target.empty() ? "127.0.0.1:50051" : target, credentials);
  }
  return channel;
}

int CallFailed(Context& context, const grpc::Status& status) {
  context.err << "sendgatectl: " << status.error_message() << " (gRPC "
              << static_cast<int>(status.error_code()) << ")\n";
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return kRefused;
    default:
      return kUnreachable;
  }
}

int Decide(Context& context, const std::vector<std::string>& words) {
  if (!words.empty()) return Usage(context, "decide takes flags only (--contact --channel ...)");
  v1::DecideRequest request;
  if (absl::Status built = BuildDecide(request); !built.ok()) {
    return Usage(context, built.message());
  }
  auto stub = v1::Arbiter::NewStub(context.Channel());
  v1::DecideResponse response;
  const grpc::Status status = stub->Decide(CallContext(context).get(), request, &response);
  if (!status.ok()) return CallFailed(context, status);
  if (context.json) {
    context.out << Json(response) << "\n";
  } else {
    PrintDecision(context.out, response);
  }
  if (response.outcome() == v1::DEFER) return kDeferred;
  return response.outcome() == v1::ALLOW ? kOk : kNo;
}

int Explain(Context& context, const std::vector<std::string>& words) {
  std::string contact;
  if (!OneWord(words, contact)) return Usage(context, "explain takes one CONTACT");
  v1::GetPressureRequest pressure_request;
  pressure_request.set_contact_id(contact);
  pressure_request.set_timezone(absl::GetFlag(FLAGS_timezone));
  AddSegments(absl::GetFlag(FLAGS_segments), pressure_request.mutable_segments());
  if (const std::string at = absl::GetFlag(FLAGS_at);
      !at.empty() && !ParseTime(at, pressure_request.mutable_at())) {
    return Usage(context, "--at must be RFC 3339 (2026-11-23T10:00:00Z)");
  }
  v1::GetPressureResponse pressure;
  grpc::Status status = v1::Arbiter::NewStub(context.Channel())
                            ->GetPressure(CallContext(context).get(), pressure_request, &pressure);
  if (!status.ok()) return CallFailed(context, status);
  v1::GetPreferencesRequest prefs_request;
  prefs_request.set_contact_id(contact);
  v1::ContactPreferences prefs;
  status = v1::Preferences::NewStub(context.Channel())
               ->Get(CallContext(context).get(), prefs_request, &prefs);
  if (!status.ok()) return CallFailed(context, status);
  if (context.json) {
    google::protobuf::Value id;
    id.set_string_value(contact);
    context.out << "{\"contact_id\":" << Json(id) << ",\"pressure\":" << Json(pressure)
                << ",\"preferences\":" << Json(prefs) << "}\n";
    return kOk;
  }
  context.out << "Contact " << contact << "\n\n";
  PrintPreferences(context.out, prefs);
  PrintPressure(context.out, pressure);
  return kOk;
}

int Prefs(Context& context, const std::vector<std::string>& words) {
  if (words.size() != 2 || (words[0] != "get" && words[0] != "set")) {
    return Usage(context, "prefs get CONTACT | prefs set CONTACT --flags");
  }
  auto stub = v1::Preferences::NewStub(context.Channel());
  v1::ContactPreferences prefs;
  grpc::Status status;
  if (words[0] == "get") {
    v1::GetPreferencesRequest request;
    request.set_contact_id(words[1]);
    status = stub->Get(CallContext(context).get(), request, &prefs);
  } else {
    v1::UpdatePreferencesRequest request;
    if (absl::Status built = BuildUpdate(words[1], request); !built.ok()) {
      return Usage(context, built.message());
    }
    status = stub->Update(CallContext(context).get(), request, &prefs);
  }
  if (!status.ok()) return CallFailed(context, status);
  if (context.json) {
    context.out << Json(prefs) << "\n";
  } else {
    context.out << "Contact " << prefs.contact_id() << "\n";
    PrintPreferences(context.out, prefs);
  }
  return kOk;
}

int Policy(Context& context, const std::vector<std::string>& words) {
  if (words.size() == 1 && words[0] == "show") return PolicyShow(context);
  if (words.size() >= 2 && words[0] == "check") {
    if (absl::Status zones = TimeZonesLoaded(context); !zones.ok()) return kUsage;
    return PolicyCheck(context, std::vector<std::string>(words.begin() + 1, words.end()));
  }
  if (words.size() == 3 && words[0] == "diff") return PolicyDiff(context, words[1], words[2]);
  return Usage(context, "policy show | policy check FILE... | policy diff OLD NEW");
}

int Config(Context& context, const std::vector<std::string>& words) {
  if (words.size() < 2 || words[0] != "check") return Usage(context, "config check FILE...");
  if (absl::Status zones = TimeZonesLoaded(context); !zones.ok()) return kUsage;
  std::vector<FileCheck> checks;
  for (auto path = words.begin() + 1; path != words.end(); ++path) CheckConfig(*path, checks);
  return Report(context, checks);
}

int Reload(Context& context, const std::vector<std::string>& words) {
  if (!words.empty()) return Usage(context, "reload takes no argument");
  v1::ReloadResponse response;
  const grpc::Status status =
      v1::Admin::NewStub(context.Channel())->Reload(CallContext(context).get(), {}, &response);
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    context.err << "reload refused, the running policy is kept:\n"
                << status.error_message() << "\n";
    return kNo;
  }
  if (!status.ok()) return CallFailed(context, status);
  if (context.json) {
    context.out << Json(response) << "\n";
  } else if (response.changed()) {
    context.out << "reloaded: version " << response.previous_version() << " -> "
                << response.version() << "\n";
  } else {
    context.out << "unchanged: the file holds version " << response.version()
                << ", already in force\n";
  }
  return kOk;
}

}  // namespace sendgate::ctl
