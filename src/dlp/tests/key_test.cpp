// The hash key file: created once with 0600, reused, refused when unsafe or damaged.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

namespace fs = std::filesystem;

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "gh-dlp-key-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(KeyFile, CreatedOnceWithOwnerOnlyPermissionsThenReused) {
  const fs::path state = dir_ / "var";
  auto a = load_or_create_key(state.string());
  ASSERT_TRUE(a.ok()) << a.err();
  struct stat st {};
  ASSERT_EQ(::stat((state / "dlp.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto b = load_or_create_key(state.string());
  ASSERT_TRUE(b.ok()) << b.err();
  EXPECT_TRUE(std::equal(a->bytes().begin(), a->bytes().end(), b->bytes().begin()));
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(state)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u) << "no temp file left behind";
}

TEST_F(KeyFile, RefusesAReadableOrDamagedKey) {
  auto k = load_or_create_key(dir_.string());
  ASSERT_TRUE(k.ok());
  const fs::path p = dir_ / "dlp.key";
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  auto r = load_or_create_key(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("chmod 600"), std::string::npos) << r.err();
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(p, std::ios::binary | std::ios::app) << "x";
  r = load_or_create_key(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("32 bytes"), std::string::npos) << r.err();
}

TEST_F(KeyFile, DifferentDirectoriesGetDifferentKeys) {
  auto a = load_or_create_key((dir_ / "a").string());
  auto b = load_or_create_key((dir_ / "b").string());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(std::equal(a->bytes().begin(), a->bytes().end(), b->bytes().begin()));
}

}  // namespace
}  // namespace gh::dlp
