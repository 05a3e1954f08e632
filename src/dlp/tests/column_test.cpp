// Column rules: whole columns masked by name regardless of content; planning per RowDescription.
#include <gtest/gtest.h>

#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

// Built member by member: GCC 12 at -O3 warns (falsely) about aggregate-initialised strings here.
column_rule rule(std::string match, action a, std::string where) {
  column_rule r;
  r.match = std::move(match);
  r.action.act = a;
  r.where = std::move(where);
  return r;
}

std::shared_ptr<const engine> with_columns() {
  engine_options o;
  o.columns.push_back(rule("(?i)^(ssn|dob|full_name)$", action::redact, "rule 0"));
  o.columns.push_back(rule("(?i)email", action::partial, "rule 1"));
  o.columns.push_back(rule("^secret_", action::null, "rule 2"));
  o.columns.push_back(rule("(?i)^ssn$", action::hash, "rule 3 (shadowed by rule 0)"));
  std::array<std::uint8_t, hash_key::size> k{};
  o.key = hash_key(k);
  return testing::compile_or_die(o);
}

TEST(Columns, FirstMatchingRuleWins) {
  auto e = with_columns();
  scanner sc(e);
  ASSERT_NE(sc.column("SSN"), nullptr);
  EXPECT_EQ(sc.column("SSN")->where, "rule 0");
  EXPECT_EQ(sc.column("full_name")->where, "rule 0");
  EXPECT_EQ(sc.column("work_email")->where, "rule 1");
  EXPECT_EQ(sc.column("secret_note")->where, "rule 2");
  EXPECT_EQ(sc.column("Secret_note"), nullptr) << "rule 2 is case-sensitive";
  EXPECT_EQ(sc.column("ssn_last4"), nullptr) << "anchored";
  EXPECT_EQ(sc.column("notes"), nullptr);
  EXPECT_EQ(sc.column(""), nullptr);
  scanner plain(testing::default_engine());
  EXPECT_EQ(plain.column("ssn"), nullptr) << "no rules";
}

TEST(Columns, WholeValueMaskedRegardlessOfContent) {
  auto e = with_columns();
  scanner sc(e);
  counts c;
  std::string out;
  EXPECT_EQ(sc.mask_whole("Jane Q. Public", *sc.column("full_name"), value_kind::text, out, c),
            mask_outcome::value);
  EXPECT_EQ(out, "[REDACTED]");
  out.clear();
  (void)sc.mask_whole("jane@example.com", *sc.column("email"), value_kind::text, out, c);
  EXPECT_EQ(out, "****@******e.com");
  out.clear();
  EXPECT_EQ(sc.mask_whole("x", *sc.column("secret_x"), value_kind::text, out, c),
            mask_outcome::null);
  EXPECT_EQ(sc.mask_whole("1961-03-04", *sc.column("dob"), value_kind::date, out, c),
            mask_outcome::value);
  EXPECT_EQ(out, "1900-01-01");
}

TEST(Columns, FixedReplacementForAColumn) {
  engine_options o;
  o.columns = {{"name", {action::redact, "(hidden)"}, ""}};
  scanner sc(testing::compile_or_die(o));
  counts c;
  std::string out;
  (void)sc.mask_whole("Jane", *sc.column("last_name"), value_kind::text, out, c);
  EXPECT_EQ(out, "(hidden)");
}

TEST(Columns, PlanScansTextPassesTypedAndMasksRuleColumns) {
  auto e = with_columns();
  scanner sc(e);
  counts c;
  std::vector<column_desc> cols = {{"id", kind_of_pg_type(23, false)},
                                   {"ssn", kind_of_pg_type(25, false)},
                                   {"notes", kind_of_pg_type(1043, false)},
                                   {"dob", kind_of_pg_type(1082, false)},
                                   {"seen_at", kind_of_pg_type(1184, false)},
                                   {"payload", kind_of_pg_type(3802, true)},
                                   {"tags", kind_of_pg_type(1009, false)}};
  std::vector<column_plan> plan;
  sc.plan(cols, plan, c);
  ASSERT_EQ(plan.size(), cols.size());
  EXPECT_EQ(plan[0].mode, column_mode::pass);
  EXPECT_EQ(plan[0].kind, value_kind::number);
  EXPECT_EQ(plan[1].mode, column_mode::whole);
  EXPECT_EQ(plan[1].rule->where, "rule 0");
  EXPECT_EQ(plan[2].mode, column_mode::scan);
  EXPECT_EQ(plan[3].mode, column_mode::whole) << "a typed column under a rule";
  EXPECT_EQ(plan[3].kind, value_kind::date);
  EXPECT_EQ(plan[4].mode, column_mode::pass);
  EXPECT_EQ(plan[5].mode, column_mode::scan) << "binary jsonb is `other`: scanned, NULL if hit";
  EXPECT_EQ(plan[5].kind, value_kind::other);
  EXPECT_EQ(plan[6].mode, column_mode::scan);
  EXPECT_NE(plan[1].slot, plan[2].slot);
  EXPECT_EQ(c.column("notes"), plan[2].slot);
}

TEST(Columns, PgTypeKinds) {
  EXPECT_EQ(kind_of_pg_type(25, true), value_kind::text);
  EXPECT_EQ(kind_of_pg_type(1042, false), value_kind::text);
  EXPECT_EQ(kind_of_pg_type(114, false), value_kind::text);
  EXPECT_EQ(kind_of_pg_type(114, true), value_kind::other);
  EXPECT_EQ(kind_of_pg_type(1700, false), value_kind::number);
  EXPECT_EQ(kind_of_pg_type(20, true), value_kind::other);
  EXPECT_EQ(kind_of_pg_type(1082, false), value_kind::date);
  EXPECT_EQ(kind_of_pg_type(1114, false), value_kind::timestamp);
  EXPECT_EQ(kind_of_pg_type(2950, false), value_kind::other);  // uuid
}

}  // namespace
}  // namespace gh::dlp
