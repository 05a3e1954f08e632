// Audit append throughput: events/s through the journal with group commit, from one writer and
// from 8 concurrent "sessions" (threads), each waiting for its event to be on record as a
// session does before forwarding a statement.
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "audit/writer.hpp"

namespace {

using namespace gh;

struct fixture {
  std::filesystem::path dir;
  std::unique_ptr<audit::writer> w;
  fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("gh-audit-bench-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(dir);
    auto st = store::open_store("sqlite://" + (dir / "audit.db").string());
    if (!st || !(*st)->migrate()) std::abort();
    auto j = audit::journal::open((dir / "journal").string(), audit::sync_mode::write);
    if (!j) std::abort();
    w = std::make_unique<audit::writer>(std::move(*j), std::move(*st), (dir / "journal").string());
    w->start();
  }
  ~fixture() {
    w->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

audit::record sample(int i) {
  audit::record r;
  r.ts_us = audit::now_us();
  r.kind = "statement";
  r.session_id = "0123456789abcdef";
  r.user = "alice";
  r.groups = "clinicians";
  r.connection = "bench";
  r.client_addr = "127.0.0.1:50000";
  r.statement = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
  r.stmt_id = i;
  r.param_count = 1;
  return r;
}

// Each benchmark thread is a "session": its own io_context, a coroutine that appends one event
// and awaits it being on record before the next, as a session does before forwarding.
void bm_audit_append_wait(benchmark::State& state) {
  static fixture* fx = nullptr;
  if (state.thread_index() == 0) fx = new fixture();  // NOLINT: benchmark-scoped
  boost::asio::io_context io(1);
  int i = 0;
  for (auto _ : state) {
    std::string err = "pending";
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          std::vector<audit::record> v{sample(++i)};
          err = co_await fx->w->async_append(std::move(v), boost::asio::use_awaitable);
        },
        boost::asio::detached);
    io.run();
    io.restart();
    if (!err.empty()) std::abort();
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    auto s = fx->w->get_stats();
    state.counters["events_per_write"] =
        s.commits == 0 ? 0.0 : static_cast<double>(s.committed_events) / static_cast<double>(s.commits);
    delete fx;  // NOLINT: every thread has left the loop (benchmark's end barrier)
    fx = nullptr;
  }
}
BENCHMARK(bm_audit_append_wait)->Threads(1)->Threads(8)->UseRealTime();

void bm_audit_append_detached(benchmark::State& state) {
  fixture fx;
  int i = 0;
  for (auto _ : state) fx.w->append_detached(sample(++i));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_audit_append_detached)->UseRealTime();

void bm_encode_record(benchmark::State& state) {
  auto r = sample(1);
  std::string out;
  for (auto _ : state) {
    out.clear();
    audit::encode_record(r, audit::genesis_hash, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_encode_record);

}  // namespace

BENCHMARK_MAIN();
