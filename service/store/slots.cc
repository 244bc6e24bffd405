#include "service/store/slots.h"

#include <boost/crc.hpp>
#include <vector>

namespace sendgate::store {
namespace {

// CRC-16/XMODEM (polynomial 0x1021, initial 0, no reflection): Redis Cluster's key hash.
uint16_t Crc16(absl::string_view data) {
  boost::crc_optimal<16, 0x1021, 0, 0, false, false> crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

std::vector<std::string> BuildTags() {
  std::vector<std::string> tags(kSlots);
  int missing = kSlots;
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  // A prefix, so that no tag reads like a contact id.
  static constexpr char kTagPrefix[] = "slot-";
  // Every string of the alphabet in order of length, then of value: 1 to 4 characters cover
  // all slots many times over.
  for (int length = 1; missing > 0 && length <= 4; ++length) {
    std::vector<int> digits(length, 0);
    for (;;) {
      std::string tag(kTagPrefix);
      for (int digit : digits) tag.push_back(kAlphabet[digit]);
      std::string& slot_tag = tags[Crc16(tag) % kSlots];
      if (slot_tag.empty()) {
        slot_tag = tag;
        if (--missing == 0) break;
      }
      int i = length - 1;
      while (i >= 0 && ++digits[i] == 36) digits[i--] = 0;
      if (i < 0) break;
    }
  }
  return tags;
}

}  // namespace

int SlotOf(absl::string_view key) {
  const size_t open = key.find('{');
  if (open != absl::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != absl::string_view::npos && close > open + 1) {
      return Crc16(key.substr(open + 1, close - open - 1)) % kSlots;
    }
  }
  return Crc16(key) % kSlots;
}

const std::string& TagOfSlot(int slot) {
  static const std::vector<std::string>* const tags = new std::vector<std::string>(BuildTags());
  return (*tags)[slot];
}

}  // namespace sendgate::store
