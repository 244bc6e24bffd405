#include "service/policy/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "service/core/names.h"
#include "service/policy/duration.h"
#include "service/policy/time_zones.h"
#include "service/policy/yaml_reader.h"

namespace sendgate::policy {
namespace {

using core::Field;

constexpr int64_t kMaxLimit = 1000;
const absl::Duration kMaxWindow = absl::Hours(24 * 400);

const std::vector<absl::string_view> kTopKeys = {
    "version",         "timezone",         "week_starts",      "max_delay",
    "idempotency_window", "store_failure_retry", "default_category", "default_priority",
    "channels",        "categories",       "subscriptions",    "segments",
    "caps",            "holidays",         "quiet_hours",      "programs",
    "capacity",        "plan_grace",       "callers"};
const std::vector<absl::string_view> kCategoryKeys = {"exempt_from", "on_store_failure",
                                                      "max_delay"};
const std::vector<absl::string_view> kSubscriptionKeys = {"regime", "channels"};
const std::vector<absl::string_view> kExemptions = {"caps", "opt_out", "subscriptions", "pause",
                                                    "contact_frequency", "quiet_hours"};

// The flag of `exemptions` an exempt_from value names, or nullptr.
bool* ExemptionNamed(core::Exemptions& exemptions, absl::string_view name) {
  if (name == "caps") return &exemptions.caps;
  if (name == "opt_out") return &exemptions.opt_out;
  if (name == "subscriptions") return &exemptions.subscriptions;
  if (name == "pause") return &exemptions.pause;
  if (name == "contact_frequency") return &exemptions.contact_frequency;
  if (name == "quiet_hours") return &exemptions.quiet_hours;
  return nullptr;
}
const std::vector<absl::string_view> kCapKeys = {
    "id",       "description", "channels", "categories", "subscriptions", "programs",
    "campaigns", "per",        "window",   "limit",      "segments", "reserve"};


// Whether `name` may join the declared `items`: not declared yet, and not sharing its stored
// 16-bit id with another name (history could not tell them apart).
template <typename T>
bool Declarable(Reader& reader, const YAML::Node& node, absl::string_view what,
                const std::vector<T>& items, const std::string& name, uint32_t id) {
  for (const T& other : items) {
    if (other.name == name) {
      reader.Error(node, absl::StrCat(what, " '", name, "' is declared twice"));
      return false;
    }
    if (other.id == id) {
      reader.Error(node, absl::StrCat(what, " '", name, "' and '", other.name,
                                      "' share the same stored id; rename one of them"));
      return false;
    }
  }
  return true;
}

// Reads the declared names of channels or subscriptions.
template <typename T>
std::vector<T> ReadNames(Reader& reader, const YAML::Node& node, absl::string_view what,
                         Field field) {
  std::vector<T> items;
  for (const YAML::Node& item : reader.List(node, what)) {
    std::optional<std::string> name = reader.Name(item, what);
    if (!name) continue;
    const uint32_t id = core::FieldId(field, *name);
    if (Declarable(reader, item, what, items, *name, id)) items.push_back(T{.name = *name, .id = id});
  }
  return items;
}

// The segments requests and preferences may name (reactive, engaged ...), each once.
std::vector<std::string> ReadSegments(Reader& reader, const YAML::Node& node) {
  std::vector<std::string> segments;
  for (const YAML::Node& item : reader.List(node, "segments")) {
    std::optional<std::string> segment = reader.Value(item, "segment");
    if (!segment) continue;
    if (std::find(segments.begin(), segments.end(), *segment) != segments.end()) {
      reader.Error(item, absl::StrCat("segment '", *segment, "' is declared twice"));
      continue;
    }
    segments.push_back(*segment);
  }
  if (node.IsDefined() && segments.empty()) {
    reader.Error(node, "segments must list at least one segment (or be left out)");
  }
  return segments;
}

std::optional<core::FailMode> ReadFailMode(Reader& reader, const YAML::Node& node) {
  std::optional<std::string> text = reader.Scalar(node, "on_store_failure");
  if (!text) return std::nullopt;
  if (*text == "allow") return core::FailMode::kAllow;
  if (*text == "deny") return core::FailMode::kDeny;
  if (*text == "defer") return core::FailMode::kDefer;
  reader.Error(node, absl::StrCat("on_store_failure must be allow, deny or defer, not '", *text,
                                  "'"));
  return std::nullopt;
}

std::vector<core::Category> ReadCategories(Reader& reader, const YAML::Node& node) {
  std::vector<core::Category> categories;
  if (!reader.IsMap(node, "categories")) return categories;
  reader.CheckUnique(node, "categories");
  for (const auto& entry : node) {
    std::optional<std::string> name = reader.Name(entry.first, "category");
    if (!name) continue;
    core::Category category{.name = *name, .id = core::FieldId(Field::kCategory, *name)};
    if (!Declarable(reader, entry.first, "category", categories, *name, category.id)) continue;
    const YAML::Node& body = entry.second;
    if (!body.IsNull() && reader.IsMap(body, absl::StrCat("category '", *name, "'"))) {
      reader.CheckKeys(body, kCategoryKeys, absl::StrCat("category '", *name, "'"));
      for (const YAML::Node& exempt : reader.List(body["exempt_from"], "exempt_from")) {
        std::optional<std::string> what = reader.Scalar(exempt, "exempt_from");
        if (!what) continue;
        bool* flag = ExemptionNamed(category.exempt, *what);
        if (flag == nullptr) {
          reader.Error(exempt, absl::StrCat("exempt_from accepts: ", absl::StrJoin(kExemptions, ", "),
                                            "; not '", *what, "'"));
        } else {
          *flag = true;
        }
      }
    }
    // Fail-open for what is exempt (transactional), DEFER for what is capped (marketing).
    category.on_store_failure =
        category.exempt.caps ? core::FailMode::kAllow : core::FailMode::kDefer;
    if (body.IsMap() && body["max_delay"]) {
      category.max_delay = reader.Duration(body["max_delay"], "max_delay", absl::ZeroDuration(),
                                           kMaxWindow);
    }
    if (body.IsMap() && body["on_store_failure"]) {
      category.on_store_failure =
          ReadFailMode(reader, body["on_store_failure"]).value_or(category.on_store_failure);
    }
    categories.push_back(std::move(category));
  }
  return categories;
}

std::optional<core::Window> ReadWindow(Reader& reader, const YAML::Node& node) {
  std::optional<std::string> text = reader.Scalar(node, "window");
  if (!text) return std::nullopt;
  std::optional<core::Window> window = ParseWindow(*text);
  if (!window) {
    reader.Error(node, absl::StrCat("window must be ", kWindowSyntax, ", not '", *text, "'"));
  }
  return window;
}

std::optional<Field> FieldNamed(absl::string_view name) {
  for (int i = 0; i < core::kFieldCount; ++i) {
    if (core::FieldName(static_cast<Field>(i)) == name) return static_cast<Field>(i);
  }
  return std::nullopt;
}

// Everything a cap is read against.
struct Declared {
  const std::vector<core::Channel>& channels;
  const std::vector<core::Category>& categories;
  const std::vector<core::Subscription>& subscriptions;
  const std::vector<std::string>& segments;  // empty: any segment
  const std::vector<core::Program>& programs;  // empty: any program id
};

// Fills cap.only[field] from a list of declared names (or free-form values).
template <typename T>
void ReadFilter(Reader& reader, const YAML::Node& node, absl::string_view key, Field field,
                const std::vector<T>* declared, std::vector<uint32_t>& ids) {
  for (const YAML::Node& item : reader.List(node, key)) {
    std::optional<std::string> value =
        declared != nullptr ? reader.Name(item, key) : reader.Value(item, key);
    if (!value) continue;
    if (declared != nullptr &&
        std::none_of(declared->begin(), declared->end(),
                     [&](const T& d) { return d.name == *value; })) {
      std::vector<absl::string_view> names;
      for (const T& d : *declared) names.push_back(d.name);
      reader.Error(item, absl::StrCat(key, ": '", *value, "' is not declared (declared: ",
                                      absl::StrJoin(names, ", "), ")"));
      continue;
    }
    ids.push_back(core::FieldId(field, *value));
  }
}

// Subscriptions: a list of names (opt-out regime, every channel), or a mapping of names to
// {regime: opt-in|opt-out, channels: [...]}.
std::vector<core::Subscription> ReadSubscriptions(Reader& reader, const YAML::Node& node,
                                                  const std::vector<core::Channel>& channels) {
  if (!node.IsMap()) {
    return ReadNames<core::Subscription>(reader, node, "subscription", Field::kSubscription);
  }
  std::vector<core::Subscription> subscriptions;
  reader.CheckUnique(node, "subscriptions");
  for (const auto& entry : node) {
    std::optional<std::string> name = reader.Name(entry.first, "subscription");
    if (!name) continue;
    core::Subscription subscription{.name = *name,
                                    .id = core::FieldId(Field::kSubscription, *name)};
    if (!Declarable(reader, entry.first, "subscription", subscriptions, *name, subscription.id)) {
      continue;
    }
    const YAML::Node& body = entry.second;
    const std::string where = absl::StrCat("subscription '", *name, "'");
    if (!body.IsNull() && reader.IsMap(body, where)) {
      reader.CheckKeys(body, kSubscriptionKeys, where);
      if (body["regime"]) {
        std::optional<std::string> regime = reader.Scalar(body["regime"], "regime");
        if (regime && *regime == "opt-in") {
          subscription.regime = core::Regime::kOptIn;
        } else if (regime && *regime != "opt-out") {
          reader.Error(body["regime"],
                       absl::StrCat("regime must be opt-in or opt-out, not '", *regime, "'"));
        }
      }
      ReadFilter(reader, body["channels"], "channels", Field::kChannel, &channels,
                 subscription.channels);
    }
    subscriptions.push_back(std::move(subscription));
  }
  return subscriptions;
}

std::string DescribeScope(const YAML::Node& node) {
  auto names = [&](absl::string_view key) {
    std::vector<std::string> out;
    const YAML::Node list = node[std::string(key)];
    if (!list.IsDefined()) return std::string();
    if (list.IsScalar()) out.push_back(list.Scalar());
    if (list.IsSequence()) {
      for (const auto& item : list) out.push_back(item.as<std::string>(""));
    }
    return absl::StrJoin(out, " or ");
  };
  std::vector<std::string> words;
  for (const char* key : {"categories", "channels"}) {
    if (!names(key).empty()) words.push_back(names(key));
  }
  words.push_back("messages");
  std::string scope = absl::StrJoin(words, " ");
  if (!names("subscriptions").empty()) absl::StrAppend(&scope, " of ", names("subscriptions"));
  if (!names("programs").empty()) absl::StrAppend(&scope, " in program ", names("programs"));
  if (!names("campaigns").empty()) absl::StrAppend(&scope, " of campaign ", names("campaigns"));
  if (!names("per").empty()) absl::StrAppend(&scope, " per ", names("per"));
  return scope;
}

// `segments` of a cap: a mapping (the lowest limit of the contact's segments applies) or an
// ordered list of one-entry mappings (the first segment the contact is in applies). The
// segments must be declared: a typo in a request is then refused instead of getting the
// default limit.
void ReadSegmentLimits(Reader& reader, const YAML::Node& node, const Declared& declared,
                       core::Cap& cap) {
  std::vector<std::pair<YAML::Node, YAML::Node>> entries;
  if (node.IsMap()) {
    reader.CheckUnique(node, "segments");
    for (const auto& entry : node) entries.emplace_back(entry.first, entry.second);
  } else if (node.IsSequence()) {
    cap.first_segment_wins = true;
    for (const YAML::Node& item : node) {
      if (!item.IsMap() || item.size() != 1) {
        reader.Error(item, "an ordered segments list holds one 'segment: limit' per item");
        continue;
      }
      for (const auto& entry : item) entries.emplace_back(entry.first, entry.second);
    }
  } else {
    reader.Error(node, "segments must be a mapping of segment to limit (the lowest applies) or "
                       "an ordered list of them (the first that matches applies)");
    return;
  }
  if (declared.segments.empty() && !entries.empty()) {
    reader.Error(node, "the policy declares no segments: list them under the top-level "
                       "segments key, so that a request naming an unknown one is refused");
  }
  for (const auto& [key, value] : entries) {
    std::optional<std::string> segment = reader.Value(key, "segment");
    if (segment && !declared.segments.empty() &&
        std::find(declared.segments.begin(), declared.segments.end(), *segment) ==
            declared.segments.end()) {
      reader.Error(key, absl::StrCat("segment '", *segment, "' is not declared (declared: ",
                                     absl::StrJoin(declared.segments, ", "), ")"));
      segment.reset();
    }
    const bool duplicate = segment && std::any_of(cap.segment_limits.begin(),
                                                  cap.segment_limits.end(),
                                                  [&](const core::SegmentLimit& other) {
                                                    return other.segment == *segment;
                                                  });
    if (duplicate) reader.Error(key, absl::StrCat("segment '", *segment, "' is given twice"));
    std::optional<int64_t> limit = reader.Integer(
        value, absl::StrCat("limit of segment '", segment.value_or("?"), "'"), 0, kMaxLimit);
    if (segment && limit && !duplicate) cap.segment_limits.push_back({*segment, *limit});
  }
}

// `reserve`: one {below_priority, keep} or a list of them.
void ReadReserves(Reader& reader, const YAML::Node& node, core::Cap& cap) {
  std::vector<YAML::Node> items;
  if (node.IsMap()) items.push_back(node);
  if (node.IsSequence()) items = reader.List(node, "reserve");
  if (items.empty()) reader.Error(node, "reserve must be {below_priority: N, keep: K} or a list");
  for (const YAML::Node& item : items) {
    if (!reader.IsMap(item, "a reserve")) continue;
    reader.CheckKeys(item, {"below_priority", "keep"}, "a reserve");
    const int below = reader.Integer(item["below_priority"], "below_priority", 1, 100).value_or(0);
    const int64_t keep = reader.Integer(item["keep"], "keep", 1, kMaxLimit).value_or(0);
    if (keep >= cap.limit && cap.limit > 0) {
      reader.Error(item["keep"], absl::StrCat("a reserve of ", keep, " is not below the cap's limit ",
                                              cap.limit, ": lower priorities would have no room"));
    }
    for (const core::Reserve& other : cap.reserves) {
      if (other.below_priority == below) {
        reader.Error(item, absl::StrCat("two reserves below priority ", below));
      }
    }
    cap.reserves.push_back({below, keep});
  }
}

std::optional<core::Cap> ReadCap(Reader& reader, const YAML::Node& node, const Declared& declared) {
  if (!reader.IsMap(node, "a cap")) return std::nullopt;
  std::optional<std::string> id;
  if (node["id"]) {
    id = reader.Name(node["id"], "cap id");
  } else {
    reader.Error(node, "a cap needs an id (a short name such as email-marketing-7d)");
  }
  const std::string where = absl::StrCat("cap '", id.value_or("?"), "'");
  reader.CheckKeys(node, kCapKeys, where);
  core::Cap cap{.id = id.value_or("")};

  auto at = [](Field field) { return static_cast<int>(field); };
  ReadFilter(reader, node["channels"], "channels", Field::kChannel, &declared.channels,
             cap.only[at(Field::kChannel)]);
  ReadFilter(reader, node["categories"], "categories", Field::kCategory, &declared.categories,
             cap.only[at(Field::kCategory)]);
  ReadFilter(reader, node["subscriptions"], "subscriptions", Field::kSubscription,
             &declared.subscriptions, cap.only[at(Field::kSubscription)]);
  ReadFilter(reader, node["programs"], "programs", Field::kProgram,
             declared.programs.empty() ? nullptr : &declared.programs,
             cap.only[at(Field::kProgram)]);
  ReadFilter<core::Channel>(reader, node["campaigns"], "campaigns", Field::kCampaign, nullptr,
                            cap.only[at(Field::kCampaign)]);
  if (cap.only[at(Field::kCategory)].empty()) {
    for (const core::Category& category : declared.categories) {
      if (!category.exempt.caps) cap.only[at(Field::kCategory)].push_back(category.id);
    }
  }

  for (const YAML::Node& item : reader.List(node["per"], "per")) {
    std::optional<std::string> name = reader.Scalar(item, "per");
    std::optional<Field> field = name ? FieldNamed(*name) : std::nullopt;
    if (name && !field) {
      reader.Error(item, absl::StrCat("per accepts channel, category, subscription, program, "
                                      "campaign or edition; not '", *name, "'"));
    } else if (field && std::find(cap.per.begin(), cap.per.end(), *field) != cap.per.end()) {
      reader.Error(item, absl::StrCat("per lists '", *name, "' twice"));
    } else if (field) {
      cap.per.push_back(*field);
    }
  }

  if (node["window"]) {
    cap.window = ReadWindow(reader, node["window"]).value_or(core::Window{});
  } else {
    reader.Error(node, absl::StrCat(where, " needs a window (such as 7d or 'calendar week')"));
  }
  if (node["limit"]) {
    cap.limit = reader.Integer(node["limit"], "limit", 0, kMaxLimit).value_or(0);
  } else {
    reader.Error(node, absl::StrCat(where, " needs a limit (the most weight units in the window)"));
  }
  if (node["segments"]) ReadSegmentLimits(reader, node["segments"], declared, cap);
  if (node["reserve"]) ReadReserves(reader, node["reserve"], cap);
  cap.description = node["description"] ? reader.Value(node["description"], "description")
                                              .value_or("")
                                        : "";
  if (cap.description.empty()) {
    cap.description = absl::StrCat(DescribeScope(node), ", ", cap.window.Describe());
  }
  return cap;
}

void ReadCaps(Reader& reader, const YAML::Node& node, const Declared& declared,
              std::vector<core::Cap>& caps) {
  if (!node) return;
  if (!node.IsSequence()) {
    reader.Error(node, "caps must be a list of caps");
    return;
  }
  for (const auto& item : node) {
    std::optional<core::Cap> cap = ReadCap(reader, item, declared);
    if (!cap) continue;
    const bool duplicate = std::any_of(caps.begin(), caps.end(),
                                       [&](const core::Cap& other) { return other.id == cap->id; });
    if (duplicate && !cap->id.empty()) {
      reader.Error(item["id"], absl::StrCat("cap id '", cap->id, "' is used twice"));
    }
    caps.push_back(std::move(*cap));
  }
}

// --- Callers ---

const std::vector<absl::string_view> kCallerKeys = {"categories", "dry_run"};

// `callers`: per caller (an allow rule of the authorization policy), the categories it may
// send and whether it may ask dry runs; both refused unless given.
std::vector<core::Caller> ReadCallers(Reader& reader, const YAML::Node& node,
                                      const core::Policy& policy) {
  std::vector<core::Caller> callers;
  if (node.IsNull()) return callers;
  if (!reader.IsMap(node, "callers")) return callers;
  reader.CheckUnique(node, "callers");
  for (const auto& entry : node) {
    std::optional<std::string> name = reader.Name(entry.first, "caller");
    if (!name) continue;
    core::Caller caller{.name = *name};
    const std::string where = absl::StrCat("caller '", *name, "'");
    const YAML::Node& body = entry.second;
    if (!body.IsNull() && reader.IsMap(body, where)) {
      reader.CheckKeys(body, kCallerKeys, where);
      for (const YAML::Node& item : reader.List(body["categories"], "categories")) {
        std::optional<std::string> category = reader.Scalar(item, "a category");
        if (!category) continue;
        const int index = policy.FindCategory(*category);
        if (index < 0) {
          reader.Error(item, absl::StrCat(where, ": unknown category '", *category, "'"));
        } else {
          caller.categories.push_back(index);
        }
      }
      if (body["dry_run"]) {
        const std::string flag = reader.Scalar(body["dry_run"], "dry_run").value_or("");
        if (flag != "true" && flag != "false") {
          reader.Error(body["dry_run"], absl::StrCat("dry_run must be true or false, not '",
                                                     flag, "'"));
        }
        caller.dry_run = flag == "true";
      }
    }
    callers.push_back(std::move(caller));
  }
  return callers;
}

// --- Programs ---

const std::vector<absl::string_view> kProgramKeys = {"priority", "weight", "max_delay", "expires"};

std::vector<core::Program> ReadPrograms(Reader& reader, const YAML::Node& node) {
  std::vector<core::Program> programs;
  if (!reader.IsMap(node, "programs")) return programs;
  reader.CheckUnique(node, "programs");
  for (const auto& entry : node) {
    std::optional<std::string> name = reader.Name(entry.first, "program");
    if (!name) continue;
    core::Program program{.name = *name, .id = core::FieldId(Field::kProgram, *name)};
    if (!Declarable(reader, entry.first, "program", programs, *name, program.id)) continue;
    const YAML::Node& body = entry.second;
    if (!body.IsNull() && reader.IsMap(body, absl::StrCat("program '", *name, "'"))) {
      reader.CheckKeys(body, kProgramKeys, absl::StrCat("program '", *name, "'"));
      if (body["priority"]) {
        program.priority = reader.Integer(body["priority"], "priority", 0, 100);
      }
      if (body["weight"]) program.weight = reader.Integer(body["weight"], "weight", 1, 1000);
      if (body["max_delay"]) {
        program.max_delay = reader.Duration(body["max_delay"], "max_delay", absl::ZeroDuration(),
                                            kMaxWindow);
      }
      if (body["expires"]) {
        const std::string expires = reader.Scalar(body["expires"], "expires").value_or("");
        if (expires == "end_of_local_day") {
          program.expires_end_of_local_day = true;
        } else {
          reader.Error(body["expires"], absl::StrCat("expires accepts end_of_local_day, not '",
                                                     expires, "'"));
        }
      }
    }
    programs.push_back(std::move(program));
  }
  return programs;
}

// --- Holidays and quiet hours ---

const std::vector<absl::string_view> kHolidayKeys = {"builtin", "dates"};
const std::vector<absl::string_view> kQuietKeys = {"id",      "description", "channels",
                                                   "categories", "segments", "allowed",
                                                   "closed_on"};
constexpr absl::string_view kDayNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::vector<core::HolidayCalendar> ReadHolidays(Reader& reader, const YAML::Node& node) {
  std::vector<core::HolidayCalendar> calendars;
  if (!reader.IsMap(node, "holidays")) return calendars;
  reader.CheckUnique(node, "holidays");
  for (const auto& entry : node) {
    core::HolidayCalendar calendar{.name = reader.Name(entry.first, "holiday calendar").value_or("")};
    const YAML::Node& body = entry.second;
    if (!reader.IsMap(body, "a holiday calendar")) continue;
    reader.CheckKeys(body, kHolidayKeys, absl::StrCat("holiday calendar '", calendar.name, "'"));
    if (body["builtin"]) {
      const std::string builtin = reader.Scalar(body["builtin"], "builtin").value_or("");
      if (builtin == "france") {
        calendar.french_public_holidays = true;
      } else {
        reader.Error(body["builtin"], absl::StrCat("unknown holiday calendar '", builtin,
                                                   "' (builtin accepts: france)"));
      }
    }
    for (const YAML::Node& date : reader.List(body["dates"], "dates")) {
      absl::CivilDay day;
      const std::string text = reader.Scalar(date, "a date").value_or("");
      if (!absl::ParseCivilTime(text, &day) || text.size() != 10) {
        reader.Error(date, absl::StrCat("a date must be YYYY-MM-DD, not '", text, "'"));
        continue;
      }
      calendar.dates.insert(day);
    }
    if (!body["builtin"] && !body["dates"]) {
      reader.Error(body, absl::StrCat("holiday calendar '", calendar.name,
                                      "' has neither builtin nor dates"));
    }
    calendars.push_back(std::move(calendar));
  }
  return calendars;
}

// The days a key of `allowed` names: mon ... sun, a range such as mon-fri, or daily.
std::vector<int> ReadDays(Reader& reader, const YAML::Node& key) {
  const std::string text = key.as<std::string>("");
  auto index = [](absl::string_view name) {
    for (int i = 0; i < 7; ++i) {
      if (kDayNames[i] == name) return i;
    }
    return -1;
  };
  if (text == "daily") return {0, 1, 2, 3, 4, 5, 6};
  const size_t dash = text.find('-');
  const int first = index(text.substr(0, dash));
  const int last = dash == std::string::npos ? first : index(text.substr(dash + 1));
  if (first < 0 || last < first) {
    reader.Error(key, absl::StrCat("'", text, "' is not a day or a range of days (mon, tue, wed, "
                                   "thu, fri, sat, sun, a range such as mon-fri, or daily)"));
    return {};
  }
  std::vector<int> days;
  for (int day = first; day <= last; ++day) days.push_back(day);
  return days;
}

// "08:00-20:00" as minutes of the day; 24:00 ends a day.
std::optional<core::DayWindow> ReadDayWindow(Reader& reader, const YAML::Node& node) {
  const std::string text = reader.Scalar(node, "a time window").value_or("");
  int from_h = -1, from_m = -1, to_h = -1, to_m = -1;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%2d:%2d-%2d:%2d%c", &from_h, &from_m, &to_h, &to_m, &extra) != 4 ||
      from_h < 0 || from_h > 23 || from_m < 0 || from_m > 59 || to_h < 0 || to_h > 24 ||
      to_m < 0 || to_m > 59 || (to_h == 24 && to_m != 0)) {
    reader.Error(node, absl::StrCat("a time window must be HH:MM-HH:MM such as 08:00-20:00, not '",
                                    text, "'"));
    return std::nullopt;
  }
  core::DayWindow window{.from = from_h * 60 + from_m, .to = to_h * 60 + to_m};
  if (window.from >= window.to) {
    reader.Error(node, absl::StrCat("time window '", text, "' ends before it starts; a window "
                                    "across midnight is two, such as 20:00-24:00 and 00:00-08:00 "
                                    "on the next day"));
    return std::nullopt;
  }
  return window;
}

std::string WindowText(const core::DayWindow& window) {
  return absl::StrFormat("%02d:%02d-%02d:%02d", window.from / 60, window.from % 60, window.to / 60,
                         window.to % 60);
}

// Fills rule.allowed from the `allowed` mapping, refusing overlapping windows.
void ReadAllowed(Reader& reader, const YAML::Node& node, core::QuietHours& rule) {
  if (!reader.IsMap(node, "allowed")) return;
  reader.CheckUnique(node, "allowed");
  for (const auto& entry : node) {
    const std::vector<int> days = ReadDays(reader, entry.first);
    for (const YAML::Node& item : reader.List(entry.second, "allowed windows")) {
      std::optional<core::DayWindow> window = ReadDayWindow(reader, item);
      if (!window) continue;
      for (int day : days) {
        for (const core::DayWindow& other : rule.allowed[day]) {
          if (window->from < other.to && other.from < window->to) {
            reader.Error(item, absl::StrCat(WindowText(*window), " overlaps ", WindowText(other),
                                            " on ", kDayNames[day]));
          }
        }
        rule.allowed[day].push_back(*window);
      }
    }
  }
  bool any = false;
  for (std::vector<core::DayWindow>& windows : rule.allowed) {
    std::sort(windows.begin(), windows.end(),
              [](const core::DayWindow& a, const core::DayWindow& b) { return a.from < b.from; });
    any = any || !windows.empty();
  }
  if (!any) {
    reader.Error(node, absl::StrCat("quiet hours '", rule.id, "' allow no time on any day: its "
                                    "messages could never go out"));
  }
}

// "mon-sat 08:00-20:00; not on fr-public": the rule in words, for reasons.
std::string DescribeQuietHours(const core::QuietHours& rule,
                               const std::vector<core::HolidayCalendar>& calendars) {
  std::vector<std::string> parts;
  for (int day = 0; day < 7;) {
    int last = day;
    while (last + 1 < 7 && rule.allowed[last + 1] == rule.allowed[day]) ++last;
    if (!rule.allowed[day].empty()) {
      std::vector<std::string> windows;
      for (const core::DayWindow& window : rule.allowed[day]) windows.push_back(WindowText(window));
      const std::string days =
          day == 0 && last == 6
              ? "daily"
              : absl::StrCat(kDayNames[day], last > day ? "-" : "", last > day ? kDayNames[last] : "");
      parts.push_back(absl::StrCat(days, " ", absl::StrJoin(windows, ", ")));
    }
    day = last + 1;
  }
  std::string text = absl::StrCat("Allowed ", absl::StrJoin(parts, "; "));
  for (int calendar : rule.closed_on) {
    absl::StrAppend(&text, "; closed on ", calendars[calendar].name);
  }
  return text;
}

// Indices of the declared names a list gives.
template <typename T>
std::vector<int> ReadIndices(Reader& reader, const YAML::Node& node, absl::string_view what,
                             const std::vector<T>& declared) {
  std::vector<int> indices;
  for (const YAML::Node& item : reader.List(node, what)) {
    const std::string name = reader.Scalar(item, what).value_or("");
    const auto it = std::find_if(declared.begin(), declared.end(),
                                 [&](const T& each) { return each.name == name; });
    if (it == declared.end()) {
      reader.Error(item, absl::StrCat("'", name, "' is not a declared ", what));
      continue;
    }
    indices.push_back(static_cast<int>(it - declared.begin()));
  }
  return indices;
}

std::vector<core::QuietHours> ReadQuietHours(Reader& reader, const YAML::Node& node,
                                             const core::Policy& policy) {
  std::vector<core::QuietHours> rules;
  if (!node.IsSequence()) {
    reader.Error(node, "quiet_hours must be a list of rules");
    return rules;
  }
  for (const YAML::Node& item : node) {
    if (!reader.IsMap(item, "a quiet-hours rule")) continue;
    core::QuietHours rule;
    if (item["id"]) {
      rule.id = reader.Name(item["id"], "quiet-hours id").value_or("");
    } else {
      reader.Error(item, "a quiet-hours rule needs an id (such as sms-marketing-hours)");
    }
    reader.CheckKeys(item, kQuietKeys, absl::StrCat("quiet hours '", rule.id, "'"));
    const bool taken =
        std::any_of(rules.begin(), rules.end(), [&](const auto& r) { return r.id == rule.id; }) ||
        std::any_of(policy.caps.begin(), policy.caps.end(),
                    [&](const core::Cap& cap) { return cap.id == rule.id; });
    if (taken && !rule.id.empty()) {
      reader.Error(item["id"], absl::StrCat("id '", rule.id, "' is used twice"));
    }
    rule.channels = ReadIndices(reader, item["channels"], "channel", policy.channels);
    rule.categories = ReadIndices(reader, item["categories"], "category", policy.categories);
    for (const YAML::Node& segment : reader.List(item["segments"], "segments")) {
      const std::string name = reader.Value(segment, "segment").value_or("");
      if (!policy.KnowsSegment(name) || policy.segments.empty()) {
        reader.Error(segment, absl::StrCat("segment '", name, "' is not declared"));
        continue;
      }
      rule.segments.push_back(name);
    }
    if (item["allowed"]) {
      ReadAllowed(reader, item["allowed"], rule);
    } else {
      reader.Error(item, absl::StrCat("quiet hours '", rule.id, "' need allowed windows"));
    }
    for (const YAML::Node& name : reader.List(item["closed_on"], "closed_on")) {
      const std::string text = reader.Scalar(name, "closed_on").value_or("");
      const auto it = std::find_if(policy.holidays.begin(), policy.holidays.end(),
                                   [&](const core::HolidayCalendar& c) { return c.name == text; });
      if (it == policy.holidays.end()) {
        reader.Error(name, absl::StrCat("unknown holiday calendar '", text,
                                        "' (declare it under holidays)"));
        continue;
      }
      rule.closed_on.push_back(static_cast<int>(it - policy.holidays.begin()));
    }
    rule.description = item["description"]
                           ? reader.Value(item["description"], "description").value_or("")
                           : DescribeQuietHours(rule, policy.holidays);
    rules.push_back(std::move(rule));
  }
  return rules;
}

// --- Capacity ---

const std::vector<absl::string_view> kCapacityKeys = {"id",       "description", "channels",
                                                      "categories", "interval",  "limit",
                                                      "shards"};
constexpr int64_t kMaxCapacity = 1000000000;
constexpr int kDefaultCapacityShards = 4;

// `interval`: a fixed duration from 1s to 31d (counted from the epoch) or a calendar window.
std::optional<core::Window> ReadInterval(Reader& reader, const YAML::Node& node) {
  const std::string text = reader.Scalar(node, "interval").value_or("");
  std::optional<core::Window> window;
  if (absl::StartsWith(text, "calendar ")) {
    window = ParseWindow(text);
  } else if (std::optional<absl::Duration> length = ParseDuration(text);
             length && *length >= absl::Seconds(1) && *length <= absl::Hours(24 * 31)) {
    window = core::Window{.kind = core::WindowKind::kRolling, .length = *length};
  }
  if (!window) {
    reader.Error(node, absl::StrCat("interval must be a duration from 1s to 31d (such as 1s or "
                                    "1h, counted from the epoch) or 'calendar day', 'calendar "
                                    "week' or 'calendar month', not '", text, "'"));
  }
  return window;
}

std::optional<core::Capacity> ReadOneCapacity(Reader& reader, const YAML::Node& node,
                                              const core::Policy& policy) {
  if (!reader.IsMap(node, "a capacity rule")) return std::nullopt;
  core::Capacity rule;
  if (node["id"]) {
    rule.id = reader.Name(node["id"], "capacity id").value_or("");
  } else {
    reader.Error(node, "a capacity rule needs an id (such as sms-provider-rate)");
  }
  const std::string where = absl::StrCat("capacity '", rule.id, "'");
  reader.CheckKeys(node, kCapacityKeys, where);
  ReadFilter(reader, node["channels"], "channels", Field::kChannel, &policy.channels,
             rule.channels);
  if (rule.channels.empty() && !node["channels"]) {
    reader.Error(node, absl::StrCat(where, " needs the channels it limits"));
  }
  ReadFilter(reader, node["categories"], "categories", Field::kCategory, &policy.categories,
             rule.categories);
  if (node["interval"]) {
    rule.interval = ReadInterval(reader, node["interval"]).value_or(core::Window{});
  } else {
    reader.Error(node, absl::StrCat(where, " needs an interval (such as 1s or 'calendar day')"));
  }
  if (node["limit"]) {
    // 0 would close the channel for good: an impossible rule, refused.
    rule.limit = reader.Integer(node["limit"], "limit", 1, kMaxCapacity).value_or(1);
  } else {
    reader.Error(node, absl::StrCat(where, " needs a limit (the most messages per interval)"));
  }
  rule.shards = static_cast<int>(std::min<int64_t>(kDefaultCapacityShards, rule.limit));
  if (node["shards"]) {
    rule.shards = static_cast<int>(
        reader.Integer(node["shards"], "shards", 1, core::kMaxCapacityShards).value_or(1));
    if (rule.shards > rule.limit) {
      reader.Error(node["shards"], absl::StrCat(rule.shards, " shards of a limit of ", rule.limit,
                                                " would leave some with no share"));
    }
  }
  rule.description = node["description"]
                         ? reader.Value(node["description"], "description").value_or("")
                         : absl::StrCat("At most ", rule.limit, " messages per ",
                                        rule.interval.kind == core::WindowKind::kRolling
                                            ? FormatWindow(rule.interval)
                                            : rule.interval.Describe());
  return rule;
}

std::vector<core::Capacity> ReadCapacity(Reader& reader, const YAML::Node& node,
                                         const core::Policy& policy) {
  std::vector<core::Capacity> rules;
  if (!node.IsSequence()) {
    reader.Error(node, "capacity must be a list of rules");
    return rules;
  }
  std::vector<std::string> taken = policy.RuleIds();
  for (const YAML::Node& item : node) {
    std::optional<core::Capacity> rule = ReadOneCapacity(reader, item, policy);
    if (!rule) continue;
    if (!rule->id.empty() && std::find(taken.begin(), taken.end(), rule->id) != taken.end()) {
      reader.Error(item["id"], absl::StrCat("id '", rule->id, "' is used twice"));
    }
    taken.push_back(rule->id);
    rules.push_back(std::move(*rule));
  }
  return rules;
}

std::optional<absl::Weekday> ReadWeekday(Reader& reader, const YAML::Node& node) {
  static constexpr std::pair<absl::string_view, absl::Weekday> kDays[] = {
      {"monday", absl::Weekday::monday},     {"tuesday", absl::Weekday::tuesday},
      {"wednesday", absl::Weekday::wednesday}, {"thursday", absl::Weekday::thursday},
      {"friday", absl::Weekday::friday},     {"saturday", absl::Weekday::saturday},
      {"sunday", absl::Weekday::sunday}};
  std::optional<std::string> text = reader.Scalar(node, "week_starts");
  if (!text) return std::nullopt;
  for (const auto& [name, day] : kDays) {
    if (name == *text) return day;
  }
  reader.Error(node, absl::StrCat("week_starts must be a day such as monday, not '", *text, "'"));
  return std::nullopt;
}

void ReadSettings(Reader& reader, const YAML::Node& root, core::Policy& policy) {
  if (root["version"]) {
    policy.version = reader.Value(root["version"], "version").value_or("");
  }
  std::string zone_name = "UTC";
  if (root["timezone"]) zone_name = reader.Scalar(root["timezone"], "timezone").value_or("UTC");
  if (std::optional<absl::TimeZone> zone = FindTimeZone(zone_name)) {
    policy.default_timezone = *zone;
  } else {
    reader.Error(root["timezone"],
                 absl::StrCat("timezone '", zone_name,
                              "' is not a known IANA time zone (such as Europe/Paris)"));
  }
  if (root["week_starts"]) {
    policy.week_starts = ReadWeekday(reader, root["week_starts"]).value_or(absl::Weekday::monday);
  }
  auto duration = [&](const char* key, absl::Duration fallback, absl::Duration min,
                      absl::Duration max) {
    return root[key] ? reader.Duration(root[key], key, min, max).value_or(fallback) : fallback;
  };
  policy.max_delay = duration("max_delay", absl::Hours(24 * 7), absl::ZeroDuration(), kMaxWindow);
  policy.idempotency_window =
      duration("idempotency_window", absl::Hours(24 * 7), absl::Hours(1), kMaxWindow);
  policy.store_failure_retry =
      duration("store_failure_retry", absl::Minutes(1), absl::Seconds(1), absl::Hours(24));
  policy.plan_grace = duration("plan_grace", absl::Hours(6), absl::Minutes(1), absl::Hours(24 * 7));
  if (root["default_priority"]) {
    policy.default_priority =
        reader.Integer(root["default_priority"], "default_priority", 0, 100).value_or(50);
  }
}

void ReadDefaultCategory(Reader& reader, const YAML::Node& root, core::Policy& policy) {
  std::string name = "marketing";
  if (root["default_category"]) {
    name = reader.Name(root["default_category"], "default_category").value_or(name);
  }
  policy.default_category = policy.FindCategory(name);
  if (policy.default_category < 0) {
    policy.default_category = 0;
    reader.Error(root["default_category"] ? root["default_category"] : root,
                 absl::StrCat("default_category '", name,
                              "' is not a declared category (set default_category to one)"));
  }
}

std::string ContentVersion(absl::string_view yaml) {
  return absl::StrCat("fnv-", core::HexId(core::MessageHash(yaml), 16).substr(1));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const core::Policy>> ParsePolicy(absl::string_view yaml,
                                                                absl::string_view source) {
  Reader reader(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& error) {
    reader.Error(error.mark, error.msg);
    return reader.Status();
  }
  if (!reader.IsMap(root, "a policy")) return reader.Status();
  reader.CheckKeys(root, kTopKeys, "the policy");

  auto policy = std::make_shared<core::Policy>();
  ReadSettings(reader, root, *policy);
  if (root["channels"]) {
    policy->channels = ReadNames<core::Channel>(reader, root["channels"], "channel", Field::kChannel);
  }
  if (policy->channels.empty()) reader.Error(root, "the policy declares no channels");
  if (root["categories"]) policy->categories = ReadCategories(reader, root["categories"]);
  if (policy->categories.empty()) reader.Error(root, "the policy declares no categories");
  if (root["subscriptions"]) {
    policy->subscriptions = ReadSubscriptions(reader, root["subscriptions"], policy->channels);
  }
  ReadDefaultCategory(reader, root, *policy);
  if (root["programs"]) policy->programs = ReadPrograms(reader, root["programs"]);
  if (root["segments"]) policy->segments = ReadSegments(reader, root["segments"]);
  ReadCaps(reader, root["caps"],
           Declared{policy->channels, policy->categories, policy->subscriptions,
                    policy->segments, policy->programs},
           policy->caps);
  if (root["holidays"]) policy->holidays = ReadHolidays(reader, root["holidays"]);
  if (root["quiet_hours"]) {
    policy->quiet_hours = ReadQuietHours(reader, root["quiet_hours"], *policy);
  }
  if (root["capacity"]) policy->capacity = ReadCapacity(reader, root["capacity"], *policy);
  if (root["callers"]) {
    policy->restricts_callers = true;
    policy->callers = ReadCallers(reader, root["callers"], *policy);
  }
  if (!reader.ok()) return reader.Status();
  if (policy->version.empty()) policy->version = ContentVersion(yaml);
  return std::shared_ptr<const core::Policy>(std::move(policy));
}

absl::StatusOr<std::string> ReadPolicyFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open the policy file"));
  std::string text(kMaxPolicyBytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(file.gcount()));
  if (text.size() > kMaxPolicyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kMaxPolicyBytes, " bytes, not a policy file"));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<const core::Policy>> LoadPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPolicyFile(path);
  if (!text.ok()) return text.status();
  return ParsePolicy(*text, path);
}

absl::StatusOr<std::shared_ptr<const core::Policy>> LoadCandidatePolicyFile(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadPolicyFile(path);
  if (absl::IsNotFound(text.status())) return nullptr;
  if (!text.ok()) return text.status();
  if (absl::StripAsciiWhitespace(*text).empty()) return nullptr;
  return ParsePolicy(*text, path);
}

}  // namespace sendgate::policy
