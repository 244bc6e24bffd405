#include "service/store/reply_arena.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace sendgate::store {
namespace {

constexpr size_t kAlignment = alignof(std::max_align_t);

// Before a reply's top object: its arena, which freeing the reply empties (hiredis frees a
// reply through its top object only, with no other context).
struct alignas(kAlignment) TopHeader {
  ReplyArena* arena;
};

ReplyArena& ArenaOf(const redisReadTask* task) { return *static_cast<ReplyArena*>(task->privdata); }

// An array longer than this is refused as hiredis refuses memory it cannot have (it then
// drops the connection): no reply sendgate asks for comes near it, and the element array of a
// reply that claims 2^31 elements would be 16 GB.
constexpr int kMostElements = 1 << 24;

// A reply object of `type`, put in its parent array as hiredis's own reader does; nullptr
// (which hiredis reads as out of memory) when there is no memory for it.
redisReply* NewObject(const redisReadTask* task, int type) {
  ReplyArena& arena = ArenaOf(task);
  redisReply* object;
  if (task->parent == nullptr) {
    auto* header = static_cast<TopHeader*>(arena.Allocate(sizeof(TopHeader) + sizeof(redisReply)));
    if (header == nullptr) return nullptr;
    header->arena = &arena;
    object = reinterpret_cast<redisReply*>(header + 1);
  } else {
    object = static_cast<redisReply*>(arena.Allocate(sizeof(redisReply)));
    if (object == nullptr) return nullptr;
  }
  *object = redisReply{};
  object->type = type;
  if (task->parent != nullptr) {
    static_cast<redisReply*>(task->parent->obj)->element[task->idx] = object;
  }
  return object;
}

void* CreateString(const redisReadTask* task, char* text, size_t length) {
  char* copy = static_cast<char*>(ArenaOf(task).Allocate(length + 1));
  redisReply* object = copy != nullptr ? NewObject(task, task->type) : nullptr;
  if (object == nullptr) return nullptr;
  if (length > 0) std::memcpy(copy, text, length);
  copy[length] = '\0';
  object->str = copy;
  object->len = length;
  return object;
}

void* CreateArray(const redisReadTask* task, int elements) {
  if (elements > kMostElements) return nullptr;
  const size_t count = elements > 0 ? static_cast<size_t>(elements) : 0;
  redisReply** element = nullptr;
  if (count > 0) {
    element = static_cast<redisReply**>(ArenaOf(task).Allocate(count * sizeof(redisReply*)));
    if (element == nullptr) return nullptr;
    std::fill_n(element, count, nullptr);
  }
  redisReply* object = NewObject(task, REDIS_REPLY_ARRAY);
  if (object == nullptr) return nullptr;
  object->elements = count;
  object->element = element;
  return object;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  redisReply* object = NewObject(task, REDIS_REPLY_INTEGER);
  if (object != nullptr) object->integer = value;
  return object;
}

void* CreateNil(const redisReadTask* task) { return NewObject(task, REDIS_REPLY_NIL); }

void FreeReply(void* top) {
  if (top == nullptr) return;
  (reinterpret_cast<TopHeader*>(top) - 1)->arena->Reset();
}

redisReplyObjectFunctions kArenaFunctions = {
    &CreateString, &CreateArray, &CreateInteger, &CreateNil, &FreeReply};

}  // namespace

void ReplyArena::Serve(redisReader* reader) {
  reader->fn = &kArenaFunctions;
  reader->privdata = this;
}

void* ReplyArena::Allocate(size_t bytes) {
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (block_size_ - used_ < bytes) {
    const size_t size = std::max(bytes, kMoreBlock);
    char* block = new (std::nothrow) char[size];  // not zeroed: written first
    if (block == nullptr) return nullptr;
    more_.push_back(std::unique_ptr<char[]>(block));
    block_ = more_.back().get();
    block_size_ = size;
    used_ = 0;
  }
  void* memory = block_ + used_;
  used_ += bytes;
  return memory;
}

void ReplyArena::Reset() {
  more_.clear();
  block_ = first_;
  block_size_ = kFirstBlock;
  used_ = 0;
}

}  // namespace sendgate::store
