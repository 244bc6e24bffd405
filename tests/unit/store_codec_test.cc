// The pieces of the Redis store that need no Redis: the history record layout, commands as
// hiredis formats them, the script contract, and decide.lua's reply read strictly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstring>

#include "absl/strings/match.h"
#include "service/core/names.h"
#include "service/store/decide_call.h"
#include "service/store/history_codec.h"
#include "service/store/preferences_codec.h"
#include "service/store/reply_arena.h"
#include "service/store/slots.h"
#include "service/store/lua_library.h"
#include "service/store/script_contract.h"
#include "service/store/store_error.h"

namespace sendgate::store {
namespace {

// One record as decide.lua packs it (struct '<I6I4I4HHHI4I4I4HBB'), byte by byte.
const std::string kRecord(
    "\x7b\x61\x56\xee\xa1\x01"          // at: 1795000000891 ms
    "\x08\x07\x06\x05\x04\x03\x02\x01"  // message hash 0x0102030405060708
    "\x01\x00\x02\x00\x00\x00"          // channel 1, category 2, no subscription
    "\xff\xff\xff\xff\x05\x00\x00\x00"  // program 0xffffffff, campaign 5
    "\x09\x00\x00\x80"                  // edition 0x80000009
    "\xe8\x03\x64\x01",                 // weight 1000, priority 100, denied with code 1
    36);
const core::SendRecord kDecoded{.at = absl::FromUnixMillis(1795000000891),
                                .message_hash = 0x0102030405060708,
                                .ids = {1, 2, 0, 0xffffffff, 5, 0x80000009},
                                .weight = 1000,
                                .priority = 100,
                                .denied_code = 1};

TEST(HistoryCodecTest, DecodesAndEncodesTheDocumentedLayout) {
  static_assert(contract::kRecordBytes == 36);
  absl::StatusOr<std::vector<core::SendRecord>> decoded = DecodeHistory(kRecord + kRecord);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[1], kDecoded);
  EXPECT_EQ(EncodeHistory({kDecoded}), kRecord);
}

// The same record as a version before editions stored it: no edition field.
TEST(HistoryCodecTest, AHistoryFromBeforeEditionsReadsAsOneWithoutEditions) {
  const std::string old = kRecord.substr(0, 28) + kRecord.substr(32);
  static_assert(contract::kV1RecordBytes == 32);
  core::SendRecord expected = kDecoded;
  expected.ids[static_cast<int>(core::Field::kEdition)] = 0;
  absl::StatusOr<std::vector<core::SendRecord>> decoded = DecodeV1History(old + old);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, std::vector<core::SendRecord>(2, expected));
  EXPECT_EQ(EncodeV1History({kDecoded}), old);
  EXPECT_EQ(KindOf(DecodeV1History(old.substr(1)).status()), StoreErrorKind::kCorruptHistory);
}

// A planned send as plan.lua stores it (struct '<I6I6HHHI4I4I4HB').
TEST(HistoryCodecTest, PlannedSendsHaveTheDocumentedLayout) {
  const std::string entry(
      "\x7b\x61\x56\xee\xa1\x01"  // planned at 1795000000891 ms
      "\x00\x61\x56\xee\xa1\x01"  // announced at 1795000000768 ms
      "\x01\x00\x02\x00\x03\x00"  // channel 1, category 2, subscription 3
      "\x04\x00\x00\x00\x05\x00\x00\x00\x06\x00\x00\x00"  // program 4, campaign 5, edition 6
      "\x02\x00\x5a",  // weight 2, priority 90
      33);
  const core::PlannedSend planned{.at = absl::FromUnixMillis(1795000000891),
                                  .announced = absl::FromUnixMillis(1795000000768),
                                  .ids = {1, 2, 3, 4, 5, 6},
                                  .weight = 2,
                                  .priority = 90};
  EXPECT_EQ(EncodePlanned({planned}), entry);
  absl::StatusOr<std::vector<core::PlannedSend>> decoded = DecodePlanned(entry + entry);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, std::vector<core::PlannedSend>(2, planned));
  EXPECT_EQ(KindOf(DecodePlanned(entry.substr(2)).status()), StoreErrorKind::kCorruptHistory);
}

