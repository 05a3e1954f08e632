#pragma once
// The audit writer. Every event goes to the append-only journal first; the caller's own thread
// writes it (leader/follower group commit: whoever finds no write in progress writes everything
// queued so far with one write(2), later arrivals ride on the next one). A session that must not
// act before its event is on record awaits async_append(): the handler runs on the session's
// executor once the write holding its records returned, with "" or the error. An indexer thread
// copies committed events into the queryable store (SQLite) behind the journal; it can lag and
// catch up, the journal is the record.
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/journal.hpp"
#include "audit/signer.hpp"
#include "store/store.hpp"

namespace gh::audit {

using record = store::audit_record;

// Kind of the signed checkpoint events in the chain.
inline constexpr std::string_view checkpoint_kind = "audit.checkpoint";
// The latest checkpoint is also kept beside the journal (head.json), so a trail cut back past
// its last checkpoint is detected.
inline constexpr std::string_view head_file = "head.json";

[[nodiscard]] std::int64_t now_us();

// Kind of the event that records a retention prune (signed by the next checkpoint).
inline constexpr std::string_view pruned_kind = "audit.pruned";
// Kind of the event that ends a terminal recording (src/record); retention removes a recording
// with the journal segment that holds its end.
inline constexpr std::string_view recording_end_kind = "recording.end";
// Kind of the event that starts one.
inline constexpr std::string_view recording_start_kind = "recording.start";

struct checkpoint_policy {
  std::int64_t every_events = 1000;         // sign the head after this many events...
  std::chrono::milliseconds every{10'000};  // ...or this long after the first unsigned one
};

// Copies journal records the store does not have yet into it (startup, and `audit export` from
// another process). Returns how many were added.
[[nodiscard]] result<std::int64_t> catch_up(store::store& st, const std::string& journal_dir);

class writer {
 public:
  // A move-only callback that posts the completion to the waiter's own executor.
  class handler {
   public:
    handler() = default;
    template <typename H>
    explicit handler(H h) : impl_(std::make_unique<impl<H>>(std::move(h))) {}
    explicit operator bool() const { return impl_ != nullptr; }
    void complete(std::string err) && {
      auto p = std::move(impl_);
      p->complete(std::move(err));
    }

   private:
    struct base {
      virtual ~base() = default;
      virtual void complete(std::string err) = 0;
    };
    template <typename H>
    struct impl final : base {
      explicit impl(H h) : h_(std::move(h)) {}
      void complete(std::string err) override {
        auto ex = boost::asio::get_associated_executor(h_);
        boost::asio::post(ex, [h = std::move(h_), err = std::move(err)]() mutable {
          std::move(h)(std::move(err));
        });
      }
      H h_;
    };
    std::unique_ptr<base> impl_;
  };

  // `sign` signs checkpoints (none: no checkpoints, for tools that only read).
  writer(std::unique_ptr<journal> j, std::unique_ptr<store::store> index, std::string journal_dir,
         std::unique_ptr<signer> sign = nullptr, checkpoint_policy cp = {});
  ~writer();
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  void start();
  // Writes everything queued, lets the indexer drain, joins it. Later appends fail.
  void stop();

  template <typename Token>
  auto async_append(std::vector<record> recs, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::string)>(
        [this](auto h, std::vector<record> r) { submit(std::move(r), handler(std::move(h))); },
        token, std::move(recs));
  }

  // The fast path of async_append: when no write is in progress, writes `recs` (and anything
  // queued) right here on the caller's thread and returns the outcome ("" or the error) without
  // a trip through the caller's event loop. Returns nullopt, leaving `recs` untouched, when
  // another thread is writing: then use async_append.
  [[nodiscard]] std::optional<std::string> try_append_now(std::vector<record>& recs);

