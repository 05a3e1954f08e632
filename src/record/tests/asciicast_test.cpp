// asciicast v2 encoding: every line parses back as strict JSON, bytes that are not UTF-8 become
// U+FFFD, valid UTF-8 is kept byte for byte, times are exact.
#include "record/asciicast.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "record/tests/test_util.hpp"

namespace gh::record {
namespace {

std::string decoded(std::string_view bytes) {
  std::string line;
  append_event(0, 'o', bytes, line);
  boost::system::error_code ec;
  auto v = boost::json::parse(std::string_view(line).substr(0, line.size() - 1), ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << line;
  if (ec) return {};
  return std::string(v.as_array()[2].as_string());
}

TEST(Asciicast, HeaderAndEventsParseBack) {
  cast_header h{120, 40, 1700000000, {{"TERM", "xterm-256color"}, {"SHELL", "/bin/bash"}}};
  std::string text = header_line(h);
  append_event(0, 'o', "hello\r\n", text);
  append_event(1'000'250, 'i', "ls\r", text);
  append_event(2'500'000, 'r', "100x30", text);
  testing::expect_valid_cast(text);
  EXPECT_NE(text.find("[1.000250,\"i\",\"ls\\r\"]\n"), std::string::npos) << text;
  auto c = parse_cast(text);
  ASSERT_TRUE(c.ok()) << c.err();
  EXPECT_EQ(c->header.width, 120u);
  EXPECT_EQ(c->header.height, 40u);
  EXPECT_EQ(c->header.timestamp, 1700000000);
  ASSERT_EQ(c->events.size(), 3u);
  EXPECT_EQ(c->events[1].t_us, 1'000'250);
  EXPECT_EQ(c->events[1].code, 'i');
  EXPECT_EQ(c->events[0].data, "hello\r\n");
  EXPECT_EQ(c->events[2].data, "100x30");
}

TEST(Asciicast, EveryAsciiByteRoundTrips) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  EXPECT_EQ(decoded(all), all);
  EXPECT_EQ(decoded("\x1b[1;31mred\x1b[0m \"q\" \\"), "\x1b[1;31mred\x1b[0m \"q\" \\");
}

TEST(Asciicast, ValidUtf8IsKeptInvalidBecomesReplacement) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(decoded("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80"), "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80");
  struct bad_case {
    std::string in, out;
  };
  for (const auto& c : std::vector<bad_case>{
           {"a\xFF" "b", "a" + fffd + "b"},                  // never valid
           {"\xC0\x80", fffd + fffd},                        // overlong NUL
           {"\xE0\x80\xAF", fffd + fffd + fffd},             // overlong '/'
           {"\xED\xA0\x80", fffd + fffd + fffd},             // UTF-16 surrogate
           {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
           {"\x80x", fffd + "x"},                            // stray continuation
           {"ab\xE2\x9C", "ab" + fffd + fffd},               // cut off at the end
           {"\xC3(", fffd + "("},                            // lead without continuation
       }) {
    EXPECT_EQ(decoded(c.in), c.out) << ::testing::PrintToString(c.in);
  }
}

TEST(Asciicast, IncompleteTailIsOnlyAValidPrefix) {
  EXPECT_EQ(utf8_incomplete_tail("abc"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("ab\xC3"), 1u);
  EXPECT_EQ(utf8_incomplete_tail("ab\xE2\x9C"), 2u);
  EXPECT_EQ(utf8_incomplete_tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8_incomplete_tail("\xE2\x9C\x93"), 0u);  // complete
  EXPECT_EQ(utf8_incomplete_tail("\xED\xA0"), 0u);      // a surrogate can never complete
  EXPECT_EQ(utf8_incomplete_tail("\xC0"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("\x80\x80"), 0u);
}

TEST(Asciicast, ParseRejectsWhatIsNotARecording) {
  EXPECT_FALSE(parse_cast("").ok());
  EXPECT_FALSE(parse_cast("{\"version\":1}\n").ok());
  std::string h = header_line({});
  EXPECT_FALSE(parse_cast(h + "[2.0,\"o\",\"a\"]\n[1.0,\"o\",\"b\"]\n").ok());  // backwards
  EXPECT_FALSE(parse_cast(h + "[1.0,\"x\",\"a\"]\n").ok());
  auto r = parse_cast(h + "[1.0,\"o\"\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("line 2"), std::string::npos) << r.err();
}

}  // namespace
}  // namespace gh::record
