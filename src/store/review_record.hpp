#pragma once
// The persisted form of a review (src/review): one row per review plus the approvals it collected.
// The statement text is the masked one the session handed over; the store never sees clear values.
#include <cstdint>
#include <string>
#include <vector>

namespace gh::store {

struct review_approval {
  std::string user;
  std::int64_t at_us = 0;
};

struct review_row {
  std::string id;
  std::string kind;    // statement | access
  std::string status;  // pending | approved | rejected | expired | cancelled
  std::int64_t created_us = 0;
  std::int64_t expires_us = 0;
  std::string requester;
  std::string requester_groups;  // comma-separated
  std::string connection;
  std::string session_id;
  std::string client_addr;
  std::string statement;
  std::string rule;
  // The rules the review is decided by, copied from the policy when it was created.
  std::string approvers;  // comma-separated groups
  std::int64_t min_approvals = 1;
  bool self_approval = false;
  std::int64_t access_window_ms = 0;       // access reviews: how long an approval lets the user in
  std::vector<review_approval> approvals;  // in the order they were given
  std::string decided_by;
  std::string reason;
  std::int64_t decided_us = 0;
};

struct review_filter {
  std::string status;  // empty = any
  std::string kind;
  std::string requester;
  std::string connection;
  std::size_t limit = 0;  // 0 = no limit; newest first
};

}  // namespace gh::store
