#include "service/api/arbiter_service.h"

#include <deque>
#include <mutex>

#include "service/api/plan_stream.h"
#include "service/api/proto_conversion.h"
#include "service/api/request_validation.h"
#include "service/api/unary_call.h"
#include "service/api/wire.h"
#include "service/core/names.h"
#include "service/core/pressure.h"
#include "service/store/store_error.h"

namespace sendgate::api {

Shadow ArbiterService::ShadowOf(const v1::DecideRequest& request,
                                const std::shared_ptr<const core::Policy>& policy,
                                std::shared_ptr<const core::Policy> candidate, absl::Time now) {
  auto compared = [this, policy, candidate](const core::Decision& active,
                                            std::optional<core::Decision> decided) {
    parts_.metrics.RecordShadow(policy, candidate, active, decided);
  };
  absl::StatusOr<core::Message> message = MessageFromRequest(request, *candidate, now);
  if (!message.ok()) {
    // The candidate would refuse the request (an unknown channel, say): a difference, as the
    // DENY a stream gives an invalid request.
    return Shadow{.policy = nullptr,
                  .compared = [compared = std::move(compared)](
                                  const core::Decision& active,
                                  std::optional<core::Decision> decided) mutable {
                    if (!decided) return compared(active, std::nullopt);
                    compared(active, core::Decision{
                                         .outcome = core::Outcome::kDeny,
                                         .reasons = {{.code = core::ReasonCode::kInvalidRequest}}});
                  }};
  }
  return Shadow{std::move(candidate), std::move(*message), std::move(compared)};
}

void ArbiterService::DecideInto(const v1::DecideRequest& request, absl::Time caller_deadline,
                                Method method, const std::string& caller,
                                v1::DecideResponse* response, Answered done) {
  const absl::Time started = parts_.clock.Now();
  response->set_message_id(request.message_id());
  response->set_contact_id(request.contact_id());
  std::shared_ptr<const core::Policy> policy = parts_.policies.Current();
  absl::StatusOr<core::Message> message = MessageFromRequest(request, *policy, started);
  if (!message.ok()) {
    parts_.metrics.RecordInvalid(method, message.status());
    done(InvalidArgument(message.status()));
    return;
  }
  if (absl::Status may = policy->CallerMayDeclare(caller, message->category, message->dry_run);
      !may.ok()) {
    done(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(may.message())));
    return;
  }
  const int channel = message->channel;
  const int category = message->category;
  const bool dry_run = message->dry_run;
  std::optional<Shadow> shadow;
  if (std::shared_ptr<const core::Policy> candidate = parts_.shadow.Current();
      candidate != nullptr && !dry_run &&
      static_cast<int>(core::NameId(request.contact_id()) % 100) < parts_.shadow_percent) {
    shadow = ShadowOf(request, policy, std::move(candidate), started);
  }
  parts_.decider.Decide(
      policy, std::move(*message), caller_deadline,
      [this, policy, channel, category, dry_run, method, started, response, done = std::move(done)](
          core::Decision decision, absl::Status store_status) mutable {
        FillDecision(decision, *policy, response);
        if (dry_run) {
          done(grpc::Status::OK);
          return;
        }
        parts_.metrics.RecordDecision(policy, channel, category, decision, store_status, method,
                                      parts_.clock.Now() - started);
        done(grpc::Status::OK);
      },
      std::move(shadow));
}

