#include "service/metrics/http_server.h"

#include <civetweb.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sendgate::metrics {
namespace {

int Reply(mg_connection* connection, int status, const char* content_type,
          absl::string_view body) {
  const std::string head = absl::StrCat(
      "HTTP/1.1 ", status, status == 200 ? " OK" : " Service Unavailable",
      "\r\nContent-Type: ", content_type, "\r\nContent-Length: ", body.size(),
      "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
  mg_write(connection, head.data(), head.size());
  mg_write(connection, body.data(), body.size());
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& listen, std::function<std::string()> metrics,
    std::function<Readiness()> readiness) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(metrics), std::move(readiness)));
  // Probes must answer even when a few clients hold connections open without sending: each
  // connection holds a worker until its request arrives or `request_timeout_ms` passes.
  const char* options[] = {"listening_ports", listen.c_str(),
                           "num_threads", "16",
                           "request_timeout_ms", "2000",
                           "enable_keep_alive", "no",
                           nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  server->context_ = mg_start(&callbacks, nullptr, options);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, " (address in use or invalid?)"));
  }
  mg_set_request_handler(server->context_, "/metrics$", &ServeMetrics, server.get());
  mg_set_request_handler(server->context_, "/healthz$", &ServeHealth, server.get());
  mg_set_request_handler(server->context_, "/readyz$", &ServeReady, server.get());
  mg_server_port ports[4];
  if (mg_get_server_ports(server->context_, 4, ports) > 0) server->port_ = ports[0].port;
  return server;
}

HttpServer::~HttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int HttpServer::ServeMetrics(mg_connection* connection, void* self) {
  const std::string body = static_cast<HttpServer*>(self)->metrics_();
  return Reply(connection, 200, "text/plain; version=0.0.4; charset=utf-8", body);
}

int HttpServer::ServeHealth(mg_connection* connection, void*) {
  return Reply(connection, 200, "text/plain", "ok\n");
}

int HttpServer::ServeReady(mg_connection* connection, void* self) {
  const Readiness readiness = static_cast<HttpServer*>(self)->readiness_();
  return Reply(connection, readiness.ready ? 200 : 503, "text/plain",
               absl::StrCat(readiness.ready ? "ready" : "not ready", ": ", readiness.detail, "\n"));
}

}  // namespace sendgate::metrics
