// The data path must not allocate per row: a warm scanner scans and masks a batch again without
// a single operator new. (This file replaces the global operator new for the whole test binary;
// it only counts.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "dlp/synth.hpp"
#include "dlp/tests/test_util.hpp"

namespace {
std::atomic<std::size_t> g_allocations{0};
}

// Every form is replaced so that new/delete pairs stay malloc/free (libhs uses the nothrow form;
// a partial replacement would mismatch under AddressSanitizer).
namespace {
void* counted(std::size_t n) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
// GCC 12 at -O3 sees std::free applied to what an inlined operator new returned and warns; the
// replacement new above allocates with malloc, so free is the matching release.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace gh::dlp {
namespace {

TEST(Allocation, WarmScannerScansAndMasksWithoutAllocating) {
  engine_options o;
  rule_action partial, hash;  // member by member: GCC 12 -O3 warns on the aggregate form
  partial.act = action::partial;
  hash.act = action::hash;
  o.actions = {{"us_ssn", partial}, {"email", hash}};
  std::array<std::uint8_t, hash_key::size> k{};
  o.key = hash_key(k);
  scanner sc(testing::compile_or_die(o));
  synth::rng r(5);
  std::string text = synth::clinical_text(r, 64 * 1024, 3, builtin_detector_ids());
  std::vector<std::string_view> cells;
  for (std::size_t p = 0; p < text.size(); p += 40) {
    cells.emplace_back(text.data() + p, std::min<std::size_t>(40, text.size() - p));
  }
  std::vector<finding> f;
  std::string out;
  counts c;
  std::uint32_t slot = c.column("notes");
  auto pass = [&] {
    sc.scan(cells, f);
    finding_cursor cur(f);
    out.clear();
    for (std::size_t i = 0; i < cells.size(); ++i) {
      (void)sc.mask_cell(cells[i], cur.next(static_cast<std::uint32_t>(i)), value_kind::text, out,
                         c, slot);
    }
  };
  pass();  // warm-up: buffers grow to size once
  ASSERT_GT(f.size(), 10u);
  const std::size_t before = g_allocations.load();
  for (int i = 0; i < 3; ++i) pass();
  EXPECT_EQ(g_allocations.load() - before, 0u);
}

}  // namespace
}  // namespace gh::dlp
