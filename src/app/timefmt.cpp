#include "app/timefmt.hpp"

#include <cstdio>
#include <ctime>

#include "audit/writer.hpp"
#include "core/duration.hpp"

namespace gh::app {

// Parses a time filter into microseconds since the epoch.
result<std::int64_t> parse_time(const std::string& s) {
  if (s.empty()) return make_error("empty time");
  if (s.find('-') == std::string::npos || s.find_first_not_of("0123456789") == std::string::npos) {
    auto d = parse_duration(s);
    if (!d) return make_error("invalid time '" + s + "': " + d.err());
    return audit::now_us() - std::chrono::duration_cast<std::chrono::microseconds>(*d).count();
  }
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char z = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z);
  if (n == 3 && s.size() == 10) {
    h = mi = sec = 0;
  } else if (n < 6 || (n == 7 && z != 'Z')) {
    return make_error("invalid time '" + s + "' (expected e.g. 2026-11-23T10:00:00Z)");
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000;
}

std::string format_ts(std::int64_t us) {
  std::time_t secs = us / 1'000'000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1'000'000));
  return buf;
}

}  // namespace gh::app
