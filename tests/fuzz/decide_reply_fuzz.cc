// Fuzz target: a reply of Redis to decide.lua, as bytes on the wire. hiredis's own RESP reader
// builds the reply; sendgate's parser of decide.lua's reply must then answer a result or an
// error (kMalformedReply, a store error), never crash and never read "room now" from a broken
// reply. The first byte picks the plan's shape. The same bytes go through a reader that builds
// its replies in an arena, as a connection's does (ReplyArena): it must build the very same
// replies, and fail where hiredis's does (or on an array past its bound, as out of memory).
#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstring>

#include "service/store/decide_call.h"
#include "service/store/reply_arena.h"

namespace {

bool SameReply(const redisReply* a, const redisReply* b) {
  if (a->type != b->type || a->integer != b->integer || a->len != b->len ||
      a->elements != b->elements) {
    return false;
  }
  if ((a->str == nullptr) != (b->str == nullptr)) return false;
  if (a->str != nullptr && std::memcmp(a->str, b->str, a->len) != 0) return false;
  for (size_t i = 0; i < a->elements; ++i) {
    if (!SameReply(a->element[i], b->element[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const sendgate::store::ReplyShape shape(data[0] & 7, (data[0] >> 3) & 3);
  const char* bytes = reinterpret_cast<const char*>(data) + 1;
  redisReader* reader = redisReaderCreate();
  redisReader* arena_reader = redisReaderCreate();
  sendgate::store::ReplyArena arena;
  arena.Serve(arena_reader);
  redisReaderFeed(reader, bytes, size - 1);
  redisReaderFeed(arena_reader, bytes, size - 1);
  while (true) {
    void* reply = nullptr;
    void* from_arena = nullptr;
    const int status = redisReaderGetReply(reader, &reply);
    const int arena_status = redisReaderGetReply(arena_reader, &from_arena);
    if (arena_status != REDIS_OK && arena_reader->err == REDIS_ERR_OOM) {  // a 2^24+ array
      if (reply != nullptr) freeReplyObject(reply);
      break;
    }
    if (arena_status != status || (reply == nullptr) != (from_arena == nullptr)) __builtin_trap();
    if (status != REDIS_OK || reply == nullptr) break;
    const auto* parsed = static_cast<const redisReply*>(reply);
    if (!SameReply(parsed, static_cast<const redisReply*>(from_arena))) __builtin_trap();
    sendgate::store::ParseDecideReply(parsed, shape).IgnoreError();
    sendgate::store::ParseDecideReply(parsed, shape, shape).IgnoreError();
    if (parsed->type == REDIS_REPLY_ERROR) sendgate::store::ReplyError(parsed).IgnoreError();
    freeReplyObject(reply);
    arena_reader->fn->freeObject(from_arena);
  }
  redisReaderFree(reader);
  redisReaderFree(arena_reader);
  return 0;
}
