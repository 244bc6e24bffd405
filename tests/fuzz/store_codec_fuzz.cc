// Fuzz target: what sendgate reads back from Redis (a key anyone with Redis access may have
// written): the packed send history, its older layout, the planned sends, the preferences and
// the stored profile. A blob that is not well formed is an error value, never a crash; one that
// decodes encodes back to the same records.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "service/store/history_codec.h"
#include "service/store/preferences_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view blob(reinterpret_cast<const char*>(data), size);
  using namespace sendgate::store;
  if (auto history = DecodeHistory(blob); history.ok()) {
    absl::StatusOr<std::vector<sendgate::core::SendRecord>> again =
        DecodeHistory(EncodeHistory(*history));
    if (!again.ok() || again->size() != history->size()) std::abort();
  }
  DecodeV1History(blob).IgnoreError();
  if (auto planned = DecodePlanned(blob); planned.ok()) {
    if (!DecodePlanned(EncodePlanned(*planned)).ok()) std::abort();
  }
  if (auto preferences = DecodePreferences(blob); preferences.ok()) {
    if (!DecodePreferences(EncodePreferences(*preferences)).ok()) std::abort();
  }
  DecodeProfile(blob).IgnoreError();
  return 0;
}
