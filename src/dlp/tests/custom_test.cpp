// Custom detectors from config: Hyperscan pattern, optional validator and context words.
#include <gtest/gtest.h>

#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

std::shared_ptr<const engine> custom(custom_detector_spec spec, bool builtins = false) {
  engine_options o;
  o.all_builtins = builtins;
  o.custom.push_back(std::move(spec));
  return testing::compile_or_die(o);
}

TEST(Custom, PatternMatchIsTheValueWithTheIdAsTag) {
  auto e = custom({"employee_id", "EMP-\\d{6}", "", {}, std::nullopt, "test"});
  scanner sc(e);
  EXPECT_EQ(testing::mask(sc, "badge EMP-123456, EMP-12345"), "badge [EMPLOYEE_ID], EMP-12345");
  ASSERT_TRUE(e->find_detector("employee_id").has_value());
  EXPECT_FALSE(e->detector(*e->find_detector("employee_id")).builtin);
}

TEST(Custom, ValidatorsFilterMatches) {
  scanner luhn(custom({"acct", "\\b\\d{12}\\b", "luhn", {}, std::nullopt, ""}));
  EXPECT_EQ(testing::mask(luhn, "a 123456789015 b 123456789012"), "a [ACCT] b 123456789012");
  scanner ssn(custom({"tax_id", "TIN \\d{9}", "ssn", {}, std::nullopt, ""}));
  EXPECT_EQ(testing::mask(ssn, "TIN 123456789 / TIN 000456789"), "[TAX_ID] / TIN 000456789");
  scanner npi(custom({"prov", "P\\d{10}", "npi", {}, std::nullopt, ""}));
  EXPECT_EQ(testing::mask(npi, "P1234567893 P1234567890"), "[PROV] P1234567890");
  scanner iban(custom({"acct_iban", "[A-Z]{2}\\d{2}[A-Z0-9]{11,30}", "mod97", {}, std::nullopt, ""}));
  EXPECT_EQ(testing::mask(iban, "GB82WEST12345698765432 GB82WEST12345698765433"),
            "[ACCT_IBAN] GB82WEST12345698765433");
}

TEST(Custom, ContextWordsMustBeNear) {
  scanner sc(custom({"member", "\\b[A-Z]{3}\\d{7}\\b", "", {"member", "policy"}, std::nullopt, ""}));
  EXPECT_EQ(testing::mask(sc, "Member ABC1234567"), "Member [MEMBER]");
  EXPECT_EQ(testing::mask(sc, "ABC1234567 (policy)"), "[MEMBER] (policy)");
  EXPECT_EQ(testing::mask(sc, "Lot ABC1234567"), "Lot ABC1234567");
  std::string far = "member" + std::string(60, '.') + " ABC1234567";
  EXPECT_EQ(testing::mask(sc, far), far);
}

TEST(Custom, OwnActionAndBuiltinsTogether) {
  engine_options o;
  o.custom.push_back({"badge", "BDG\\d{4}", "", {}, rule_action{action::partial, ""}, ""});
  scanner sc(testing::compile_or_die(o));
  EXPECT_EQ(testing::mask(sc, "BDG1234 ssn 123-45-6789"), "****234 ssn [SSN]");
}

TEST(Custom, MatchesAcrossTheBatchSeparatorAreRescannedPerCell) {
  // `.` matches the NUL that separates cells in a batch; the leftmost start of such a match lies
  // in the previous cell and would hide the match inside this one.
  scanner sc(custom({"ref", "REF.{0,20}X\\d{3}", "", {}, std::nullopt, ""}));
  std::vector<std::string_view> cells = {"REF", "REF X123", "X999", "REF X456 REF"};
  std::vector<finding> f;
  sc.scan(cells, f);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].cell, 1u);
  EXPECT_EQ(f[0].begin, 0u);
  EXPECT_EQ(f[0].end, 8u);
  EXPECT_EQ(f[1].cell, 3u);
  EXPECT_EQ(f[1].end, 8u);
}

TEST(Custom, CompileErrorsNameTheConfigLocation) {
  engine_options o;
  o.custom.push_back({"bad", "(unclosed", "", {}, std::nullopt, "demo.yaml:12: masking.custom[0].pattern"});
  auto r = engine::compile(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.err().starts_with("demo.yaml:12: masking.custom[0].pattern: invalid pattern: "))
      << r.err();
  engine_options clash;
  clash.custom.push_back({"us_ssn", "x\\d", "", {}, std::nullopt, "here"});
  EXPECT_FALSE(engine::compile(clash).ok());
}

TEST(Custom, MrnPatternReplacesTheLabelledForms) {
  engine_options o;
  o.mrn_pattern = "\\bPT-\\d{8}\\b";
  scanner sc(testing::compile_or_die(o));
  EXPECT_EQ(testing::mask(sc, "id PT-00123456 / MRN: 00123456"), "id [MRN] / MRN: 00123456");
}

}  // namespace
}  // namespace gh::dlp
