// The prefilter (prefilter.cpp) must report exactly the triggers the Hyperscan patterns it
// replaced report: the same (end, what) pairs on any input. Checked against Hyperscan itself
// (reference_patterns) on random text dense in digits, separators, literal bytes, '@', ':' and
// NULs, on synthetic clinical text, at every length around the 64-byte block and chunk edges,
// on every length 0..200 with each trigger shape at every offset, for the AVX-512 and AVX2 paths
// (when the CPU has them) and the portable path.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "dlp/internal.hpp"
#include "dlp/synth.hpp"
#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

using detail::trigger;
using detail::trigger_set;

std::array<bool, detail::builtin_count> all_on() {
  std::array<bool, detail::builtin_count> on{};
  on.fill(true);
  return on;
}

// Hyperscan over the reference patterns; the digit pattern's end includes its terminator.
class reference {
 public:
  explicit reference(const trigger_set& ts) {
    pats_ = detail::reference_patterns(ts);
    if (pats_.empty()) return;  // nothing to find (e.g. mrn with a configured mrn_pattern)
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (std::size_t i = 0; i < pats_.size(); ++i) {
      exprs.push_back(pats_[i].expr.c_str());
      flags.push_back(0);
      ids.push_back(static_cast<unsigned>(i));
    }
    hs_compile_error_t* err = nullptr;
    hs_database_t* db = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                         HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
      ADD_FAILURE() << "reference patterns do not compile: " << (err ? err->message : "?");
      hs_free_compile_error(err);
      return;
    }
    db_.reset(db);
    hs_scratch_t* s = nullptr;
    EXPECT_EQ(hs_alloc_scratch(db, &s), HS_SUCCESS);
    scratch_.reset(s);
  }

  std::vector<trigger> run(std::string_view text) {
    std::vector<trigger> out;
    if (!db_) return out;
    ctx c{this, &out};
    hs_scan(db_.get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch_.get(),
            [](unsigned id, unsigned long long, unsigned long long to, unsigned, void* p) {
              auto& cx = *static_cast<ctx*>(p);
              const std::uint16_t what = cx.self->pats_[id].what;
              const auto end = static_cast<std::uint32_t>(
                  what == trigger_set::what_number ? to - 1 : to);
              cx.out->push_back({end, what});
              return 0;
            },
            &c);
    return out;
  }

 private:
  struct ctx {
    reference* self;
    std::vector<trigger>* out;
  };
  std::vector<detail::reference_pattern> pats_;
  detail::database_ptr db_;
  detail::scratch_ptr scratch_;
};

void sort_triggers(std::vector<trigger>& v) {
  std::sort(v.begin(), v.end(), [](const trigger& a, const trigger& b) {
    return a.end != b.end ? a.end < b.end : a.what < b.what;
  });
}

std::string describe(const std::vector<trigger>& v) {
  std::string s;
  for (const auto& t : v) {
    s += '(';
    s += std::to_string(t.end);
    s += ',';
    s += std::to_string(t.what);
    s += ") ";
  }
  return s;
}

// Every code path; those the CPU lacks are skipped.
constexpr std::pair<detail::prefilter_path, const char*> paths[] = {
    {detail::prefilter_path::portable, "portable"},
    {detail::prefilter_path::avx2, "AVX2"},
    {detail::prefilter_path::avx512, "AVX-512"}};

void expect_same(const trigger_set& ts, reference& ref, std::string_view text,
                 const std::string& what) {
  auto want = ref.run(text);
  sort_triggers(want);
  auto eq = [](const trigger& a, const trigger& b) { return a.end == b.end && a.what == b.what; };
  std::vector<trigger> got;
  detail::find_triggers(ts, text, got);
  sort_triggers(got);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin(), got.end(), eq))
      << what << " (dispatching path)\nwant " << describe(want) << "\ngot  " << describe(got);
  for (auto [path, name] : paths) {
    got.clear();
    if (!detail::find_triggers_on(path, ts, text, got)) continue;  // not on this CPU
    sort_triggers(got);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin(), got.end(), eq))
        << what << " (" << name << " path)\nwant " << describe(want) << "\ngot  " << describe(got);
  }
}

// Text from an alphabet that makes triggers and near-triggers likely.
std::string random_text(synth::rng& r, std::size_t n) {
  static const std::string pieces[] = {
      "0", "1", "2", "5", "9", "12", "123", "4111", " ", "  ", "   ", ".", "-", "(", ")", "+",
      "@", ":", "::", "a", "f", "F", "x", "_", "\n", std::string(1, '\0'), "/", "D", "L", "N",
      "DL", "D/L", "dob", "DOB", "d.o.b", "birth", "born", "mrn", "record", "med rec",
      "patient id", "pt id", "passport", "license", "licence", "address", "lives at", "resides",
      "residing", "moved to", "mailing", " Street", " Ave", " Avenue", " Rd", " Road", " Ln",
      " Lane", " Blvd", " Boulevard", " Drive", " Court", " Place", "Dr. ", "patient ", "Lic",
      "RESIDES", "Mailing", "10.0.0.1", "2001:db8::1", "a@b", "x@example.com"};
  std::string s;
  while (s.size() < n) s += r.pick(pieces);
  s.resize(n);
  return s;
}

