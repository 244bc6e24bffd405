// A client stream whose requests start store calls, shared by Preferences.Import and
// Arbiter.Plan: it reads one request at a time, stops reading while `in_flight_limit` calls are
// under way (so a stream of millions never sits in memory), and answers once reading is over
// (the client is done, or the stream stopped) and every call has answered. A subclass says
// what a request starts (OnRequest) and what the answer is (Answer).
#pragma once

#include <mutex>

#include "grpcpp/grpcpp.h"
#include "service/api/unary_call.h"

namespace sendgate::api {

class BoundedStream : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  // Refuses the call while draining or when the authorization policy does not allow it, else
  // starts reading: once the subclass is constructed.
  void Start();

  void OnReadDone(bool ok) final;
  void OnDone() final { delete this; }

 protected:
  BoundedStream(Admission& admission, DecisionMetrics& metrics, Method method,
                const grpc::CallbackServerContext& context, int in_flight_limit)
      : admission_(admission, metrics, method, context), in_flight_limit_(in_flight_limit) {}

  // The allow rule of the authorization policy that let the caller in ("" without a policy).
  const std::string& caller() const { return admission_.caller(); }

  // One request read, on the reading thread, without the lock: starts its calls (each after
  // Begin) or stops the stream. The next read follows unless the stream stopped.
  virtual void OnRequest(const grpc::ByteBuffer& request) = 0;
  // The answer, once every call has answered; called under the lock.
  virtual grpc::Status Answer() = 0;

  // Counts `calls` about to start.
  void Begin(int calls);
  // A call answered (`lock` holds mutex_): reading resumes if it waited for room, or the
  // stream finishes if it was the last. A `failure` stops reading and becomes the answer
  // (the first failure wins).
  void Settled(std::unique_lock<std::mutex>& lock, grpc::Status failure = grpc::Status::OK);
  // No more reads: the stream ends with `status` once the calls under way have answered.
  void Stop(grpc::Status status);

  std::mutex mutex_;  // guards this class's state, and the subclass's answer in the making

 private:
  void ReadNext(std::unique_lock<std::mutex>& lock);
  void FinishIfDone(std::unique_lock<std::mutex>& lock);

  StreamAdmission admission_;
  const int in_flight_limit_;
  grpc::ByteBuffer incoming_;  // reading thread only
  grpc::Status failure_;       // OK, or the status the stream ends with
  int in_flight_ = 0;
  bool paused_ = false;   // a read waits for room
  bool stopped_ = false;  // no read will start: the client is done, or the stream failed
  bool finished_ = false;
};

}  // namespace sendgate::api
