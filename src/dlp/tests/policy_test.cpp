// From a connection's masking: block to a working policy.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

const std::string head =
    "gateway:\n"
    "  listen:\n"
    "    postgres: 127.0.0.1:15432\n"
    "connections:\n"
    "  - name: patients\n"
    "    type: postgres\n"
    "    host: 127.0.0.1\n"
    "    database: clinic\n"
    "    user: app\n";

config::masking_config masking_of(const std::string& block) {
  auto cfg = config::parse_config(head + block, "demo.yaml");
  if (!cfg) {
    ADD_FAILURE() << cfg.err();
    return {};
  }
  return cfg->connections[0].masking;
}

TEST(Policy, CompiledFromConfig) {
  auto m = masking_of(
      "    masking:\n"
      "      detectors: [us_ssn, email]\n"
      "      action: redact\n"
      "      actions: {us_ssn: partial}\n"
      "      columns:\n"
      "        - match: \"(?i)^(full_name|dob)$\"\n"
      "          action: null\n"
      "      custom:\n"
      "        - id: badge\n"
      "          pattern: \"BDG\\\\d{4}\"\n"
      "          context: [badge]\n"
      "      except_groups: [breakglass]\n");
  auto p = compile_policy(m, nullptr);
  ASSERT_TRUE(p.ok()) << p.err();
  const auto& e = (*p)->engine_ptr();
  EXPECT_EQ(e->detector_count(), 3u);
  EXPECT_FALSE(e->find_detector("payment_card").has_value());
  scanner sc(e);
  EXPECT_EQ(testing::mask(sc, "badge BDG1234, 123-45-6789, a@example.com, 4111111111111111"),
            "badge [BADGE], ***-**-6789, [EMAIL], 4111111111111111");
  ASSERT_NE(sc.column("DOB"), nullptr);
  EXPECT_EQ(sc.column("DOB")->action.act, action::null);
  EXPECT_EQ(sc.column("DOB")->where, "demo.yaml:15: connections[0].masking.columns[0].match");
  std::vector<std::string> groups = {"clinicians", "breakglass"};
  EXPECT_TRUE((*p)->exempt(groups));
  groups.pop_back();
  EXPECT_FALSE((*p)->exempt(groups));
}

TEST(Policy, HashNeedsTheKey) {
  auto m = masking_of("    masking:\n      actions: {email: hash}\n");
  auto no_key = compile_policy(m, nullptr);
  ASSERT_FALSE(no_key.ok());
  EXPECT_TRUE(no_key.err().starts_with("demo.yaml:10: connections[0].masking: ")) << no_key.err();
  std::array<std::uint8_t, hash_key::size> k{};
  hash_key key(k);
  auto ok = compile_policy(m, &key);
  ASSERT_TRUE(ok.ok()) << ok.err();
  scanner sc((*ok)->engine_ptr());
  EXPECT_TRUE(testing::mask(sc, "a@example.com").starts_with("tok_"));
}

TEST(Policy, DefaultPolicyHasEveryBuiltinWithRedact) {
  auto p = default_policy();
  ASSERT_TRUE(p.ok()) << p.err();
  const auto& e = (*p)->engine_ptr();
  ASSERT_EQ(e->detector_count(), builtin_detector_ids().size());
  for (std::size_t i = 0; i < e->detector_count(); ++i) {
    const auto& d = e->detector(static_cast<std::uint16_t>(i));
    EXPECT_EQ(d.id, builtin_detector_ids()[i]);
    EXPECT_EQ(d.action.act, action::redact);
    EXPECT_TRUE(d.tag.starts_with("[") && d.tag.ends_with("]"));
    EXPECT_GT(d.confidence, 0.5f);
    EXPECT_FALSE(d.description.empty());
    EXPECT_EQ(builtin_detector(d.id)->id, d.id);
  }
  EXPECT_TRUE((*p)->except_groups().empty());
}

TEST(Policy, NoDetectorsOnlyColumnRules) {
  auto m = masking_of(
      "    masking:\n"
      "      detectors: none\n"
      "      columns: [{match: \"^ssn$\"}]\n");
  auto p = compile_policy(m, nullptr);
  ASSERT_TRUE(p.ok()) << p.err();
  scanner sc((*p)->engine_ptr());
  EXPECT_EQ(testing::mask(sc, "123-45-6789"), "123-45-6789");
  ASSERT_NE(sc.column("ssn"), nullptr);
  EXPECT_EQ(sc.column("ssn")->action.act, action::redact);
  counts c;
  std::vector<column_plan> plan;
  std::vector<column_desc> cols = {{"notes", value_kind::text}};
  sc.plan(cols, plan, c);
  EXPECT_EQ(plan[0].mode, column_mode::pass) << "nothing to scan for";
}

TEST(Policy, ChecksumHelpers) {
  EXPECT_TRUE(luhn_valid("4111111111111111"));
  EXPECT_FALSE(luhn_valid("4111111111111112"));
  EXPECT_FALSE(luhn_valid("41x1"));
  EXPECT_TRUE(iban_mod97_valid("GB82 WEST 1234 5698 7654 32"));
  EXPECT_TRUE(iban_mod97_valid("gb82west12345698765432"));
  EXPECT_FALSE(iban_mod97_valid("GB82 WEST 1234 5698 7654 33"));
  EXPECT_TRUE(ssn_valid("123456789"));
  EXPECT_FALSE(ssn_valid("666123456"));
  EXPECT_FALSE(ssn_valid("12345678"));
  EXPECT_TRUE(npi_valid("1234567893"));
  EXPECT_FALSE(npi_valid("1234567890"));
  EXPECT_FALSE(npi_valid("3234567891"));
}

}  // namespace
}  // namespace gh::dlp
