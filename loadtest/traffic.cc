#include "loadtest/traffic.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace sendgate::loadtest {
namespace {

// Picks one of `options` with the given weights (in percent, summing to 100).
template <size_t N>
const char* Pick(std::mt19937_64& random, const std::pair<const char*, int> (&options)[N]) {
  int roll = static_cast<int>(random() % 100);
  for (const auto& [value, percent] : options) {
    if (roll < percent) return value;
    roll -= percent;
  }
  return options[N - 1].first;
}

constexpr std::pair<const char*, int> kChannels[] = {{"email", 60}, {"sms", 25}, {"push", 15}};
constexpr std::pair<const char*, int> kSegments[] = {
    {"reactive", 30}, {"engaged", 40}, {"inactive", 30}};
// The default policy's subscriptions, on the channels they cover.
constexpr std::pair<const char*, int> kEmailSubscriptions[] = {
    {"newsletter", 30}, {"offers", 30}, {"", 40}};
constexpr std::pair<const char*, int> kSmsSubscriptions[] = {{"offers", 50}, {"", 50}};
constexpr std::pair<const char*, int> kPushSubscriptions[] = {{"notifications", 60}, {"", 40}};
constexpr std::pair<const char*, int> kZones[] = {
    {"Europe/Paris", 80}, {"America/New_York", 10}, {"Asia/Tokyo", 10}};

}  // namespace

ZipfSampler::ZipfSampler(int n, double exponent) : cumulative_(n) {
  double sum = 0;
  for (int k = 0; k < n; ++k) {
    sum += 1.0 / std::pow(k + 1, exponent);
    cumulative_[k] = sum;
  }
  for (double& value : cumulative_) value /= sum;
}

int ZipfSampler::Sample(std::mt19937_64& random) const {
  const double u = std::uniform_real_distribution<double>(0, 1)(random);
  return static_cast<int>(std::lower_bound(cumulative_.begin(), cumulative_.end(), u) -
                          cumulative_.begin());
}

Traffic::Traffic(Scenario scenario, std::string run, int contacts, uint64_t seed)
    : scenario_(scenario),
      run_(std::move(run)),
      contacts_(contacts),
      zipf_(scenario == Scenario::kMixed ? contacts : 1, 0.99),
      random_(seed) {}

void Traffic::Fill(int thread, uint64_t sequence, v1::DecideRequest& request) {
  request.Clear();
  request.set_message_id(absl::StrCat(run_, "-", thread, "-", sequence));
  if (scenario_ == Scenario::kBlast) {
    request.set_contact_id(absl::StrCat(run_, "-c", sequence % contacts_));
    request.set_channel("email");
    request.set_subscription("newsletter");
    request.set_campaign_id(absl::StrCat(run_, "-blast"));
    request.add_segments(Pick(random_, kSegments));
    return;
  }
  request.set_contact_id(absl::StrCat(run_, "-c", zipf_.Sample(random_)));
  const std::string channel = Pick(random_, kChannels);
  request.set_channel(channel);
  if (random_() % 100 < 15) {
    request.set_category("transactional");
  } else {
    request.set_category("marketing");
    request.set_subscription(channel == "email" ? Pick(random_, kEmailSubscriptions)
                             : channel == "sms" ? Pick(random_, kSmsSubscriptions)
                                                : Pick(random_, kPushSubscriptions));
    request.set_campaign_id(absl::StrCat("campaign-", random_() % 50));
    request.set_program(random_() % 2 == 0 ? "loyalty" : "activation");
  }
  request.add_segments(Pick(random_, kSegments));
  request.set_timezone(Pick(random_, kZones));
}

void Traffic::FillUpdate(v1::UpdatePreferencesRequest& request) {
  request.Clear();
  request.set_contact_id(absl::StrCat(run_, "-c", zipf_.Sample(random_)));
  request.mutable_evidence()->set_source(v1::Evidence::PREFERENCE_CENTRE);
  request.mutable_evidence()->set_text_version("benchmark-form-1");
  const uint64_t roll = random_() % 100;
  auto choose = [&](const char* subscription, const char* channel, bool opted_in) {
    v1::SubscriptionChoice* choice = request.add_subscriptions();
    choice->set_subscription(subscription);
    choice->set_channel(channel);
    choice->set_opted_in(opted_in);
  };
  if (roll < 60) {
    choose("newsletter", "email", true);
    choose("offers", "email", true);
    choose("offers", "sms", roll < 40);
  } else if (roll < 75) {
    choose("newsletter", "email", false);
  } else if (roll < 90) {
    v1::FrequencyLimit* limit = request.add_frequency();
    limit->set_channel("email");
    limit->set_limit(2);
    limit->set_window("calendar week");
  } else {
    request.set_clear_pause(true);
  }
}

}  // namespace sendgate::loadtest
