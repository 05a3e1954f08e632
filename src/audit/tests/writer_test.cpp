// The audit writer: a waiter's handler runs once its records are in the journal, on the waiter's
// executor; concurrent appends all commit in per-thread order with gapless seqs; a journal write
// failure refuses the waiter (fail closed) and the next write works again; a locked index store
// never blocks appends and is caught up from the journal; stop() drains the index and later
// appends fail.
#include "audit/writer.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <filesystem>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/journal.hpp"
#include "store/tests/test_util.hpp"

namespace gh::audit {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using store::testing::make_record;
using store::testing::raw_connection;
using store::testing::scan_all;
using store::testing::temp_dir;

std::unique_ptr<store::store> open_migrated(const std::string& url, int busy_timeout_ms = 2000) {
  auto s = store::open_store(url, busy_timeout_ms);
  EXPECT_TRUE(s.ok()) << s.err();
  if (!s) return nullptr;
  auto m = (*s)->migrate();
  EXPECT_TRUE(m.ok()) << m.err();
  return std::move(*s);
}

// Appends and blocks until the handler ran; returns what it received.
std::string append_and_wait(writer& w, std::vector<record> recs) {
  std::promise<std::string> done;
  auto f = done.get_future();
  w.async_append(std::move(recs), [&done](std::string err) { done.set_value(std::move(err)); });
  return f.get();
}

class audit_writer : public ::testing::Test {
 protected:
  // Opens store and journal the way `gatehouse serve` does; the writer is not started.
  void open(int busy_timeout_ms = 2000) {
    auto st = open_migrated(dir_.url(), busy_timeout_ms);
    ASSERT_NE(st, nullptr);
    auto max = st->max_seq();
    ASSERT_TRUE(max.ok()) << max.err();
    auto j = journal::open(journal_dir(), sync_mode::write, *max + 1);
    ASSERT_TRUE(j.ok()) << j.err();
    w_ = std::make_unique<writer>(std::move(*j), std::move(st), journal_dir());
  }
  void open_and_start(int busy_timeout_ms = 2000) {
    open(busy_timeout_ms);
    if (w_) w_->start();
  }

  [[nodiscard]] std::string journal_dir() const { return (dir_.path() / "journal").string(); }

  std::vector<record> journal_records() {
    std::vector<record> out;
    auto s = journal::read(journal_dir(), 0, [&](record&& r) { out.push_back(std::move(r)); });
    EXPECT_TRUE(s.ok()) << s.err();
    return out;
  }
  std::vector<record> index_records() {
    auto reader = open_migrated(dir_.url());
    if (!reader) return {};
    return scan_all(*reader);
  }

  temp_dir dir_;
  std::unique_ptr<writer> w_;
};

TEST_F(audit_writer, coroutine_resumes_once_the_records_are_in_the_journal) {
  open_and_start();
  ASSERT_NE(w_, nullptr);
  asio::io_context io;
  std::optional<std::string> got;
  std::vector<record> seen;
  bool on_io_thread = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::vector<record> recs = {make_record(1, "session.start"), make_record(2, "statement")};
        got = co_await w_->async_append(std::move(recs), asio::use_awaitable);
        on_io_thread = io.get_executor().running_in_this_thread();
        seen = journal_records();  // on record the moment the waiter resumes
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(got.has_value()) << "the append never completed";
  EXPECT_EQ(*got, "");
  EXPECT_TRUE(on_io_thread);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].seq, 1);
  EXPECT_EQ(seen[0].kind, "session.start");
  EXPECT_EQ(seen[1].seq, 2);

  w_->stop();  // drains the index
  auto indexed = index_records();
  ASSERT_EQ(indexed.size(), 2u);
  EXPECT_EQ(indexed[0].seq, 1);
  EXPECT_EQ(indexed[1].seq, 2);
  EXPECT_EQ(indexed[1].kind, "statement");
  auto st = w_->get_stats();
  EXPECT_EQ(st.committed_events, 2u);
  EXPECT_GE(st.commits, 1u);
  EXPECT_EQ(st.failed_events, 0u);
  EXPECT_EQ(st.indexed_events, 2u);
}

