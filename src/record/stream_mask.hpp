#pragma once
// Masking for a byte stream that arrives in arbitrary pieces (terminal output, keystrokes).
// Sans-I/O: bytes and their times go in, masked pieces that can no longer be part of a match
// come out.
//
// A value can be split across feeds ("123-45-" then "6789"), so the tail of the stream is
// carried over until it can no longer be part of a match: text is released up to the last line
// break (a newline, or a cursor-moving escape sequence; detectors do not match across lines,
// the same unit `gatehouse mask` works in). A line longer than `max_carry` is released except its
// last `keep_tail` bytes, so a value shorter than keep_tail is still seen whole. Cuts never fall
// inside a UTF-8 sequence, an escape sequence or a finding.
//
// Detectors see the text without escape sequences: a coloured value (ESC[31m123-45-6789ESC[0m)
// must still be found, and the `m` of the colour sequence must not glue onto the value. Style
// sequences (SGR, ESC[...m) vanish from the scanned view; every other escape sequence counts as a
// line break. A masked value's escape sequences are written after its replacement so the
// terminal's state (colours, cursor) is the same as it would have been.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dlp/dlp.hpp"

namespace gh::record {

struct masked_piece {
  std::int64_t t_us = 0;  // when its first byte was fed
  std::string data;       // masked; never splits a UTF-8 sequence unless the input was invalid
};

struct stream_mask_options {
  std::size_t max_carry = 4096;  // a line without a break longer than this is released...
  std::size_t keep_tail = 256;   // ...except this much (longer than any value worth masking)
  std::size_t context = 64;      // already released text kept for detectors that look back
  bool cr_breaks_line = false;   // keystrokes: Enter is CR
};

class stream_masker {
 public:
  stream_masker(std::shared_ptr<const dlp::engine> e, stream_mask_options o = {});
  // Takes `bytes` fed at t_us; appends the pieces that are now safe to `out`.
  void feed(std::string_view bytes, std::int64_t t_us, std::vector<masked_piece>& out);
  // End of stream: releases everything.
  void flush(std::vector<masked_piece>& out);
  [[nodiscard]] const dlp::counts& counts() const { return counts_; }
  [[nodiscard]] std::size_t carried() const { return buf_.size(); }
  [[nodiscard]] const dlp::engine& get_engine() const { return scanner_.get_engine(); }

 private:
  void release(bool all, std::vector<masked_piece>& out);

  stream_mask_options opt_;
  dlp::scanner scanner_;
  dlp::counts counts_;
  std::string buf_;  // carried bytes, original
  struct mark {
    std::size_t offset;
    std::int64_t t_us;
  };
  std::vector<mark> marks_;  // where each feed's bytes start in buf_
  std::string context_;      // the scanned view of the last released text
};

// The escape sequence starting at s[i] (s[i] == ESC): its length, or 0 if s ends before it does.
// Malformed sequences end before the offending byte. Exposed for tests.
struct escape_span {
  std::size_t len = 0;
  bool style = false;        // SGR: ESC [ ... m
  std::size_t text_from = 0, text_to = 0;  // string sequences (OSC, DCS...): their text, relative
};
[[nodiscard]] escape_span escape_at(std::string_view s, std::size_t i);

}  // namespace gh::record
