#include "core/duration.hpp"

#include <cstdint>

namespace gh {

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds{0};
  if (text.empty()) return make_error("empty duration");
  std::int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > 1'000'000'000) return make_error("duration too large: '" + std::string(text) + "'");
      ++i;
      ++digits;
    }
    if (digits == 0) {
      return make_error("invalid duration '" + std::string(text) +
                        "' (expected e.g. 500ms, 30s, 15m, 1h, 7d, 6y)");
    }
    std::string_view unit;
    size_t start = i;
    while (i < text.size() && !(text[i] >= '0' && text[i] <= '9')) ++i;
    unit = text.substr(start, i - start);
    std::int64_t mult = 0;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
    else if (unit == "w") mult = 7 * 86'400'000LL;
    else if (unit == "y") mult = 365 * 86'400'000LL;
    else
      return make_error("invalid duration '" + std::string(text) +
                        "' (expected e.g. 500ms, 30s, 15m, 1h, 7d, 6y)");
    // Bound the total, not only each number: 999999999y must not overflow.
    constexpr std::int64_t max_total = 1000LL * 365 * 86'400'000;  // 1000 years
    if (n > max_total / mult || total > max_total - n * mult)
      return make_error("duration too large: '" + std::string(text) + "'");
    total += n * mult;
  }
  return std::chrono::milliseconds{total};
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms == 0) return "0";
  struct unit {
    std::int64_t ms;
    const char* name;
  };
  static constexpr unit units[] = {{365 * 86'400'000LL, "y"}, {86'400'000, "d"}, {3'600'000, "h"},
                                   {60'000, "m"},             {1000, "s"},       {1, "ms"}};
  std::string out;
  for (const auto& u : units) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace gh
