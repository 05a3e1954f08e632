#pragma once
// The review service: one per process, thread-safe. A session that must hold a statement calls
// create() (the review is stored and its review.created event is on record before it returns:
// fail closed), then `co_await async_wait(id, asio::use_awaitable)` until an approver decides,
// the review expires, the session cancels it, or the gateway shuts down. Approvers decide through
// decide() (the HTTP API and the CLI). Every state change is an audit event; see README.md.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/writer.hpp"
#include "core/result.hpp"
#include "identity/identity.hpp"
#include "review/notify.hpp"
#include "review/policy.hpp"
#include "review/review.hpp"
#include "store/store.hpp"

namespace gh::review {

// The local administrator (state_dir/admin.token, same machine only): a principal with this
// method counts as a member of every approver group. Its user name is reserved.
inline constexpr std::string_view local_admin_user = "local-admin";
inline constexpr std::string_view local_admin_method = "local_admin";
// decided_by of reviews that expired or were cut off by the gateway itself.
inline constexpr std::string_view system_actor = "gatehouse";

struct request {
  review_kind kind = review_kind::statement;
  std::string requester;
  std::vector<std::string> requester_groups;
  std::string connection;  // picks the policy
  std::string session_id;
  std::string client_addr;
  std::string statement;  // masked by the caller
  std::string rule;
  std::chrono::milliseconds access_window{0};  // access reviews
};

// What a waiter learns. `status` is never pending.
struct outcome {
  std::string id;
  review_status status = review_status::cancelled;
  std::string reason;
  std::string decided_by;
};

// Why a call was refused; the HTTP API maps these to status codes.
enum class errc { not_found, forbidden, conflict, invalid, unavailable };

struct filter {
  std::optional<review_status> status;
  std::optional<review_kind> kind;
  std::string requester;
  std::string connection;
  std::size_t limit = 500;  // newest first
};

struct service_options {
  std::string store_url;                   // its own store connection (never the audit writer's)
  audit::writer* audit = nullptr;          // required
  std::map<std::string, policy> policies;  // by connection name
  policy default_policy;                   // other connections (no approvers: create() refuses)
};

namespace detail {
// A type-erased completion handler for async_wait: completes on the waiter's own executor and
// keeps that executor's io_context from running out of work while it waits.
class wait_handler {
 public:
  wait_handler() = default;
  template <typename H>
  explicit wait_handler(H h) : impl_(std::make_unique<impl<H>>(std::move(h))) {}
  explicit operator bool() const { return impl_ != nullptr; }
  void complete(outcome o) && {
    auto p = std::move(impl_);
    p->complete(std::move(o));
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual void complete(outcome o) = 0;
  };
  template <typename H>
  struct impl final : base {
    using work_t = std::decay_t<decltype(boost::asio::prefer(
        std::declval<boost::asio::associated_executor_t<H>>(),
        boost::asio::execution::outstanding_work.tracked))>;
    explicit impl(H h)
        : work_(boost::asio::prefer(boost::asio::get_associated_executor(h),
                                    boost::asio::execution::outstanding_work.tracked)),
          h_(std::move(h)) {}
    void complete(outcome o) override {
      auto work = work_;
      boost::asio::post(work, [h = std::move(h_), o = std::move(o), work]() mutable {
        // The slot's handler refers to this wait; it must not outlive it.
        boost::asio::get_associated_cancellation_slot(h).clear();
        std::move(h)(std::move(o));
      });
    }
    work_t work_;
    H h_;
  };
  std::unique_ptr<base> impl_;
};
}  // namespace detail

class service {
 public:
  // `ex` runs expiry timers and webhook deliveries. Destroy the service only after the threads
  // running `ex` have stopped.
  service(boost::asio::any_io_executor ex, service_options opts);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Opens the store, picks up reviews a previous process left pending (orphaned: listed as
  // pending, decidable, expiring normally) and arms their expiry.
  [[nodiscard]] status start();
  // Wakes every waiter with cancelled + `reason`; later create()/async_wait() are refused. The
  // reviews themselves stay pending in the store (a restarted gateway lists them as orphaned).
  void shutdown(const std::string& reason = "gatehouse is shutting down");

  // Stores the review and waits for its review.created event to be on record; if either cannot
  // be done, returns the error and the statement must not run (fail closed). Blocks the calling
  // thread for one store insert and one audit write.
  [[nodiscard]] result<review> create(const request& req, errc* why = nullptr);

  // Completes with the outcome once the review is decided, expired or cancelled, on the
  // waiter's own executor (void(outcome)). An unknown id completes at once with cancelled; a
  // review already decided completes at once with its status. Cancelling the wait (an Asio
  // cancellation slot) cancels the review, audited.
  template <typename Token>
  auto async_wait(std::string id, Token&& token) {
    return boost::asio::async_initiate<Token, void(outcome)>(
        [this](auto h, std::string rid) {
          auto slot = boost::asio::get_associated_cancellation_slot(h);
          const std::uint64_t ticket = next_ticket();
          if (slot.is_connected())
            slot.assign(
                [this, rid, ticket](boost::asio::cancellation_type) { waiter_gone(rid, ticket); });
          add_waiter(std::move(rid), ticket, detail::wait_handler(std::move(h)));
        },
        token, std::move(id));
  }

  // The session gives up (client cancel, connection closed): cancelled, audited, waiters wake.
  [[nodiscard]] result<review> cancel(const std::string& id, const std::string& reason,
                                      errc* why = nullptr);

  // An approver's decision. Refused (forbidden) unless `who` is in one of the review's approver
  // groups (the local admin always is) and, for an approval, is not the requester unless the
  // policy allows self-approval; refused (conflict) if the review is no longer pending or `who`
  // approved it already. An approval takes effect once min_approvals distinct approvers gave
  // one (review.approval events before that, review.approved at the last); a rejection by any
  // approver takes effect at once. Nothing changes unless the audit event was written.
  [[nodiscard]] result<review> decide(const std::string& id, const identity::principal& who,
                                      bool approve, std::string reason, errc* why = nullptr);

  [[nodiscard]] result<review> get(const std::string& id, errc* why = nullptr);
  [[nodiscard]] result<std::vector<review>> list(const filter& f);

  // The newest approved access review of `user` on `connection` whose window is still open.
  [[nodiscard]] std::optional<review> active_grant(std::string_view user,
                                                   std::string_view connection);

  // Policies by connection; a config reload may swap them. Existing reviews keep the rules
  // they were created with.
  void set_policies(std::map<std::string, policy> by_connection, policy fallback);
  [[nodiscard]] policy policy_for(std::string_view connection) const;

  // May `who` see review `r`: its requester, a member of one of its approver groups, the local
  // admin.
  [[nodiscard]] static bool may_view(const review& r, const identity::principal& who);

  [[nodiscard]] notifier::stats notify_stats() const { return notifier_.get_stats(); }
  // Waiters currently registered (for tests and shutdown diagnostics).
  [[nodiscard]] std::size_t waiting() const;

 private:
  struct entry {
    bool live = false;  // created by this process (else orphaned)
    std::int64_t expires_us = 0;
    std::vector<std::pair<std::uint64_t, detail::wait_handler>> waiters;
  };

  std::uint64_t next_ticket();
  void add_waiter(std::string id, std::uint64_t ticket, detail::wait_handler h);
  void waiter_gone(const std::string& id, std::uint64_t ticket);

  // Called with mu_ held. Moves `r` (pending) to a final status: store, audit (detached),
  // waiters, notification. Used for expiry and cancel.
  void finish_locked(review r, review_status to, std::string actor, std::string actor_groups,
                     std::string reason);
  void wake_locked(const review& r);
  [[nodiscard]] result<std::optional<review>> load_locked(const std::string& id);
  void mark_orphaned_locked(review& r) const;
  // Audit write, waited for; "" or the error.
  [[nodiscard]] std::string record_now(audit::record rec);
  void arm();         // on strand_: timer to the earliest expiry
  void expire_due();  // on strand_

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::system_timer timer_;
  audit::writer* audit_;
  std::string store_url_;
  notifier notifier_;

  mutable std::mutex mu_;
  std::unique_ptr<store::store> store_;
  std::map<std::string, policy> policies_;
  policy default_policy_;
  std::map<std::string, entry> pending_;  // pending reviews (live and orphaned)
  std::uint64_t tickets_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  std::string stop_reason_;
};

}  // namespace gh::review
