#pragma once
// A fresh directory under the system temp dir for one test, removed with everything in it when
// the object goes out of scope. Shared by the unit tests of every module (tests/e2e has its own
// in harness.hpp, which also makes it traversable for the postgres user).
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace gh::testing {

class temp_dir {
 public:
  // `prefix` names the directory (prefix-XXXXXX), so a leftover one says which test made it.
  explicit temp_dir(std::string_view prefix = "gh-test") {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  // Empty if the directory could not be made (the test then fails on its first use).
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

}  // namespace gh::testing
