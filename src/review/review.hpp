#pragma once
// The review model: a request to run one statement (or to open a session) that a human approver
// must allow first. The statement text is already masked by the caller; this module never sees
// clear values. See README.md for the lifecycle and the audit event kinds.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace gh::review {

enum class review_kind { statement, access };
enum class review_status { pending, approved, rejected, expired, cancelled };

[[nodiscard]] std::string_view to_string(review_kind k);
[[nodiscard]] std::string_view to_string(review_status s);
[[nodiscard]] std::optional<review_kind> parse_kind(std::string_view s);
[[nodiscard]] std::optional<review_status> parse_status(std::string_view s);

// Audit event kinds written by the review service (documented in README.md).
namespace events {
inline constexpr std::string_view created = "review.created";
inline constexpr std::string_view approval = "review.approval";  // one of several needed
inline constexpr std::string_view approved = "review.approved";
inline constexpr std::string_view rejected = "review.rejected";
inline constexpr std::string_view expired = "review.expired";
inline constexpr std::string_view cancelled = "review.cancelled";
inline constexpr std::string_view notify_failed = "review.notify_failed";
// A decision refused because of who tried (not an approver, self-approval): worth an auditor's
// eye, and nothing changed.
inline constexpr std::string_view refused = "review.refused";
}  // namespace events

struct approval {
  std::string user;
  std::int64_t at_us = 0;
};

struct review {
  std::string id;  // "r-" + 10 base32 characters
  review_kind kind = review_kind::statement;
  review_status status = review_status::pending;
  std::int64_t created_us = 0;  // wall clock, microseconds since the epoch
  std::int64_t expires_us = 0;
  std::string requester;
  std::vector<std::string> requester_groups;
  std::string connection;
  std::string session_id;
  std::string client_addr;
  std::string statement;  // masked
  std::string rule;
  // The rules it is decided by: a copy of the policy in force when it was created.
  std::vector<std::string> approvers;  // groups
  int min_approvals = 1;
  bool self_approval = false;
  std::chrono::milliseconds access_window{0};  // access reviews: how long an approval lasts
  std::vector<approval> approvals;             // distinct approvers, in order
  std::string decided_by;  // who made the final decision ("" while pending; "gatehouse" for expiry)
  std::string reason;
  std::int64_t decided_us = 0;
  // Pending, but created by an earlier gatehouse process: the session that waited for it is gone,
  // so approving it only records the decision.
  bool orphaned = false;

  [[nodiscard]] bool final() const { return status != review_status::pending; }
};

// A fresh id: "r-" followed by 10 characters of RFC 4648 base32 (lowercase), 50 random bits.
[[nodiscard]] std::string new_id();
// True if `id` has the shape new_id() produces (checked before it reaches the store or a log).
[[nodiscard]] bool valid_id(std::string_view id);

// The JSON form used by the HTTP API and the webhook payloads.
[[nodiscard]] boost::json::object to_json(const review& r);
[[nodiscard]] result<review> from_json(const boost::json::value& v);

// RFC 3339 UTC with milliseconds ("2026-11-23T10:00:00.123Z").
[[nodiscard]] std::string format_time(std::int64_t us);

}  // namespace gh::review
