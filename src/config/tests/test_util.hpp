#pragma once
// Shared helpers for the config tests: a temp dir removed at scope exit, file writing, and the
// location of tests/testdata/config (works with or without ctest's GATEHOUSE_TESTDATA).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace gh::config::testing {

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gh-config-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  // Writes `content` to path()/rel, creating parent folders; returns the full path.
  std::filesystem::path write(const std::string& rel, const std::string& content) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::filesystem::path path_;
};

inline std::filesystem::path testdata_dir() {
  if (const char* d = std::getenv("GATEHOUSE_TESTDATA"); d != nullptr && *d != '\0') {
    return std::filesystem::path(d) / "config";
  }
  // Running the binary by hand: find the fixtures relative to this source file.
  return (std::filesystem::path(__FILE__).parent_path() / "../../../tests/testdata/config")
      .lexically_normal();
}

}  // namespace gh::config::testing
