#include "service/store/resp.h"

#include "absl/strings/str_cat.h"

namespace sendgate::store {

RespCommand::RespCommand(int argument_count) {
  wire_.reserve(256);
  absl::StrAppend(&wire_, "*", argument_count, "\r\n");
}

RespCommand& RespCommand::Add(absl::string_view argument) {
  absl::StrAppend(&wire_, "$", argument.size(), "\r\n", argument, "\r\n");
  return *this;
}

RespCommand& RespCommand::Add(int64_t number) {
  const absl::AlphaNum digits(number);  // formats into its own buffer: no allocation
  return Add(digits.Piece());
}

}  // namespace sendgate::store
