// Actions (redact, partial, hash, null), type-aware outcomes, and counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>

#include "dlp/tests/test_util.hpp"

namespace gh::dlp {
namespace {

hash_key key_of(std::uint8_t fill) {
  std::array<std::uint8_t, hash_key::size> b{};
  b.fill(fill);
  return hash_key(b);
}

std::shared_ptr<const engine> with_action(rule_action a, std::optional<hash_key> key = {}) {
  engine_options o;
  o.default_action = std::move(a);
  o.key = std::move(key);
  return testing::compile_or_die(o);
}

struct masked {
  mask_outcome outcome;
  std::string text;
};

masked mask_as(scanner& sc, std::string_view cell, value_kind kind, counts& c) {
  std::vector<finding> f;
  std::string_view cells[1] = {cell};
  sc.scan(cells, f);
  std::string out = "<";  // mask_cell appends
  auto o = sc.mask_cell(cell, f, kind, out, c);
  return {o, out.substr(1)};
}

TEST(Actions, RedactUsesTheDetectorTag) {
  scanner sc(testing::default_engine());
  EXPECT_EQ(testing::mask(sc, "ssn 123-45-6789, mail a@example.com, card 4111111111111111"),
            "ssn [SSN], mail [EMAIL], card [CARD]");
  EXPECT_EQ(testing::mask(sc, "no phi here 42"), "no phi here 42");
  EXPECT_EQ(testing::mask(sc, ""), "");
}

TEST(Actions, RedactWithAFixedReplacement) {
  scanner sc(with_action({action::redact, "***"}));
  EXPECT_EQ(testing::mask(sc, "ssn 123-45-6789 and 234-56-7891"), "ssn *** and ***");
}

TEST(Actions, PartialKeepsTheLastFourAndTheSeparators) {
  scanner sc(with_action({action::partial, ""}));
  EXPECT_EQ(testing::mask(sc, "ssn 123-45-6789"), "ssn ***-**-6789");
  EXPECT_EQ(testing::mask(sc, "card 4111 1111 1111 1234 x"), "card 4111 1111 1111 1234 x")
      << "not a valid card: untouched";
  EXPECT_EQ(testing::mask(sc, "card 4111 1111 1111 1111"), "card **** **** **** 1111");
  EXPECT_EQ(testing::mask(sc, "call (555) 234-5678"), "call (***) ***-5678");
  // Short values never reveal more than half.
  EXPECT_EQ(testing::mask(sc, "MRN: 12345"), "MRN: ***45");
}

TEST(Actions, HashIsAStableKeyedTokenOfTheNormalisedValue) {
  scanner a(with_action({action::hash, ""}, key_of(1)));
  scanner b(with_action({action::hash, ""}, key_of(1)));
  scanner other(with_action({action::hash, ""}, key_of(2)));
  std::string t1 = testing::mask(a, "123-45-6789");
  ASSERT_EQ(t1.size(), 20u);
  EXPECT_TRUE(t1.starts_with("tok_"));
  EXPECT_EQ(t1.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  EXPECT_EQ(testing::mask(b, "123-45-6789"), t1) << "same key, same token (joins work)";
  EXPECT_EQ(testing::mask(a, "SSN 123456789"), "SSN " + t1) << "formatting does not matter";
  EXPECT_NE(testing::mask(other, "123-45-6789"), t1) << "another key, another token";
  EXPECT_NE(testing::mask(a, "234-56-7891"), t1);
  EXPECT_EQ(testing::mask(a, "A@Example.COM"), testing::mask(a, "a@example.com"));
}

TEST(Actions, HashWithoutAKeyIsRefusedAtCompileTime) {
  engine_options o;
  o.default_action = {action::hash, ""};
  auto r = engine::compile(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("key"), std::string::npos) << r.err();
}

TEST(Actions, NullMakesTheCellNullButNeverFreeText) {
  scanner sc(with_action({action::null, ""}));
  counts c;
  auto m = mask_as(sc, "ssn 123-45-6789", value_kind::text, c);
  EXPECT_EQ(m.outcome, mask_outcome::null);
  EXPECT_EQ(m.text, "") << "nothing appended for NULL";
  auto clean = mask_as(sc, "hello", value_kind::text, c);
  EXPECT_EQ(clean.outcome, mask_outcome::value);
  EXPECT_EQ(clean.text, "hello");
  EXPECT_EQ(testing::mask(sc, "ssn 123-45-6789"), "ssn [SSN]") << "statement text, notices";
}

TEST(Actions, TypedColumnsStayValidForTheirType) {
  scanner sc(testing::default_engine());
  counts c;
  const std::string v = "123-45-6789";
  auto num = mask_as(sc, v, value_kind::number, c);
  EXPECT_EQ(num.outcome, mask_outcome::value);
  EXPECT_EQ(num.text, "0");
  EXPECT_EQ(mask_as(sc, v, value_kind::date, c).text, "1900-01-01");
  EXPECT_EQ(mask_as(sc, v, value_kind::timestamp, c).text, "1900-01-01 00:00:00");
  EXPECT_EQ(mask_as(sc, v, value_kind::other, c).outcome, mask_outcome::null);
  EXPECT_EQ(mask_as(sc, "42", value_kind::number, c).text, "42") << "no finding: unchanged";

  engine_options o;
  o.typed_null = true;
  scanner nul(testing::compile_or_die(o));
  EXPECT_EQ(mask_as(nul, v, value_kind::number, c).outcome, mask_outcome::null);
  EXPECT_EQ(mask_as(nul, v, value_kind::text, c).text, "[SSN]") << "text still gets the tag";
}

TEST(Actions, PerDetectorActionsOverrideTheDefault) {
  engine_options o;
  o.actions = {{"us_ssn", {action::partial, ""}}, {"email", {action::redact, "<email>"}}};
  scanner sc(testing::compile_or_die(o));
  EXPECT_EQ(testing::mask(sc, "123-45-6789 a@example.com 4111111111111111"),
            "***-**-6789 <email> [CARD]");
  engine_options bad;
  bad.all_builtins = false;
  bad.builtins = {"email"};
  bad.actions = {{"us_ssn", {action::partial, ""}}};
  EXPECT_FALSE(engine::compile(bad).ok()) << "an action for a detector that is off";
}

TEST(Counts, CountPerDetectorAndColumnAndSerialiseWithoutValues) {
  auto e = testing::default_engine();
  scanner sc(e);
  counts c;
  std::uint32_t notes = c.column("notes");
  std::uint32_t ssn = c.column("ssn");
  EXPECT_EQ(c.column("notes"), notes) << "slots are stable";
  std::vector<std::string_view> cells = {"a 123-45-6789 b 234-56-7891", "x@example.com",
                                         "nothing"};
  std::vector<finding> f;
  sc.scan(cells, f);
  finding_cursor cur(f);
  std::string out;
  for (std::uint32_t i = 0; i < cells.size(); ++i) {
    (void)sc.mask_cell(cells[i], cur.next(i), value_kind::text, out, c, notes);
  }
  column_rule rule;  // members set one by one: GCC 12 -O3 warns (falsely) on the aggregate form
  rule.match = "ssn";
  rule.action.act = action::redact;
  (void)sc.mask_whole("123-45-6789", rule, value_kind::text, out, c, ssn);
  EXPECT_EQ(c.detector_hits(*e->find_detector("us_ssn")), 2u);
  EXPECT_EQ(c.detector_hits(*e->find_detector("email")), 1u);
  EXPECT_EQ(c.total(), 3u);
  EXPECT_EQ(c.column_hits("notes"), 2u) << "cells with a finding";
  EXPECT_EQ(c.column_hits("ssn"), 1u);
  std::string json = c.to_json(*e);
  EXPECT_EQ(json, R"({"detectors":{"email":1,"us_ssn":2},"columns":{"notes":2,"ssn":1}})");
  EXPECT_EQ(json.find("123"), std::string::npos);

  counts other;
  other.add_detector(*e->find_detector("email"), 4);
  other.add_column(other.column("notes"), 5);
  c.merge(other);
  EXPECT_EQ(c.detector_hits(*e->find_detector("email")), 5u);
  EXPECT_EQ(c.column_hits("notes"), 7u);
  c.reset();
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c.column("ssn"), ssn) << "reset keeps slots";
  EXPECT_EQ(c.to_json(*e), R"({"detectors":{},"columns":{}})");
}

TEST(counts, to_json_escapes_column_names_as_a_json_serializer_does) {
  auto e = testing::default_engine();
  // Column names are whatever the database says: quotes, backslashes, control bytes, UTF-8.
  const std::vector<std::string> names = {"plain", "quo\"te", "back\\slash", "tab\there",
                                          std::string("nul\0byte", 8), "ctl\x01\x1f",
                                          "new\nline\r\b\f", "caf\xc3\xa9 \xe6\x82\xa3\xe8\x80\x85"};
  counts c;
  boost::json::object cols;
  std::uint64_t n = 1;
  for (const auto& name : names) {
    c.add_column(c.column(name), n);
    cols[name] = n++;
  }
  c.add_detector(*e->find_detector("us_ssn"), 3);
  std::string got = c.to_json(*e);
  // Same keys, same values, once parsed...
  auto v = boost::json::parse(got);
  EXPECT_EQ(v.at("columns").as_object(), cols) << got;
  EXPECT_EQ(v.at("detectors").at("us_ssn").as_int64(), 3) << got;
  // ...and byte for byte what boost::json writes for the same document (keys in sorted order).
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  boost::json::object ordered_cols;
  for (const auto& name : sorted) ordered_cols[name] = cols.at(name);
  boost::json::object root;
  root["detectors"] = boost::json::object{{"us_ssn", 3}};
  root["columns"] = std::move(ordered_cols);
  EXPECT_EQ(got, boost::json::serialize(root));
}

}  // namespace
}  // namespace gh::dlp
