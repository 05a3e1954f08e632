#pragma once
// The `guardrails:` and `reviews:` blocks of a connection, and the connection-level keys that go
// with them (`on_parse_error`, `access`, `access_window`; fields of connection_config). The rule
// engine that evaluates these is src/guard; the review workflow is src/review.
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/secret.hpp"

namespace gh::config {

// Ordered by strictness, so the strictest of several is the max.
enum class guard_action { allow, review, deny };

// `where:` / `limit:` in a match: not a condition (any), or the clause must be absent/present.
enum class clause_match { any, absent, present };

// `copy:` values (stdout, stdin, program, file).
enum class copy_target { std_out, std_in, program, file };

struct guard_match {
  // Statement classes, any of which matches (`drop_table`, or a prefix pattern `drop_*`).
  std::vector<std::string> statement;
  // Table names; `patients` matches it in any schema, `public.patients` matches that one and an
  // unqualified `patients` (search_path could resolve to it). `*` is a wildcard. Case-insensitive.
  std::vector<std::string> tables;
  clause_match where = clause_match::any;
  clause_match limit = clause_match::any;
  // Function names (schema ignored, case-insensitive, `*` wildcard).
  std::vector<std::string> functions;
  // Raw-text regular expression (Hyperscan/PCRE syntax), tried on each statement's own text.
  std::string pattern;
  int pattern_line = 0;
  // Whom the rule applies to: any of `groups` (empty = everyone), none of `except_groups`.
  std::vector<std::string> groups;
  std::vector<std::string> except_groups;
  std::vector<copy_target> copy;
};

struct guard_rule_config {
  std::string name;
  guard_match match;
  guard_action action = guard_action::deny;
  std::string message;  // shown to the client; empty -> a generated one naming the rule
  std::string path;     // key path for messages, e.g. "connections[0].guardrails[2]"
  int line = 0;
  int action_line = 0;
};

enum class notify_format { json, slack };

struct notify_config {
  std::string webhook;  // https:// URL (http:// only for loopback)
  notify_format format = notify_format::json;
  secret_ref secret;  // optional: HMAC key for signing the payload
  int line = 0;
  int secret_line = 0;
};

struct reviews_config {
  bool present = false;
  int line = 0;
  std::vector<std::string> approvers;  // groups whose members may decide
  unsigned min_approvals = 1;
  std::chrono::milliseconds timeout{10 * 60 * 1000};
  bool self_approval = false;
  std::optional<notify_config> notify;
};

// access: direct (default) | review (just-in-time approval per session).
enum class access_mode { direct, review };

// Every statement class the classifier (src/guard) produces, sorted. `statement:` values must be
// one of these or a prefix ending in `*` that matches at least one.
[[nodiscard]] std::span<const std::string_view> statement_classes();

[[nodiscard]] std::string_view to_string(guard_action a);
[[nodiscard]] std::string_view to_string(copy_target c);
[[nodiscard]] std::string_view to_string(notify_format f);
[[nodiscard]] std::string_view to_string(access_mode m);

}  // namespace gh::config
