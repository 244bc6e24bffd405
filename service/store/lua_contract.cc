// Writes contract.lua, the Lua side of service/store/script_contract.h, to the file its one
// argument names. Run at build time; the result is put in front of every script
// (embed_library.cmake).
#include <cctype>
#include <fstream>
#include <iostream>
#include <string>

#include "service/store/script_contract.h"

namespace sendgate::store::contract {
namespace {

// The struct-library format of an unsigned little-endian integer of `bytes` bytes.
std::string Format(int bytes) {
  if (bytes == 1) return "B";
  if (bytes == 2) return "H";
  return "I" + std::to_string(bytes);
}

void WriteRecord(std::ostream& out) {
  std::string record = "<";
  for (int i = 0; i < static_cast<int>(RecordField::kCount); ++i) record += Format(kFieldBytes[i]);
  // A counting pass reads a counted send's ids and weight, which follow each other, from
  // CHANNEL_OFFSET: a skipped byte ('x') costs a struct.unpack about as much as a field read.
  std::string ids = "<";
  for (int i = static_cast<int>(RecordField::kChannel); i <= static_cast<int>(RecordField::kWeight);
       ++i) {
    ids += Format(kFieldBytes[i]);
  }
  out << "-- A history record (struct format), its size, and each field's offset from 0.\n"
      << "  RECORD = '" << record << "',\n"
      << "  RECORD_BYTES = " << kRecordBytes << ",\n"
      << "-- From CHANNEL_OFFSET: channel, category, subscription, program, campaign, edition,\n"
      << "-- weight.\n"
      << "  RECORD_IDS = '" << ids << "',\n"
      << "-- A record's time alone, and a message hash (low, high) as stored.\n"
      << "  AT_FORMAT = '<" << Format(kFieldBytes[static_cast<int>(RecordField::kAt)])
      << "',\n"
      << "  HASH_FORMAT = '<"
      << Format(kFieldBytes[static_cast<int>(RecordField::kHashLow)])
      << Format(kFieldBytes[static_cast<int>(RecordField::kHashHigh)]) << "',\n";
#define SENDGATE_OFFSET_LINE(name, lua, bytes) \
  out << "  " #lua "_OFFSET = " << Offset(RecordField::name) << ",\n";
  SENDGATE_RECORD_FIELDS(SENDGATE_OFFSET_LINE)
#undef SENDGATE_OFFSET_LINE
}

// Functions on the constants: after the table.
void WriteFunctions(std::ostream& out) {
  // The fields as arguments: a table of them by name cost a hashed store and load each.
  std::string fields;
#define SENDGATE_PACK_ARGUMENT(name, lua, bytes) fields += std::string(", ") + #lua;
  SENDGATE_RECORD_FIELDS(SENDGATE_PACK_ARGUMENT)
#undef SENDGATE_PACK_ARGUMENT
  fields.erase(0, 2);
  for (char& c : fields) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out << "-- A record packed from its fields, in the order of C.RECORD.\n"
      << "local function pack_record(" << fields << ")\n"
      << "  return struct_pack(C.RECORD, " << fields << ")\nend\n";
}

// A layout as one struct format and its size, for a script that unpacks it whole.
template <size_t N>
void WriteFormat(std::ostream& out, const std::string& name, const Layout<N>& layout) {
  std::string format = "<";
  for (int bytes : layout.bytes) format += Format(bytes);
  out << "  " << name << " = '" << format << "',\n"
      << "  " << name << "_BYTES = " << layout.size() << ",\n";
}

void WritePreferences(std::ostream& out) {
  out << "-- Stored preferences: head, then subscription choices, blocks, frequencies, each\n"
      << "-- unpacked whole in the order of script_contract.h; then the profile.\n";
  WriteFormat(out, "PREF_HEAD", kPreferenceHead);
  out << "  PREF_VERSION_OFFSET = " << kPreferenceHead.Offset(PreferenceHead::kVersion) << ",\n"
      << "  PREF_VERSION_FORMAT = '<"
      << Format(kPreferenceHead.bytes[static_cast<int>(PreferenceHead::kVersion)]) << "',\n";
  WriteFormat(out, "PREF_SUBSCRIPTION", kPreferenceSubscription);
  WriteFormat(out, "PREF_BLOCK", kPreferenceBlock);
  WriteFormat(out, "PREF_FREQUENCY", kPreferenceFrequency);
  WriteFormat(out, "PREF_CHANNEL_PAUSE", kPreferenceChannelPause);
}

void WritePlanned(std::ostream& out) {
  out << "-- A planned send (struct format, unpacked whole) and its size.\n";
  WriteFormat(out, "PLANNED", kPlannedSend);
  out << "-- A number of decide.lua's plan (struct format, little-endian) and its size.\n"
      << "  PLAN_NUMBER_FORMAT = '" << kPlanNumberFormat << "',\n"
      << "  PLAN_NUMBER_BYTES = " << kPlanNumberBytes << ",\n";
}

void WriteLayouts(std::ostream& out) {
  out << "-- decide.lua's plan: ARGV[1], packed numbers (PLAN_NUMBER_FORMAT); these are\n"
      << "-- 1-based positions in it.\n";
#define SENDGATE_PLAN_LINE(name, lua) \
  out << "  PLAN_" #lua " = " << static_cast<int>(PlanSlot::name) + 1 << ",\n";
  SENDGATE_PLAN_SLOTS(SENDGATE_PLAN_LINE)
#undef SENDGATE_PLAN_LINE
  out << "  PLAN_HEAD = " << static_cast<int>(PlanSlot::kCount) << ",\n"
      << "-- Each cap's window after the head: offsets from its first slot.\n";
#define SENDGATE_CAP_LINE(name, lua) \
  out << "  CAP_" #lua " = " << static_cast<int>(CapSlot::name) << ",\n";
  SENDGATE_CAP_SLOTS(SENDGATE_CAP_LINE)
#undef SENDGATE_CAP_LINE
  out << "  CAP_SIZE = " << static_cast<int>(CapSlot::kCount) << ",\n"
      << "-- Each cap's scope (ARGV CAP_SCOPES): offsets from its first slot, then its matches.\n";
#define SENDGATE_SCOPE_LINE(name, lua) \
  out << "  SCOPE_" #lua " = " << static_cast<int>(ScopeSlot::name) << ",\n";
  SENDGATE_SCOPE_SLOTS(SENDGATE_SCOPE_LINE)
#undef SENDGATE_SCOPE_LINE
  out << "  SCOPE_HEAD = " << static_cast<int>(ScopeSlot::kCount) << ",\n"
      << "-- Each capacity counter: offsets from its first slot.\n";
#define SENDGATE_CAPACITY_LINE(name, lua) \
  out << "  CAPACITY_" #lua " = " << static_cast<int>(CapacitySlot::name) << ",\n";
  SENDGATE_CAPACITY_SLOTS(SENDGATE_CAPACITY_LINE)
#undef SENDGATE_CAPACITY_LINE
  out << "  CAPACITY_SIZE = " << static_cast<int>(CapacitySlot::kCount) << ",\n"
      << "-- decide.lua's reply: outcomes, and 1-based positions of its head.\n";
#define SENDGATE_OUTCOME_LINE(name, lua, value) out << "  " #lua " = " << value << ",\n";
  SENDGATE_OUTCOMES(SENDGATE_OUTCOME_LINE)
#undef SENDGATE_OUTCOME_LINE
#define SENDGATE_REPLY_LINE(name, lua) \
  out << "  REPLY_" #lua " = " << static_cast<int>(ReplySlot::name) + 1 << ",\n";
  SENDGATE_REPLY_SLOTS(SENDGATE_REPLY_LINE)
#undef SENDGATE_REPLY_LINE
  out << "  REPLY_HEAD = " << static_cast<int>(ReplySlot::kCount) << ",\n";
#define SENDGATE_COUNTED_LINE(name, lua) \
  out << "  COUNTED_" #lua " = " << static_cast<int>(CountedSlot::name) << ",\n";
  SENDGATE_COUNTED_SLOTS(SENDGATE_COUNTED_LINE)
#undef SENDGATE_COUNTED_LINE
  out << "  COUNTED_SIZE = " << static_cast<int>(CountedSlot::kCount) << ",\n";
#define SENDGATE_VERDICT_LINE(name, lua) \
  out << "  VERDICT_" #lua " = " << static_cast<int>(VerdictSlot::name) << ",\n";
  SENDGATE_VERDICT_SLOTS(SENDGATE_VERDICT_LINE)
#undef SENDGATE_VERDICT_LINE
  out << "  VERDICT_SIZE = " << static_cast<int>(VerdictSlot::kCount) << ",\n";
#define SENDGATE_ARG_LINE(name, lua) \
  out << "  ARG_" #lua " = " << static_cast<int>(DecideArg::name) + 1 << ",\n";
  SENDGATE_DECIDE_ARGS(SENDGATE_ARG_LINE)
#undef SENDGATE_ARG_LINE
#define SENDGATE_KEY_LINE(name, lua) \
  out << "  KEY_" #lua " = " << static_cast<int>(Key::name) + 1 << ",\n";
  SENDGATE_KEYS(SENDGATE_KEY_LINE)
#undef SENDGATE_KEY_LINE
#define SENDGATE_PLAN_SENDS_LINE(name, lua) \
  out << "  PLAN_SENDS_" #lua " = " << static_cast<int>(PlanSendsArg::name) + 1 << ",\n";
  SENDGATE_PLAN_SENDS_ARGS(SENDGATE_PLAN_SENDS_LINE)
#undef SENDGATE_PLAN_SENDS_LINE
  out << "  PLAN_SENDS_HEAD = " << static_cast<int>(PlanSendsArg::kCount) << ",\n";
#define SENDGATE_CANCEL_LINE(name, lua) \
  out << "  CANCEL_" #lua " = " << static_cast<int>(CancelArg::name) + 1 << ",\n";
  SENDGATE_CANCEL_ARGS(SENDGATE_CANCEL_LINE)
#undef SENDGATE_CANCEL_LINE
#define SENDGATE_TAKE_LINE(name, lua) \
  out << "  TAKE_" #lua " = " << static_cast<int>(CapacityTakeArg::name) + 1 << ",\n";
  SENDGATE_CAPACITY_TAKE_ARGS(SENDGATE_TAKE_LINE)
#undef SENDGATE_TAKE_LINE
}

void WriteBounds(std::ostream& out) {
  out << "-- Bounds and sentinels.\n";
#define SENDGATE_BOUND_LINE(lua, value) out << "  " #lua " = " << (value) << ",\n";
  SENDGATE_BOUNDS(SENDGATE_BOUND_LINE)
#undef SENDGATE_BOUND_LINE
}

}  // namespace
}  // namespace sendgate::store::contract

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sendgate_lua_contract OUTPUT.lua\n";
    return 2;
  }
  std::ofstream out(argv[1]);
  out << "-- contract.lua: generated from service/store/script_contract.h by lua_contract.cc. "
         "Do not edit.\n"
         "-- One table: the library's functions capture it as one upvalue, and its chunk\n"
         "-- stays far below Lua's bound of 200 locals.\n"
         "local C = {\n";
  sendgate::store::contract::WriteRecord(out);
  sendgate::store::contract::WriteLayouts(out);
  sendgate::store::contract::WritePreferences(out);
  sendgate::store::contract::WritePlanned(out);
  sendgate::store::contract::WriteBounds(out);
  out << "}\n";
  sendgate::store::contract::WriteFunctions(out);
  out.close();
  return out ? 0 : 1;
}