TEST(HistoryCodecTest, APartialRecordIsACorruptHistory) {
  const absl::Status status = DecodeHistory(kRecord.substr(1)).status();
  EXPECT_EQ(KindOf(status), StoreErrorKind::kCorruptHistory);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
}

// hiredis's own formatter, the reference.
std::string FormattedByHiredis(const std::vector<std::string>& argv) {
  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
  for (const std::string& argument : argv) {
    pointers.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  sds formatted = nullptr;
  const int length = redisFormatSdsCommandArgv(&formatted, static_cast<int>(argv.size()),
                                               pointers.data(), lengths.data());
  std::string wire(formatted, static_cast<size_t>(length));
  redisFreeSdsCommand(formatted);
  return wire;
}

TEST(LuaLibraryTest, CommandsAreFormattedAsHiredisFormatsThem) {
  EXPECT_EQ(FormatCommand({"SET", "k", "-42"}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n-42\r\n");
  const std::vector<std::vector<std::string>> commands = {
      {"PING"},
      {"SET", "", std::string("a\0b\r\n", 5)},
      {"FCALL", "decide_x", "4", std::string(100000, 'x'), "[1,2,3]", ""},
  };
  for (const std::vector<std::string>& argv : commands) {
    const std::vector<absl::string_view> views(argv.begin(), argv.end());
    EXPECT_EQ(FormatCommand(views), FormattedByHiredis(argv));
  }
  EXPECT_EQ(FormatFcall(kCancelFunction, {"a", "b"}, {"1", "2"}),
            FormatCommand({"FCALL", kCancelFunction, "2", "a", "b", "1", "2"}));
  CommandWriter undersized(3, 0);  // grows as it goes
  undersized.Add({"SET"});
  undersized.Add({"sg:{", std::string(5000, 'k'), "}:h2"});
  std::memcpy(undersized.AddBytes(3), "abc", 3);
  EXPECT_EQ(std::move(undersized).Take(),
            FormattedByHiredis({"SET", "sg:{" + std::string(5000, 'k') + "}:h2", "abc"}));
}

// A plan with every part that DecideCommand writes: caps with matches, capacity counters, a
// suppression hash, and the same again as its shadow plan.
core::CheckPlan PlanWithEveryPart(absl::string_view contact_id) {
  core::CheckPlan plan;
  plan.contact_id = std::string(contact_id);
  plan.send = {.at = absl::FromUnixMillis(1795000000891), .message_hash = 0x0102030405060708,
               .ids = {1, 2, 0, 4, 5, 6}, .weight = 3, .priority = 50};
  plan.caps = {{.start = absl::FromUnixMillis(1794990000000),
                .end = absl::FromUnixMillis(1795090000000),
                .slide = absl::Hours(24),
                .limit = 3,
                .match = {{core::Field::kChannel, {1}}, {core::Field::kCampaign, {5, 7}}}},
               {.counts_exempt = true, .limit = 9}};
  plan.capacity = {{.counter = "sms-daily:3:1794960000000", .limit = 100},
                   {.counter = "a:b:0:1", .limit = 1}};
  plan.preferences.suppression_hash = "9f86d081884c7d65";
  plan.preferences.frequency_categories = {1, 2};
  plan.now = absl::FromUnixMillis(1795000000000);
  auto shadow = std::make_shared<core::CheckPlan>(plan);
  shadow->capacity.pop_back();
  shadow->caps.pop_back();
  plan.shadow = shadow;
  return plan;
}

// The same command built the plain way: each key and argument apart, then FormatFcall.
std::string DecideCommandFromParts(const core::CheckPlan& plan, const CountersBefore* before) {
  std::vector<std::string> keys = ContactKeys(plan.contact_id);
  if (before == nullptr) {
    for (const core::CheckPlan* each : {&plan, plan.shadow.get()}) {
      if (each == nullptr) continue;
      for (const core::CapacityCheck& check : each->capacity) {
        keys.push_back(CapacityKey(check.counter));
      }
    }
  }
  std::vector<std::string> args = {
      PlanArgument(plan, kFirstCounterKey, before != nullptr ? &before->plan : nullptr),
      plan.preferences.suppression_hash, CapScopesArgument(plan)};
  if (plan.shadow != nullptr) {
    args.push_back(PlanArgument(*plan.shadow,
                                kFirstCounterKey + static_cast<int>(plan.capacity.size()),
                                before != nullptr ? &before->shadow : nullptr));
    args.push_back(CapScopesArgument(*plan.shadow));
  }
  return FormatFcall(plan.dry_run ? kDecideDryRunFunction : kDecideFunction,
                     std::vector<absl::string_view>(keys.begin(), keys.end()),
                     std::vector<absl::string_view>(args.begin(), args.end()));
}

TEST(LuaLibraryTest, TheDecideCommandIsItsKeysAndArgumentsFormatted) {
  core::CheckPlan plan = PlanWithEveryPart("contact-7");
  EXPECT_EQ(DecideCommand(plan), DecideCommandFromParts(plan, nullptr));
  const CountersBefore before{.plan = {4, 5}, .shadow = {6}};
  EXPECT_EQ(DecideCommand(plan, &before), DecideCommandFromParts(plan, &before));
  plan.shadow = nullptr;
  plan.dry_run = true;
  plan.contact_id = std::string(300, 'c');
  EXPECT_EQ(DecideCommand(plan), DecideCommandFromParts(plan, nullptr));
  EXPECT_EQ(ContactKeys("c")[static_cast<int>(contract::Key::kSuppression)], SuppressionKey("c"));
  EXPECT_EQ(ContactKeys("c")[static_cast<int>(contract::Key::kPlanned)], PlannedKey("c"));
  const absl::string_view floor = kDecideFloorFunction;
  EXPECT_TRUE(absl::StrContains(DecideCommand(plan, nullptr, floor),
                                absl::StrCat("$5\r\nFCALL\r\n$", floor.size(), "\r\n", floor)));
}

TEST(LuaLibraryTest, TheLibraryAndItsFunctionsAreNamedWithItsVersion) {
  const absl::string_view source = kLibrarySource;
  const std::string version = kLibraryVersion;
  EXPECT_EQ(version.size(), 16u);
  EXPECT_TRUE(absl::StartsWith(source, absl::StrCat("#!lua name=sendgate_", version, "\n")));
  EXPECT_THAT(std::string(source), ::testing::HasSubstr("  RECORD_BYTES = 36,\n"));
  for (absl::string_view function :
       {kDecideFunction, kCancelFunction, kReadPreferencesFunction, kWritePreferencesFunction,
        kConfirmPreferencesFunction, kForgetFunction}) {
    EXPECT_TRUE(absl::EndsWith(function, absl::StrCat("_", version))) << function;
  }
}

// A hand-built hiredis reply, as a parser sees one.
class Reply {
 public:
  static Reply Integers(std::vector<long long> values) {
    Reply reply;
    for (long long value : values) {
      auto element = std::make_unique<redisReply>();
      *element = redisReply{};
      element->type = REDIS_REPLY_INTEGER;
      element->integer = value;
      reply.elements_.push_back(std::move(element));
    }
    return reply;
  }
  static Reply Error(std::string text) {
    Reply reply;
    reply.text_ = std::move(text);
    reply.top_.type = REDIS_REPLY_ERROR;
    return reply;
  }
  const redisReply* get() {
    pointers_.clear();
    for (auto& element : elements_) pointers_.push_back(element.get());
    if (top_.type != REDIS_REPLY_ERROR) top_.type = REDIS_REPLY_ARRAY;
    top_.elements = pointers_.size();
    top_.element = pointers_.data();
    top_.str = text_.data();
    top_.len = text_.size();
    return &top_;
  }
  void MakeString(size_t i) { elements_[i]->type = REDIS_REPLY_STRING; }

 private:
  Reply() { top_ = redisReply{}; }
  redisReply top_;
  std::string text_;
  std::vector<std::unique_ptr<redisReply>> elements_;
  std::vector<redisReply*> pointers_;
};

TEST(DecideReplyTest, ReadsEachOutcome) {
  // Each cap as (used, room, planned), then the verdict count.
  Reply allowed = Reply::Integers({1, 0, 0, 2, 0, 0, 0});
  absl::StatusOr<core::CheckResult> result = ParseDecideReply(allowed.get(), 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, core::CheckOutcome::kAllowed);
  EXPECT_EQ(result->caps[0].used, 2);

  Reply deferred = Reply::Integers({2, 1795000000000, 0, 3, 1795000000000, 0, 0});
  result = ParseDecideReply(deferred.get(), 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->retry_at, absl::FromUnixMillis(1795000000000));

  Reply never = Reply::Integers({3, -1, 1, 3, -1, 0, 0});
  result = ParseDecideReply(never.get(), 1);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, core::CheckOutcome::kDenied);
  EXPECT_EQ(result->deny_code, 1);
  EXPECT_EQ(result->caps[0].room_at, absl::InfiniteFuture());

  // Opted out (7, never) and paused (10) until an instant: denied for the opt-out.
  Reply held = Reply::Integers({3, -1, 7, 2, 7, -1, 0, 0, 0, 10, 1795000000000, 0, 0, 0});
  result = ParseDecideReply(held.get(), 0);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->verdicts.size(), 2u);
  EXPECT_EQ(result->verdicts[0],
            (core::RuleVerdict{.code = core::ReasonCode::kOptedOut, .at = absl::InfiniteFuture()}));
  EXPECT_EQ(result->verdicts[1].at, absl::FromUnixMillis(1795000000000));
  EXPECT_EQ(result->deny_code, 7);

  // A cap full for planned sends (2 used, 1 planned), then a full capacity counter.
  Reply lookahead =
      Reply::Integers({2, 1795000000000, 0, 2, 1795000000000, 1, 3, 1795000000000, 0, 0});
  result = ParseDecideReply(lookahead.get(), ReplyShape(1, 1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->caps[0].used, 2);
  EXPECT_EQ(result->caps[0].planned, 1);
  ASSERT_EQ(result->capacity.size(), 1u);
  EXPECT_EQ(result->capacity[0].used, 3);
  EXPECT_TRUE(result->capacity[0].full());

  Reply replay = Reply::Integers({5, 1795000000000, 1});
  result = ParseDecideReply(replay.get(), 4);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, core::CheckOutcome::kReplayDenied);
  EXPECT_EQ(result->replay_code, 1);
}

// A reply that breaks the contract never reads as "room now": it is a malformed reply.
TEST(DecideReplyTest, AMalformedReplyIsAnErrorNeverAnAllow) {
  struct Case {
    const char* what;
    std::vector<long long> values;
    size_t caps;
  };
  const std::vector<Case> cases = {
      {"empty", {}, 0},
      {"a missing cap", {1, 0, 0, 0}, 1},
      {"no verdict count", {1, 0, 0, 1, 0, 0}, 1},
      {"a cap too many", {1, 0, 0, 1, 0, 0, 1, 0, 0, 0}, 1},
      {"a negative planned weight", {1, 0, 0, 1, 0, -1, 0}, 1},
      {"an unknown outcome", {9, 0, 0}, 0},
      {"allowed with a full cap", {1, 0, 0, 3, 1795000000000, 0, 0}, 1},
      {"allowed with a verdict", {1, 0, 0, 1, 7, -1, 0, 0, 0}, 0},
      {"a verdict without a code", {3, -1, 7, 1, 0, -1, 0, 0, 0}, 0},
      {"a negative room", {2, 5, 0, 3, -7, 0, 0}, 1},
      {"a deferral without a time", {2, 0, 0, 3, 1795000000000, 0, 0}, 1},
      {"a denial without a code", {3, -1, 0, 3, -1, 0, 0}, 1},
      {"held back by no rule", {2, 1795000000000, 0, 0}, 0},
      {"a replay without a time", {4, 0, 0}, 0},
  };
  for (const Case& each : cases) {
    Reply reply = Reply::Integers(each.values);
    const absl::StatusOr<core::CheckResult> result = ParseDecideReply(reply.get(), each.caps);
    ASSERT_FALSE(result.ok()) << each.what;
    EXPECT_EQ(KindOf(result.status()), StoreErrorKind::kMalformedReply) << each.what;
  }
  Reply text = Reply::Integers({1, 0, 0, 2, 0, 0, 0});
  text.MakeString(3);
  EXPECT_EQ(KindOf(ParseDecideReply(text.get(), 1).status()), StoreErrorKind::kMalformedReply);
}

TEST(PreferencesCodecTest, RoundTripsEveryField) {
  core::Preferences preferences{
      .version = 42,
      .global_opt_out = true,
      .suppressed = true,
      .pause_until = absl::FromUnixMillis(1795000000123),
      .subscriptions = {{.subscription = 7, .channel = 3, .opted_in = true},
                        {.subscription = 9, .channel = 3, .opted_in = false}},
      .blocks = {{.channel = 4, .reason = core::BlockReason::kComplaint}},
      .frequency = {{.channel = 3, .limit = 2,
                     .window = {.kind = core::WindowKind::kRolling, .length = absl::Hours(48)}},
                    {.channel = 4, .limit = 1, .window = {.kind = core::WindowKind::kWeek}}},
      .timezone = "Europe/Paris",
      .segments = {"engaged", "vip"},
      .channel_pauses = {{.channel = 4, .until = absl::FromUnixMillis(1796000000000)}}};
  const std::string blob = EncodePreferences(preferences);
  absl::StatusOr<core::Preferences> decoded = DecodePreferences(blob);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, preferences);
  EXPECT_EQ(KindOf(DecodePreferences(blob.substr(0, blob.size() - 1)).status()),
            StoreErrorKind::kCorruptHistory);
  EXPECT_TRUE(DecodePreferences(EncodePreferences({})).ok());
}