TEST_F(audit_writer, callback_runs_on_the_waiters_executor) {
  open_and_start();
  ASSERT_NE(w_, nullptr);
  asio::io_context io;
  std::optional<std::string> got;
  bool on_io_thread = false;
  std::size_t seen = 0;
  w_->async_append({make_record(10, "auth.ok")}, asio::bind_executor(io, [&](std::string err) {
                     got = std::move(err);
                     on_io_thread = io.get_executor().running_in_this_thread();
                     seen = journal_records().size();
                   }));
  io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "");
  EXPECT_TRUE(on_io_thread) << "handler ran outside the waiter's executor";
  EXPECT_EQ(seen, 1u);
}

TEST_F(audit_writer, concurrent_appends_from_eight_threads_all_commit_in_order) {
  open_and_start();
  ASSERT_NE(w_, nullptr);
  constexpr int threads = 8;
  constexpr int per_thread = 150;
  std::latch done(threads * per_thread);
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto r = make_record(i, "statement", "u" + std::to_string(t), "c", "t" + std::to_string(t),
                             i);
        if (i % 10 == 9) {
          // Detached appends share the queue; they keep their place in the order too.
          w_->append_detached(std::move(r));
          done.count_down();
          continue;
        }
        w_->async_append({std::move(r)}, [&](std::string err) {
          if (!err.empty()) {
            std::lock_guard lk(mu);
            errors.push_back(std::move(err));
          }
          done.count_down();
        });
      }
    });
  }
  for (auto& th : pool) th.join();
  done.wait();
  w_->stop();
  EXPECT_TRUE(errors.empty()) << errors.size() << " failed, first: " << errors.front();

  auto check = [&](const std::vector<record>& all, const char* where) {
    ASSERT_EQ(all.size(), static_cast<std::size_t>(threads * per_thread)) << where;
    std::map<std::string, std::vector<std::int64_t>> per_session;
    for (std::size_t i = 0; i < all.size(); ++i) {
      ASSERT_EQ(all[i].seq, static_cast<std::int64_t>(i) + 1) << where << ": seqs have a gap";
      per_session[all[i].session_id].push_back(all[i].stmt_id);
    }
    ASSERT_EQ(per_session.size(), static_cast<std::size_t>(threads)) << where;
    for (const auto& [session, ids] : per_session) {
      ASSERT_EQ(ids.size(), static_cast<std::size_t>(per_thread)) << where << " " << session;
      for (int i = 0; i < per_thread; ++i)
        ASSERT_EQ(ids[static_cast<std::size_t>(i)], i) << where << " " << session << " at " << i;
    }
  };
  check(journal_records(), "journal");
  check(index_records(), "index");
  auto st = w_->get_stats();
  EXPECT_EQ(st.committed_events, static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_GE(st.commits, 1u);
  EXPECT_LE(st.commits, static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_EQ(st.failed_events, 0u);
}

// Lowers the process's file size limit (what a full disk or quota looks like to write(2)) and
// restores it, and SIGXFSZ's disposition, at scope exit.
class file_size_limit {
 public:
  explicit file_size_limit(rlim_t bytes) {
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    ok_ = ::getrlimit(RLIMIT_FSIZE, &old_) == 0;
    rlimit lower = old_;
    lower.rlim_cur = bytes;
    ok_ = ok_ && ::setrlimit(RLIMIT_FSIZE, &lower) == 0;
  }
  ~file_size_limit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  file_size_limit(const file_size_limit&) = delete;
  file_size_limit& operator=(const file_size_limit&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = SIG_DFL;
  bool ok_ = false;
};

fs::path only_segment(const std::string& dir) {
  std::vector<fs::path> segs;
  for (const auto& e : fs::directory_iterator(dir)) segs.push_back(e.path());
  EXPECT_EQ(segs.size(), 1u);
  return segs.empty() ? fs::path() : segs.front();
}

TEST_F(audit_writer, journal_write_failure_refuses_the_waiter_then_recovers) {
  // Not started: no indexer thread touching SQLite files while the file size limit is low.
  open();
  ASSERT_NE(w_, nullptr);
  ASSERT_EQ(append_and_wait(*w_, {make_record(1, "session.start")}), "");
  const auto seg = only_segment(journal_dir());
  const auto size = fs::file_size(seg);
  {
    // Room for 10 more bytes: the batch is half written, then the write fails.
    file_size_limit limit(size + 10);
    ASSERT_TRUE(limit.ok());
    auto big = make_record(2, "statement");
    big.statement = std::string(500, 'x');
    auto err = append_and_wait(*w_, {big});
    EXPECT_FALSE(err.empty()) << "append reported success although the journal write failed";
    EXPECT_NE(err.find("journal"), std::string::npos) << err;
    // Detached events fail the same way (counted, not silently kept in memory).
    w_->append_detached(make_record(3, "statement"));
  }
  // All or nothing: the half-written line was cut back.
  EXPECT_EQ(fs::file_size(seg), size);

  // No restart needed: the next write goes through and takes the next seq without a gap.
  EXPECT_EQ(append_and_wait(*w_, {make_record(4, "statement")}), "");
  w_->start();
  w_->stop();

  auto journal = journal_records();
  ASSERT_EQ(journal.size(), 2u);
  EXPECT_EQ(journal[0].seq, 1);
  EXPECT_EQ(journal[1].seq, 2);
  EXPECT_EQ(journal[1].ts_us, 4);
  auto indexed = index_records();
  ASSERT_EQ(indexed.size(), 2u);
  EXPECT_EQ(indexed[1].ts_us, 4);
  auto st = w_->get_stats();
  EXPECT_EQ(st.committed_events, 2u);
  EXPECT_EQ(st.failed_events, 2u);
}

TEST_F(audit_writer, locked_index_store_never_fails_appends) {
  open_and_start(/*busy_timeout_ms=*/200);
  ASSERT_NE(w_, nullptr);
  {
    raw_connection other(dir_.db_path());
    ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), "");
    // The journal is the record: appends succeed although the index cannot be written.
    EXPECT_EQ(append_and_wait(*w_, {make_record(1, "session.start")}), "");
    EXPECT_EQ(append_and_wait(*w_, {make_record(2, "statement")}), "");
    w_->append_detached(make_record(3, "session.end"));
    EXPECT_EQ(journal_records().size(), 3u);
    EXPECT_EQ(w_->get_stats().indexed_events, 0u);  // cannot have committed under the lock
    ASSERT_EQ(other.exec("ROLLBACK"), "");
  }
  EXPECT_EQ(append_and_wait(*w_, {make_record(4, "statement")}), "");
  w_->stop();
  auto indexed = index_records();
  ASSERT_EQ(indexed.size(), 4u);
  for (std::size_t i = 0; i < indexed.size(); ++i) {
    EXPECT_EQ(indexed[i].seq, static_cast<std::int64_t>(i) + 1);
    EXPECT_EQ(indexed[i].ts_us, static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ(w_->get_stats().failed_events, 0u);
}

TEST_F(audit_writer, index_left_behind_by_a_locked_store_is_caught_up_from_the_journal) {
  open_and_start(/*busy_timeout_ms=*/100);
  ASSERT_NE(w_, nullptr);
  raw_connection other(dir_.db_path());
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), "");
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(append_and_wait(*w_, {make_record(i, "statement")}), "");
  // Stopping with the store still locked: the index cannot take the events...
  w_->stop();
  EXPECT_EQ(w_->get_stats().committed_events, 3u);
  EXPECT_EQ(w_->get_stats().indexed_events, 0u);
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM audit_events"), 0);
  ASSERT_EQ(other.exec("ROLLBACK"), "");
  // ...but nothing is lost: the next start catches up from the journal.
  auto st = open_migrated(dir_.url());
  ASSERT_NE(st, nullptr);
  auto added = catch_up(*st, journal_dir());
  ASSERT_TRUE(added.ok()) << added.err();
  EXPECT_EQ(*added, 3);
  auto indexed = scan_all(*st);
  ASSERT_EQ(indexed.size(), 3u);
  EXPECT_EQ(indexed[2].seq, 3);
}

