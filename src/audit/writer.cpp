#include "audit/writer.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include <boost/json.hpp>
#include <chrono>
#include <unordered_map>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace gh::audit {

namespace {
// Past this many events waiting for the index, drop them from memory and reread the journal
// later: the index is never allowed to hold the gateway's memory hostage.
constexpr std::size_t max_index_backlog = 50'000;
// Rows per index transaction (catch-up and the index worker alike): short, so the low-priority
// worker never holds SQLite's write lock for long.
constexpr std::size_t index_commit_rows = 1000;
// How long a lazy event may wait for a write, and how often the index is fed. Feeding the index
// in large, infrequent transactions keeps SQLite's per-commit cost (page writes, file locks)
// off the data path's CPU budget.
constexpr auto lazy_flush = std::chrono::milliseconds(20);
constexpr auto index_interval = std::chrono::milliseconds(100);
constexpr std::size_t index_wake_backlog = 20'000;
}  // namespace

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

result<std::int64_t> catch_up(store::store& st, const std::string& journal_dir) {
  auto max = st.max_seq();
  if (!max) return error{max.err()};
  std::vector<record> batch;
  std::int64_t added = 0;
  status stored;
  auto flush = [&]() {
    if (batch.empty() || !stored) return;
    stored = st.append(batch);
    if (stored) added += static_cast<std::int64_t>(batch.size());
    batch.clear();
  };
  auto s = journal::read(journal_dir, *max, [&](record&& r) {
    batch.push_back(std::move(r));
    if (batch.size() >= index_commit_rows) flush();
  });
  flush();
  if (!s) return error{s.err()};
  if (!stored) return error{stored.err()};
  return added;
}

writer::writer(std::unique_ptr<journal> j, std::unique_ptr<store::store> index,
               std::string journal_dir, std::unique_ptr<signer> sign, checkpoint_policy cp)
    : journal_(std::move(j)),
      signer_(std::move(sign)),
      cp_(cp),
      index_(std::move(index)),
      journal_dir_(std::move(journal_dir)) {
  // The newest checkpoint before a restart bounds what retention may prune.
  std::ifstream in(std::filesystem::path(journal_dir_) / head_file, std::ios::binary);
  std::string line;
  if (std::getline(in, line))
    if (auto r = decode_record(line, false)) last_checkpoint_seq_ = r->seq;
}

void writer::set_recordings_dir(std::string dir) {
  std::lock_guard lk(mu_);
  recordings_dir_ = std::move(dir);
}

namespace {
// The recordings named by `recording.*` events in journal segment `path` (names safe to use as
// a folder only): those ended there, and every one named (with each event's time).
struct segment_recordings {
  std::vector<std::string> ended;
  std::vector<std::pair<std::string, std::int64_t>> named;
};

segment_recordings recordings_in(const std::string& path) {
  segment_recordings out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"kind\":\"recording.") == std::string::npos) continue;
    auto r = decode_record(line, false);
    if (!r || !r->kind.starts_with("recording.")) continue;
    boost::system::error_code ec;
    auto d = boost::json::parse(r->detail, ec);
    auto* id = !ec && d.is_object() ? d.as_object().if_contains("recording") : nullptr;
    if (id == nullptr || !id->is_string()) continue;
    std::string name(id->as_string());
    bool safe = !name.empty() && name != "." && name != ".." &&
                name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789_.-") == std::string::npos;
    if (!safe) continue;
    if (r->kind == recording_end_kind) out.ended.push_back(name);
    out.named.emplace_back(std::move(name), r->ts_us);
  }
  return out;
}
}  // namespace

void writer::set_retention(std::chrono::milliseconds retention, std::chrono::milliseconds every) {
  std::lock_guard lk(mu_);
  retention_ = retention;
  retention_every_ = every;
  wake_housekeeping_locked();  // an idle housekeeper recomputes when it is due
}

void writer::queue_checkpoint_locked() {
  if (!signer_ || unsigned_events_ == 0) return;
  for (const auto& r : queued_)
    if (r.kind == checkpoint_kind) return;
  record r;
  r.ts_us = now_us();
  r.kind = std::string(checkpoint_kind);
  queued_.push_back(std::move(r));
}

