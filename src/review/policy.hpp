#pragma once
// Who may decide a review and how long it waits; the caller (src/app) maps the configuration's
// `reviews:` block of each connection to one of these.
#include <chrono>
#include <string>
#include <vector>

namespace gh::review {

enum class notify_format { json, slack };

struct notify_settings {
  // http(s)://host[:port]/path; empty = no notifications. Never logged whole: webhook URLs often
  // carry a secret in their path (Slack), so logs and audit events name scheme://host:port only.
  std::string webhook;
  notify_format format = notify_format::json;
  std::string secret;   // HMAC-SHA-256 key (the resolved value); empty = unsigned
  std::string ca_file;  // trust anchors for https (PEM); empty = the system store
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{500};  // doubled after each failed attempt
  std::chrono::milliseconds attempt_timeout{10'000};
};

struct policy {
  std::vector<std::string> approvers;  // groups whose members may decide
  int min_approvals = 1;               // distinct approvers before an approval takes effect
  std::chrono::milliseconds timeout{10 * 60 * 1000};
  bool self_approval = false;  // may the requester approve their own review
  notify_settings notify;
};

}  // namespace gh::review
