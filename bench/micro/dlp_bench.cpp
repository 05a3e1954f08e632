// Masking engine throughput (MB/s per core, single thread) on synthetic clinical-like text with
// every default detector on. The headline figures are bm_mixed_rows (clinical rows of 10 text
// columns) and bm_digit_dense (vitals/labs sentences); also batched vs per-cell scanning,
// scan+mask, clean text, the trigger prefilter alone vs the same triggers in Hyperscan, and one
// detector at a time (to see which detectors cost what).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "dlp/dlp.hpp"
#include "dlp/internal.hpp"
#include "dlp/synth.hpp"

namespace {

using namespace gh::dlp;

constexpr std::size_t corpus_bytes = 8u << 20;
constexpr std::size_t batch_bytes = 64u << 10;  // about one relay buffer of DataRows

const std::string& corpus(int phi_every) {
  static std::string mixed, clean;
  std::string& s = phi_every > 0 ? mixed : clean;
  if (s.empty()) {
    synth::rng r(42);
    s = synth::clinical_text(r, corpus_bytes, phi_every, builtin_detector_ids());
  }
  return s;
}

// Narrative text: only sentences with at most two digits, PHI at the same rate — how much the
// digit density of the data matters (the digit-run trigger is the engine's main cost).
const std::string& narrative(int phi_every) {
  static std::string with_phi, clean;
  std::string& s = phi_every > 0 ? with_phi : clean;
  if (s.empty()) {
    synth::rng r(43);
    while (s.size() < corpus_bytes) {
      if (phi_every > 0 && r.uniform(1, phi_every) == 1) {
        // The value with its label, without the (digit-dense) sentences around it.
        auto p = synth::positive(r, r.pick(builtin_detector_ids()));
        std::size_t b = p.begin > 25 ? p.begin - 25 : 0;
        s += p.text.substr(b, p.end + 1 - b);
      } else {
        std::string t = synth::clinical_sentence(r);
        if (std::count_if(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }) > 2)
          continue;
        s += t;
      }
      s.push_back(r.chance(30) ? '\n' : ' ');
    }
  }
  return s;
}

// Mixed clinical rows (synth::clinical_row): 10 text cells per row — names, addresses, notes that
// are mostly narrative with the odd vitals/labs sentence, diagnoses, medications, a PHI value in
// the notes of one row in 10. What a result of clinical text columns looks like; the headline
// MB/s/core figure. The cells live in one string; views into it are the cells.
struct row_corpus {
  std::string bytes;
  std::vector<std::string_view> cells;
};

const row_corpus& mixed_rows() {
  static row_corpus c = [] {
    row_corpus out;
    synth::rng r(44);
    std::vector<std::size_t> ends;
    while (out.bytes.size() < corpus_bytes) {
      for (auto& cell : synth::clinical_row(r, 10, builtin_detector_ids())) {
        out.bytes += cell;
        ends.push_back(out.bytes.size());
      }
    }
    std::size_t b = 0;
    for (std::size_t e : ends) {
      out.cells.emplace_back(out.bytes.data() + b, e - b);
      b = e;
    }
    return out;
  }();
  return c;
}

// Cells of about `width` bytes (cut at spaces), like the text columns of a result.
std::vector<std::string_view> cells_of(const std::string& text, std::size_t width) {
  std::vector<std::string_view> cells;
  std::size_t p = 0;
  while (p < text.size()) {
    std::size_t e = std::min(text.size(), p + width);
    std::size_t sp = text.find(' ', e);
    e = sp == std::string::npos ? text.size() : sp;
    cells.emplace_back(text.data() + p, e - p);
    p = e + 1;
  }
  return cells;
}

// Consecutive runs of cells of about batch_bytes each.
std::vector<std::span<const std::string_view>> batches_of(const std::vector<std::string_view>& cells) {
  std::vector<std::span<const std::string_view>> out;
  std::size_t b = 0, bytes = 0;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    bytes += cells[i].size();
    if (bytes >= batch_bytes || i + 1 == cells.size()) {
      out.emplace_back(cells.data() + b, i + 1 - b);
      b = i + 1;
      bytes = 0;
    }
  }
  return out;
}

std::shared_ptr<const engine> default_engine() {
  static auto e = engine::compile(engine_options{});
  return *e;
}

std::int64_t total_bytes(const std::vector<std::string_view>& cells) {
  std::int64_t n = 0;
  for (auto c : cells) n += static_cast<std::int64_t>(c.size());
  return n;
}