grpc::ServerUnaryReactor* ArbiterService::Decide(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::DecideRequest, v1::DecideResponse>;
  Call* call = Call::Start(context, in, out, Method::kDecide, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  DecideInto(call->request, CallerDeadline(context), Method::kDecide, call->caller(),
             &call->response,
             [call](grpc::Status status) { call->Finish(std::move(status)); });
  return reactor;
}

// One DecideStream: reads requests while fewer than kMaxStreamInFlight are unanswered, writes
// each response as its decision arrives (one write at a time, in arrival order), and finishes
// once the client is done sending and every response is written (or the client is gone).
// A request that does not parse or validate gets its own DENY with reason INVALID_REQUEST.
class ArbiterService::StreamReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamReactor(ArbiterService& service, grpc::CallbackServerContext* context)
      : service_(service), deadline_(CallerDeadline(context)),
        admission_(service.parts_.admission, service.parts_.metrics, Method::kDecideStream,
                   *context) {
    if (!admission_.admitted()) {
      Finish(admission_.refusal());
      return;
    }
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!ok || abandoned_) {
        reads_done_ = true;
        FinishIfDone(lock);
        return;
      }
      ++in_flight_;
    }
    auto* response = new v1::DecideResponse();
    // One request object for the stream, read before DecideInto returns: parsing into it
    // again reuses its strings.
    v1::DecideRequest& request = request_;
    const absl::Status parsed = ParseRequest(incoming_, request);
    incoming_.Clear();
    if (!parsed.ok()) {
      service_.parts_.metrics.RecordInvalid(Method::kDecideStream, parsed);
      response->set_message_id(request.message_id());
      response->set_contact_id(request.contact_id());
      InvalidRequest(InvalidArgument(parsed), response);
      Enqueue(response);
    } else {
      service_.DecideInto(request, deadline_, Method::kDecideStream, admission_.caller(), response,
                          [this, response](grpc::Status status) {
                            if (!status.ok()) InvalidRequest(status, response);
                            Enqueue(response);
                          });
    }
    bool read_more = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      read_more = in_flight_ < kMaxStreamInFlight;
      read_paused_ = !read_more;
    }
    if (read_more) StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    v1::DecideResponse* next = nullptr;
    bool more = false;
    bool resume_reading = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      delete queue_.front();
      queue_.pop_front();
      --in_flight_;
      if (!ok) Abandon(lock);
      if (!queue_.empty()) {
        next = queue_.front();
        more = queue_.size() > 1;
      } else {
        writing_ = false;
      }
      if (read_paused_ && !reads_done_ && in_flight_ < kMaxStreamInFlight) {
        read_paused_ = false;
        resume_reading = true;
      }
      if (next == nullptr) FinishIfDone(lock);
    }
    if (next != nullptr) Write(*next, more);
    if (resume_reading) StartRead(&incoming_);
  }

  void OnDone() override { delete this; }

 private:
  // A request refused before any decision: DENY, INVALID_REQUEST or (the caller may not
  // declare what it does) NOT_PERMITTED.
  static void InvalidRequest(const grpc::Status& status, v1::DecideResponse* response) {
    response->set_outcome(v1::DENY);
    v1::Reason* reason = response->add_reasons();
    reason->set_code(status.error_code() == grpc::StatusCode::PERMISSION_DENIED
                         ? v1::Reason::NOT_PERMITTED
                         : v1::Reason::INVALID_REQUEST);
    reason->set_message(status.error_message());
  }

  // Called from any thread when a decision is made.
  void Enqueue(v1::DecideResponse* response) {
    bool write_now = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (abandoned_) {
        delete response;
        --in_flight_;
        FinishIfDone(lock);
        return;
      }
      queue_.push_back(response);
      write_now = !writing_;
      writing_ = true;
    }
    if (write_now) Write(*response, /*more=*/false);
  }

  // Serializes into the one outgoing buffer (gRPC allows one write at a time). With more
  // responses queued behind this one, gRPC may hold it back to send them together.
  void Write(const v1::DecideResponse& response, bool more) {
    outgoing_.Clear();
    (void)SerializeResponse(response, &outgoing_);
    StartWrite(&outgoing_, more ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
  }

  // The client is gone: drop what is queued; decisions still coming are dropped as they come.
  // A read still outstanding ends by itself (OnReadDone(false)); a paused one never starts.
  void Abandon(std::unique_lock<std::mutex>&) {
    abandoned_ = true;
    if (read_paused_) reads_done_ = true;
    admission_.code = grpc::StatusCode::CANCELLED;
    for (v1::DecideResponse* response : queue_) delete response;
    in_flight_ -= static_cast<int>(queue_.size());
    queue_.clear();
  }

  void FinishIfDone(std::unique_lock<std::mutex>& lock) {
    if (!reads_done_ || in_flight_ > 0 || writing_ || finished_) return;
    finished_ = true;
    lock.unlock();
    Finish(grpc::Status::OK);
  }

  ArbiterService& service_;
  const absl::Time deadline_;
  StreamAdmission admission_;
  grpc::ByteBuffer incoming_;
  v1::DecideRequest request_;  // incoming_, parsed; reading thread only
  grpc::ByteBuffer outgoing_;  // the response being written: queue_.front()

  std::mutex mutex_;
  std::deque<v1::DecideResponse*> queue_;  // decided, not yet written; front is being written
  int in_flight_ = 0;                      // read and not yet written (or dropped)
  bool writing_ = false;
  bool reads_done_ = false;
  bool read_paused_ = false;
  bool abandoned_ = false;
  bool finished_ = false;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ArbiterService::DecideStream(
    grpc::CallbackServerContext* context) {
  return new StreamReactor(*this, context);
}

grpc::ServerUnaryReactor* ArbiterService::Cancel(grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::CancelRequest, v1::CancelResponse>;
  Call* call = Call::Start(context, in, out, Method::kCancel, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  for (auto [field, value] :
       {std::pair<const char*, const std::string*>{"contact_id", &call->request.contact_id()},
        {"message_id", &call->request.message_id()}}) {
    if (absl::Status status = CheckId(field, *value); !status.ok()) {
      parts_.metrics.RecordInvalid(Method::kCancel, status);
      call->Finish(InvalidArgument(status));
      return reactor;
    }
  }
  parts_.store.Cancel(call->request.contact_id(), call->request.message_id(),
                      parts_.decider.StoreDeadline(CallerDeadline(context)),
                      [this, call](absl::StatusOr<bool> cancelled) {
                        if (!cancelled.ok()) {
                          parts_.metrics.RecordStoreError(cancelled.status());
                          call->Finish(CallFailure(cancelled.status()));
                          return;
                        }
                        parts_.metrics.RecordCancel(*cancelled);
                        call->response.set_cancelled(*cancelled);
                        call->Finish(grpc::Status::OK);
                      });
  return reactor;
}

grpc::ServerReadReactor<grpc::ByteBuffer>* ArbiterService::Plan(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  return StartPlanStream(parts_, context, response);
}

grpc::ServerUnaryReactor* ArbiterService::GetPressure(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* in,
                                                      grpc::ByteBuffer* out) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  using Call = UnaryCall<v1::GetPressureRequest, v1::GetPressureResponse>;
  Call* call =
      Call::Start(context, in, out, Method::kGetPressure, parts_.admission, parts_.metrics);
  if (call == nullptr) return reactor;
  const v1::GetPressureRequest& request = call->request;
  std::shared_ptr<const core::Policy> policy = parts_.policies.Current();
  const absl::Time now = parts_.clock.Now();
  absl::Status status = CheckId("contact_id", request.contact_id());
  absl::StatusOr<std::vector<std::string>> segments =
      SegmentsFromRequest(request.segments(), *policy);
  absl::StatusOr<absl::TimeZone> zone = ZoneFromRequest("timezone", request.timezone(), *policy);
  absl::StatusOr<absl::Time> at = TimeFromRequest("at", request.has_at(), request.at(), now, now);
  for (const absl::Status& each : {segments.status(), zone.status(), at.status()}) {
    if (status.ok()) status = each;
  }
  if (!status.ok()) {
    parts_.metrics.RecordInvalid(Method::kGetPressure, status);
    call->Finish(InvalidArgument(status));
    return reactor;
  }
  parts_.store.ReadHistory(
      request.contact_id(), parts_.decider.StoreDeadline(CallerDeadline(context)),
      [this, call, policy, segments = std::move(*segments), zone = *zone,
       at = *at](absl::StatusOr<core::History> history) {
        if (!history.ok()) {
          parts_.metrics.RecordStoreError(history.status());
          call->Finish(CallFailure(history.status()));
          return;
        }
        const core::Pressure pressure = core::PressureAt(*policy, *history, segments, zone, at);
        std::erase_if(history->planned, [&](const core::PlannedSend& planned) {
          return planned.at + policy->plan_grace <= parts_.clock.Now();
        });
        FillPressure(*policy, *history, pressure, &call->response);
        call->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace sendgate::api
