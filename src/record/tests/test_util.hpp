#pragma once
// Shared helpers for the record tests: a temp dir, the built-in masking engine, an audit sink
// that keeps events in memory (and can be told to fail), and asciicast line checks.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/tests/temp_dir.hpp"
#include "dlp/dlp.hpp"
#include "record/recorder.hpp"

namespace gh::record::testing {

using temp_dir = gh::testing::temp_dir;

inline std::shared_ptr<const dlp::engine> default_engine() {
  static auto p = dlp::default_policy();
  EXPECT_TRUE(p.ok()) << p.err();
  return (*p)->engine_ptr();
}

// Masks `text` in one piece with the plain engine: what a stream split anywhere must equal.
inline std::string mask_whole(std::string_view text) {
  dlp::scanner s(default_engine());
  dlp::counts c;
  return s.mask_text(text, c);
}

class memory_sink final : public audit_sink {
 public:
  std::string append(store::audit_record r) override {
    ++calls;
    if (fail_from > 0 && calls >= fail_from) return "disk full (test)";
    r.seq = static_cast<std::int64_t>(events.size()) + 1;
    events.push_back(std::move(r));
    return {};
  }
  [[nodiscard]] std::vector<store::audit_record> of_kind(std::string_view kind) const {
    std::vector<store::audit_record> out;
    for (const auto& e : events)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
  std::vector<store::audit_record> events;
  int calls = 0;
  int fail_from = 0;  // the call number from which appends fail (0: never)
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every line of an asciicast text parses with boost::json (strict: valid UTF-8, valid escapes);
// the first is a v2 header, the rest [number, "o"|"i"|"r", string].
inline void expect_valid_cast(std::string_view text) {
  std::size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    ASSERT_NE(nl, std::string_view::npos) << "unterminated last line";
    auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "line " << line_no << ": " << ec.message() << ": " << line;
    if (line_no == 1) {
      ASSERT_TRUE(v.is_object());
      EXPECT_EQ(v.as_object().at("version").as_int64(), 2);
      EXPECT_TRUE(v.as_object().at("width").is_int64());
      EXPECT_TRUE(v.as_object().at("height").is_int64());
      EXPECT_TRUE(v.as_object().at("timestamp").is_int64());
      EXPECT_TRUE(v.as_object().at("env").is_object());
      continue;
    }
    ASSERT_TRUE(v.is_array()) << line;
    const auto& a = v.as_array();
    ASSERT_EQ(a.size(), 3u) << line;
    EXPECT_TRUE(a[0].is_number()) << line;
    ASSERT_TRUE(a[1].is_string()) << line;
    std::string code(a[1].as_string());
    EXPECT_TRUE(code == "o" || code == "i" || code == "r") << line;
    EXPECT_TRUE(a[2].is_string()) << line;
  }
  EXPECT_GE(line_no, 1);
}

}  // namespace gh::record::testing
