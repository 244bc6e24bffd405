#include "service/metrics/registry.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace sendgate::metrics {
namespace {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char digits[32];
  const std::to_chars_result result = std::to_chars(digits, digits + sizeof(digits), value);
  return std::string(digits, result.ptr);  // the shortest text that reads back as `value`
}

void AppendEscaped(std::string& out, absl::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// A gauge read at scrape time.
class GaugeFunction final : public FamilyBase {
 public:
  GaugeFunction(std::string name, std::string help, std::function<double()> read)
      : FamilyBase(MetricType::kGauge, std::move(name), std::move(help), {}),
        read_(std::move(read)) {}

 private:
  void RenderChildren(std::string& out) const override {
    RenderSample(out, "", {}, "", "", read_());
  }
  std::function<double()> read_;
};

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(total);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

FamilyBase::FamilyBase(MetricType type, std::string name, std::string help,
                       std::vector<std::string> label_names)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)) {}

void FamilyBase::Render(std::string& out) const {
  absl::StrAppend(&out, "# HELP ", name_, " ");
  AppendEscaped(out, help_, /*quotes=*/false);
  const char* type = type_ == MetricType::kCounter ? "counter"
                     : type_ == MetricType::kGauge ? "gauge"
                                                   : "histogram";
  absl::StrAppend(&out, "\n# TYPE ", name_, " ", type, "\n");
  RenderChildren(out);
}

void FamilyBase::RenderSample(std::string& out, absl::string_view suffix,
                              const std::vector<std::string>& values, absl::string_view extra_name,
                              absl::string_view extra_value, double value) const {
  absl::StrAppend(&out, name_, suffix);
  const bool labelled = !values.empty() || !extra_name.empty();
  if (labelled) out += '{';
  for (size_t i = 0; i < values.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", label_names_[i], "=\"");
    AppendEscaped(out, values[i], /*quotes=*/true);
    out += '"';
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, values.empty() ? "" : ",", extra_name, "=\"", extra_value, "\"");
  }
  if (labelled) out += '}';
  absl::StrAppend(&out, " ", FormatValue(value), "\n");
}

template <>
void Family<Counter>::RenderChildren(std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, counter] : children_) {
    RenderSample(out, "", values, "", "", static_cast<double>(counter->value()));
  }
}

template <>
void Family<Gauge>::RenderChildren(std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, gauge] : children_) RenderSample(out, "", values, "", "", gauge->value());
}

template <>
void Family<Histogram>::RenderChildren(std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, histogram] : children_) {
    const Histogram::Snapshot snapshot = histogram->Read();
    const std::vector<double>& bounds = histogram->bounds();
    for (size_t i = 0; i < bounds.size(); ++i) {
      RenderSample(out, "_bucket", values, "le", FormatValue(bounds[i]),
                   static_cast<double>(snapshot.cumulative[i]));
    }
    const double count = static_cast<double>(snapshot.cumulative.back());
    RenderSample(out, "_bucket", values, "le", "+Inf", count);
    RenderSample(out, "_sum", values, "", "", snapshot.sum);
    RenderSample(out, "_count", values, "", "", count);
  }
}

template <typename Metric>
Family<Metric>& Registry::Add(std::unique_ptr<Family<Metric>> family) {
  std::lock_guard<std::mutex> lock(mutex_);
  Family<Metric>& added = *family;
  families_.push_back(std::move(family));
  return added;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return Add(std::make_unique<Family<Counter>>(MetricType::kCounter, std::move(name),
                                               std::move(help), std::move(label_names),
                                               [] { return std::make_unique<Counter>(); }));
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return Add(std::make_unique<Family<Gauge>>(MetricType::kGauge, std::move(name), std::move(help),
                                             std::move(label_names),
                                             [] { return std::make_unique<Gauge>(); }));
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  return Add(std::make_unique<Family<Histogram>>(
      MetricType::kHistogram, std::move(name), std::move(help), std::move(label_names),
      [bounds] { return std::make_unique<Histogram>(bounds); }));
}

void Registry::AddGaugeFunction(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mutex_);
  families_.push_back(
      std::make_unique<GaugeFunction>(std::move(name), std::move(help), std::move(read)));
}

std::string Registry::Exposition() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& family : families_) family->Render(out);
  return out;
}

}  // namespace sendgate::metrics
