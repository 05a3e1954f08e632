// rule_set: the data-driven cases of tests/testdata/guard/rules.txt (rules written exactly as in a
// connection's config, parsed by the config module), plus compile errors, messages, and
// concurrent use from many threads.
#include "guard/rules.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/blocks.hpp"
#include "guard/tests/testdata.hpp"

namespace gh::guard {
namespace {

struct rule_case {
  int line = 0;
  std::vector<std::string> groups;
  std::string sql;
  std::string act;
  std::string rule;
  int statement = -1;  // -1: not checked
};

struct ruleset_block {
  std::string name;
  int line = 0;
  std::string yaml;
  int yaml_line = 0;
  std::vector<rule_case> cases;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::vector<ruleset_block> load_blocks() {
  auto lines = testing::read_lines(testing::testdata_dir() / "rules.txt");
  std::vector<ruleset_block> out;
  bool in_cases = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const int n = static_cast<int>(i + 1);
    if (l.starts_with("[ruleset ")) {
      out.push_back(ruleset_block{l.substr(9, l.size() - 10), n, {}, n + 1, {}});
      in_cases = false;
      continue;
    }
    if (l == "[cases]") {
      in_cases = true;
      continue;
    }
    if (out.empty()) continue;  // header comments
    if (!in_cases) {
      out.back().yaml += l + "\n";
      continue;
    }
    if (l.empty() || l.starts_with("#")) continue;
    rule_case c;
    c.line = n;
    auto bar = l.find('|');
    auto arrow = l.rfind("=>");
    if (bar == std::string::npos || arrow == std::string::npos || arrow < bar) {
      ADD_FAILURE() << "rules.txt:" << n << ": expected GROUPS | SQL => ACTION RULE";
      continue;
    }
    std::string groups = trim(l.substr(0, bar));
    if (groups != "-") {
      std::istringstream gs(groups);
      for (std::string g; std::getline(gs, g, ',');) c.groups.push_back(trim(g));
    }
    c.sql = trim(l.substr(bar + 1, arrow - bar - 1));
    std::istringstream es(l.substr(arrow + 2));
    es >> c.act >> c.rule;
    if (c.rule == "-") c.rule.clear();
    if (std::string at; es >> at && at.starts_with("@")) c.statement = std::stoi(at.substr(1));
    out.back().cases.push_back(std::move(c));
  }
  return out;
}

result<std::shared_ptr<const rule_set>> compile_block(const ruleset_block& b) {
  YAML::Node root = YAML::Load(b.yaml);
  config::yaml_ctx ctx{"rules.txt"};
  std::vector<config::guard_rule_config> rules;
  if (auto s = config::parse_guardrails(root["guardrails"], ctx, "guardrails", b.yaml_line, rules);
      !s)
    return error{s.err()};
  action ope = action::deny;
  if (root["on_parse_error"]) {
    std::string v = root["on_parse_error"].as<std::string>();
    ope = v == "allow" ? action::allow : v == "review" ? action::review : action::deny;
  }
  return rule_set::compile(rules, ope, "rules.txt");
}

TEST(Rules, DataFile) {
  auto blocks = load_blocks();
  ASSERT_GE(blocks.size(), 10u) << "rules.txt not found or truncated; looked in "
                                << testing::testdata_dir();
  std::size_t cases = 0;
  for (const auto& b : blocks) {
    SCOPED_TRACE("rules.txt:" + std::to_string(b.line) + ": ruleset " + b.name);
    auto rs = compile_block(b);
    ASSERT_TRUE(rs.ok()) << rs.err();
    ASSERT_FALSE(b.cases.empty());
    for (const auto& c : b.cases) {
      SCOPED_TRACE("rules.txt:" + std::to_string(c.line) + ": " + c.sql);
      ++cases;
      auto cls = classify(c.sql);
      decision d = (*rs)->evaluate(cls, c.sql, c.groups);
      EXPECT_EQ(config::to_string(d.act), c.act) << d.message;
      EXPECT_EQ(d.rule, c.rule) << d.message;
      if (c.statement >= 0) {
        EXPECT_EQ(d.statement_index, static_cast<std::size_t>(c.statement));
      }
      EXPECT_EQ(d.parse_error, !cls.parse_ok);
      if (!d.rule.empty()) {
        EXPECT_FALSE(d.message.empty());
      }
    }
  }
  EXPECT_GT(cases, 120u);
}

config::guard_rule_config make_rule(std::string name, action a) {
  config::guard_rule_config r;
  r.name = std::move(name);
  r.action = a;
  r.path = "connections[0].guardrails[0]";
  r.line = 12;
  return r;
}

TEST(Rules, MessagesNameTheRuleOrUseTheConfiguredOne) {
  auto deny = make_rule("no-drop", action::deny);
  deny.match.statement = {"drop_table"};
  auto review = make_rule("unbounded", action::review);
  review.match.statement = {"delete"};
  review.message = "deleting every row needs a second pair of eyes";
  auto rs = rule_set::compile(std::vector{deny, review}, action::deny);
  ASSERT_TRUE(rs.ok()) << rs.err();
  const std::vector<std::string> none;

  auto d = (*rs)->evaluate(classify("DROP TABLE patients"), "DROP TABLE patients", none);
  EXPECT_EQ(d.act, action::deny);
  EXPECT_EQ(d.message, "refused by guardrail \"no-drop\" (drop_table)");

  d = (*rs)->evaluate(classify("DELETE FROM t"), "DELETE FROM t", none);
  EXPECT_EQ(d.act, action::review);
  EXPECT_EQ(d.message, "deleting every row needs a second pair of eyes");

  d = (*rs)->evaluate(classify("SELECT 1"), "SELECT 1", none);
  EXPECT_EQ(d.act, action::allow);
  EXPECT_TRUE(d.rule.empty());
  EXPECT_TRUE(d.message.empty());

  d = (*rs)->evaluate(classify("SELEC 1"), "SELEC 1", none);
  EXPECT_EQ(d.act, action::deny);
  EXPECT_EQ(d.rule, "on_parse_error");
  EXPECT_TRUE(d.parse_error);
  EXPECT_NE(d.message.find("could not be parsed"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("syntax error"), std::string::npos) << d.message;
}

TEST(Rules, BadPatternIsALocatedConfigError) {
  auto good = make_rule("ok", action::deny);
  good.match.pattern = "pg_sleep";
  good.match.pattern_line = 14;
  auto bad = make_rule("broken", action::deny);
  bad.path = "connections[2].guardrails[1]";
  bad.match.pattern = "(unclosed";
  bad.match.pattern_line = 33;
  auto rs = rule_set::compile(std::vector{good, bad}, action::deny, "gw.yaml");
  ASSERT_FALSE(rs.ok());
  EXPECT_TRUE(
      rs.err().starts_with("gw.yaml:33: connections[2].guardrails[1].match.pattern: "
                           "invalid pattern: "))
      << rs.err();

  auto backref = make_rule("backref", action::deny);
  backref.match.pattern = "(a)\\1";  // PCRE, but not Hyperscan
  backref.match.pattern_line = 7;
  rs = rule_set::compile(std::vector{backref}, action::deny, "gw.yaml");
  ASSERT_FALSE(rs.ok());
  EXPECT_TRUE(rs.err().starts_with("gw.yaml:7: ")) << rs.err();
}

TEST(Rules, CheckConfigCompilesEveryPostgresConnection) {
  const std::string yaml =
      "gateway:\n  listen:\n    postgres: 127.0.0.1:15432\n"
      "connections:\n"
      "  - name: a\n    type: postgres\n    host: h\n    database: d\n    user: u\n"
      "    guardrails:\n"
      "      - name: p\n"
      "        match: { pattern: \"pg_sleep\" }\n"
      "        action: deny\n";
  auto cfg = config::parse_config(yaml, "gw.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.err();
  EXPECT_TRUE(check_config(*cfg).ok());
  // The config parser already refuses what Hyperscan refuses; check_config() is what `serve`
  // runs, and must say the same if a config was built some other way.
  cfg->connections[0].guardrails[0].match.pattern = "a{2,1}";
  auto s = check_config(*cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.err().starts_with("gw.yaml:12: connections[0].guardrails[0].match.pattern: "))
      << s.err();
  auto bad = config::parse_config(
      yaml.substr(0, yaml.find("pg_sleep")) + "(?<=x)y\" }\n        action: deny\n", "gw.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.err().starts_with(
      "gw.yaml:12: connections[0].guardrails[0].match.pattern: invalid pattern: "))
      << bad.err();
}

TEST(Rules, MayReview) {
  auto deny = make_rule("d", action::deny);
  auto review = make_rule("r", action::review);
  EXPECT_FALSE((*rule_set::compile(std::vector{deny}, action::deny))->may_review());
  EXPECT_TRUE((*rule_set::compile(std::vector{deny, review}, action::deny))->may_review());
  EXPECT_TRUE((*rule_set::compile(std::vector{deny}, action::review))->may_review());
  EXPECT_EQ((*rule_set::compile(std::vector{deny, review}, action::allow))->size(), 2u);
}

TEST(Rules, EmptyRuleSetAllowsParsedStatements) {
  auto rs = rule_set::compile(std::vector<config::guard_rule_config>{}, action::deny);
  ASSERT_TRUE(rs.ok());
  const std::vector<std::string> none;
  EXPECT_EQ((*rs)->evaluate(classify("DROP TABLE t"), "DROP TABLE t", none).act, action::allow);
  EXPECT_EQ((*rs)->evaluate(classify("DROP TABLE"), "DROP TABLE", none).act, action::deny);
}

// One rule set, many threads (sessions on different workers), each with its own Hyperscan
// scratch; libpg_query keeps its memory per thread. fd 2 must stay what it was: some builds of
// libpg_query redirect stderr around every parse, which is not thread-safe.
TEST(Rules, ConcurrentEvaluationFromManyThreads) {
  auto pat = make_rule("sleep", action::deny);
  pat.match.pattern = "(?i)pg_sleep";
  auto del = make_rule("del", action::review);
  del.match.statement = {"delete"};
  del.match.where = config::clause_match::absent;
  auto rs = rule_set::compile(std::vector{pat, del}, action::deny);
  ASSERT_TRUE(rs.ok()) << rs.err();
  struct stat before {};
  ASSERT_EQ(::fstat(2, &before), 0);

  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<std::string> groups{"g" + std::to_string(t)};
      for (int i = 0; i < 300; ++i) {
        std::string a = "SELECT pg_sleep(" + std::to_string(i) + ")";
        std::string b = "DELETE FROM t" + std::to_string(t);
        std::string c = "SELECT * FROM t WHERE id = " + std::to_string(i);
        if ((*rs)->evaluate(classify(a), a, groups).act != action::deny) ++wrong;
        if ((*rs)->evaluate(classify(b), b, groups).act != action::review) ++wrong;
        if ((*rs)->evaluate(classify(c), c, groups).act != action::allow) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  struct stat after {};
  ASSERT_EQ(::fstat(2, &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_dev, after.st_dev);
}

}  // namespace
}  // namespace gh::guard