// Every default detector, cells of range(0) bytes scanned in 64 KiB batches: one hs_scan each.
void bm_scan_batched(benchmark::State& state) {
  scanner sc(default_engine());
  auto cells = cells_of(corpus(10), static_cast<std::size_t>(state.range(0)));
  auto batches = batches_of(cells);
  std::vector<finding> f;
  std::size_t hits = 0;
  for (auto _ : state) {
    for (auto b : batches) hits += sc.scan(b, f);
  }
  benchmark::DoNotOptimize(hits);
  state.SetBytesProcessed(state.iterations() * total_bytes(cells));
  state.counters["findings/MB"] = static_cast<double>(hits) / static_cast<double>(state.iterations()) /
                                  (static_cast<double>(total_bytes(cells)) / 1e6);
}
BENCHMARK(bm_scan_batched)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);

// The headline figures: every default detector, 64 KiB batches (one relay read of DataRows).
// mixed: clinical rows as above; digit_dense: vitals/labs/codes sentences (synth::clinical_text,
// ~1 digit in 5 bytes, PHI every 10th sentence) cut into 64-byte cells.
void bm_mixed_rows(benchmark::State& state) {
  scanner sc(default_engine());
  const auto& cells = mixed_rows().cells;
  auto batches = batches_of(cells);
  std::vector<finding> f;
  std::size_t hits = 0;
  for (auto _ : state) {
    for (auto b : batches) hits += sc.scan(b, f);
  }
  benchmark::DoNotOptimize(hits);
  state.SetBytesProcessed(state.iterations() * total_bytes(cells));
  state.counters["findings/MB"] = static_cast<double>(hits) / static_cast<double>(state.iterations()) /
                                  (static_cast<double>(total_bytes(cells)) / 1e6);
}
BENCHMARK(bm_mixed_rows)->Unit(benchmark::kMillisecond);

void bm_digit_dense(benchmark::State& state) {
  scanner sc(default_engine());
  auto cells = cells_of(corpus(10), 64);
  auto batches = batches_of(cells);
  std::vector<finding> f;
  std::size_t hits = 0;
  for (auto _ : state) {
    for (auto b : batches) hits += sc.scan(b, f);
  }
  benchmark::DoNotOptimize(hits);
  state.SetBytesProcessed(state.iterations() * total_bytes(cells));
  state.counters["findings/MB"] = static_cast<double>(hits) / static_cast<double>(state.iterations()) /
                                  (static_cast<double>(total_bytes(cells)) / 1e6);
}
BENCHMARK(bm_digit_dense)->Unit(benchmark::kMillisecond);

// Scan + mask of the mixed rows: what a masked result costs the relay, rewrite included.
void bm_mixed_rows_scan_and_mask(benchmark::State& state) {
  scanner sc(default_engine());
  const auto& cells = mixed_rows().cells;
  auto batches = batches_of(cells);
  std::vector<finding> f;
  std::string out;
  counts c;
  for (auto _ : state) {
    for (auto b : batches) {
      sc.scan(b, f);
      finding_cursor cur(f);
      out.clear();
      for (std::size_t i = 0; i < b.size(); ++i) {
        (void)sc.mask_cell(b[i], cur.next(static_cast<std::uint32_t>(i)), value_kind::text, out, c);
      }
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * total_bytes(cells));
}
BENCHMARK(bm_mixed_rows_scan_and_mask)->Unit(benchmark::kMillisecond);

// The same cells, one hs_scan per cell: what batching saves.
void bm_scan_per_cell(benchmark::State& state) {
  scanner sc(default_engine());
  auto cells = cells_of(corpus(10), static_cast<std::size_t>(state.range(0)));
  std::vector<finding> f;
  std::size_t hits = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < cells.size(); ++i) hits += sc.scan({&cells[i], 1}, f);
  }
  benchmark::DoNotOptimize(hits);
  state.SetBytesProcessed(state.iterations() * total_bytes(cells));
}
BENCHMARK(bm_scan_per_cell)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);

// Large text blocks (statement text, CLI input): 1 MiB per scan, no copy.
void bm_scan_text_blocks(benchmark::State& state) {
  scanner sc(default_engine());
  const std::string& text = corpus(static_cast<int>(state.range(0)));
  std::vector<finding> f;
  std::size_t hits = 0;
  for (auto _ : state) {
    for (std::size_t p = 0; p < text.size(); p += 1u << 20) {
      std::string_view block(text.data() + p, std::min<std::size_t>(1u << 20, text.size() - p));
      hits += sc.scan({&block, 1}, f);
    }
  }
  benchmark::DoNotOptimize(hits);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_scan_text_blocks)->Arg(10)->Arg(0)->ArgNames({"phi_every"})->Unit(benchmark::kMillisecond);