TEST_F(audit_writer, stop_drains_detached_appends_into_the_index) {
  open_and_start();
  ASSERT_NE(w_, nullptr);
  constexpr int n = 300;
  for (int i = 0; i < n; ++i) w_->append_detached(make_record(i, "statement"));
  w_->stop();
  auto indexed = index_records();
  ASSERT_EQ(indexed.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(indexed[static_cast<std::size_t>(i)].ts_us, i);
  EXPECT_EQ(journal_records().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(w_->get_stats().committed_events, static_cast<std::uint64_t>(n));
}

TEST_F(audit_writer, destructor_drains_like_stop) {
  open_and_start();
  ASSERT_NE(w_, nullptr);
  for (int i = 0; i < 20; ++i) w_->append_detached(make_record(i, "statement"));
  w_.reset();
  EXPECT_EQ(index_records().size(), 20u);
}

TEST_F(audit_writer, appends_after_stop_fail) {
  open_and_start();
  ASSERT_NE(w_, nullptr);
  EXPECT_EQ(append_and_wait(*w_, {make_record(1, "session.start")}), "");
  w_->stop();
  w_->stop();  // idempotent

  auto err = append_and_wait(*w_, {make_record(2, "statement")});
  EXPECT_NE(err.find("stopped"), std::string::npos) << "got: '" << err << "'";
  w_->append_detached(make_record(3, "statement"));  // must not be written, crash or hang
  w_->start();                                       // a stopped writer does not restart

  asio::io_context io;
  std::optional<std::string> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::vector<record> recs = {make_record(4, "statement")};
        got = co_await w_->async_append(std::move(recs), asio::use_awaitable);
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->empty());
  EXPECT_EQ(journal_records().size(), 1u);
  EXPECT_EQ(index_records().size(), 1u);
}

TEST_F(audit_writer, a_restart_continues_the_seqs_and_catch_up_fills_a_new_index) {
  open_and_start();
  ASSERT_NE(w_, nullptr);
  for (int i = 1; i <= 5; ++i)
    ASSERT_EQ(append_and_wait(*w_, {make_record(i, "statement")}), "");
  w_.reset();

  open_and_start();
  ASSERT_NE(w_, nullptr);
  ASSERT_EQ(append_and_wait(*w_, {make_record(6, "statement")}), "");
  w_.reset();
  auto journal = journal_records();
  ASSERT_EQ(journal.size(), 6u);
  EXPECT_EQ(journal.back().seq, 6);

  // A fresh, empty index (lost or new store file) is rebuilt from the journal, once.
  auto fresh = open_migrated("sqlite://" + (dir_.path() / "fresh.db").string());
  ASSERT_NE(fresh, nullptr);
  auto added = catch_up(*fresh, journal_dir());
  ASSERT_TRUE(added.ok()) << added.err();
  EXPECT_EQ(*added, 6);
  auto again = catch_up(*fresh, journal_dir());
  ASSERT_TRUE(again.ok()) << again.err();
  EXPECT_EQ(*again, 0);
  auto rebuilt = scan_all(*fresh);
  ASSERT_EQ(rebuilt.size(), 6u);
  for (std::size_t i = 0; i < rebuilt.size(); ++i)
    EXPECT_EQ(rebuilt[i].seq, static_cast<std::int64_t>(i) + 1);
}

}  // namespace
}  // namespace gh::audit