  // Retention: removes whole journal segments (and their index rows) whose newest event is older
  // than `cutoff_us` and which lie entirely under a signed checkpoint, after recording an
  // `audit.pruned` event naming the last pruned seq and its hash, so the rest still verifies.
  // Terminal recordings (folders `<dir>/<recording id>`) whose `recording.end` event is in a pruned
  // segment are removed after the prune is on record, so they too go only under a checkpoint
  // and only once their session ended before the cutoff. So are orphans: recordings named in a
  // pruned segment but never ended (the gateway stopped mid-session), whose newest event predates
  // this writer's start (no session of this process is writing them) and which no event the
  // prune keeps names. Returns how many events were pruned.
  [[nodiscard]] result<std::int64_t> prune_before(std::int64_t cutoff_us);
  // Where terminal recordings live (state_dir/recordings); empty: retention leaves them alone.
  void set_recordings_dir(std::string dir);
  // Runs prune_before(now - retention) on the indexer thread every `every` (0: never).
  void set_retention(std::chrono::milliseconds retention, std::chrono::milliseconds every);

  // Queued like the others; nobody waits for it. A failure is counted and logged.
  void append_detached(record r);
  // Queued without a write of its own: it goes out with the next write anyone makes, or within
  // `lazy_flush` (statement results, whose actions already happened, need no write per event).
  void append_lazy(record r);

  struct stats {
    std::uint64_t committed_events = 0;
    std::uint64_t commits = 0;  // journal writes
    std::uint64_t failed_events = 0;
    std::uint64_t indexed_events = 0;
  };
  [[nodiscard]] stats get_stats() const;

 private:
  void submit(std::vector<record> recs, handler h);
  // Writes queued until the queue is empty; called with mu_ held and writing_ false.
  // Returns the outcome of its first write, which holds everything queued when it was called.
  std::string lead(std::unique_lock<std::mutex>& lk);
  // Housekeeping at normal priority: lazy events nobody else wrote, checkpoints, retention.
  void run_housekeeping();
  // Feeds the index (SQLite) at the lowest priority (nice 19): a derived view, rebuilt from the journal when it
  // falls behind, so under full load its CPU goes to sessions first.
  void run_index_worker();
  static void fold_results(std::vector<record>& batch);
  // Puts a checkpoint event in the queue if there are unsigned events (mu_ held).
  void queue_checkpoint_locked();
  void fill_checkpoint(record& r, const std::string& head_hash) const;
  void write_head(const record& checkpoint) const;

  std::unique_ptr<journal> journal_;
  std::unique_ptr<signer> signer_;
  checkpoint_policy cp_;
  std::int64_t unsigned_events_ = 0;  // written since the last checkpoint
  std::int64_t last_checkpoint_seq_ = 0;
  std::chrono::milliseconds retention_{0};
  std::chrono::milliseconds retention_every_{0};
  std::chrono::steady_clock::time_point first_unsigned_{};
  std::unique_ptr<store::store> index_;
  std::string journal_dir_;
  std::string recordings_dir_;  // guarded by mu_

  mutable std::mutex mu_;
  // Waiting for the next journal write (filled by any thread, taken by the leader).
  std::vector<record> queued_;
  std::vector<handler> waiters_;
  bool writing_ = false;
  bool stopped_ = false;
  stats stats_;

  // Committed, waiting for the indexer.
  std::condition_variable index_cv_;
  // When start() ran: recordings started before it belong to no live session of this process.
  std::int64_t started_us_ = 0;
  // The housekeeping thread sleeps on this; idle: it has nothing to flush or sign and waits for
  // wake_housekeeping_locked() (mu_ held).
  std::condition_variable housekeeping_cv_;
  bool housekeeping_idle_ = false;
  void wake_housekeeping_locked();
  // The index worker, likewise: idle while there is nothing to index (index_cv_, mu_ held).
  bool index_idle_ = false;
  void wake_index_worker_locked();
  std::vector<record> to_index_;
  bool index_lagging_ = false;  // dropped from memory after a store failure; reread the journal
  bool index_stop_ = false;
  std::thread indexer_;       // run_housekeeping
  std::thread index_worker_;  // run_index_worker
  // Serialises use of index_ between the index worker and retention (a store is one-thread).
  std::mutex index_mu_;
  std::int64_t pending_index_prune_ = 0;  // retention's index prune, when the worker was busy
};

}  // namespace gh::audit
