// The streaming masker: a value split across feeds is masked as if it came in one piece; the
// carry is bounded; escape sequences and UTF-8 sequences are never split and survive masking;
// pieces keep their feed's time.
#include "record/stream_mask.hpp"

#include <gtest/gtest.h>

#include "record/asciicast.hpp"
#include "record/tests/test_util.hpp"

namespace gh::record {
namespace {

using testing::default_engine;
using testing::mask_whole;

struct run {
  std::string text;
  std::vector<masked_piece> pieces;
};

// Feeds `parts` (time = index), flushes, and returns the concatenated output.
run feed_parts(const std::vector<std::string>& parts, stream_mask_options o = {}) {
  stream_masker m(default_engine(), o);
  run r;
  for (std::size_t i = 0; i < parts.size(); ++i)
    m.feed(parts[i], static_cast<std::int64_t>(i), r.pieces);
  m.flush(r.pieces);
  for (const auto& p : r.pieces) r.text += p.data;
  return r;
}

// Every piece is valid UTF-8 on its own and every escape sequence in it is complete.
void expect_whole_pieces(const std::vector<masked_piece>& pieces) {
  for (const auto& p : pieces) {
    for (std::size_t i = 0; i < p.data.size();) {
      if (p.data[i] == 0x1b) {
        auto sp = escape_at(p.data, i);
        ASSERT_GT(sp.len, 0u) << "escape sequence cut in piece " << ::testing::PrintToString(p.data);
        i += sp.len;
        continue;
      }
      auto n = utf8_sequence_at(p.data, i);
      ASSERT_GT(n, 0u) << "UTF-8 cut in piece " << ::testing::PrintToString(p.data);
      i += n;
    }
  }
}

const std::string phi_text =
    "name: Jane Roe\r\n"
    "ssn: 123-45-6789, email jane.roe@example.com\r\n"
    "card 4111 1111 1111 1111 \xE2\x9C\x93 done\r\n"
    "\x1b[1;32mok\x1b[0m caf\xC3\xA9\r\n";

TEST(StreamMask, SsnSplitAcrossFeedsIsMasked) {
  auto r = feed_parts({"Patient SSN 123-45-", "6789 on file\r\n"});
  EXPECT_EQ(r.text.find("123-45"), std::string::npos) << r.text;
  EXPECT_EQ(r.text.find("6789"), std::string::npos) << r.text;
  EXPECT_EQ(r.text, mask_whole("Patient SSN 123-45-6789 on file\r\n"));
  EXPECT_NE(r.text.find("Patient SSN "), std::string::npos);
}

TEST(StreamMask, EmailSplitAcrossFeedsIsMasked) {
  auto r = feed_parts({"contact: jane.roe@exa", "mple.com please\n"});
  EXPECT_EQ(r.text.find("jane.roe"), std::string::npos) << r.text;
  EXPECT_EQ(r.text.find("example.com"), std::string::npos) << r.text;
  EXPECT_EQ(r.text, mask_whole("contact: jane.roe@example.com please\n"));
}

TEST(StreamMask, AnySplitPointGivesTheSameOutput) {
  const std::string whole = mask_whole(phi_text);
  ASSERT_EQ(whole.find("6789"), std::string::npos) << "the engine must mask the fixture";
  for (std::size_t i = 0; i <= phi_text.size(); ++i) {
    for (std::size_t j = i; j <= phi_text.size(); j += 7) {
      auto r = feed_parts({phi_text.substr(0, i), phi_text.substr(i, j - i), phi_text.substr(j)});
      ASSERT_EQ(r.text, whole) << "split at " << i << "," << j;
      expect_whole_pieces(r.pieces);
    }
  }
}

TEST(StreamMask, ByteByByteGivesTheSameOutput) {
  std::vector<std::string> bytes;
  for (char c : phi_text) bytes.emplace_back(1, c);
  auto r = feed_parts(bytes);
  EXPECT_EQ(r.text, mask_whole(phi_text));
  expect_whole_pieces(r.pieces);
}

TEST(StreamMask, EscapeSequencesArePreservedAndDoNotHideValues) {
  // The colour sequence's `m` would glue onto the digits for a plain scan; here it must not.
  const std::string in = "\x1b[31m123-45-6789\x1b[0m plain\r\n\x1b[2J\x1b[H";
  auto r = feed_parts({in.substr(0, 4), in.substr(4, 9), in.substr(13)});
  EXPECT_EQ(r.text.find("6789"), std::string::npos) << ::testing::PrintToString(r.text);
  EXPECT_EQ(r.text.rfind("\x1b[31m", 0), 0u) << ::testing::PrintToString(r.text);
  EXPECT_NE(r.text.find("\x1b[0m plain\r\n\x1b[2J\x1b[H"), std::string::npos)
      << ::testing::PrintToString(r.text);
  expect_whole_pieces(r.pieces);

  // A value with a style change inside: masked, and the style change still happens.
  auto r2 = feed_parts({"ssn 123-45-\x1b[1m", "6789\x1b[0m\n"});
  EXPECT_EQ(r2.text.find("6789"), std::string::npos) << ::testing::PrintToString(r2.text);
  EXPECT_NE(r2.text.find("\x1b[1m"), std::string::npos) << ::testing::PrintToString(r2.text);
  EXPECT_NE(r2.text.find("\x1b[0m"), std::string::npos) << ::testing::PrintToString(r2.text);

  // No PHI: the bytes come out exactly as they went in, whatever the split.
  const std::string plain = "\x1b[38;5;208mcolour\x1b[0m \x1b]0;title\x07\x1b(B$ ls\r\n";
  for (std::size_t i = 0; i <= plain.size(); ++i) {
    auto p = feed_parts({plain.substr(0, i), plain.substr(i)});
    ASSERT_EQ(p.text, plain) << "split at " << i;
    expect_whole_pieces(p.pieces);
  }
}

TEST(StreamMask, WindowTitlesAreMasked) {
  auto r = feed_parts({"\x1b]0;chart 123-45-", "6789\x07$ \n"});
  EXPECT_EQ(r.text.find("6789"), std::string::npos) << ::testing::PrintToString(r.text);
  EXPECT_EQ(r.text.rfind("\x1b]0;chart ", 0), 0u) << ::testing::PrintToString(r.text);
  EXPECT_NE(r.text.find("\x07$ \n"), std::string::npos) << ::testing::PrintToString(r.text);
}

TEST(StreamMask, CarryIsBoundedAndLongLinesStillMasked) {
  stream_masker m(default_engine(), {});
  std::vector<masked_piece> out;
  std::string line(10'000, 'x');
  m.feed(line, 0, out);
  EXPECT_LE(m.carried(), 4096u);
  EXPECT_FALSE(out.empty());
  m.feed(" ssn 123-45-", 1, out);
  m.feed("6789 ", 2, out);
  EXPECT_LE(m.carried(), 4096u);
  m.flush(out);
  std::string all;
  for (const auto& p : out) all += p.data;
  EXPECT_EQ(all.find("6789"), std::string::npos);
  EXPECT_EQ(all.substr(0, 10'000), line);
  EXPECT_EQ(m.counts().total(), 1u);

  // An escape sequence that never ends cannot hold PHI back or grow the carry forever.
  stream_masker m2(default_engine(), {});
  std::vector<masked_piece> out2;
  m2.feed("\x1b]0;123-45-6789 ", 0, out2);
  m2.feed(std::string(20'000, 'y'), 1, out2);
  EXPECT_LE(m2.carried(), 16'384u);
  m2.flush(out2);
  std::string all2;
  for (const auto& p : out2) all2 += p.data;
  EXPECT_EQ(all2.find("6789"), std::string::npos);
}

TEST(StreamMask, SplitUtf8IsNeverCut) {
  auto r = feed_parts({"h\xC3", "\xA9llo \xF0\x9F", "\x98\x80\n"});
  EXPECT_EQ(r.text, "h\xC3\xA9llo \xF0\x9F\x98\x80\n");
  expect_whole_pieces(r.pieces);
}

TEST(StreamMask, PiecesKeepTheirFeedTime) {
  stream_masker m(default_engine(), {});
  std::vector<masked_piece> out;
  m.feed("first\n", 10, out);
  m.feed("$ ", 20, out);  // a prompt: carried until its line ends
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].t_us, 10);
  m.feed("ls\r\n", 30, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].t_us, 20);
  EXPECT_EQ(out[1].data, "$ ");
  EXPECT_EQ(out[2].t_us, 30);
  EXPECT_EQ(out[2].data, "ls\r\n");
}

TEST(StreamMask, FlushMasksTheCarriedTail) {
  auto r = feed_parts({"no newline 123-45-6789"});
  EXPECT_EQ(r.text, mask_whole("no newline 123-45-6789"));
  EXPECT_EQ(r.text.find("6789"), std::string::npos);
}

TEST(StreamMask, KeystrokesBreakAtEnter) {
  stream_mask_options o;
  o.cr_breaks_line = true;
  stream_masker m(default_engine(), o);
  std::vector<masked_piece> out;
  for (char c : std::string("echo 123-45-6789\r")) m.feed(std::string(1, c), 0, out);
  std::string all;
  for (const auto& p : out) all += p.data;
  EXPECT_EQ(m.carried(), 0u);
  EXPECT_EQ(all.find("6789"), std::string::npos) << all;
  EXPECT_EQ(all.rfind("echo ", 0), 0u) << all;
}

}  // namespace
}  // namespace gh::record