void writer::fill_checkpoint(record& r, const std::string& head_hash) const {
  boost::json::object d;
  d["head_seq"] = r.seq - 1;
  d["head_hash"] = head_hash;
  d["key_id"] = signer_->key_id();
  d["sig"] = signer_->sign_base64(checkpoint_message(r.seq - 1, head_hash));
  r.detail = boost::json::serialize(d);
}

void writer::write_head(const record& cp) const {
  // head.json: the newest checkpoint line itself, replaced atomically.
  std::string line;
  record copy = cp;
  encode_record(copy, cp.prev_hash, line);
  auto path = std::filesystem::path(journal_dir_) / head_file;
  auto tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (ok) std::rename(tmp.c_str(), path.c_str());
}

writer::~writer() { stop(); }

void writer::start() {
  std::lock_guard lk(mu_);
  if (indexer_.joinable() || stopped_) return;
  started_us_ = now_us();
  indexer_ = std::thread([this] {
    name_this_thread("gh-audit");
    run_housekeeping();
  });
  index_worker_ = std::thread([this] {
    name_this_thread("gh-audit-index");
    run_index_worker();
  });
}

void writer::stop() {
  {
    std::unique_lock lk(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  // A leader may still be writing; wait for it, then write what is left (lazy events).
  for (;;) {
    std::unique_lock lk(mu_);
    if (!writing_) {
      // The shutdown checkpoint signs everything written.
      if (!queued_.empty()) (void)lead(lk);
      queue_checkpoint_locked();
      if (!queued_.empty()) (void)lead(lk);
      break;
    }
    lk.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    std::lock_guard lk(mu_);
    index_stop_ = true;
  }
  index_cv_.notify_all();
  housekeeping_cv_.notify_all();
  if (indexer_.joinable()) indexer_.join();
  if (index_worker_.joinable()) index_worker_.join();
}

void writer::append_detached(record r) {
  std::vector<record> v;
  v.push_back(std::move(r));
  submit(std::move(v), handler{});
}

writer::stats writer::get_stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void writer::submit(std::vector<record> recs, handler h) {
  std::unique_lock lk(mu_);
  if (stopped_ && !writing_) {
    stats_.failed_events += recs.size();
    lk.unlock();
    if (h) std::move(h).complete("audit writer is stopped");
    else
      log::error("audit", "event after the audit writer stopped was not recorded",
                 {{"events", std::to_string(recs.size())}});
    return;
  }
  for (auto& r : recs) queued_.push_back(std::move(r));
  if (h) waiters_.push_back(std::move(h));
  if (writing_) return;  // the current leader takes these with its next write

  lead(lk);
}

void writer::append_lazy(record r) {
  std::lock_guard lk(mu_);
  if (stopped_ && !writing_) {
    ++stats_.failed_events;
    return;
  }
  queued_.push_back(std::move(r));
  wake_housekeeping_locked();
}

void writer::wake_index_worker_locked() {
  if (!index_idle_) return;
  index_idle_ = false;
  index_cv_.notify_all();
}

void writer::wake_housekeeping_locked() {
  // Only the first event after an idle spell pays for a wake-up; while busy it polls.
  if (!housekeeping_idle_) return;
  housekeeping_idle_ = false;
  housekeeping_cv_.notify_one();
}

std::optional<std::string> writer::try_append_now(std::vector<record>& recs) {
  std::unique_lock lk(mu_);
  if (writing_) return std::nullopt;
  if (stopped_) return std::string("audit writer is stopped");
  for (auto& r : recs) queued_.push_back(std::move(r));
  recs.clear();
  // Our records are in the first batch lead() writes; its outcome is ours.
  return lead(lk);
}

std::string writer::lead(std::unique_lock<std::mutex>& lk) {
  // Seqs are assigned here, in write order, so a failed write leaves no gap in the numbering.
  writing_ = true;
  std::vector<record> batch;
  std::vector<handler> done;
  std::string lines;
  std::string first_outcome;
  bool first = true;
  while (!queued_.empty()) {
    batch.swap(queued_);
    done.swap(waiters_);
    lk.unlock();
    lines.clear();
    auto seq = journal_->next_seq();
    std::string prev = journal_->last_hash();
    for (auto& r : batch) {
      r.seq = seq++;
      if (r.kind == checkpoint_kind) fill_checkpoint(r, prev);
      encode_record(r, prev, lines);
      prev = r.hash;
    }
    auto st = journal_->append(lines, static_cast<std::int64_t>(batch.size()), prev);
    std::string err = st ? std::string() : st.err();
    if (first) {
      first_outcome = err;
      first = false;
    }
    if (!st)
      log::error("audit", "journal write failed; waiting actions are refused",
                 {{"events", std::to_string(batch.size())}, {"error", err}});
    for (auto& w : done) std::move(w).complete(err);
    done.clear();
    lk.lock();
    if (st) {
      stats_.committed_events += batch.size();
      ++stats_.commits;
      for (const auto& r : batch) {
        if (r.kind == checkpoint_kind) {
          unsigned_events_ = 0;
          last_checkpoint_seq_ = r.seq;
          write_head(r);
        } else if (unsigned_events_++ == 0) {
          first_unsigned_ = std::chrono::steady_clock::now();
        }
      }
      if (unsigned_events_ > 0) wake_housekeeping_locked();  // a checkpoint will be due
      if (to_index_.size() + batch.size() > max_index_backlog) {
        to_index_.clear();
        index_lagging_ = true;
      } else {
        for (auto& r : batch) to_index_.push_back(std::move(r));
      }
      if (to_index_.size() >= index_wake_backlog) index_cv_.notify_all();
      wake_index_worker_locked();
    } else {
      stats_.failed_events += batch.size();
    }
    batch.clear();
  }
  writing_ = false;
  return first_outcome;
}

result<std::int64_t> writer::prune_before(std::int64_t cutoff_us) {
  auto segs = journal::list_segments(journal_dir_);
  if (!segs) return error{segs.err()};
  std::int64_t signed_through = 0;
  std::string recordings_dir;
  {
    std::lock_guard lk(mu_);
    signed_through = last_checkpoint_seq_;
    recordings_dir = recordings_dir_;
  }
  // A prefix of whole segments, never the newest (the one being written).
  std::size_t n = 0;
  while (n + 1 < segs->size()) {
    const auto& s = (*segs)[n];
    if (s.last_seq == 0 || s.last_ts_us >= cutoff_us || s.last_seq >= signed_through) break;
    ++n;
  }
  if (n == 0) return std::int64_t{0};
  const auto& last = (*segs)[n - 1];
  std::vector<std::string> recordings;  // ended in the pruned segments
  std::vector<std::string> orphaned;    // started there and never ended (see the header)
  if (!recordings_dir.empty()) {
    // Named in the pruned segments and not ended there: id -> its newest event's time.
    std::map<std::string, std::int64_t> open;
    std::vector<std::string> ended;
    for (std::size_t i = 0; i < n; ++i) {
      auto ids = recordings_in((*segs)[i].path);
      for (auto& [id, ts] : ids.named) open[id] = std::max(open[id], ts);
      for (auto& id : ids.ended) ended.push_back(std::move(id));
    }
    for (const auto& id : ended) open.erase(id);
    recordings = std::move(ended);
    // Written to since this writer started: possibly a live session of this process.
    std::erase_if(open, [&](const auto& kv) { return kv.second >= started_us_; });
    // Named by the kept trail (a chunk or its end after the cut): not an orphan yet.
    for (std::size_t i = n; i < segs->size() && !open.empty(); ++i)
      for (const auto& kv : recordings_in((*segs)[i].path).named) open.erase(kv.first);
    for (auto& kv : open) orphaned.push_back(kv.first);
  }
  boost::json::object d;
  d["pruned_through_seq"] = last.last_seq;
  d["head_hash"] = last.last_hash;
  d["segments"] = n;
  d["cutoff_us"] = cutoff_us;
  if (!recordings.empty()) d["recordings"] = recordings.size();
  if (!orphaned.empty()) d["orphaned_recordings"] = orphaned.size();
  record r;
  r.ts_us = now_us();
  r.kind = std::string(pruned_kind);
  r.detail = boost::json::serialize(d);
  r.reason = "retention";
  std::vector<record> v{std::move(r)};
  // The prune is on record (and chained) before anything is deleted.
  std::optional<std::string> outcome;
  while (!(outcome = try_append_now(v))) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!outcome->empty()) return make_error("cannot record the prune: " + *outcome);
  for (std::size_t i = 0; i < n; ++i) {
    std::error_code ec;
    std::filesystem::remove((*segs)[i].path, ec);
    if (ec) return make_error("cannot remove " + (*segs)[i].path + ": " + ec.message());
  }
  recordings.insert(recordings.end(), orphaned.begin(), orphaned.end());
  for (const auto& id : recordings) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(recordings_dir) / id, ec);
    if (ec)
      log::warn("audit", "retention could not remove a recording",
                {{"recording", id}, {"error", ec.message()}});
  }
  // The index worker runs at the lowest priority and may hold the index for a while under load; never
  // wait for it here (this runs on the housekeeping thread, which signs checkpoints). Rows left
  // behind go on the next run.
  status pruned;
  if (std::unique_lock ilk(index_mu_, std::try_to_lock); ilk.owns_lock()) {
    pruned = index_->prune_through(last.last_seq);
  } else {
    // The index worker applies it before its next batch.
    std::lock_guard lk(mu_);
    pending_index_prune_ = std::max(pending_index_prune_, last.last_seq);
    wake_index_worker_locked();
  }
  if (auto& s = pruned; !s)
    log::warn("audit", "index prune failed; rows stay until the next run", {{"error", s.err()}});
  log::info("audit", "retention pruned the journal",
            {{"through_seq", std::to_string(last.last_seq)}, {"segments", std::to_string(n)},
             {"recordings", std::to_string(recordings.size())}});
  return last.last_seq - (*segs)[0].first_seq + 1;
}