TEST(Prefilter, SameTriggersAsHyperscanOnRandomText) {
  const trigger_set ts = detail::builtin_triggers(all_on(), true);
  reference ref(ts);
  synth::rng r(99);
  for (int i = 0; i < 400; ++i) {
    const auto n = static_cast<std::size_t>(r.uniform(0, 700));
    std::string t = random_text(r, n);
    expect_same(ts, ref, t, "random text #" + std::to_string(i) + " of " + std::to_string(n));
    if (HasFailure()) return;
  }
}

TEST(Prefilter, EveryLengthAroundBlockEdges) {
  const trigger_set ts = detail::builtin_triggers(all_on(), true);
  reference ref(ts);
  synth::rng r(5);
  const std::string base = random_text(r, 9000);  // > one chunk of 64 blocks
  for (std::size_t n : {0, 1, 2, 3, 62, 63, 64, 65, 66, 67, 68, 127, 128, 129, 130, 131, 132, 4095,
                        4096, 4097, 4160, 4161, 4163, 8999}) {
    expect_same(ts, ref, std::string_view(base).substr(0, n), "prefix of " + std::to_string(n));
    expect_same(ts, ref, std::string_view(base).substr(9000 - n), "suffix of " + std::to_string(n));
  }
  // A digit chain across the block edges and across a chunk edge.
  for (std::size_t at : {50, 60, 62, 63, 64, 4090, 4094, 4095}) {
    std::string t(4200, 'x');
    t.replace(at, 19, "123-45-6789 1.2.3.4");
    expect_same(ts, ref, t, "chain at " + std::to_string(at));
  }
}

// Every length 0..200, each trigger shape at every offset, the text ending right after it (a
// trigger at the buffer end) or with more after it: vector tails and the padded last blocks.
TEST(Prefilter, EveryShapeAtEveryOffsetAndLength) {
  const trigger_set ts = detail::builtin_triggers(all_on(), true);
  reference ref(ts);
  const std::string shapes[] = {"123-45-6789 ", "4111 1111 1111 1111", "10.0.0.1 ", "a@b",
                                "fe80::1", "dob", "DL", "patient id", " Boulevard", " Rd",
                                "d.o.b", "1 2 3 4 5 6 7 8 9 "};
  synth::rng r(17);
  const std::string filler = random_text(r, 400);
  for (std::size_t n = 0; n <= 200; ++n) {
    // Plain letters (nothing to find) and trigger-dense random text, cut at n.
    expect_same(ts, ref, std::string(n, 'x'), "x * " + std::to_string(n));
    expect_same(ts, ref, std::string_view(filler).substr(0, n), "random of " + std::to_string(n));
    for (const std::string& shape : shapes) {
      if (shape.size() > n) continue;
      for (std::size_t at = 0; at + shape.size() <= n; ++at) {
        std::string t(n, 'x');
        t.replace(at, shape.size(), shape);
        expect_same(ts, ref, t, "'" + shape + "' at " + std::to_string(at) + " of " +
                                    std::to_string(n));
        if (HasFailure()) return;
      }
    }
  }
}

TEST(Prefilter, SameTriggersOnClinicalText) {
  const trigger_set ts = detail::builtin_triggers(all_on(), true);
  reference ref(ts);
  synth::rng r(3);
  std::string text = synth::clinical_text(r, 200 * 1024, 3, builtin_detector_ids());
  for (int i = 0; i < 300; ++i) {
    for (const auto& c : synth::clinical_row(r, 3, builtin_detector_ids())) {
      text += c;
      text.push_back('\0');
    }
  }
  expect_same(ts, ref, text, "clinical text");
}

TEST(Prefilter, SubsetsOfDetectors) {
  synth::rng r(11);
  const std::string t = random_text(r, 5000);
  for (std::size_t i = 0; i < detail::builtin_count; ++i) {
    std::array<bool, detail::builtin_count> on{};
    on[i] = true;
    for (bool mrn_labels : {true, false}) {
      const trigger_set ts = detail::builtin_triggers(on, mrn_labels);
      reference ref(ts);
      expect_same(ts, ref, t, "only " + std::string(builtin_detector_ids()[i]));
    }
  }
}

