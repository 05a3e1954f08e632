#pragma once
// One line per event on stderr, logfmt-style: `ts level component msg key=value ...`.
// Never pass credentials or unmasked values here.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace gh::log {

enum class level { debug, info, warn, error };

void set_level(level l);
[[nodiscard]] bool enabled(level l);

using field = std::pair<std::string_view, std::string_view>;
void write(level l, std::string_view component, std::string_view msg,
           std::initializer_list<field> fields = {});

inline void info(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  write(level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  write(level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  write(level::error, c, m, f);
}
inline void debug(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) {
  if (enabled(level::debug)) write(level::debug, c, m, f);
}

}  // namespace gh::log
