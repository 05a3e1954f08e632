// Precision/recall of the masking engine on synthetic labelled data (src/dlp/synth.hpp):
// positives of every built-in detector embedded in clinical-like sentences, and near-miss
// negatives (bad checksums, impossible ranges, missing context). All values are generated.
//
// usage: dlp_corpus [--n N] [--seed S] [--show K]
//   recall    = share of positives found by the right detector, covering the whole value
//   masked    = share of positives covered by any finding (what matters for leaks)
//   near-miss = share of near-misses where any finding overlaps the near-miss value
//   background: findings in the surrounding clinical text (no PHI there), per MB
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dlp/dlp.hpp"
#include "dlp/synth.hpp"

namespace {

using namespace gh::dlp;

struct result_row {
  std::size_t n = 0, right = 0, masked = 0, neg = 0, neg_hit = 0;
};

bool covers(const finding& f, const synth::sample& s) { return f.begin <= s.begin && f.end >= s.end; }
bool overlaps(const finding& f, const synth::sample& s) { return f.begin < s.end && f.end > s.begin; }

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 2000;
  std::uint64_t seed = 7;
  int show = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--n")) n = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--show")) show = std::atoi(argv[i + 1]);
  }
  auto eng = engine::compile(engine_options{});
  if (!eng) {
    std::fprintf(stderr, "%s\n", eng.err().c_str());
    return 1;
  }
  scanner sc(*eng);
  synth::rng r(seed);
  const auto ids = builtin_detector_ids();

  std::vector<synth::sample> pos, neg;
  for (auto id : ids) {
    for (std::size_t i = 0; i < n; ++i) pos.push_back(synth::positive(r, id));
    for (std::size_t i = 0; i < n; ++i) neg.push_back(synth::near_miss(r, id));
  }
  auto run = [&](const std::vector<synth::sample>& samples, std::vector<finding>& f) {
    std::vector<std::string_view> cells;
    cells.reserve(samples.size());
    for (const auto& s : samples) cells.emplace_back(s.text);
    sc.scan(cells, f);  // one batch, as the gateway scans a result
  };
  std::vector<finding> fp, fn;
  run(pos, fp);
  run(neg, fn);

  std::vector<result_row> rows(ids.size());
  std::size_t background = 0, background_bytes = 0;
  std::vector<int> shown(ids.size(), 0), shown_neg(ids.size(), 0);
  auto index_of = [&](std::string_view id) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) return i;
    }
    return ids.size();
  };
  finding_cursor cp(fp);
  for (std::size_t i = 0; i < pos.size(); ++i) {
    const auto& s = pos[i];
    auto& row = rows[index_of(s.detector)];
    ++row.n;
    bool right = false, masked = false;
    for (const auto& f : cp.next(static_cast<std::uint32_t>(i))) {
      if (covers(f, s)) {
        masked = true;
        right = right || (*eng)->detector(f.detector).id == s.detector;
      } else if (!overlaps(f, s)) {
        ++background;
      }
    }
    background_bytes += s.text.size() - (s.end - s.begin);
    row.right += right;
    row.masked += masked;
    if (!right && shown[index_of(s.detector)]++ < show)
      std::printf("MISS %-16s %s\n", s.detector.c_str(), s.text.c_str());
  }
  finding_cursor cn(fn);
  for (std::size_t i = 0; i < neg.size(); ++i) {
    const auto& s = neg[i];
    auto& row = rows[index_of(s.detector)];
    ++row.neg;
    bool hit = false;
    for (const auto& f : cn.next(static_cast<std::uint32_t>(i))) {
      if (overlaps(f, s)) {
        hit = true;
        if (shown_neg[index_of(s.detector)]++ < show)
          std::printf("FP   %-16s [%s] %s\n", s.detector.c_str(),
                      std::string((*eng)->detector(f.detector).id).c_str(), s.text.c_str());
      } else {
        ++background;
      }
    }
    background_bytes += s.text.size() - (s.end - s.begin);
    row.neg_hit += hit;
  }

  std::printf("%-16s %8s %8s %8s %10s\n", "detector", "n", "recall", "masked", "near-miss FP");
  result_row total;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& row = rows[i];
    std::printf("%-16s %8zu %8.4f %8.4f %10.4f\n", std::string(ids[i]).c_str(), row.n,
                static_cast<double>(row.right) / static_cast<double>(row.n),
                static_cast<double>(row.masked) / static_cast<double>(row.n),
                static_cast<double>(row.neg_hit) / static_cast<double>(row.neg));
    total.n += row.n;
    total.right += row.right;
    total.masked += row.masked;
    total.neg += row.neg;
    total.neg_hit += row.neg_hit;
  }
  std::printf("%-16s %8zu %8.4f %8.4f %10.4f\n", "all", total.n,
              static_cast<double>(total.right) / static_cast<double>(total.n),
              static_cast<double>(total.masked) / static_cast<double>(total.n),
              static_cast<double>(total.neg_hit) / static_cast<double>(total.neg));
  std::printf("background findings in PHI-free clinical text: %zu in %.2f MB (%.2f per MB)\n",
              background, static_cast<double>(background_bytes) / 1e6,
              static_cast<double>(background) / (static_cast<double>(background_bytes) / 1e6));
  return 0;
}
