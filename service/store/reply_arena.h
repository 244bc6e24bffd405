// The replies of one Redis connection, built in an arena of its own instead of an allocation
// per element: hiredis builds a reply, the connection's callback reads it, and hiredis frees it
// whole before it builds the next (redisProcessCallbacks), so the arena is emptied each time.
// A decision's reply is some thirty integers: hiredis's calloc and free of an object each cost
// about 3 000 instructions (callgrind), of which the arena saves 1 700. The objects are
// hiredis's redisReply, as its own reader makes them; only their memory differs.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

struct redisReader;

namespace sendgate::store {

class ReplyArena {
 public:
  ReplyArena() = default;
  ReplyArena(const ReplyArena&) = delete;
  ReplyArena& operator=(const ReplyArena&) = delete;

  // `reader` (a connection's, redisAsyncContext::c.reader) builds its replies here from now
  // on. The arena must outlive the reader.
  void Serve(redisReader* reader);

  // `bytes` of memory aligned for any object, valid until Reset(); nullptr when there is none.
  void* Allocate(size_t bytes);
  // Frees everything allocated; the first block is kept for the next reply.
  void Reset();

 private:
  static constexpr size_t kFirstBlock = 4096;
  static constexpr size_t kMoreBlock = 16384;

  alignas(std::max_align_t) char first_[kFirstBlock];
  char* block_ = first_;
  size_t block_size_ = kFirstBlock;
  size_t used_ = 0;
  std::vector<std::unique_ptr<char[]>> more_;  // blocks beyond the first, for large replies
};

}  // namespace sendgate::store
