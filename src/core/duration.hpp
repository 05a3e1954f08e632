#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace gh {

// Parses "500ms", "30s", "15m", "1h", "7d", "6y" (365 days), and combinations like "1h30m".
// A bare "0" means zero. Anything else is an error naming the input.
[[nodiscard]] result<std::chrono::milliseconds> parse_duration(std::string_view text);
[[nodiscard]] std::string format_duration(std::chrono::milliseconds d);

}  // namespace gh