// Preferences stored before channel pauses (format 1: no trailer) read as having none.
TEST(PreferencesCodecTest, TheFormatBeforeChannelPausesIsStillRead) {
  core::Preferences preferences{.version = 3, .pause_until = absl::FromUnixMillis(1795000000123),
                                .timezone = "Europe/Paris"};
  std::string blob = EncodePreferences(preferences);
  blob.pop_back();  // the channel-pause count, 0
  blob[0] = static_cast<char>(contract::kPreferenceFormatBeforeChannelPauses);
  absl::StatusOr<core::Preferences> decoded = DecodePreferences(blob);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, preferences);
  blob[0] = 9;
  EXPECT_EQ(KindOf(DecodePreferences(blob).status()), StoreErrorKind::kCorruptHistory);
}

// Whether two replies are the same, element by element.
void ExpectSameReply(const redisReply* expected, const redisReply* actual) {
  ASSERT_EQ(expected->type, actual->type);
  EXPECT_EQ(expected->integer, actual->integer);
  ASSERT_EQ(expected->len, actual->len);
  if (expected->str != nullptr) {
    EXPECT_EQ(std::string(expected->str, expected->len), std::string(actual->str, actual->len));
    EXPECT_EQ(actual->str[actual->len], '\0');
  }
  ASSERT_EQ(expected->elements, actual->elements);
  for (size_t i = 0; i < expected->elements; ++i) {
    ExpectSameReply(expected->element[i], actual->element[i]);
  }
}

