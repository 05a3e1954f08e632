// Engine-level invariants: the built-in set matches config's list, and detector selection.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "config/masking.hpp"
#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

TEST(Engine, BuiltinIdsAreConfigsList) {
  auto ids = builtin_detector_ids();
  ASSERT_EQ(ids.size(), config::builtin_detector_ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ids[i], config::builtin_detector_ids[i]);
    EXPECT_NE(builtin_detector(ids[i]), nullptr) << ids[i];
  }
  EXPECT_EQ(builtin_detector("nope"), nullptr);
}

TEST(Engine, OnlySelectedDetectorsRun) {
  for (auto id : builtin_detector_ids()) {
    engine_options o;
    o.all_builtins = false;
    o.builtins = {std::string(id)};
    auto e = testing::compile_or_die(o);
    ASSERT_EQ(e->detector_count(), 1u);
    scanner sc(e);
    std::vector<finding> f;
    std::vector<std::string_view> cells = {
        "SSN 123-45-6789 card 4111111111111111 a@example.com (555) 234-5678 DOB: 03/04/1961 "
        "MRN: 00123456 NPI 1234567893 10.0.0.1 2001:db8::1 DE89 3704 0044 0532 0130 00 "
        "passport 123456789 DL D1234567 lives at 12 Main St"};
    sc.scan(cells, f);
    ASSERT_EQ(f.size(), 1u) << id;
    EXPECT_EQ(e->detector(f[0].detector).id, id);
  }
}

TEST(Engine, NoDetectorsAtAll) {
  engine_options o;
  o.all_builtins = false;
  scanner sc(testing::compile_or_die(o));
  std::vector<finding> f;
  std::vector<std::string_view> cells = {"123-45-6789"};
  EXPECT_EQ(sc.scan(cells, f), 0u);
  EXPECT_EQ(testing::mask(sc, "123-45-6789"), "123-45-6789");
}

TEST(Engine, UnknownBuiltinIsAnError) {
  engine_options o;
  o.all_builtins = false;
  o.builtins = {"us_sn"};
  EXPECT_FALSE(engine::compile(o).ok());
}

TEST(Engine, SharedByThreads) {
  auto e = testing::default_engine();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      scanner sc(e);
      for (int i = 0; i < 200; ++i) {
        if (testing::mask(sc, "ssn 123-45-6789 x") != "ssn [SSN] x") ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace gh::dlp