// Folds statement.result events into their statement event when both are in the same index
// batch: half the index rows for the common case. The journal keeps both events.
void writer::fold_results(std::vector<record>& batch) {
  std::unordered_map<std::string, std::unordered_map<std::int64_t, std::size_t>> open;
  std::size_t out = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& r = batch[i];
    if (r.kind == "statement") {
      open[r.session_id][r.stmt_id] = out;
    } else if (r.kind == "statement.result") {
      auto s = open.find(r.session_id);
      if (s != open.end()) {
        auto it = s->second.find(r.stmt_id);
        if (it != s->second.end()) {
          auto& stmt = batch[it->second];
          stmt.outcome = std::move(r.outcome);
          stmt.rows = r.rows;
          stmt.duration_us = r.duration_us;
          // Keep what the result says (masking counts) beside what the statement said (guard).
          if (stmt.detail.empty()) {
            stmt.detail = std::move(r.detail);
          } else if (!r.detail.empty()) {
            boost::system::error_code e1, e2;
            auto a = boost::json::parse(stmt.detail, e1);
            auto b = boost::json::parse(r.detail, e2);
            if (!e1 && !e2 && a.is_object() && b.is_object()) {
              for (auto& kv : b.as_object()) a.as_object()[kv.key()] = kv.value();
              stmt.detail = boost::json::serialize(a);
            }
          }
          s->second.erase(it);
          continue;
        }
      }
    }
    if (out != i) batch[out] = std::move(batch[i]);
    ++out;
  }
  batch.resize(out);
}