// The replies a connection's reader builds in its arena are those hiredis's own reader builds,
// one after the other, from a small reply to one far larger than the arena's first block.
TEST(ReplyArenaTest, BuildsTheRepliesHiredisBuilds) {
  const std::string large(10000, 'x');
  const std::string replies = absl::StrCat(
      ":42\r\n", std::string("$5\r\na\0b\r\n\r\n", 11), "$-1\r\n", "+OK\r\n", "-ERR no\r\n", "*0\r\n",
      "*3\r\n:1\r\n*2\r\n$0\r\n\r\n$-1\r\n:-7\r\n", "*2\r\n$10000\r\n", large, "\r\n*1\r\n:3\r\n",
      ":5\r\n");
  redisReader* reference = redisReaderCreate();
  ReplyArena arena;
  redisReader* reader = redisReaderCreate();
  arena.Serve(reader);
  int count = 0;
  // Fed in two pieces, so that a reply is left half built in between.
  for (const size_t cut : {size_t{30}, replies.size()}) {
    const size_t from = cut == replies.size() ? 30 : 0;
    redisReaderFeed(reference, replies.data() + from, cut - from);
    redisReaderFeed(reader, replies.data() + from, cut - from);
    while (true) {
      void* expected = nullptr;
      void* actual = nullptr;
      ASSERT_EQ(redisReaderGetReply(reference, &expected), REDIS_OK);
      ASSERT_EQ(redisReaderGetReply(reader, &actual), REDIS_OK);
      ASSERT_EQ(expected == nullptr, actual == nullptr);
      if (expected == nullptr) break;
      ExpectSameReply(static_cast<redisReply*>(expected), static_cast<redisReply*>(actual));
      freeReplyObject(expected);
      reader->fn->freeObject(actual);
      ++count;
    }
  }
  EXPECT_EQ(count, 9);
  // An array past the arena's bound is out of memory, as hiredis reads a failed allocation.
  ReplyArena bounded;
  redisReader* claims = redisReaderCreate();
  bounded.Serve(claims);
  redisReaderFeed(claims, "*16777217\r\n:1\r\n", 15);
  void* refused = nullptr;
  EXPECT_EQ(redisReaderGetReply(claims, &refused), REDIS_ERR);
  EXPECT_EQ(claims->err, REDIS_ERR_OOM);
  redisReaderFree(claims);
  redisReaderFeed(reader, "*2\r\n:1\r\n", 8);  // half a reply, freed with the reader
  void* partial = nullptr;
  ASSERT_EQ(redisReaderGetReply(reader, &partial), REDIS_OK);
  EXPECT_EQ(partial, nullptr);
  redisReaderFree(reader);
  redisReaderFree(reference);
}

