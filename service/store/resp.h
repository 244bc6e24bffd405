// Builds one Redis command in the RESP wire format, ready for redisAsyncFormattedCommand():
// the caller's thread does the formatting, the connection's loop only writes bytes.
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

namespace sendgate::store {

class RespCommand {
 public:
  explicit RespCommand(int argument_count);

  RespCommand& Add(absl::string_view argument);
  RespCommand& Add(int64_t number);

  // The wire bytes; valid once exactly `argument_count` arguments were added.
  const std::string& wire() const { return wire_; }

 private:
  std::string wire_;
};

}  // namespace sendgate::store
