// The monitoring port: /metrics (Prometheus text format), /healthz (the process answers) and
// /readyz (ready to take traffic), served by civetweb on 16 threads of its own, apart from
// gRPC; a connection that sends no request within 2 s is closed, so idle clients cannot starve
// the probes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace sendgate::metrics {

struct Readiness {
  bool ready = false;
  std::string detail;  // shown in the /readyz body
};

class HttpServer {
 public:
  // `listen` is ADDR:PORT ("0.0.0.0:9464", "[::]:9464"); port 0 picks a free port.
  // `metrics` renders /metrics (Catalog::Exposition); `readiness` answers /readyz.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                          std::function<std::string()> metrics,
                                                          std::function<Readiness()> readiness);
  ~HttpServer();

  int port() const { return port_; }

 private:
  HttpServer(std::function<std::string()> metrics, std::function<Readiness()> readiness)
      : metrics_(std::move(metrics)), readiness_(std::move(readiness)) {}

  static int ServeMetrics(mg_connection* connection, void* self);
  static int ServeHealth(mg_connection* connection, void* self);
  static int ServeReady(mg_connection* connection, void* self);

  std::function<std::string()> metrics_;
  std::function<Readiness()> readiness_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace sendgate::metrics