TEST(DecideReplyTest, RedisErrorsAreClassifiedByKind) {
  const std::vector<std::pair<std::string, StoreErrorKind>> cases = {
      {"OOM command not allowed when used memory > 'maxmemory'.", StoreErrorKind::kOutOfMemory},
      {"WRONGTYPE Operation against a key holding the wrong kind of value",
       StoreErrorKind::kRedisError},
      {"MOVED 3999 127.0.0.1:6381", StoreErrorKind::kRedirected},
      {"CLUSTERDOWN Hash slot not served", StoreErrorKind::kUnavailable},
      {"TRYAGAIN Multiple keys request during rehashing of slot", StoreErrorKind::kUnavailable},
      {"LOADING Redis is loading the dataset in memory", StoreErrorKind::kUnavailable},
      {"ERR user_script:1: Script attempted to access nonexistent global variable",
       StoreErrorKind::kRedisError},
  };
  for (const auto& [text, kind] : cases) {
    Reply reply = Reply::Error(text);
    const absl::Status status = ParseDecideReply(reply.get(), 0).status();
    EXPECT_EQ(KindOf(status), kind) << text;
  }
  EXPECT_EQ(StoreError(StoreErrorKind::kOutOfMemory, "x").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Retryable(StoreErrorKind::kRedisError));
  EXPECT_TRUE(Retryable(StoreErrorKind::kTimeout));
}

// Redis Cluster's key hashing, with the specification's own example.
TEST(SlotsTest, KeysHashAsRedisClusterDoes) {
  EXPECT_EQ(SlotOf("123456789"), 0x31C3 % kSlots);
  EXPECT_EQ(SlotOf("sg:{c-42}:h"), SlotOf("c-42"));
  EXPECT_EQ(SlotOf("sg:{c-42}:p"), SlotOf("sg:{c-42}:e"));
  EXPECT_EQ(SlotOf("foo{}{bar}"), SlotOf("foo{}{bar}"));  // empty tag: the whole key
  for (int slot : {0, 1, 5798, 16383}) EXPECT_EQ(SlotOf(TagOfSlot(slot)), slot);
  EXPECT_EQ(SlotOf(SuppressionKey("c-42")), SlotOf(MainHistoryKey("c-42")));
  EXPECT_EQ(SlotOf(SuppressionKey("a}b")), SlotOf(MainHistoryKey("a}b")));
}

}  // namespace
}  // namespace sendgate::store
