// Blocking hiredis connections, for what runs before serving or on a thread of its own (the
// start-up checks, the cluster topology refresh): never on a Redis loop or a gRPC thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/store/redis_connection.h"

struct redisContext;
struct redisReply;

namespace sendgate::store {

struct ContextDeleter {
  void operator()(redisContext* context) const;
};
struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
using BlockingContext = std::unique_ptr<redisContext, ContextDeleter>;
using OwnedReply = std::unique_ptr<redisReply, ReplyDeleter>;

// A connection to `options.host`:`options.port`, authenticated as `options` says, with
// `options.connect_timeout` for the connection and each command. UNAVAILABLE when Redis cannot
// be reached, FAILED_PRECONDITION when it refuses the credentials.
absl::StatusOr<BlockingContext> ConnectNow(const ConnectionOptions& options);

// Runs one command (printf-style, as redisCommand) and returns its reply; nullptr when the
// connection failed.
OwnedReply CommandNow(redisContext* context, const char* format, ...);

}  // namespace sendgate::store
