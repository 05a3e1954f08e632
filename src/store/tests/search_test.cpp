// Searching the audit index (what `gatehouse audit export --statement/--rule/--outcome` use):
// statement text as a case-insensitive substring with LIKE's own wildcards taken literally, the
// guardrail rule from the detail JSON (events without JSON detail never match and never break the
// query), and a statement's outcome as joined from its result; filters combine with AND.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "store/tests/test_util.hpp"

namespace gh::store {
namespace {

using testing::make_record;
using testing::scan_all;
using testing::temp_dir;

std::vector<std::int64_t> seqs(const std::vector<audit_record>& v) {
  std::vector<std::int64_t> out;
  for (const auto& r : v) out.push_back(r.seq);
  return out;
}

class audit_search : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = open_store(dir_.url());
    ASSERT_TRUE(s.ok()) << s.err();
    s_ = std::move(*s);
    auto m = s_->migrate();
    ASSERT_TRUE(m.ok()) << m.err();
    // seq 1..: a small session of statements, their results, guardrail decisions.
    std::vector<audit_record> r;
    r.push_back(make_record(1, "session.start"));  // 1
    r.back().outcome = "ok";
    r.push_back(stmt(2, 1, "SELECT name FROM Patients WHERE id = $1"));  // 2
    r.push_back(result(3, 1, "ok", 1));                                  // 3
    r.push_back(stmt(4, 2, "select 1/0"));                               // 4
    r.push_back(result(5, 2, "22012", -1));                              // 5
    r.push_back(stmt(6, 3, "DELETE FROM patients", R"({"guard":"deny","rule":"no-unbounded-delete"})"));
    r.back().outcome = "42501";                                          // 6: refused, no result
    r.push_back(stmt(7, 4, "UPDATE patients SET note = '100% done_' WHERE id = 7",
                     R"({"guard":"review","rule":"writes-need-review","review":"r1"})"));  // 7
    r.push_back(result(8, 4, "ok", 1));                                                     // 8
    r.push_back(stmt(9, 5, "UPDATE patients SET note = '100 percent' WHERE id = 8",
                     R"({"guard":"allow","rule":"writes-need-review"})"));                   // 9
    r.push_back(result(10, 5, "42501", -1));  // 10: the target refused it (privileges)
    r.push_back(stmt(11, 6, "SELECT 'C:\\temp'"));  // 11
    r.push_back(result(12, 6, "ok", 1));             // 12
    auto fail = make_record(13, "auth.fail", "mallory");
    fail.outcome = "28P01";
    fail.detail = "not json at all";
    r.push_back(fail);  // 13
    ASSERT_TRUE(s_->append(r).ok());
    ASSERT_EQ(r.back().seq, 13);
  }

  static audit_record stmt(std::int64_t ts, std::int64_t id, std::string text,
                           std::string detail = {}) {
    auto r = make_record(ts, "statement", "alice", "patients", "s1", id);
    r.statement = std::move(text);
    r.detail = std::move(detail);
    return r;
  }
  static audit_record result(std::int64_t ts, std::int64_t id, std::string outcome,
                             std::int64_t rows) {
    auto r = make_record(ts, "statement.result", "alice", "patients", "s1", id);
    r.outcome = std::move(outcome);
    r.rows = rows;
    return r;
  }

  std::vector<std::int64_t> find(const audit_filter& f) { return seqs(scan_all(*s_, f)); }

  temp_dir dir_;
  std::unique_ptr<store> s_;
};

using v = std::vector<std::int64_t>;

TEST_F(audit_search, statement_text_is_a_case_insensitive_substring) {
  audit_filter f;
  f.statement = "patients";
  EXPECT_EQ(find(f), (v{2, 6, 7, 9}));
  f.statement = "FROM PATIENTS";
  EXPECT_EQ(find(f), (v{2, 6}));
  f.statement = "select 1/0";
  EXPECT_EQ(find(f), (v{4}));
  f.statement = "no such text";
  EXPECT_EQ(find(f), (v{}));
}

TEST_F(audit_search, like_wildcards_in_the_search_text_are_literal) {
  audit_filter f;
  f.statement = "100%";  // unescaped, '%' would also match "100 percent"
  EXPECT_EQ(find(f), (v{7}));
  f.statement = "done_";
  EXPECT_EQ(find(f), (v{7}));
  f.statement = "_";  // no statement here has a literal underscore but this one
  EXPECT_EQ(find(f), (v{7}));
  f.statement = "%";
  EXPECT_EQ(find(f), (v{7}));
  f.statement = "C:\\temp";
  EXPECT_EQ(find(f), (v{11}));
  f.statement = "\\";
  EXPECT_EQ(find(f), (v{11}));
}

TEST_F(audit_search, rule_matches_the_detail_rule_only) {
  audit_filter f;
  f.rule = "writes-need-review";
  EXPECT_EQ(find(f), (v{7, 9}));
  f.rule = "no-unbounded-delete";
  EXPECT_EQ(find(f), (v{6}));
  f.rule = "writes";  // exact name, not a substring
  EXPECT_EQ(find(f), (v{}));
  f.rule = "deny";  // another key's value is not a rule
  EXPECT_EQ(find(f), (v{}));
}

TEST_F(audit_search, outcome_is_the_statements_outcome_after_the_result_join) {
  audit_filter f;
  f.outcome = "22012";
  auto got = scan_all(*s_, f);
  ASSERT_EQ(seqs(got), (v{4}));  // the statement, not its statement.result row
  EXPECT_EQ(got[0].kind, "statement");
  EXPECT_EQ(got[0].statement, "select 1/0");
  f.outcome = "42501";  // refused by a rule (its own outcome) or by the target (its result's)
  EXPECT_EQ(find(f), (v{6, 9}));
  f.outcome = "ok";
  EXPECT_EQ(find(f), (v{1, 2, 7, 11}));
  f.outcome = "28P01";
  EXPECT_EQ(find(f), (v{13}));
  f.outcome = "ok";
  f.kind = "statement";
  EXPECT_EQ(find(f), (v{2, 7, 11}));
}

TEST_F(audit_search, filters_combine) {
  audit_filter f;
  f.rule = "writes-need-review";
  f.outcome = "ok";
  EXPECT_EQ(find(f), (v{7}));
  f.outcome = "42501";
  EXPECT_EQ(find(f), (v{9}));
  f.statement = "100%";
  EXPECT_EQ(find(f), (v{}));
  audit_filter g;
  g.statement = "patients";
  g.user = "alice";
  g.since_us = 5;
  g.until_us = 8;
  EXPECT_EQ(find(g), (v{6, 7}));
}

TEST_F(audit_search, results_folded_into_their_statement_match_too) {
  // The audit writer's indexer folds a result into its statement when both are in one batch.
  auto folded = stmt(20, 7, "SELECT count(*) FROM visits");
  folded.outcome = "57014";
  folded.rows = 0;
  std::vector<audit_record> r{folded};
  ASSERT_TRUE(s_->append(r).ok());
  audit_filter f;
  f.outcome = "57014";
  f.statement = "VISITS";
  EXPECT_EQ(find(f), (v{14}));
}

}  // namespace
}  // namespace gh::store
