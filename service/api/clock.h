// The server's clock, behind an interface so that tests decide what time it is.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sendgate::api {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace sendgate::api
