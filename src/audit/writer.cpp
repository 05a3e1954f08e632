#include "audit/writer.hpp"

#include <chrono>

#include "core/log.hpp"

namespace gh::audit {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

writer::writer(std::unique_ptr<store::store> s) : store_(std::move(s)) {}

writer::~writer() { stop(); }

void writer::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { run(); });
}

void writer::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<item> left;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    left.swap(queue_);
  }
  // Only reached when the thread never started: fail what is queued rather than drop silently.
  for (auto& it : left) {
    if (it.h) {
      std::move(it.h).complete("audit writer is stopped");
    }
  }
}

void writer::enqueue(std::vector<record> recs, handler h) {
  {
    std::lock_guard lk(mu_);
    if (!stopped_ && !stopping_) {
      queue_.push_back(item{std::move(recs), std::move(h)});
      if (queue_.size() == 1) cv_.notify_one();
      return;
    }
  }
  if (h) {
    std::move(h).complete("audit writer is stopped");
  }
}

void writer::append_detached(record r) {
  std::vector<record> v;
  v.push_back(std::move(r));
  enqueue(std::move(v), handler{});
}

writer::stats writer::get_stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void writer::run() {
  std::vector<item> batch;
  std::vector<record> recs;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
    }
    recs.clear();
    for (auto& it : batch)
      for (auto& r : it.recs) recs.push_back(std::move(r));
    auto st = store_->append(recs);
    std::string err = st ? std::string() : st.err();
    {
      std::lock_guard lk(mu_);
      if (st) {
        stats_.committed_events += recs.size();
        ++stats_.commits;
      } else {
        stats_.failed_events += recs.size();
      }
    }
    if (!st)
      log::error("audit", "store write failed; waiting actions are refused",
                 {{"events", std::to_string(recs.size())}, {"error", err}});
    for (auto& it : batch) {
      if (!it.h) continue;
      // Runs the handler on its own executor (the session's thread), never on this one.
      std::move(it.h).complete(err);
    }
    batch.clear();
  }
}

}  // namespace gh::audit
