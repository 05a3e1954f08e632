// Batched scanning: one hs_scan over many cells must give exactly what scanning each cell alone
// gives, findings never leave their cell, and odd cells (empty, NUL bytes, huge) are handled.
#include <gtest/gtest.h>

#include "dlp/synth.hpp"
#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

// Cuts synthetic clinical text with PHI into cells of random widths (1..300 bytes), cutting
// anywhere — also through the middle of values — like arbitrary column boundaries.
std::vector<std::string> random_cells(std::uint64_t seed, std::size_t bytes) {
  synth::rng r(seed);
  std::string text = synth::clinical_text(r, bytes, 3, builtin_detector_ids());
  std::vector<std::string> cells;
  std::size_t p = 0;
  while (p < text.size()) {
    std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(r.uniform(0, 300)), text.size() - p);
    cells.push_back(text.substr(p, n));
    p += n;
  }
  return cells;
}

std::vector<finding> per_cell(scanner& sc, const std::vector<std::string>& cells) {
  std::vector<finding> all;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    for (auto f : testing::scan_one(sc, cells[i])) {
      f.cell = static_cast<std::uint32_t>(i);
      all.push_back(f);
    }
  }
  return all;
}

TEST(Batch, SameFindingsAsPerCellScanning) {
  scanner sc(testing::default_engine());
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    auto cells = random_cells(seed, 200'000);
    std::vector<std::string_view> views(cells.begin(), cells.end());
    std::vector<finding> batched;
    std::size_t n = sc.scan(views, batched);
    EXPECT_EQ(n, batched.size());
    auto single = per_cell(sc, cells);
    EXPECT_GT(single.size(), 100u) << "the corpus should contain PHI";
    EXPECT_EQ(batched, single) << "seed " << seed;
  }
}

TEST(Batch, FindingsStayInsideTheirCellAndAreSorted) {
  scanner sc(testing::default_engine());
  auto cells = random_cells(4, 300'000);
  std::vector<std::string_view> views(cells.begin(), cells.end());
  std::vector<finding> f;
  sc.scan(views, f);
  ASSERT_FALSE(f.empty());
  for (std::size_t i = 0; i < f.size(); ++i) {
    ASSERT_LT(f[i].cell, cells.size());
    EXPECT_LT(f[i].begin, f[i].end);
    EXPECT_LE(f[i].end, cells[f[i].cell].size());
    if (i > 0) {
      bool ordered = f[i - 1].cell < f[i].cell ||
                     (f[i - 1].cell == f[i].cell && f[i - 1].end <= f[i].begin);
      EXPECT_TRUE(ordered) << "findings must be sorted and not overlap";
    }
  }
}

TEST(Batch, ValuesSplitAcrossCellsAreNotJoined) {
  scanner sc(testing::default_engine());
  // "123-45-" | "6789": neither half is an SSN, and the batch must not glue them together.
  std::vector<std::string_view> cells = {"123-45-", "6789", "john.doe@", "example.com",
                                         "4111 1111", "1111 1111", "SSN", "123456789"};
  std::vector<finding> f;
  EXPECT_EQ(sc.scan(cells, f), 0u);
}

TEST(Batch, EmptyCellsNulBytesAndTheLastCell) {
  scanner sc(testing::default_engine());
  std::string with_nul("SSN 123-45-6789\0tail 234-56-7891", 32);
  std::vector<std::string_view> cells = {"", "123-45-6789", "", with_nul, "", "x 345-67-8912"};
  std::vector<finding> f;
  sc.scan(cells, f);
  auto e = testing::default_engine();
  auto ssn = *e->find_detector("us_ssn");
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], (finding{1, 0, 11, ssn}));
  EXPECT_EQ(f[1], (finding{3, 4, 15, ssn}));
  EXPECT_EQ(f[2], (finding{3, 21, 32, ssn}));
  EXPECT_EQ(f[3], (finding{5, 2, 13, ssn}));
  std::vector<std::string_view> none;
  EXPECT_EQ(sc.scan(none, f), 0u);
  EXPECT_TRUE(f.empty());
}

TEST(Batch, BatchesLargerThanOneScanAreSplitOnCellBoundaries) {
  scanner sc(testing::default_engine());
  // ~12 MiB in 1 KiB cells: more than one internal hs_scan group.
  std::string filler(1000, 'x');
  std::vector<std::string> cells;
  for (int i = 0; i < 12'000; ++i) cells.push_back(filler + (i % 1000 == 7 ? " 123-45-6789" : ""));
  std::vector<std::string_view> views(cells.begin(), cells.end());
  std::vector<finding> f;
  sc.scan(views, f);
  ASSERT_EQ(f.size(), 12u);
  for (std::size_t i = 0; i < f.size(); ++i) {
    EXPECT_EQ(f[i].cell, i * 1000 + 7);
    EXPECT_EQ(f[i].begin, 1001u);
  }
  // One cell bigger than a group is scanned whole.
  std::string big(9u << 20, 'y');
  big += " 4111 1111 1111 1111";
  auto one = testing::scan_one(sc, big);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].end, big.size());
}

TEST(Batch, RepeatedScansReuseTheScanner) {
  scanner sc(testing::default_engine());
  std::vector<finding> f;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string_view> a = {"ssn 123-45-6789"};
    EXPECT_EQ(sc.scan(a, f), 1u);
    std::vector<std::string_view> b = {"nothing here"};
    EXPECT_EQ(sc.scan(b, f), 0u);
  }
}

TEST(Batch, FindingCursorWalksCellsInOrder) {
  std::vector<finding> f = {{0, 0, 1, 0}, {0, 2, 3, 0}, {2, 0, 1, 0}, {5, 1, 2, 0}};
  finding_cursor c(f);
  EXPECT_EQ(c.next(0).size(), 2u);
  EXPECT_EQ(c.next(1).size(), 0u);
  EXPECT_EQ(c.next(2).size(), 1u);
  EXPECT_EQ(c.next(4).size(), 0u);
  auto last = c.next(5);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].begin, 1u);
  EXPECT_EQ(c.next(6).size(), 0u);
}

}  // namespace
}  // namespace gh::dlp