TEST(Prefilter, FindsWhatItMust) {
  // Not just agreement with the reference: the shapes themselves.
  const trigger_set ts = detail::builtin_triggers(all_on(), true);
  auto ends = [&](std::string_view text, std::uint16_t what) {
    std::vector<trigger> out;
    detail::find_triggers(ts, text, out);
    std::vector<std::uint32_t> e;
    for (const auto& t : out) {
      if (t.what == what) e.push_back(t.end);
    }
    std::sort(e.begin(), e.end());
    return e;
  };
  using V = std::vector<std::uint32_t>;
  EXPECT_EQ(ends("ssn 123-45-6789.", trigger_set::what_number), (V{15}));
  EXPECT_EQ(ends("call (555) 234-5678 now", trigger_set::what_number), (V{19}));
  EXPECT_EQ(ends("ip 10.0.0.1 ", trigger_set::what_number), (V{11}));
  EXPECT_EQ(ends("BP 120/80, HR 72; 123456 1 x 03/04/2024 10:30", trigger_set::what_number),
            V{});
  EXPECT_EQ(ends("HR 72 1234567 ", trigger_set::what_number), (V{13}));  // 9 digits, one gap
  EXPECT_EQ(ends("12345678 9", trigger_set::what_number), V{});  // no terminator at the end
  EXPECT_EQ(ends("12345678 9 ", trigger_set::what_number), (V{10}));
  EXPECT_EQ(ends("1   23456789 ", trigger_set::what_number), V{});  // a 3-byte gap splits
  EXPECT_EQ(ends("a@b", trigger_set::what_email), (V{3}));
  EXPECT_EQ(ends("::1", trigger_set::what_ipv6), (V{2}));
  std::vector<trigger> out;
  detail::find_triggers(ts, "LDL 120; DL: X; Dr. Who", out);
  int dl = 0;
  for (const auto& t : out) {
    if (t.what < ts.literals.size() && ts.literals[t.what].text == "DL") ++dl;
  }
  EXPECT_EQ(dl, 1);
}

// pack_cells: cells of every length 0..200 ending right before an unreadable page (the vector
// copy may read only the cell's own bytes), each followed by its NUL, offsets in starts.
TEST(Prefilter, TheEnvironmentCapsThePathAndNeverRaisesIt) {
  using detail::prefilter_path;
  const char* saved = std::getenv("GATEHOUSE_DLP_ISA");
  const std::string keep = saved != nullptr ? saved : "";
  ::unsetenv("GATEHOUSE_DLP_ISA");
  const prefilter_path best = detail::best_prefilter_path();
  ::setenv("GATEHOUSE_DLP_ISA", "portable", 1);
  EXPECT_EQ(detail::best_prefilter_path(), prefilter_path::portable);
  ::setenv("GATEHOUSE_DLP_ISA", "avx2", 1);
  EXPECT_EQ(detail::best_prefilter_path(),
            best == prefilter_path::portable ? prefilter_path::portable : prefilter_path::avx2);
  ::setenv("GATEHOUSE_DLP_ISA", "avx512", 1);
  EXPECT_EQ(detail::best_prefilter_path(), best) << "asking for more than the CPU has";
  if (saved != nullptr) ::setenv("GATEHOUSE_DLP_ISA", keep.c_str(), 1);
  else ::unsetenv("GATEHOUSE_DLP_ISA");
}

TEST(PackCells, EveryLengthEndingAtAGuardPage) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* m = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  char* guard = static_cast<char*>(m) + page;
  ASSERT_EQ(mprotect(guard, page, PROT_NONE), 0);
  synth::rng r(23);
  for (char* p = static_cast<char*>(m); p < guard; ++p) {
    *p = static_cast<char>(r.uniform(1, 255));  // any byte but NUL
  }
  std::vector<char> buf;
  std::vector<std::uint32_t> starts;
  for (std::size_t n = 0; n <= 200; ++n) {
    const std::string_view at_guard(guard - n, n);
    const std::vector<std::string_view> cells = {
        at_guard, std::string_view(guard - 70, 3), at_guard.substr(n / 2), std::string_view(),
        at_guard};
    std::string want;
    for (auto c : cells) {
      want += c;
      want.push_back('\0');
    }
    buf.assign(want.size() + detail::pack_slack, '#');
    starts.assign(cells.size() + 1, 0);
    ASSERT_EQ(detail::pack_cells(cells, buf.data(), 0, want.size(), starts.data()), cells.size());
    ASSERT_EQ(std::string_view(buf.data(), want.size()), want) << "n = " << n;
    std::uint32_t off = 0;
    for (std::size_t k = 0; k < cells.size(); ++k) {
      EXPECT_EQ(starts[k], off) << "n = " << n << ", cell " << k;
      off += static_cast<std::uint32_t>(cells[k].size() + 1);
    }
    EXPECT_EQ(starts[cells.size()], off) << "n = " << n;
    // With one byte less room the last cell stays out; writes stay within room + pack_slack.
    buf.assign(want.size() - 1 + detail::pack_slack, '#');
    ASSERT_EQ(detail::pack_cells(cells, buf.data(), 0, want.size() - 1, starts.data()),
              cells.size() - 1);
    EXPECT_EQ(starts[cells.size() - 1], want.size() - at_guard.size() - 1) << "n = " << n;
    // From an offset, as the scanner continues a group after growing its buffer.
    buf.assign(5 + want.size() + detail::pack_slack, '#');
    ASSERT_EQ(detail::pack_cells(cells, buf.data(), 5, 5 + want.size(), starts.data()),
              cells.size());
    EXPECT_EQ(std::string_view(buf.data() + 5, want.size()), want) << "n = " << n;
    EXPECT_EQ(starts[0], 5u);
  }
  munmap(m, 2 * page);
}

}  // namespace
}  // namespace gh::dlp
