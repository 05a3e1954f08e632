// Runs the per-detector tables in tests/testdata/dlp (format in its README.md): every `+` span
// must be reported by that detector exactly, and a `-` line must not trigger it at all. Lines
// are scanned twice — all of a file's lines as one batch, and each line alone — and both must
// agree, which also checks that batching changes nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

namespace fs = std::filesystem;

struct table_line {
  int number = 0;
  bool positive = false;
  std::string text;                                    // markers removed
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;  // expected, for `+`
};

std::vector<table_line> read_table(const fs::path& p) {
  std::vector<table_line> out;
  std::ifstream in(p);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    if (line.size() < 2 || (line[0] != '+' && line[0] != '-') || line[1] != ' ') {
      ADD_FAILURE() << p.filename() << ":" << n << ": expected '+ ' or '- '";
      continue;
    }
    table_line t;
    t.number = n;
    t.positive = line[0] == '+';
    std::string_view rest = std::string_view(line).substr(2);
    while (!rest.empty()) {
      auto open = rest.find("{{");
      if (open == std::string_view::npos) {
        t.text += rest;
        break;
      }
      auto close = rest.find("}}", open);
      if (close == std::string_view::npos) {
        ADD_FAILURE() << p.filename() << ":" << n << ": unclosed {{";
        break;
      }
      t.text += rest.substr(0, open);
      auto b = static_cast<std::uint32_t>(t.text.size());
      t.text += rest.substr(open + 2, close - open - 2);
      t.spans.emplace_back(b, static_cast<std::uint32_t>(t.text.size()));
      rest.remove_prefix(close + 2);
    }
    if (t.positive && t.spans.empty()) {
      ADD_FAILURE() << p.filename() << ":" << n << ": a + line needs a {{span}}";
    }
    out.push_back(std::move(t));
  }
  return out;
}

class DetectorTable : public ::testing::TestWithParam<std::string> {};

TEST_P(DetectorTable, PositivesFoundExactlyNearMissesNot) {
  const std::string id = GetParam();
  const fs::path file = testing::testdata_dir() / (id + ".txt");
  ASSERT_TRUE(fs::exists(file)) << file;
  auto lines = read_table(file);
  ASSERT_FALSE(lines.empty());
  auto eng = testing::default_engine();
  auto det = eng->find_detector(id);
  ASSERT_TRUE(det.has_value()) << id;
  scanner sc(eng);

  std::vector<std::string_view> cells;
  for (const auto& l : lines) cells.emplace_back(l.text);
  std::vector<finding> batch;
  sc.scan(cells, batch);
  finding_cursor cur(batch);

  int positives = 0, negatives = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    auto in_batch = cur.next(static_cast<std::uint32_t>(i));
    auto alone = testing::scan_one(sc, l.text);
    std::vector<finding> batch_copy(in_batch.begin(), in_batch.end());
    for (auto& f : batch_copy) f.cell = 0;
    EXPECT_EQ(batch_copy, alone) << id << ".txt:" << l.number << ": batch and single scan differ";

    std::string got;
    for (const auto& f : alone) got += testing::describe(*eng, l.text, f) + " ";
    if (l.positive) {
      ++positives;
      for (auto [b, e] : l.spans) {
        bool found = false;
        for (const auto& f : alone) found = found || (f.detector == *det && f.begin == b && f.end == e);
        EXPECT_TRUE(found) << id << ".txt:" << l.number << ": expected " << id << "["
                           << b << "," << e << ") in \"" << l.text << "\"; got: " << got;
      }
    } else {
      ++negatives;
      for (const auto& f : alone) {
        EXPECT_NE(f.detector, *det) << id << ".txt:" << l.number << ": near miss detected in \""
                                    << l.text << "\": " << got;
      }
    }
  }
  EXPECT_GT(positives, 0);
  EXPECT_GT(negatives, 0);
}

INSTANTIATE_TEST_SUITE_P(Builtins, DetectorTable,
                         ::testing::ValuesIn([] {
                           std::vector<std::string> ids;
                           for (auto id : builtin_detector_ids()) ids.emplace_back(id);
                           return ids;
                         }()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gh::dlp
