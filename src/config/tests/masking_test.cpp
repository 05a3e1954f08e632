// The masking: block of a connection: values, defaults, and a table of invalid blocks each of
// which must name file:line and the key path (regexes are compiled with Hyperscan at load).
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace gh::config {
namespace {

// Lines 1..9; masking blocks start on line 10.
const std::string head =
    "gateway:\n"                      // 1
    "  listen:\n"                     // 2
    "    postgres: 127.0.0.1:15432\n"  // 3
    "connections:\n"                  // 4
    "  - name: patients\n"            // 5
    "    type: postgres\n"            // 6
    "    host: 127.0.0.1\n"           // 7
    "    database: clinic\n"          // 8
    "    user: app\n";                // 9

TEST(MaskingConfig, FullBlock) {
  auto r = parse_config(head +
                            "    masking:\n"                                       // 10
                            "      detectors: [us_ssn, email, mrn]\n"              // 11
                            "      action: partial\n"                              // 12
                            "      actions:\n"                                     // 13
                            "        email: hash\n"                                // 14
                            "        mrn: {action: redact, replacement: \"MRN?\"}\n"  // 15
                            "      columns:\n"                                     // 16
                            "        - match: \"(?i)^(ssn|dob|full_name)$\"\n"     // 17
                            "          action: redact\n"                           // 18
                            "          replacement: \"[hidden]\"\n"                // 19
                            "        - match: \"^notes_private$\"\n"               // 20
                            "          action: null\n"                             // 21
                            "      custom:\n"                                      // 22
                            "        - id: employee_id\n"                          // 23
                            "          pattern: \"EMP-\\\\d{6}\"\n"                // 24
                            "          validator: luhn\n"                          // 25
                            "          context: [Employee, Badge]\n"               // 26
                            "          action: hash\n"                             // 27
                            "      except_groups: [breakglass]\n"                  // 28
                            "      mrn_pattern: \"\\\\bPT-\\\\d{8}\\\\b\"\n"       // 29
                            "      typed_columns: null\n",                         // 30
                        "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const masking_config& m = r->connections[0].masking;
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.line, 10);
  EXPECT_EQ(m.path, "connections[0].masking");
  EXPECT_EQ(m.file, "demo.yaml");
  EXPECT_FALSE(m.default_detectors);
  EXPECT_EQ(m.detectors, (std::vector<std::string>{"us_ssn", "email", "mrn"}));
  EXPECT_EQ(m.action.action, mask_action::partial);
  ASSERT_EQ(m.actions.size(), 2u);
  EXPECT_EQ(m.actions[0].detector, "email");
  EXPECT_EQ(m.actions[0].action.action, mask_action::hash);
  EXPECT_EQ(m.actions[1].action.action, mask_action::redact);
  EXPECT_EQ(m.actions[1].action.replacement, "MRN?");
  ASSERT_EQ(m.columns.size(), 2u);
  EXPECT_EQ(m.columns[0].match, "(?i)^(ssn|dob|full_name)$");
  EXPECT_EQ(m.columns[0].match_line, 17);
  EXPECT_EQ(m.columns[0].action.replacement, "[hidden]");
  EXPECT_EQ(m.columns[1].action.action, mask_action::null);
  EXPECT_EQ(m.columns[1].path, "connections[0].masking.columns[1]");
  ASSERT_EQ(m.custom.size(), 1u);
  EXPECT_EQ(m.custom[0].id, "employee_id");
  EXPECT_EQ(m.custom[0].pattern, "EMP-\\d{6}");
  EXPECT_EQ(m.custom[0].pattern_line, 24);
  EXPECT_EQ(m.custom[0].validator, "luhn");
  EXPECT_EQ(m.custom[0].context, (std::vector<std::string>{"employee", "badge"}));
  ASSERT_TRUE(m.custom[0].action.has_value());
  EXPECT_EQ(m.custom[0].action->action, mask_action::hash);
  EXPECT_EQ(m.except_groups, std::vector<std::string>{"breakglass"});
  EXPECT_EQ(m.mrn_pattern, "\\bPT-\\d{8}\\b");
  EXPECT_EQ(m.mrn_pattern_line, 29);
  EXPECT_EQ(m.typed, typed_mask::null);
  EXPECT_TRUE(m.uses_hash());
}

TEST(MaskingConfig, Defaults) {
  auto absent = parse_config(head, "demo.yaml");
  ASSERT_TRUE(absent.ok()) << absent.err();
  EXPECT_FALSE(absent->connections[0].masking.present) << "no block: not masked";

  auto r = parse_config(head + "    masking: {}\n", "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const masking_config& m = r->connections[0].masking;
  EXPECT_TRUE(m.present);
  EXPECT_TRUE(m.default_detectors);
  EXPECT_TRUE(m.detectors.empty());
  EXPECT_EQ(m.action.action, mask_action::redact);
  EXPECT_TRUE(m.action.replacement.empty());
  EXPECT_EQ(m.typed, typed_mask::placeholder);
  EXPECT_FALSE(m.uses_hash());

  auto empty = parse_config(head + "    masking:\n", "demo.yaml");
  ASSERT_TRUE(empty.ok()) << empty.err();
  EXPECT_TRUE(empty->connections[0].masking.present);

  auto none = parse_config(head + "    masking: {detectors: none}\n", "demo.yaml");
  ASSERT_TRUE(none.ok()) << none.err();
  EXPECT_FALSE(none->connections[0].masking.default_detectors);
  EXPECT_TRUE(none->connections[0].masking.detectors.empty());

  auto def = parse_config(head + "    masking: {detectors: default, action: hash}\n", "demo.yaml");
  ASSERT_TRUE(def.ok()) << def.err();
  EXPECT_TRUE(def->connections[0].masking.default_detectors);
  EXPECT_TRUE(def->connections[0].masking.uses_hash());
}

struct bad_case {
  const char* name;
  std::string block;  // appended after `head`, starting on line 10
  std::string where;  // "demo.yaml:LINE: path: "
  std::string problem;
};

class MaskingConfigBad : public ::testing::TestWithParam<bad_case> {};

TEST_P(MaskingConfigBad, NamesLineAndPath) {
  const bad_case& c = GetParam();
  auto r = parse_config(head + c.block, "demo.yaml");
  ASSERT_FALSE(r.ok()) << c.name;
  EXPECT_TRUE(r.err().starts_with(c.where)) << r.err();
  EXPECT_NE(r.err().find(c.problem), std::string::npos) << r.err();
}

const std::string m = "    masking:\n";  // line 10

INSTANTIATE_TEST_SUITE_P(
    Table, MaskingConfigBad,
    ::testing::Values(
        bad_case{"not_a_map", "    masking: [1]\n", "demo.yaml:10: connections[0].masking: ",
                 "expected a mapping"},
        bad_case{"unknown_key", m + "      detector: default\n",
                 "demo.yaml:11: connections[0].masking.detector: ", "unknown key"},
        bad_case{"unknown_detector", m + "      detectors:\n        - us_ssn\n        - ssn\n",
                 "demo.yaml:13: connections[0].masking.detectors[1]: ", "unknown detector 'ssn'"},
        bad_case{"detector_twice", m + "      detectors: [email, email]\n",
                 "demo.yaml:11: connections[0].masking.detectors[1]: ", "listed twice"},
        bad_case{"detectors_scalar", m + "      detectors: all\n",
                 "demo.yaml:11: connections[0].masking.detectors: ", "expected default, none"},
        bad_case{"bad_action", m + "      action: scramble\n",
                 "demo.yaml:11: connections[0].masking.action: ", "expected redact, partial"},
        bad_case{"replacement_comma", m + "      replacement: \"a,b\"\n",
                 "demo.yaml:11: connections[0].masking.replacement: ", "must not contain"},
        bad_case{"replacement_control", m + "      replacement: \"a\\tb\"\n",
                 "demo.yaml:11: connections[0].masking.replacement: ", "printable ASCII"},
        bad_case{"replacement_not_redact", m + "      action: partial\n      replacement: x\n",
                 "demo.yaml:12: connections[0].masking.replacement: ", "only applies to action: redact"},
        bad_case{"columns_not_list", m + "      columns: {match: x}\n",
                 "demo.yaml:11: connections[0].masking.columns: ", "expected a list"},
        bad_case{"column_missing_match", m + "      columns:\n        - action: redact\n",
                 "demo.yaml:12: connections[0].masking.columns[0].match: ", "is required"},
        bad_case{"column_bad_regex", m + "      columns:\n        - action: redact\n          match: \"(ssn\"\n",
                 "demo.yaml:13: connections[0].masking.columns[0].match: ", "invalid pattern: "},
        bad_case{"column_unknown_key", m + "      columns:\n        - match: ssn\n          mode: x\n",
                 "demo.yaml:13: connections[0].masking.columns[0].mode: ", "unknown key"},
        bad_case{"custom_missing_pattern", m + "      custom:\n        - id: badge\n",
                 "demo.yaml:12: connections[0].masking.custom[0].pattern: ", "is required"},
        bad_case{"custom_missing_id", m + "      custom:\n        - pattern: x\\d\n",
                 "demo.yaml:12: connections[0].masking.custom[0].id: ", "is required"},
        bad_case{"custom_bad_id", m + "      custom:\n        - id: Badge-1\n          pattern: x\n",
                 "demo.yaml:12: connections[0].masking.custom[0].id: ", "lowercase"},
        bad_case{"custom_builtin_id", m + "      custom:\n        - id: email\n          pattern: x\n",
                 "demo.yaml:12: connections[0].masking.custom[0].id: ", "built-in detector"},
        bad_case{"custom_duplicate_id",
                 m + "      custom:\n        - {id: b, pattern: x}\n        - {id: b, pattern: y}\n",
                 "demo.yaml:13: connections[0].masking.custom[1].id: ", "duplicate custom detector id"},
        bad_case{"custom_bad_pattern",
                 m + "      custom:\n        - id: badge\n          pattern: \"BDG(\\\\d{4}\"\n",
                 "demo.yaml:13: connections[0].masking.custom[0].pattern: ", "invalid pattern: "},
        bad_case{"custom_matches_empty",
                 m + "      custom:\n        - id: badge\n          pattern: \"x*\"\n",
                 "demo.yaml:13: connections[0].masking.custom[0].pattern: ", "invalid pattern: "},
        bad_case{"custom_lookbehind",
                 m + "      custom:\n        - id: badge\n          pattern: \"(?<=ID)\\\\d+\"\n",
                 "demo.yaml:13: connections[0].masking.custom[0].pattern: ", "invalid pattern: "},
        bad_case{"custom_bad_validator",
                 m + "      custom:\n        - id: b\n          pattern: x\\d\n          validator: crc\n",
                 "demo.yaml:14: connections[0].masking.custom[0].validator: ", "expected luhn"},
        bad_case{"custom_context_scalar",
                 m + "      custom:\n        - id: b\n          pattern: x\\d\n          context: id\n",
                 "demo.yaml:14: connections[0].masking.custom[0].context: ", "expected a list"},
        bad_case{"actions_unknown_detector", m + "      actions: {ssn: partial}\n",
                 "demo.yaml:11: connections[0].masking.actions.ssn: ", "unknown detector 'ssn'"},
        bad_case{"actions_disabled_detector", m + "      detectors: [email]\n      actions: {us_ssn: partial}\n",
                 "demo.yaml:12: connections[0].masking.actions.us_ssn: ", "not enabled"},
        bad_case{"actions_bad_value", m + "      actions:\n        email: {replacement: x}\n",
                 "demo.yaml:12: connections[0].masking.actions.email.action: ", "is required"},
        bad_case{"mrn_pattern_disabled", m + "      detectors: [email]\n      mrn_pattern: \"PT\\\\d+\"\n",
                 "demo.yaml:12: connections[0].masking.mrn_pattern: ", "not enabled"},
        bad_case{"mrn_pattern_bad", m + "      mrn_pattern: \"PT[\"\n",
                 "demo.yaml:11: connections[0].masking.mrn_pattern: ", "invalid pattern: "},
        bad_case{"typed_bad", m + "      typed_columns: zero\n",
                 "demo.yaml:11: connections[0].masking.typed_columns: ", "expected placeholder or null"},
        bad_case{"except_groups_scalar", m + "      except_groups: dba\n",
                 "demo.yaml:11: connections[0].masking.except_groups: ", "expected a list"},
        bad_case{"duplicate_key", m + "      action: redact\n      action: hash\n",
                 "demo.yaml:12: connections[0].masking.action: ", "duplicate key"}),
    [](const ::testing::TestParamInfo<bad_case>& i) { return std::string(i.param.name); });

TEST(MaskingConfig, PatternChecksMatchTheEngine) {
  EXPECT_EQ(check_detector_pattern("EMP-\\d{6}"), "");
  EXPECT_NE(check_detector_pattern("(x"), "");
  EXPECT_EQ(check_column_pattern("(?i)^ssn$"), "");
  EXPECT_NE(check_column_pattern("[ssn"), "");
  EXPECT_EQ(to_string(mask_action::partial), "partial");
}

}  // namespace
}  // namespace gh::config
