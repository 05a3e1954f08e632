#pragma once
// asciicast v2 (the asciinema file format): a header line, then one JSON array per event,
// `[seconds, "o"|"i"|"r", "data"]`. Encoding is pure (no I/O). Terminal output is bytes, JSON
// strings are UTF-8: valid sequences are kept as they are, every byte that is not part of one
// becomes U+FFFD, so each line always parses.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace gh::record {

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 if none starts there
// (stray continuation byte, overlong form, surrogate, above U+10FFFF, or cut off by the end).
[[nodiscard]] std::size_t utf8_sequence_at(std::string_view s, std::size_t i);
// How many bytes at the end of `s` are the start of a valid sequence that the next bytes could
// complete (0..3). Those are held back rather than encoded as U+FFFD.
[[nodiscard]] std::size_t utf8_incomplete_tail(std::string_view s);

// Appends `bytes` as the inside of a JSON string (no quotes).
void append_json_string(std::string_view bytes, std::string& out);

struct cast_header {
  unsigned width = 80;
  unsigned height = 24;
  std::int64_t timestamp = 0;  // unix seconds of the start
  std::vector<std::pair<std::string, std::string>> env;  // TERM, SHELL
};

// The header line, newline included.
[[nodiscard]] std::string header_line(const cast_header& h);
// One event line, newline included. `t_us`: microseconds since the start, printed as seconds
// with 6 decimals (exact, no floating point on the way out).
void append_event(std::int64_t t_us, char code, std::string_view data, std::string& out);

struct cast_event {
  std::int64_t t_us = 0;
  char code = 'o';
  std::string data;  // UTF-8 as decoded from the JSON string
};

struct cast {
  cast_header header;
  std::vector<cast_event> events;
};

// Parses a whole recording; errors name the line. Times must not go backwards.
[[nodiscard]] result<cast> parse_cast(std::string_view text);

}  // namespace gh::record
