// One load run as a JSON object (for the benchmark script) and as lines for people.
#pragma once

#include <string>

#include "loadtest/driver.h"

namespace sendgate::loadtest {

std::string ToJson(const std::string& label, const RunOptions& options, const Results& results);
std::string ToText(const std::string& label, const RunOptions& options, const Results& results);
// One line "RESULT label=... throughput=... p50_us=..." for scripts.
std::string ToFields(const std::string& label, const Results& results);

}  // namespace sendgate::loadtest