void bm_scan_narrative(benchmark::State& state) {
  scanner sc(default_engine());
  const std::string& text = narrative(static_cast<int>(state.range(0)));
  std::vector<finding> f;
  std::size_t hits = 0;
  for (auto _ : state) {
    for (std::size_t p = 0; p < text.size(); p += 1u << 20) {
      std::string_view block(text.data() + p, std::min<std::size_t>(1u << 20, text.size() - p));
      hits += sc.scan({&block, 1}, f);
    }
  }
  benchmark::DoNotOptimize(hits);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_scan_narrative)->Arg(10)->Arg(0)->ArgNames({"phi_every"})->Unit(benchmark::kMillisecond);

// Scan + mask every cell into an output buffer: the whole per-result cost.
void bm_scan_and_mask(benchmark::State& state) {
  scanner sc(default_engine());
  auto cells = cells_of(corpus(10), static_cast<std::size_t>(state.range(0)));
  auto batches = batches_of(cells);
  std::vector<finding> f;
  std::string out;
  counts c;
  for (auto _ : state) {
    for (auto b : batches) {
      sc.scan(b, f);
      finding_cursor cur(f);
      out.clear();
      for (std::size_t i = 0; i < b.size(); ++i) {
        (void)sc.mask_cell(b[i], cur.next(static_cast<std::uint32_t>(i)), value_kind::text, out, c);
      }
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * total_bytes(cells));
}
BENCHMARK(bm_scan_and_mask)->Arg(64)->Unit(benchmark::kMillisecond);

int count_only(unsigned int, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  ++*static_cast<std::size_t*>(ctx);
  return 0;
}

// The built-in triggers alone (no validation) over the 8 MiB text: the prefilter, and the same
// triggers as one Hyperscan database (what the engine ran before the prefilter) for comparison.
// range(1): the code path (0 portable, 1 AVX2, 2 AVX-512; skipped when the CPU lacks it).
void bm_prefilter_only(benchmark::State& state) {
  auto e = default_engine();
  const auto& ts = e->internals().triggers;
  const std::string& text = state.range(0) != 0 ? mixed_rows().bytes : corpus(10);
  const auto path = static_cast<detail::prefilter_path>(state.range(1));
  std::vector<detail::trigger> out;
  if (!detail::find_triggers_on(path, ts, "", out)) {
    state.SkipWithError("this CPU lacks the path");
    return;
  }
  std::size_t matches = 0;
  for (auto _ : state) {
    for (std::size_t p = 0; p < text.size(); p += batch_bytes) {
      out.clear();
      detail::find_triggers_on(path, ts, std::string_view(text).substr(p, batch_bytes), out);
      matches += out.size();
    }
  }
  benchmark::DoNotOptimize(matches);
  static constexpr const char* names[] = {"portable", "AVX2", "AVX-512"};
  state.SetLabel(std::string(state.range(0) != 0 ? "mixed rows, " : "digit-dense, ") +
                 names[state.range(1)]);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_prefilter_only)
    ->ArgsProduct({{1, 0}, {2, 1, 0}})
    ->Unit(benchmark::kMillisecond);

void bm_hyperscan_triggers(benchmark::State& state) {
  auto e = default_engine();
  auto pats = detail::reference_patterns(e->internals().triggers);
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (std::size_t i = 0; i < pats.size(); ++i) {
    exprs.push_back(pats[i].expr.c_str());
    flags.push_back(0);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    state.SkipWithError("reference patterns do not compile");
    return;
  }
  detail::database_ptr dbp(db);
  hs_scratch_t* s = nullptr;
  hs_alloc_scratch(db, &s);
  detail::scratch_ptr scratch(s);
  const std::string& text = state.range(0) != 0 ? mixed_rows().bytes : corpus(10);
  std::size_t matches = 0;
  for (auto _ : state) {
    for (std::size_t p = 0; p < text.size(); p += batch_bytes) {
      const auto n = static_cast<unsigned>(std::min(batch_bytes, text.size() - p));
      hs_scan(db, text.data() + p, n, 0, scratch.get(), count_only, &matches);
    }
  }
  benchmark::DoNotOptimize(matches);
  state.SetLabel(state.range(0) != 0 ? "mixed rows" : "digit-dense");
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_hyperscan_triggers)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

// One detector at a time (range(0) = index into builtin_detector_ids()), text blocks.
void bm_one_detector(benchmark::State& state) {
  engine_options o;
  o.all_builtins = false;
  std::string id(builtin_detector_ids()[static_cast<std::size_t>(state.range(0))]);
  o.builtins = {id};
  auto e = engine::compile(o);
  scanner sc(*e);
  const std::string& text = corpus(10);
  std::vector<finding> f;
  for (auto _ : state) {
    for (std::size_t p = 0; p < text.size(); p += 1u << 20) {
      std::string_view block(text.data() + p, std::min<std::size_t>(1u << 20, text.size() - p));
      sc.scan({&block, 1}, f);
    }
  }
  state.SetLabel(id);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(bm_one_detector)->DenseRange(0, 12)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
