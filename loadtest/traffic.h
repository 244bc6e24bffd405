// What the load generator sends: realistic decision requests (and preference updates). Contacts follow a Zipf law over
// 1M ids (a few contacts get much of the traffic, as in real CRMs); channels, categories,
// subscriptions, campaigns and segments follow a fixed mix (docs/BENCHMARKS.md). A campaign blast
// sends one campaign to every contact once.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sendgate/v1/arbiter.pb.h"
#include "sendgate/v1/preferences.pb.h"

namespace sendgate::loadtest {

// Ranks 0..n-1 with P(k) proportional to 1 / (k+1)^exponent.
class ZipfSampler {
 public:
  ZipfSampler(int n, double exponent);
  int Sample(std::mt19937_64& random) const;

 private:
  std::vector<double> cumulative_;
};

enum class Scenario { kMixed, kBlast };

class Traffic {
 public:
  // `run` makes ids unique to this run, `contacts` is the id space.
  Traffic(Scenario scenario, std::string run, int contacts, uint64_t seed);

  // The request for sequence number `sequence` of generator thread `thread`.
  void Fill(int thread, uint64_t sequence, v1::DecideRequest& request);
  // A preference-centre update of a contact drawn like the decisions' contacts: opt-ins to
  // the subscriptions, sometimes an unsubscribe, a weekly email maximum or a pause.
  void FillUpdate(v1::UpdatePreferencesRequest& request);

 private:
  Scenario scenario_;
  std::string run_;
  int contacts_;
  ZipfSampler zipf_;
  std::mt19937_64 random_;
};

}  // namespace sendgate::loadtest
