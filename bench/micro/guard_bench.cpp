// Guardrails on the per-statement hot path: classify() (libpg_query parse + JSON walk) and
// rule_set::evaluate(), for the statements pgbench sends and a few heavier shapes. Items/s is
// statements per second; the per-iteration time is the cost a session adds to one statement.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "guard/classify.hpp"
#include "guard/rules.hpp"

namespace {

using namespace gh::guard;

// pgbench's built-in TPC-B-like script and its -S (select-only) statement.
const std::string pgbench_select = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
const std::string pgbench_update =
    "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;";
const std::string pgbench_insert =
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
    "CURRENT_TIMESTAMP);";
const std::string report_query =
    "WITH recent AS (SELECT v.pid, count(*) AS n FROM visits v WHERE v.ts > now() - interval '7 "
    "days' GROUP BY v.pid) SELECT p.id, p.name, r.n, d.name FROM patients p JOIN recent r ON r.pid "
    "= p.id LEFT JOIN doctors d ON d.id = p.doctor_id WHERE p.active AND EXISTS (SELECT 1 FROM "
    "consents c WHERE c.pid = p.id) ORDER BY r.n DESC LIMIT 50";

// The issue's example rules: statement classes, tables+limit, functions, one raw-text pattern.
std::shared_ptr<const rule_set> issue_rules(bool with_pattern) {
  std::vector<gh::config::guard_rule_config> rules;
  auto add = [&](std::string name, action a, auto&& fill) {
    gh::config::guard_rule_config r;
    r.name = std::move(name);
    r.action = a;
    fill(r.match);
    rules.push_back(std::move(r));
  };
  add("no-drop", action::deny, [](auto& m) { m.statement = {"drop_table", "truncate"}; });
  add("unbounded-write", action::review, [](auto& m) {
    m.statement = {"delete", "update"};
    m.where = gh::config::clause_match::absent;
  });
  add("full-export", action::review, [](auto& m) {
    m.statement = {"copy_to", "select"};
    m.tables = {"patients"};
    m.limit = gh::config::clause_match::absent;
  });
  add("server-files", action::deny, [](auto& m) { m.functions = {"pg_read_file", "lo_export"}; });
  if (with_pattern) {
    add("pattern", action::deny, [](auto& m) { m.pattern = "(?i)\\bpg_sleep\\b"; });
  }
  return *rule_set::compile(rules, action::deny);
}

const std::vector<std::string> groups{"clinicians"};

void classify_only(benchmark::State& state, const std::string& sql) {
  for (auto _ : state) {
    auto c = classify(sql);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
}

void evaluate_only(benchmark::State& state, const std::string& sql) {
  auto rs = issue_rules(true);
  auto c = classify(sql);
  for (auto _ : state) {
    auto d = rs->evaluate(c, sql, groups);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}

// What a session pays per statement without a cache: classify + evaluate.
void classify_and_evaluate(benchmark::State& state, const std::string& sql, bool with_pattern) {
  auto rs = issue_rules(with_pattern);
  for (auto _ : state) {
    auto c = classify(sql);
    auto d = rs->evaluate(c, sql, groups);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(classify_only, pgbench_select, pgbench_select);
BENCHMARK_CAPTURE(classify_only, pgbench_update, pgbench_update);
BENCHMARK_CAPTURE(classify_only, pgbench_insert, pgbench_insert);
BENCHMARK_CAPTURE(classify_only, report_query, report_query);
BENCHMARK_CAPTURE(evaluate_only, pgbench_select, pgbench_select);
BENCHMARK_CAPTURE(evaluate_only, report_query, report_query);
BENCHMARK_CAPTURE(classify_and_evaluate, pgbench_select, pgbench_select, true);
BENCHMARK_CAPTURE(classify_and_evaluate, pgbench_select_no_pattern, pgbench_select, false);
BENCHMARK_CAPTURE(classify_and_evaluate, pgbench_update, pgbench_update, true);
BENCHMARK_CAPTURE(classify_and_evaluate, report_query, report_query, true);

// A multi-row INSERT: cost grows with the text (the parse tree is serialised to JSON and walked).
void classify_multirow_insert(benchmark::State& state) {
  std::string sql = "INSERT INTO visits (pid, note) VALUES ";
  for (int i = 0; i < state.range(0); ++i) {
    // Appends, not operator+ chains: GCC 12 at -O3 reports a false -Wrestrict on those.
    const std::string n = std::to_string(i);
    if (i) sql += ',';
    sql.append("(").append(n).append(", 'note ").append(n).append("')");
  }
  for (auto _ : state) {
    auto c = classify(sql);
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(sql.size()));
}
BENCHMARK(classify_multirow_insert)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
