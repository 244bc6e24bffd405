// Fuzz target: a reply of Redis to decide.lua, as bytes on the wire. hiredis's own RESP reader
// (the one sendgate's connections use) builds the reply; sendgate's parser of decide.lua's
// reply must then answer a result or an error (kMalformedReply, a store error), never crash
// and never read "room now" from a broken reply. The first byte picks the plan's shape.
#include <hiredis/hiredis.h>

#include <cstdint>

#include "service/store/decide_call.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const sendgate::store::ReplyShape shape(data[0] & 7, (data[0] >> 3) & 3);
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, reinterpret_cast<const char*>(data) + 1, size - 1);
  void* reply = nullptr;
  while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr) {
    const auto* parsed = static_cast<const redisReply*>(reply);
    sendgate::store::ParseDecideReply(parsed, shape).IgnoreError();
    sendgate::store::ParseDecideReply(parsed, shape, shape).IgnoreError();
    if (parsed->type == REDIS_REPLY_ERROR) sendgate::store::ReplyError(parsed).IgnoreError();
    freeReplyObject(reply);
    reply = nullptr;
  }
  redisReaderFree(reader);
  return 0;
}
