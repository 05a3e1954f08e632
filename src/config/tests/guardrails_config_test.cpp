// `guardrails:`, `reviews:`, `on_parse_error`, `access`, `access_window` of a connection: values,
// defaults, and a table of invalid blocks each naming file:line, key path and problem.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "config/config.hpp"
#include "config/tests/test_util.hpp"

namespace gh::config {
namespace {

using namespace std::chrono_literals;

// Lines 1..9; tests append from line 10 on.
const std::string base =
    "gateway:\n"                       // 1
    "  listen:\n"                      // 2
    "    postgres: 127.0.0.1:15432\n"  // 3
    "connections:\n"                   // 4
    "  - name: patients\n"             // 5
    "    type: postgres\n"             // 6
    "    host: 127.0.0.1\n"            // 7
    "    database: clinic\n"           // 8
    "    user: app\n";                 // 9

const std::string approvers = "    reviews:\n      approvers: [dba]\n";

TEST(GuardrailsConfig, IssueExampleParses) {
  auto r = parse_config(base +
                            "    guardrails:\n"                                                // 10
                            "      - name: no-drop\n"                                          // 11
                            "        match: { statement: [drop_table, truncate] }\n"           // 12
                            "        action: deny\n"                                           // 13
                            "      - name: unbounded-write\n"                                  // 14
                            "        match: { statement: [delete, update], where: absent }\n"  // 15
                            "        action: review\n"                                         // 16
                            "      - name: full-export\n"                                      // 17
                            "        match: { statement: [copy_to, select], tables: [patients], "
                            "limit: absent }\n"                                          // 18
                            "        action: review\n"                                   // 19
                            "        message: exporting patients needs approval\n"       // 20
                            "      - name: server-files\n"                               // 21
                            "        match: { functions: [pg_read_file, lo_export] }\n"  // 22
                            "        action: deny\n"                                     // 23
                            "      - name: pattern\n"                                    // 24
                            "        match: { pattern: \"(?i)\\\\bpg_sleep\\\\b\" }\n"   // 25
                            "        action: deny\n"                                     // 26
                            "      - name: people\n"                                     // 27
                            "        match:\n"                                           // 28
                            "          groups: [contractors]\n"                          // 29
                            "          except_groups: [dba]\n"                           // 30
                            "          copy: [program, file]\n"                          // 31
                            "          where: present\n"                                 // 32
                            "          limit: present\n"                                 // 33
                            "        action: allow\n"                                    // 34
                            "    reviews:\n"                                             // 35
                            "      approvers: [dba]\n"                                   // 36
                            "      min_approvals: 1\n"                                   // 37
                            "      timeout: 10m\n"                                       // 38
                            "      self_approval: false\n",                              // 39
                        "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const auto& c = r->connections.at(0);
  ASSERT_EQ(c.guardrails.size(), 6u);

  const auto& no_drop = c.guardrails[0];
  EXPECT_EQ(no_drop.name, "no-drop");
  EXPECT_EQ(no_drop.line, 11);
  EXPECT_EQ(no_drop.path, "connections[0].guardrails[0]");
  EXPECT_EQ(no_drop.action, guard_action::deny);
  EXPECT_EQ(no_drop.match.statement, (std::vector<std::string>{"drop_table", "truncate"}));
  EXPECT_TRUE(no_drop.message.empty());

  const auto& unbounded = c.guardrails[1];
  EXPECT_EQ(unbounded.action, guard_action::review);
  EXPECT_EQ(unbounded.action_line, 16);
  EXPECT_EQ(unbounded.match.where, clause_match::absent);
  EXPECT_EQ(unbounded.match.limit, clause_match::any);

  const auto& export_rule = c.guardrails[2];
  EXPECT_EQ(export_rule.match.tables, std::vector<std::string>{"patients"});
  EXPECT_EQ(export_rule.match.limit, clause_match::absent);
  EXPECT_EQ(export_rule.message, "exporting patients needs approval");

  EXPECT_EQ(c.guardrails[3].match.functions,
            (std::vector<std::string>{"pg_read_file", "lo_export"}));
  EXPECT_EQ(c.guardrails[4].match.pattern, "(?i)\\bpg_sleep\\b");
  EXPECT_EQ(c.guardrails[4].match.pattern_line, 25);

  const auto& people = c.guardrails[5].match;
  EXPECT_EQ(people.groups, std::vector<std::string>{"contractors"});
  EXPECT_EQ(people.except_groups, std::vector<std::string>{"dba"});
  EXPECT_EQ(people.copy, (std::vector<copy_target>{copy_target::program, copy_target::file}));
  EXPECT_EQ(people.where, clause_match::present);
  EXPECT_EQ(people.limit, clause_match::present);
  EXPECT_EQ(c.guardrails[5].action, guard_action::allow);

  EXPECT_TRUE(c.reviews.present);
  EXPECT_EQ(c.reviews.line, 35);
  EXPECT_EQ(c.reviews.approvers, std::vector<std::string>{"dba"});
  EXPECT_EQ(c.reviews.min_approvals, 1u);
  EXPECT_EQ(c.reviews.timeout, 10min);
  EXPECT_FALSE(c.reviews.self_approval);
  EXPECT_FALSE(c.reviews.notify.has_value());

  EXPECT_EQ(c.on_parse_error, guard_action::deny);
  EXPECT_EQ(c.access, access_mode::direct);
}

TEST(GuardrailsConfig, Defaults) {
  auto r = parse_config(base, "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const auto& c = r->connections.at(0);
  EXPECT_TRUE(c.guardrails.empty());
  EXPECT_FALSE(c.reviews.present);
  EXPECT_EQ(c.reviews.min_approvals, 1u);
  EXPECT_EQ(c.reviews.timeout, 10min);
  EXPECT_FALSE(c.reviews.self_approval);
  EXPECT_EQ(c.on_parse_error, guard_action::deny);
  EXPECT_EQ(c.access, access_mode::direct);
  EXPECT_EQ(c.access_window, 1h);
}

TEST(GuardrailsConfig, ScalarsForListsMatchEverythingAndEmptyBlocks) {
  auto r = parse_config(base +
                            "    guardrails:\n"
                            "      - name: one\n"
                            "        match: { statement: delete, tables: patients }\n"
                            "        action: deny\n"
                            "      - name: prefix\n"
                            "        match: { statement: [\"drop_*\", \"create_*\"] }\n"
                            "        action: deny\n"
                            "      - name: catch-all\n"
                            "        match: {}\n"
                            "        action: allow\n"
                            "      - name: null-match\n"
                            "        match:\n"
                            "        action: allow\n",
                        "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const auto& g = r->connections.at(0).guardrails;
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[0].match.statement, std::vector<std::string>{"delete"});
  EXPECT_EQ(g[0].match.tables, std::vector<std::string>{"patients"});
  EXPECT_EQ(g[1].match.statement, (std::vector<std::string>{"drop_*", "create_*"}));
  EXPECT_TRUE(g[2].match.statement.empty());
  EXPECT_TRUE(g[3].match.pattern.empty());

  auto empty = parse_config(base + "    guardrails:\n", "demo.yaml");
  ASSERT_TRUE(empty.ok()) << empty.err();
  EXPECT_TRUE(empty->connections.at(0).guardrails.empty());
}

TEST(GuardrailsConfig, ReviewsWithNotifyAndAccess) {
  testing::temp_dir tmp;
  auto file = tmp.write("gw.yaml", base +
                                       "    on_parse_error: review\n"                     // 10
                                       "    access: review\n"                             // 11
                                       "    access_window: 2h30m\n"                       // 12
                                       "    reviews:\n"                                   // 13
                                       "      approvers: [dba, security]\n"               // 14
                                       "      min_approvals: 2\n"                         // 15
                                       "      timeout: 90s\n"                             // 16
                                       "      self_approval: true\n"                      // 17
                                       "      notify:\n"                                  // 18
                                       "        webhook: https://hooks.example.com/gh\n"  // 19
                                       "        format: slack\n"                          // 20
                                       "        secret: file:secrets/hook\n");            // 21
  auto r = load_config(file.string());
  ASSERT_TRUE(r.ok()) << r.err();
  const auto& c = r->connections.at(0);
  EXPECT_EQ(c.on_parse_error, guard_action::review);
  EXPECT_EQ(c.on_parse_error_line, 10);
  EXPECT_EQ(c.access, access_mode::review);
  EXPECT_EQ(c.access_line, 11);
  EXPECT_EQ(c.access_window, 150min);
  EXPECT_EQ(c.reviews.approvers, (std::vector<std::string>{"dba", "security"}));
  EXPECT_EQ(c.reviews.min_approvals, 2u);
  EXPECT_EQ(c.reviews.timeout, 90s);
  EXPECT_TRUE(c.reviews.self_approval);
  ASSERT_TRUE(c.reviews.notify.has_value());
  EXPECT_EQ(c.reviews.notify->webhook, "https://hooks.example.com/gh");
  EXPECT_EQ(c.reviews.notify->format, notify_format::slack);
  EXPECT_EQ(c.reviews.notify->secret.spec, "file:" + r->base_dir + "/secrets/hook");
  EXPECT_EQ(c.reviews.notify->secret_line, 21);
  EXPECT_EQ(c.reviews.notify->line, 18);

  // The webhook secret is checked with the others, and never read during parsing.
  auto s = check_secrets(*r);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.err().starts_with(file.string() + ":21: connections[0].reviews.notify.secret: "))
      << s.err();
  tmp.write("secrets/hook", "s3cret\n");
  EXPECT_TRUE(check_secrets(*r).ok());
}

TEST(GuardrailsConfig, LoopbackHttpWebhookAndDefaultFormat) {
  auto r =
      parse_config(base + approvers + "      notify: { webhook: \"http://127.0.0.1:8088/hook\" }\n",
                   "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const auto& n = r->connections.at(0).reviews.notify;
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->format, notify_format::json);
  EXPECT_TRUE(n->secret.empty());
}

TEST(GuardrailsConfig, SshConnectionMayUseAccessReview) {
  auto r = parse_config(
      "gateway:\n  listen:\n    ssh: 127.0.0.1:2222\n"
      "connections:\n  - name: box\n    type: ssh\n    host: h\n    user: u\n"
      "    access: review\n    reviews: { approvers: [ops] }\n",
      "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_EQ(r->connections.at(0).access, access_mode::review);
}

TEST(GuardrailsConfig, StatementClassListIsSortedAndHasTheIssueClasses) {
  auto classes = statement_classes();
  EXPECT_TRUE(std::is_sorted(classes.begin(), classes.end()));
  for (std::string_view c :
       {"select",          "insert",        "update",       "delete",       "merge",
        "truncate",        "drop_table",    "drop_view",    "drop_index",   "drop_schema",
        "drop_database",   "drop_function", "drop_role",    "drop_other",   "alter_table",
        "alter_role",      "alter_other",   "create_table", "create_index", "create_role",
        "create_function", "create_other",  "grant",        "revoke",       "copy_to",
        "copy_from",       "call",          "do",           "set",          "show",
        "transaction",     "explain",       "prepare",      "execute",      "deallocate",
        "vacuum",          "analyze",       "listen",       "notify",       "other"}) {
    EXPECT_TRUE(std::find(classes.begin(), classes.end(), c) != classes.end()) << c;
  }
}

struct bad_case {
  const char* name;
  std::string yaml;
  std::string where;    // expected "demo.yaml:LINE: key.path: " prefix
  std::string problem;  // expected substring of the rest
};

std::ostream& operator<<(std::ostream& os, const bad_case& c) {
  return os << c.name;
}

class GuardrailsConfigErrors : public ::testing::TestWithParam<bad_case> {};

TEST_P(GuardrailsConfigErrors, NamesLineKeyAndProblem) {
  const bad_case& c = GetParam();
  auto r = parse_config(c.yaml, "demo.yaml");
  ASSERT_FALSE(r.ok()) << "config was accepted:\n" << c.yaml;
  EXPECT_TRUE(r.err().starts_with(c.where)) << r.err();
  EXPECT_NE(r.err().find(c.problem), std::string::npos) << r.err();
}

const std::string rules = base + "    guardrails:\n";  // line 10; rules start at 11
// Three lines: name, match, action.
std::string rule(const std::string& match, const std::string& action = "deny",
                 const std::string& name = "r") {
  return "      - name: " + name + "\n        match: " + match + "\n        action: " + action +
         "\n";
}

INSTANTIATE_TEST_SUITE_P(
    Table, GuardrailsConfigErrors,
    ::testing::Values(
        bad_case{"guardrails_not_a_list", base + "    guardrails: {name: x}\n",
                 "demo.yaml:10: connections[0].guardrails: ", "expected a list of rules"},
        bad_case{"rule_not_a_mapping", rules + "      - no-drop\n",
                 "demo.yaml:11: connections[0].guardrails[0]: ", "expected a mapping"},
        bad_case{"rule_without_name", rules + "      - match: {}\n        action: deny\n",
                 "demo.yaml:11: connections[0].guardrails[0].name: ", "is required"},
        bad_case{"duplicate_rule_name", rules + rule("{}") + rule("{}"),
                 "demo.yaml:14: connections[0].guardrails[1].name: ",
                 "duplicate rule name 'r' (first defined on line 11)"},
        bad_case{"rule_without_match", rules + "      - name: r\n        action: deny\n",
                 "demo.yaml:11: connections[0].guardrails[0].match: ", "match: {}"},
        bad_case{"rule_without_action", rules + "      - name: r\n        match: {}\n",
                 "demo.yaml:11: connections[0].guardrails[0].action: ", "is required"},
        bad_case{"bad_action", rules + rule("{}", "block"),
                 "demo.yaml:13: connections[0].guardrails[0].action: ",
                 "expected one of deny | review | allow, got 'block'"},
        bad_case{"unknown_rule_key", rules + rule("{}") + "        mesage: x\n",
                 "demo.yaml:14: connections[0].guardrails[0].mesage: ", "did you mean 'message'?"},
        bad_case{"unknown_match_key", rules + rule("{ statment: [delete] }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.statment: ",
                 "did you mean 'statement'?"},
        bad_case{"match_not_a_mapping", rules + rule("[delete]"),
                 "demo.yaml:12: connections[0].guardrails[0].match: ", "expected a mapping"},
        bad_case{"unknown_class_with_hint", rules + rule("{ statement: [delete, dorp_table] }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.statement[1]: ",
                 "unknown statement class 'dorp_table' (did you mean 'drop_table'?)"},
        bad_case{"prefix_matching_nothing", rules + rule("{ statement: [\"foo_*\"] }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.statement[0]: ",
                 "'foo_*' matches no statement class"},
        bad_case{"empty_list", rules + rule("{ tables: [] }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.tables: ", "must not be empty"},
        bad_case{"list_of_maps", rules + rule("{ functions: [{a: b}] }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.functions[0]: ",
                 "expected a non-empty string"},
        bad_case{"bad_where", rules + rule("{ where: missing }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.where: ",
                 "expected one of absent | present, got 'missing'"},
        bad_case{"bad_limit", rules + rule("{ limit: 10 }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.limit: ", "absent | present"},
        bad_case{"bad_copy", rules + rule("{ copy: [program, pipe] }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.copy[1]: ",
                 "expected one of stdout | stdin | program | file, got 'pipe'"},
        bad_case{"invalid_pattern", rules + rule("{ pattern: \"(unclosed\" }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.pattern: ", "invalid pattern: "},
        bad_case{"pattern_hyperscan_cannot_do", rules + rule("{ pattern: \"(a)\\\\1\" }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.pattern: ", "invalid pattern: "},
        bad_case{"empty_pattern", rules + rule("{ pattern: \"\" }"),
                 "demo.yaml:12: connections[0].guardrails[0].match.pattern: ", "must not be empty"},
        bad_case{"control_char_in_message", rules + rule("{}") + "        message: \"a\\x01b\"\n",
                 "demo.yaml:14: connections[0].guardrails[0].message: ", "control characters"},
        bad_case{"review_rule_without_reviews", rules + rule("{}") + rule("{}", "review", "s"),
                 "demo.yaml:16: connections[0].guardrails[1].action: ",
                 "review needs reviews.approvers"},
        bad_case{"access_review_without_reviews", base + "    access: review\n",
                 "demo.yaml:10: connections[0].access: ", "access: review needs reviews.approvers"},
        bad_case{"parse_error_review_without_reviews", base + "    on_parse_error: review\n",
                 "demo.yaml:10: connections[0].on_parse_error: ",
                 "on_parse_error: review needs reviews.approvers"},
        bad_case{"bad_on_parse_error", base + "    on_parse_error: ignore\n",
                 "demo.yaml:10: connections[0].on_parse_error: ",
                 "expected one of deny | review | allow, got 'ignore'"},
        bad_case{"bad_access", base + "    access: { hours: \"8-18\" }\n",
                 "demo.yaml:10: connections[0].access: ", "expected a string"},
        bad_case{"bad_access_value", base + "    access: approve\n",
                 "demo.yaml:10: connections[0].access: ",
                 "expected one of direct | review, got 'approve'"},
        bad_case{"window_without_access_review", base + "    access_window: 1h\n",
                 "demo.yaml:10: connections[0].access_window: ", "only valid with access: review"},
        bad_case{"bad_window", base + approvers + "    access: review\n    access_window: soon\n",
                 "demo.yaml:13: connections[0].access_window: ", "soon"},
        bad_case{"zero_window", base + approvers + "    access: review\n    access_window: 0\n",
                 "demo.yaml:13: connections[0].access_window: ", "must be greater than 0"},
        bad_case{"guardrails_on_ssh",
                 "gateway:\n  listen:\n    ssh: 127.0.0.1:2222\nconnections:\n  - name: box\n"
                 "    type: ssh\n    host: h\n    user: u\n    guardrails: []\n",
                 "demo.yaml:9: connections[0].guardrails: ", "only valid for type postgres"},
        bad_case{"on_parse_error_on_ssh",
                 "gateway:\n  listen:\n    ssh: 127.0.0.1:2222\nconnections:\n  - name: box\n"
                 "    type: ssh\n    host: h\n    user: u\n    on_parse_error: allow\n",
                 "demo.yaml:9: connections[0].on_parse_error: ", "only valid for type postgres"},
        bad_case{"reviews_not_a_mapping", base + "    reviews: [dba]\n",
                 "demo.yaml:10: connections[0].reviews: ", "expected a mapping"},
        bad_case{"reviews_null", base + "    reviews:\n",
                 "demo.yaml:10: connections[0].reviews: ", "expected a mapping"},
        bad_case{"reviews_without_approvers", base + "    reviews:\n      timeout: 5m\n",
                 "demo.yaml:11: connections[0].reviews.approvers: ", "is required"},
        bad_case{"reviews_empty_approvers", base + "    reviews:\n      approvers: []\n",
                 "demo.yaml:11: connections[0].reviews.approvers: ", "must not be empty"},
        bad_case{"unknown_reviews_key", base + approvers + "      aprovers: [x]\n",
                 "demo.yaml:12: connections[0].reviews.aprovers: ", "did you mean 'approvers'?"},
        bad_case{
            "min_approvals_zero", base + approvers + "      min_approvals: 0\n",
            "demo.yaml:12: connections[0].reviews.min_approvals: ", "expected an integer 1..100"},
        bad_case{
            "min_approvals_text", base + approvers + "      min_approvals: two\n",
            "demo.yaml:12: connections[0].reviews.min_approvals: ", "expected an integer 1..100"},
        bad_case{"timeout_zero", base + approvers + "      timeout: 0\n",
                 "demo.yaml:12: connections[0].reviews.timeout: ", "must be greater than 0"},
        bad_case{"timeout_bad", base + approvers + "      timeout: 10 minutes\n",
                 "demo.yaml:12: connections[0].reviews.timeout: ", "10 minutes"},
        bad_case{"self_approval_yes", base + approvers + "      self_approval: yes\n",
                 "demo.yaml:12: connections[0].reviews.self_approval: ", "expected true or false"},
        bad_case{"notify_not_a_mapping", base + approvers + "      notify: https://x\n",
                 "demo.yaml:12: connections[0].reviews.notify: ", "expected a mapping"},
        bad_case{"notify_without_webhook", base + approvers + "      notify: { format: json }\n",
                 "demo.yaml:12: connections[0].reviews.notify.webhook: ", "is required"},
        bad_case{"notify_plain_http",
                 base + approvers + "      notify: { webhook: \"http://hooks.example.com/x\" }\n",
                 "demo.yaml:12: connections[0].reviews.notify.webhook: ",
                 "must be an https:// URL (http:// only for localhost)"},
        bad_case{"notify_no_host", base + approvers + "      notify: { webhook: \"https://\" }\n",
                 "demo.yaml:12: connections[0].reviews.notify.webhook: ", "needs a host"},
        bad_case{"notify_bad_format",
                 base + approvers + "      notify: { webhook: \"https://h/x\", format: teams }\n",
                 "demo.yaml:12: connections[0].reviews.notify.format: ",
                 "expected one of json | slack, got 'teams'"},
        bad_case{
            "notify_bad_secret",
            base + approvers + "      notify: { webhook: \"https://h/x\", secret: \"env:1BAD\" }\n",
            "demo.yaml:12: connections[0].reviews.notify.secret: ", "env: needs a variable name"},
        bad_case{"duplicate_reviews_key", base + approvers + "      approvers: [x]\n",
                 "demo.yaml:12: connections[0].reviews.approvers: ",
                 "duplicate key (first set on line 11)"}),
    [](const ::testing::TestParamInfo<bad_case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace gh::config
