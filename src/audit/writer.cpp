#include "audit/writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/log.hpp"

namespace gh::audit {

namespace {
// Past this many events waiting for the index, drop them from memory and reread the journal
// later: the index is never allowed to hold the gateway's memory hostage.
constexpr std::size_t max_index_backlog = 200'000;
constexpr std::size_t index_batch = 5000;
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
    if (batch.size() >= index_batch) flush();
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
      journal_dir_(std::move(journal_dir)) {}

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
  indexer_ = std::thread([this] { run_indexer(); });
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
  if (indexer_.joinable()) indexer_.join();
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
    lk.unlock();
    if (h) std::move(h).complete("audit writer is stopped");
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
          write_head(r);
        } else if (unsigned_events_++ == 0) {
          first_unsigned_ = std::chrono::steady_clock::now();
        }
      }
      if (to_index_.size() + batch.size() > max_index_backlog) {
        to_index_.clear();
        index_lagging_ = true;
      } else {
        for (auto& r : batch) to_index_.push_back(std::move(r));
      }
      if (to_index_.size() >= index_wake_backlog) index_cv_.notify_one();
    } else {
      stats_.failed_events += batch.size();
    }
    batch.clear();
  }
  writing_ = false;
  return first_outcome;
}

void writer::run_indexer() {
  std::vector<record> batch;
  std::unique_lock lk(mu_);
  auto next_index = std::chrono::steady_clock::now() + index_interval;
  for (;;) {
    // Wake for lazy events that nobody else wrote, for the index interval, or a large backlog.
    index_cv_.wait_for(lk, lazy_flush, [&] {
      return index_stop_ || to_index_.size() >= index_wake_backlog;
    });
    auto now = std::chrono::steady_clock::now();
    if (!writing_ && unsigned_events_ > 0 &&
        (unsigned_events_ >= cp_.every_events || now - first_unsigned_ >= cp_.every))
      queue_checkpoint_locked();
    if (!queued_.empty() && !writing_) (void)lead(lk);
    if (!index_stop_ && now < next_index && to_index_.size() < index_wake_backlog) continue;
    next_index = now + index_interval;
    if (to_index_.empty() && !index_lagging_) {
      if (index_stop_) return;
      continue;
    }
    bool lagging = index_lagging_;
    batch.swap(to_index_);
    lk.unlock();
    status st;
    if (lagging) {
      batch.clear();  // the journal has them all
      auto n = catch_up(*index_, journal_dir_);
      if (!n) st = error{n.err()};
    } else {
      st = index_->append(batch);
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
    lk.unlock();
    log::warn("audit", "index store write failed; will catch up from the journal",
              {{"error", st.err()}});
    std::this_thread::sleep_for(std::chrono::seconds(1));
    lk.lock();
    if (index_stop_) {
      lk.unlock();
      (void)catch_up(*index_, journal_dir_);
      return;
    }
  }
}

}  // namespace gh::audit
