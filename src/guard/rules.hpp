#pragma once
// The guardrail rule engine: a connection's `guardrails:` compiled once into an immutable
// rule_set, shared by every session on every worker (thread-safe, no locks), evaluated per
// statement against classify()'s facts and the principal's groups. See README.md.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/guardrails.hpp"
#include "core/result.hpp"
#include "guard/classify.hpp"

namespace gh::guard {

// allow < review < deny: the strictest of several is the max.
using action = config::guard_action;

struct decision {
  action act = action::allow;
  // Name of the rule that decided; empty when no rule matched (allowed by default);
  // "on_parse_error" when the text did not parse and that setting decided.
  std::string rule;
  // For the client (ErrorResponse / NoticeResponse) and the audit event: the rule's `message`,
  // or a generated one naming the rule and the statement class. Empty for a default allow.
  std::string message;
  // The statement (index into classification::statements) that decided; 0 for parse errors.
  std::size_t statement_index = 0;
  // The text did not parse (act is on_parse_error, or stricter if a pattern rule said so).
  bool parse_error = false;
  // Set by the session when a review decided this statement.
  std::string review_id;
};

class rule_set {
  struct token {};  // only compile() constructs

 public:
  // Errors are "FILE:LINE: connections[i].guardrails[j].match.pattern: problem" (the rules carry
  // their key path and line; `config_file` names the file).
  [[nodiscard]] static result<std::shared_ptr<const rule_set>> compile(
      std::span<const config::guard_rule_config> rules, action on_parse_error,
      std::string_view config_file = {});
  // The connection's guardrails and on_parse_error.
  [[nodiscard]] static result<std::shared_ptr<const rule_set>> compile(
      const config::connection_config& connection, std::string_view config_file = {});

  // The decision for a whole Query (or Parse) text: every statement is decided by its first
  // matching rule (none: allow), and the text gets the strictest (deny > review > allow; the
  // earliest statement on a tie). A text that did not parse gets on_parse_error, or a stricter
  // decision from a rule that can be decided on raw text alone (pattern/groups/except_groups).
  // `raw_text` is the text `c` was classified from; `groups` the principal's groups.
  [[nodiscard]] decision evaluate(const classification& c, std::string_view raw_text,
                                  std::span<const std::string> groups) const;

  // One statement's decision (first matching rule, or allow).
  [[nodiscard]] decision evaluate_statement(const statement_info& s, std::size_t index,
                                            std::span<const std::string> groups) const;

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] action on_parse_error() const { return on_parse_error_; }
  // Whether any decision of this rule set can be `review` (the session then needs the review
  // workflow).
  [[nodiscard]] bool may_review() const;

  struct rule;
  struct patterns;
  rule_set(token, std::vector<rule> rules, std::unique_ptr<patterns> p, action on_parse_error);
  ~rule_set();
  rule_set(const rule_set&) = delete;
  rule_set& operator=(const rule_set&) = delete;

 private:
  [[nodiscard]] decision decide(const rule& r, std::size_t index, std::string_view cls) const;

  std::vector<rule> rules_;
  std::unique_ptr<patterns> patterns_;  // Hyperscan database of every `pattern:`; null if none
  action on_parse_error_;
};

// Compiles every postgres connection's rule set once: what `check-config` and `serve` run at
// load so a bad pattern is a config error ("FILE:LINE: ...") rather than a runtime surprise.
[[nodiscard]] status check_config(const config::config& cfg);

}  // namespace gh::guard
