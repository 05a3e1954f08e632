// libFuzzer target for the guardrails classifier and rule engine: any bytes as a Query text.
// classify() must return a classification or a parse error with a reason, every statement slice
// must lie inside the input, and a text that does not parse must never be allowed when
// on_parse_error is not allow. A broken invariant aborts so libFuzzer keeps the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "guard/classify.hpp"
#include "guard/rules.hpp"

// libpg_query 15-4.0.0 leaks one small buffer when pg_query_parse_plpgsql() fails (a DO body
// that does not compile); its stack ends at pg_query_raw_parse (no frame pointers).
extern "C" const char* __lsan_default_suppressions() {  // NOLINT: sanitizer hook
  return "leak:pg_query_raw_parse\n";
}

namespace {

std::shared_ptr<const gh::guard::rule_set> make_rules() {
  using gh::config::guard_rule_config;
  std::vector<guard_rule_config> rules(4);
  rules[0].name = "drop";
  rules[0].match.statement = {"drop_*", "truncate"};
  rules[1].name = "where";
  rules[1].action = gh::config::guard_action::review;
  rules[1].match.statement = {"delete", "update"};
  rules[1].match.where = gh::config::clause_match::absent;
  rules[2].name = "tables";
  rules[2].match.tables = {"patients", "s.*"};
  rules[2].match.functions = {"pg_*"};
  rules[3].name = "text";
  rules[3].match.pattern = "(?i)\\bpg_sleep\\b";
  auto r = gh::guard::rule_set::compile(rules, gh::config::guard_action::review);
  if (!r) std::abort();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto rules = make_rules();
  static const std::vector<std::string> groups{"clinicians"};
  const std::string sql(reinterpret_cast<const char*>(data), size);
  auto c = gh::guard::classify(sql);
  if (!c.parse_ok && (c.parse_error.empty() || !c.statements.empty())) std::abort();
  for (const auto& s : c.statements) {
    if (s.cls.empty() || s.classes.empty() || s.classes.front() != s.cls) std::abort();
    if (s.offset + s.text.size() > sql.size() || s.text.data() != sql.data() + s.offset)
      std::abort();
  }
  auto d = rules->evaluate(c, sql, groups);
  if (!c.parse_ok && d.act == gh::config::guard_action::allow) std::abort();
  return 0;
}
