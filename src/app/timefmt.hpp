#pragma once
#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace gh::app {

// A time filter: RFC 3339 (2026-11-23T10:00:00Z), a date (2026-11-23), or a duration ago (15m).
[[nodiscard]] result<std::int64_t> parse_time(const std::string& s);
// RFC 3339 UTC with microseconds.
[[nodiscard]] std::string format_ts(std::int64_t us);

}  // namespace gh::app