void writer::run_housekeeping() {
  std::unique_lock lk(mu_);
  auto next_prune = std::chrono::steady_clock::now();
  for (;;) {
    // Wake for lazy events that nobody else wrote, checkpoints and retention: every lazy_flush
    // while there is something to write or sign; when there is not, sleep until an event
    // arrives (append_lazy and lead wake us) or retention is due: an idle gateway stays asleep.
    if (queued_.empty() && unsigned_events_ == 0) {
      housekeeping_idle_ = true;
      auto woken = [&] { return index_stop_ || !housekeeping_idle_; };
      if (retention_.count() > 0 && retention_every_.count() > 0)
        housekeeping_cv_.wait_until(lk, next_prune, woken);
      else
        housekeeping_cv_.wait(lk, woken);
      housekeeping_idle_ = false;
    } else {
      housekeeping_cv_.wait_for(lk, lazy_flush, [&] { return index_stop_; });
    }
    if (index_stop_) return;
    auto now = std::chrono::steady_clock::now();
    if (retention_.count() > 0 && retention_every_.count() > 0 && now >= next_prune) {
      next_prune = now + retention_every_;
      auto cutoff =
          now_us() - std::chrono::duration_cast<std::chrono::microseconds>(retention_).count();
      lk.unlock();
      if (auto n = prune_before(cutoff); !n)
        log::error("audit", "retention run failed", {{"error", n.err()}});
      lk.lock();
    }
    if (!writing_ && unsigned_events_ > 0 &&
        (unsigned_events_ >= cp_.every_events || now - first_unsigned_ >= cp_.every))
      queue_checkpoint_locked();
    if (!queued_.empty() && !writing_) (void)lead(lk);
  }
}

