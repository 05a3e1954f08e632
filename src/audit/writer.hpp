#pragma once
// The audit writer: one thread owns the store and commits whatever sessions queued since the last
// commit in one transaction (group commit). A session that must not act before its event is
// durable awaits async_append(); the handler runs after the commit that holds its records, with
// an empty string on success or the store's error. Records are committed in queue order.
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"

namespace gh::audit {

using record = store::audit_record;

[[nodiscard]] std::int64_t now_us();

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

  explicit writer(std::unique_ptr<store::store> s);
  ~writer();
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  void start();
  // Commits everything queued, then joins the thread. Later appends fail with an error.
  void stop();

  template <typename Token>
  auto async_append(std::vector<record> recs, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::string)>(
        [this](auto h, std::vector<record> r) { enqueue(std::move(r), handler(std::move(h))); },
        token, std::move(recs));
  }

  // Queued like the others; nobody waits for it. A failure is counted and logged.
  void append_detached(record r);

  struct stats {
    std::uint64_t committed_events = 0;
    std::uint64_t commits = 0;
    std::uint64_t failed_events = 0;
  };
  [[nodiscard]] stats get_stats() const;

 private:
  struct item {
    std::vector<record> recs;
    handler h;  // empty for detached
  };
  void enqueue(std::vector<record> recs, handler h);
  void run();

  std::unique_ptr<store::store> store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<item> queue_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
  stats stats_;
};

}  // namespace gh::audit
