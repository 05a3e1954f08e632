#include <gtest/gtest.h>
#include "dlp/dlp.hpp"
TEST(Smoke, Compiles) {
  auto p = gh::dlp::default_policy();
  ASSERT_TRUE(p.ok()) << p.err();
}
