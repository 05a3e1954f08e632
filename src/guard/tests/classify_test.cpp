// classify(): the data-driven cases of tests/testdata/guard/classify.txt, statement slicing, and
// inputs that must fail closed (NUL bytes, huge or deeply nested text).
#include "guard/classify.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config/guardrails.hpp"
#include "guard/tests/testdata.hpp"

namespace gh::guard {
namespace {

struct classify_case {
  int line = 0;  // of the first SQL line
  std::string sql;
  std::vector<std::string> expect;  // one per statement, or {"error"} / {"none"}
};

std::vector<classify_case> load_cases() {
  auto lines = testing::read_lines(testing::testdata_dir() / "classify.txt");
  std::vector<classify_case> out;
  classify_case cur;
  auto flush = [&] {
    if (!cur.sql.empty() || !cur.expect.empty()) out.push_back(cur);
    cur = classify_case{};
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty()) {
      flush();
      continue;
    }
    if (l.starts_with("#")) continue;
    if (l.starts_with("=> ")) {
      cur.expect.push_back(l.substr(3));
      continue;
    }
    if (!cur.expect.empty()) {
      ADD_FAILURE() << "classify.txt:" << i + 1 << ": SQL after expectations (missing blank line)";
      continue;
    }
    if (cur.sql.empty()) cur.line = static_cast<int>(i + 1);
    if (!cur.sql.empty()) cur.sql += '\n';
    cur.sql += l;
  }
  flush();
  return out;
}

TEST(Classify, DataFile) {
  auto cases = load_cases();
  ASSERT_GT(cases.size(), 150u) << "classify.txt not found or truncated; looked in "
                                << testing::testdata_dir();
  auto known = config::statement_classes();
  std::size_t statements = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE("classify.txt:" + std::to_string(c.line) + ": " + c.sql);
    ASSERT_FALSE(c.expect.empty()) << "case without expectation";
    auto r = classify(c.sql);
    if (c.expect.front().starts_with("error")) {
      EXPECT_FALSE(r.parse_ok) << "expected a parse error";
      EXPECT_FALSE(r.parse_error.empty());
      EXPECT_TRUE(r.statements.empty());
      continue;
    }
    ASSERT_TRUE(r.parse_ok) << r.parse_error;
    if (c.expect.front() == "none") {
      EXPECT_TRUE(r.statements.empty());
      continue;
    }
    ASSERT_EQ(r.statements.size(), c.expect.size());
    for (std::size_t i = 0; i < c.expect.size(); ++i) {
      ++statements;
      const auto& s = r.statements[i];
      EXPECT_EQ(testing::render(s), testing::normalize(c.expect[i])) << "statement " << i;
      ASSERT_FALSE(s.classes.empty());
      EXPECT_EQ(s.classes.front(), s.cls);
      for (auto cls : s.classes) {
        EXPECT_TRUE(std::find(known.begin(), known.end(), cls) != known.end())
            << "class '" << cls << "' is missing from config::statement_classes()";
      }
    }
  }
  EXPECT_GT(statements, 150u);
}

TEST(Classify, StatementTextIsEachStatementsOwnSlice) {
  const std::string sql = "  SELECT 1;\n\tDROP TABLE t ;DELETE FROM x  ";
  auto r = classify(sql);
  ASSERT_TRUE(r.parse_ok) << r.parse_error;
  ASSERT_EQ(r.statements.size(), 3u);
  EXPECT_EQ(r.statements[0].text, "SELECT 1");
  EXPECT_EQ(r.statements[0].offset, 2u);
  EXPECT_EQ(r.statements[1].text, "DROP TABLE t");
  EXPECT_EQ(sql.substr(r.statements[1].offset, r.statements[1].text.size()), "DROP TABLE t");
  EXPECT_EQ(r.statements[2].text, "DELETE FROM x");
  EXPECT_EQ(sql.substr(r.statements[2].offset, r.statements[2].text.size()), "DELETE FROM x");
}

TEST(Classify, CommentsStayWithTheStatementTheyPrecede) {
  auto r = classify("SELECT 1; /* why */ SELECT 2");
  ASSERT_TRUE(r.parse_ok);
  ASSERT_EQ(r.statements.size(), 2u);
  EXPECT_EQ(r.statements[1].text, "/* why */ SELECT 2");
}

TEST(Classify, EmptyInputHasNoStatements) {
  for (const char* sql : {"", "   ", ";", ";;", "-- c", "/* c */"}) {
    auto r = classify(sql);
    EXPECT_TRUE(r.parse_ok) << sql;
    EXPECT_TRUE(r.statements.empty()) << sql;
  }
}

