#pragma once
// Shared helpers for the config tests: a temp dir (core/tests/temp_dir.hpp) and the location of
// tests/testdata/config (works with or without ctest's GATEHOUSE_TESTDATA).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/tests/temp_dir.hpp"

namespace gh::config::testing {

using temp_dir = gh::testing::temp_dir;

inline std::filesystem::path testdata_dir() {
  if (const char* d = std::getenv("GATEHOUSE_TESTDATA"); d != nullptr && *d != '\0') {
    return std::filesystem::path(d) / "config";
  }
  // Running the binary by hand: find the fixtures relative to this source file.
  return (std::filesystem::path(__FILE__).parent_path() / "../../../tests/testdata/config")
      .lexically_normal();
}

}  // namespace gh::config::testing
