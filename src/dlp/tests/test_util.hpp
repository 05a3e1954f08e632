#pragma once
// Shared helpers for the dlp tests: the default engine (compiled once per test binary), the
// tests/testdata/dlp directory, and scan/mask shortcuts.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "dlp/dlp.hpp"

namespace gh::dlp::testing {

inline std::filesystem::path testdata_dir() {
  if (const char* d = std::getenv("GATEHOUSE_TESTDATA"); d != nullptr && *d != '\0') {
    return std::filesystem::path(d) / "dlp";
  }
  return (std::filesystem::path(__FILE__).parent_path() / "../../../tests/testdata/dlp")
      .lexically_normal();
}

inline std::shared_ptr<const engine> default_engine() {
  static std::shared_ptr<const engine> e = [] {
    auto r = engine::compile(engine_options{});
    if (!r) std::abort();
    return *r;
  }();
  return e;
}

inline std::shared_ptr<const engine> compile_or_die(const engine_options& o) {
  auto r = engine::compile(o);
  if (!r) {
    std::fprintf(stderr, "compile failed: %s\n", r.err().c_str());
    std::abort();
  }
  return *r;
}

// Findings of one text scanned alone.
inline std::vector<finding> scan_one(scanner& sc, std::string_view text) {
  std::vector<finding> f;
  std::string_view cells[1] = {text};
  sc.scan(cells, f);
  return f;
}

inline std::string mask(scanner& sc, std::string_view text) {
  counts c;
  return sc.mask_text(text, c);
}

// "id[begin,end)" for readable failure messages (test data is synthetic).
inline std::string describe(const engine& e, std::string_view cell, const finding& f) {
  return std::string(e.detector(f.detector).id) + "[" + std::to_string(f.begin) + "," +
         std::to_string(f.end) + ")=\"" + std::string(cell.substr(f.begin, f.end - f.begin)) + "\"";
}

}  // namespace gh::dlp::testing
