#pragma once
// Webhook notifications about reviews: a JSON POST (or a Slack-compatible payload) on a new
// review and on its final decision. Delivery runs on the given executor, retries with
// exponential backoff, and never blocks or fails the caller: a review exists whether or not
// anybody was told about it. A delivery that gives up is logged and audited
// (review.notify_failed).
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "audit/writer.hpp"
#include "core/result.hpp"
#include "net/tls.hpp"
#include "review/policy.hpp"
#include "review/review.hpp"

namespace gh::review {

// Event types in the payload.
inline constexpr std::string_view event_created = "review.created";
inline constexpr std::string_view event_decided = "review.decided";

struct webhook_url {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  // scheme://host:port, safe to log (no path: it may hold a token).
  [[nodiscard]] std::string redacted() const;
};
// http://host[:port][/path] or https://...; no user info, no fragment.
[[nodiscard]] result<webhook_url> parse_webhook_url(std::string_view url);

// The request body for `event` about `r`.
[[nodiscard]] std::string webhook_payload(notify_format f, std::string_view event, const review& r);
// "sha256=<lowercase hex HMAC-SHA-256 of body keyed with secret>", the X-Gatehouse-Signature value.
[[nodiscard]] std::string webhook_signature(std::string_view secret, std::string_view body);

class notifier {
 public:
  notifier(boost::asio::any_io_executor ex, audit::writer* audit);
  ~notifier();
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  // Queues one delivery (no-op without a webhook). Never blocks, never fails the caller.
  void send(const notify_settings& s, std::string_view event, const review& r);

  struct stats {
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;    // gave up after every attempt
    std::uint64_t attempts = 0;  // HTTP requests tried, successful or not
  };
  [[nodiscard]] stats get_stats() const;

  struct state;

 private:
  boost::asio::any_io_executor ex_;
  std::shared_ptr<state> state_;
};

}  // namespace gh::review