void writer::run_index_worker() {
  // Lowest normal priority (nice 19): under load the sessions get the CPU first. Not SCHED_IDLE:
  // this thread holds SQLite's write lock while it commits, and a thread that can be starved
  // indefinitely would hold it indefinitely, locking out `audit export` (priority inversion);
  // at nice 19 it still progresses, and its transactions are kept short (index_commit_rows).
  // The journal is the record; a backlog past max_index_backlog is dropped from memory and reread
  // from the journal later.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  std::vector<record> batch;
  std::unique_lock lk(mu_);
  for (;;) {
    if (to_index_.empty() && !index_lagging_ && pending_index_prune_ == 0 && !index_stop_) {
      // Nothing to index: sleep until lead() hands over events (it wakes an idle worker),
      // rather than polling an idle gateway ten times a second.
      index_idle_ = true;
      index_cv_.wait(lk, [&] { return index_stop_ || !index_idle_; });
      index_idle_ = false;
    }
    // Then gather a batch for up to index_interval.
    index_cv_.wait_for(lk, index_interval, [&] {
      return index_stop_ || to_index_.size() >= index_wake_backlog;
    });
    if (to_index_.empty() && !index_lagging_ && pending_index_prune_ == 0) {
      if (index_stop_) return;
      continue;
    }
    bool lagging = index_lagging_;
    batch.swap(to_index_);
    auto prune = std::exchange(pending_index_prune_, 0);
    lk.unlock();
    status st;
    {
      std::lock_guard ilk(index_mu_);
      if (prune > 0)
        if (auto p = index_->prune_through(prune); !p)
          log::warn("audit", "index prune failed; rows stay until the next run",
                    {{"error", p.err()}});
      if (lagging) {
        batch.clear();  // the journal has them all
        auto n = catch_up(*index_, journal_dir_);
        if (!n) st = error{n.err()};
      } else {
        fold_results(batch);
        // Short transactions: the write lock is never held for long at low priority.
        for (std::size_t at = 0; at < batch.size() && st; at += index_commit_rows)
          st = index_->append(std::span<record>(batch).subspan(
              at, std::min(index_commit_rows, batch.size() - at)));
      }
    }
    lk.lock();
    if (st) {
      if (lagging) index_lagging_ = false;
      stats_.indexed_events += batch.size();
      batch.clear();
      continue;
    }
    // The journal holds every event; reread it once the store works again.
    index_lagging_ = true;
    batch.clear();
    to_index_.clear();
    bool stopping = index_stop_;
    lk.unlock();
    log::warn("audit", "index store write failed; will catch up from the journal",
              {{"error", st.err()}});
    if (stopping) {
      std::lock_guard ilk(index_mu_);
      (void)catch_up(*index_, journal_dir_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    lk.lock();
  }
}

}  // namespace gh::audit
