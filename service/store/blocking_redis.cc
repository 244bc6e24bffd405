#include "service/store/blocking_redis.h"

#include <hiredis/hiredis.h>

#include <cstdarg>

#include "absl/strings/str_cat.h"

namespace sendgate::store {

void ContextDeleter::operator()(redisContext* context) const { redisFree(context); }
void ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

OwnedReply CommandNow(redisContext* context, const char* format, ...) {
  va_list args;
  va_start(args, format);
  void* reply = redisvCommand(context, format, args);
  va_end(args);
  return OwnedReply(static_cast<redisReply*>(reply));
}

absl::StatusOr<BlockingContext> ConnectNow(const ConnectionOptions& options) {
  const timeval timeout = absl::ToTimeval(options.connect_timeout);
  BlockingContext context(redisConnectWithTimeout(options.host.c_str(), options.port, timeout));
  if (context == nullptr || context->err != 0) {
    const std::string error = context != nullptr ? context->errstr : "out of memory";
    return absl::UnavailableError(
        absl::StrCat("cannot reach Redis at ", options.host, ":", options.port, ": ", error));
  }
  redisSetTimeout(context.get(), timeout);
  if (options.password.empty()) return context;
  const OwnedReply reply =
      options.user.empty()
          ? CommandNow(context.get(), "AUTH %b", options.password.data(), options.password.size())
          : CommandNow(context.get(), "AUTH %b %b", options.user.data(), options.user.size(),
                       options.password.data(), options.password.size());
  if (reply == nullptr) {
    return absl::UnavailableError(absl::StrCat("Redis at ", options.host, ":", options.port,
                                               " did not answer AUTH: ", context->errstr));
  }
  if (reply->type != REDIS_REPLY_ERROR) return context;
  return absl::FailedPreconditionError(absl::StrCat("Redis at ", options.host, ":", options.port,
                                                    " refused sendgate's credentials (user '",
                                                    options.user.empty() ? "default" : options.user,
                                                    "'): ", std::string(reply->str, reply->len)));
}

}  // namespace sendgate::store