TEST(Classify, NulByteIsAParseError) {
  // A C string would end at the NUL and hide whatever follows it.
  const std::string sql("SELECT 1\0; DROP TABLE patients", 30);
  auto r = classify(sql);
  EXPECT_FALSE(r.parse_ok);
  EXPECT_NE(r.parse_error.find("NUL"), std::string::npos) << r.parse_error;
}

TEST(Classify, ParseErrorSaysWhere) {
  auto r = classify("SELEC 1");
  ASSERT_FALSE(r.parse_ok);
  EXPECT_NE(r.parse_error.find("syntax error"), std::string::npos) << r.parse_error;
  EXPECT_NE(r.parse_error.find("at character 1"), std::string::npos) << r.parse_error;
}

TEST(Classify, DeepNestingFailsClosedWithoutCrashing) {
  // Left-deep operator chains parse in PostgreSQL to any depth; past the walker's limit the
  // statement is reported as unparseable instead of overflowing the stack.
  std::string chain = "DELETE FROM patients WHERE id = 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  auto r = classify(chain);
  EXPECT_FALSE(r.parse_ok);
  EXPECT_FALSE(r.parse_error.empty());

  std::string parens = "SELECT " + std::string(3000, '(') + "1" + std::string(3000, ')');
  auto p = classify(parens);  // PostgreSQL itself may refuse this ("memory exhausted")
  if (p.parse_ok) {
    ASSERT_EQ(p.statements.size(), 1u);
  }

  std::string moderate = "SELECT 1";
  for (int i = 0; i < 200; ++i) moderate += " + 1";
  EXPECT_TRUE(classify(moderate).parse_ok);
}

TEST(Classify, LargeMultiRowInsert) {
  std::string sql = "INSERT INTO visits (pid, note) VALUES ";
  for (int i = 0; i < 5000; ++i) {
    const std::string n = std::to_string(i);
    if (i) sql += ',';
    sql.append("(").append(n).append(", 'note ").append(n).append("')");
  }
  sql += "; DELETE FROM visits";
  auto r = classify(sql);
  ASSERT_TRUE(r.parse_ok) << r.parse_error;
  ASSERT_EQ(r.statements.size(), 2u);
  EXPECT_EQ(r.statements[0].cls, "insert");
  EXPECT_EQ(r.statements[1].cls, "delete");
  EXPECT_EQ(r.statements[1].has_where, false);
}

TEST(Classify, TextOverTheLimitIsNotClassified) {
  std::string sql = "SELECT 1 /* " + std::string(default_max_classify_bytes, 'x') + " */";
  auto r = classify(sql);
  EXPECT_FALSE(r.parse_ok);
  EXPECT_NE(r.parse_error.find("over the classification limit"), std::string::npos)
      << r.parse_error;
  auto big = classify(sql, sql.size());
  EXPECT_TRUE(big.parse_ok) << big.parse_error;
  EXPECT_FALSE(classify("SELECT 1", 4).parse_ok);
}

TEST(Classify, ManyStatements) {
  std::string sql;
  for (int i = 0; i < 1000; ++i) sql += "SELECT " + std::to_string(i) + ";";
  sql += "TRUNCATE t";
  auto r = classify(sql);
  ASSERT_TRUE(r.parse_ok);
  ASSERT_EQ(r.statements.size(), 1001u);
  EXPECT_EQ(r.statements.back().cls, "truncate");
  EXPECT_EQ(r.statements.back().text, "TRUNCATE t");
}

TEST(Classify, DoBlocksNestedInDoBlocksAreBounded) {
  std::string sql = "DELETE FROM deep";
  for (int i = 0; i < 8; ++i) {
    std::string tag = "$d" + std::to_string(i) + "$";
    sql = "DO " + tag + " BEGIN " + sql + "; END " + tag;
  }
  auto r = classify(sql);
  ASSERT_TRUE(r.parse_ok) << r.parse_error;
  ASSERT_EQ(r.statements.size(), 1u);
  EXPECT_EQ(r.statements[0].cls, "do");
}

TEST(Classify, NonUtf8BytesAreClassified) {
  std::string sql = "SELECT '\xff\xfe' FROM t";
  auto r = classify(sql);
  ASSERT_TRUE(r.parse_ok) << r.parse_error;
  EXPECT_EQ(testing::render(r.statements.at(0)), "select tables=t limit=absent");
}

}  // namespace
}  // namespace gh::guard
