// Unsigned little-endian integers at offsets of a byte string: the packed forms the scripts
// read and write with the struct library (history records, stored preferences).
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sendgate::store {

inline uint64_t GetLittleEndian(absl::string_view bytes, int offset, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  }
  return value;
}

inline void PutLittleEndian(std::string& bytes, int offset, int width, uint64_t value) {
  for (int i = 0; i < width; ++i) bytes[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

}  // namespace sendgate::store
