#include "service/api/bounded_stream.h"

namespace sendgate::api {

void BoundedStream::Start() {
  if (!admission_.admitted()) return Finish(admission_.refusal());
  StartRead(&incoming_);
}

void BoundedStream::OnReadDone(bool ok) {
  if (ok) {
    OnRequest(incoming_);
    incoming_.Clear();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (!ok) stopped_ = true;
  ReadNext(lock);
}

void BoundedStream::Begin(int calls) {
  std::lock_guard<std::mutex> lock(mutex_);
  in_flight_ += calls;
}

void BoundedStream::Settled(std::unique_lock<std::mutex>& lock, grpc::Status failure) {
  --in_flight_;
  if (!failure.ok()) {
    if (failure_.ok()) failure_ = std::move(failure);
    stopped_ = true;
  }
  if (paused_ && in_flight_ < in_flight_limit_) {
    paused_ = false;
    return ReadNext(lock);
  }
  FinishIfDone(lock);
}

void BoundedStream::Stop(grpc::Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failure_.ok()) failure_ = std::move(status);
  stopped_ = true;
}

void BoundedStream::ReadNext(std::unique_lock<std::mutex>& lock) {
  if (stopped_) return FinishIfDone(lock);
  if (in_flight_ >= in_flight_limit_) {
    paused_ = true;
    return;
  }
  lock.unlock();
  StartRead(&incoming_);
}

void BoundedStream::FinishIfDone(std::unique_lock<std::mutex>& lock) {
  if (!stopped_ || in_flight_ > 0 || finished_) return;
  finished_ = true;
  const grpc::Status status = failure_.ok() ? Answer() : failure_;
  admission_.code = status.error_code();
  lock.unlock();
  Finish(status);
}

}  // namespace sendgate::api
