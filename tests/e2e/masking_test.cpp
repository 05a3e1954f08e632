// End to end: PHI masking on the wire. Through the gateway psql and libpq see SSNs, emails and
// card numbers masked (simple and extended protocol, COPY TO in text and CSV, error messages)
// while every other column is byte-identical to PostgreSQL direct; an exempt group sees clear
// values; the audit trail never holds a clear value and records what was masked.
#include <gtest/gtest.h>

#include <sstream>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

// Columns: id | full_name | ssn | dob | email | card | visits | note
// full_name and dob are masked by a column rule; ssn, email, card by the default detectors;
// id, visits and note (free text without PHI) must come through untouched.
constexpr const char* people_sql = R"sql(
CREATE TABLE m_people (
  id        integer PRIMARY KEY,
  full_name text NOT NULL,
  ssn       text UNIQUE,
  dob       date,
  email     text,
  card      text,
  visits    integer,
  note      text
);
INSERT INTO m_people VALUES
  (1, 'Avery Testcase', '123-45-6789', '1980-02-14', 'avery.testcase@example.com', '4111111111111111', 3, 'routine visit, all fine'),
  (2, 'Blake Sample',   '234-56-7890', '1975-07-01', 'blake.sample@example.com',   '5555555555554444', 7, 'blood pressure stable'),
  (3, 'Casey Fixture',  '345-67-8901', '1990-11-30', 'casey.fixture@example.com',  '4000056655665556', 0, 'Ward 7 | bed "B" \ tab	here');
ALTER TABLE m_people OWNER TO app;
)sql";

const std::vector<std::string> clear_ssns = {"123-45-6789", "234-56-7890", "345-67-8901"};
const std::vector<std::string> clear_emails = {
    "avery.testcase@example.com", "blake.sample@example.com", "casey.fixture@example.com"};
const std::vector<std::string> clear_cards = {"4111111111111111", "5555555555554444",
                                              "4000056655665556"};

const std::string select_all =
    "SELECT id, full_name, ssn, dob, email, card, visits, note FROM m_people ORDER BY id";

class Masking : public gateway_suite<Masking> {
 public:
  static std::string gateway_yaml(pg_cluster& cluster) {
    cluster.sql("clinic", people_sql);
    std::string yaml = basic_gateway_config(cluster);
    yaml +=
        "    masking:\n"
        "      detectors: default\n"
        "      columns:\n"
        "        - match: \"(?i)^(full_name|dob)$\"\n"
        "          action: redact\n"
        "      except_groups: [dba]\n";
    // The same database with the detectors only (no column rules): COPY output is scanned.
    yaml += extra_connection(cluster, "detect", "app", "require",
                             "    masking:\n"
                             "      detectors: default\n");
    return yaml;
  }
};

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Replaces every clear SSN/email/card in `text` by its detector tag: what masking must produce.
std::string expected_masked(std::string text) {
  auto repl = [&](const std::vector<std::string>& values, const std::string& tag) {
    for (const auto& v : values) {
      for (auto pos = text.find(v); pos != std::string::npos; pos = text.find(v, pos + tag.size()))
        text.replace(pos, v.size(), tag);
    }
  };
  repl(clear_ssns, "[SSN]");
  repl(clear_emails, "[EMAIL]");
  repl(clear_cards, "[CARD]");
  return text;
}

void expect_no_clear_values(const std::string& text) {
  for (const auto& v : clear_ssns) EXPECT_FALSE(contains(text, v)) << v << " in:\n" << text;
  for (const auto& v : clear_emails) EXPECT_FALSE(contains(text, v)) << v << " in:\n" << text;
  for (const auto& v : clear_cards) EXPECT_FALSE(contains(text, v)) << v << " in:\n" << text;
}

// Rows of `-At` output (fields split on '|'); the note of row 3 contains '|' itself, so only the
// first 7 fields are split off and the rest is the note.
std::vector<std::vector<std::string>> rows_of(const std::string& out) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& line : lines(out)) {
    std::vector<std::string> f;
    std::size_t pos = 0;
    for (int i = 0; i < 7; ++i) {
      auto bar = line.find('|', pos);
      if (bar == std::string::npos) break;
      f.push_back(line.substr(pos, bar - pos));
      pos = bar + 1;
    }
    f.push_back(line.substr(pos));
    rows.push_back(std::move(f));
  }
  return rows;
}

TEST_F(Masking, psql_select_masks_phi_and_leaves_other_columns_byte_identical) {
  const std::string direct = cluster().sql("clinic", select_all);
  auto p = alice_psql({"-At", "-c", select_all});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  expect_no_clear_values(p.out);

  auto want = rows_of(direct);
  auto got = rows_of(p.out);
  ASSERT_EQ(want.size(), 3u) << direct;
  ASSERT_EQ(got.size(), want.size()) << p.out;
  for (std::size_t r = 0; r < got.size(); ++r) {
    ASSERT_EQ(got[r].size(), 8u) << p.out;
    EXPECT_EQ(got[r][0], want[r][0]);                        // id
    EXPECT_EQ(got[r][1], "[REDACTED]") << got[r][1];         // full_name: column rule
    EXPECT_EQ(got[r][2], "[SSN]");                           // ssn
    EXPECT_EQ(got[r][3], "1900-01-01") << got[r][3];         // dob: column rule, typed date
    EXPECT_EQ(got[r][4], "[EMAIL]");                         // email
    EXPECT_EQ(got[r][5], "[CARD]");                          // card
    EXPECT_EQ(got[r][6], want[r][6]);                        // visits
    EXPECT_EQ(got[r][7], want[r][7]);                        // note (no PHI)
    EXPECT_FALSE(contains(p.out, want[r][1])) << want[r][1];  // no clear name anywhere
  }
  // PHI inside free text is found too.
  auto free = alice_psql({"-At", "-c", "SELECT 'SSN on file: ' || ssn || ', mail ' || email "
                                       "FROM m_people WHERE id = 2"});
  ASSERT_EQ(free.exit_code, 0) << free.err;
  EXPECT_EQ(free.out, "SSN on file: [SSN], mail [EMAIL]\n");
}

TEST_F(Masking, extended_protocol_text_results_are_masked_the_same) {
  auto c = pq_connect(gw_conninfo(gw(), "alice", keys().alice));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  auto d = pq_connect(direct_conninfo(cluster()));
  ASSERT_EQ(PQstatus(d.get()), CONNECTION_OK) << PQerrorMessage(d.get());
  const std::string q =
      "SELECT id, full_name, ssn, dob, email, card, visits, note FROM m_people WHERE id >= $1 "
      "ORDER BY id";
  const char* v[] = {"1"};
  pq_result r(PQexecParams(c.get(), q.c_str(), 1, nullptr, v, nullptr, nullptr, 0));
  pq_result want(PQexecParams(d.get(), q.c_str(), 1, nullptr, v, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQresultStatus(want.get()), PGRES_TUPLES_OK) << PQerrorMessage(d.get());
  ASSERT_EQ(PQntuples(r.get()), 3);
  ASSERT_EQ(PQnfields(r.get()), 8);
  for (int row = 0; row < 3; ++row) {
    auto val = [&](const PGresult* res, int col) { return std::string(PQgetvalue(res, row, col)); };
    EXPECT_EQ(val(r.get(), 0), val(want.get(), 0));
    EXPECT_EQ(val(r.get(), 1), "[REDACTED]");
    EXPECT_EQ(val(r.get(), 2), "[SSN]");
    EXPECT_EQ(val(r.get(), 3), "1900-01-01");
    EXPECT_EQ(val(r.get(), 4), "[EMAIL]");
    EXPECT_EQ(val(r.get(), 5), "[CARD]");
    EXPECT_EQ(val(r.get(), 6), val(want.get(), 6));
    EXPECT_EQ(val(r.get(), 7), val(want.get(), 7));
  }
  // Prepared statement (Parse once, Execute twice) behaves the same.
  pq_result prep(PQprepare(c.get(), "by_id", "SELECT ssn, visits FROM m_people WHERE id = $1", 1,
                           nullptr));
  ASSERT_EQ(PQresultStatus(prep.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  for (const char* id : {"1", "3"}) {
    const char* pv[] = {id};
    pq_result e(PQexecPrepared(c.get(), "by_id", 1, pv, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(e.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
    EXPECT_STREQ(PQgetvalue(e.get(), 0, 0), "[SSN]");
  }
}

TEST_F(Masking, result_shapes_alternating_in_one_session_each_get_their_own_plan) {
  // The gateway reuses a column plan while the RowDescription stays the same; one column
  // renamed (same count, same type) must get a plan of its own, in separate batches and in one.
  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  const std::string by_rule = "SELECT full_name FROM m_people WHERE id = 1";
  const std::string renamed = "SELECT full_name AS display FROM m_people WHERE id = 1";
  for (int round = 0; round < 3; ++round) {
    auto masked = pq_exec(c.get(), by_rule);
    ASSERT_EQ(PQresultStatus(masked.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
    EXPECT_STRNE(PQgetvalue(masked.get(), 0, 0), "Avery Testcase") << "round " << round;
    auto clear = pq_exec(c.get(), renamed);
    ASSERT_EQ(PQresultStatus(clear.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
    EXPECT_STREQ(PQgetvalue(clear.get(), 0, 0), "Avery Testcase") << "round " << round;
  }
  // Both shapes in one message: two RowDescriptions in one batch.
  auto r = alice_psql({"-At", "-c", renamed + "; " + by_rule + "; " + renamed});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto got = lines(r.out);
  ASSERT_EQ(got.size(), 3u) << r.out;
  EXPECT_EQ(got[0], "Avery Testcase");
  EXPECT_NE(got[1], "Avery Testcase");
  EXPECT_EQ(got[2], "Avery Testcase");
}

TEST_F(Masking, copy_to_stdout_is_masked_in_text_and_csv) {
  // On a connection without column rules the detectors scan COPY output (text and CSV).
  auto detect_psql = [&](const std::vector<std::string>& args) {
    return gw_psql(gw(), "alice", keys().alice, args, {}, "require", "detect");
  };
  const std::string cols = "(SELECT id, ssn, email, card, visits, note FROM m_people ORDER BY id)";
  for (const std::string fmt : {"", " WITH (FORMAT csv)"}) {
    SCOPED_TRACE(fmt.empty() ? "text" : "csv");
    const std::string copy = "COPY " + cols + " TO STDOUT" + fmt;
    const std::string direct = cluster().sql("clinic", copy);
    ASSERT_EQ(lines(direct).size(), 3u) << direct;
    auto p = detect_psql({"-c", copy});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    expect_no_clear_values(p.out);
    EXPECT_EQ(p.out, expected_masked(direct));

    // psql's \copy goes through the same COPY TO STDOUT.
    auto bs = detect_psql({"-c", "\\copy " + cols + " to stdout" + fmt});
    ASSERT_EQ(bs.exit_code, 0) << bs.err;
    EXPECT_EQ(bs.out, expected_masked(direct));
  }
}

TEST_F(Masking, copy_that_masking_cannot_cover_is_refused_before_it_runs) {
  // Column rules need column names, which COPY output does not carry; binary COPY has no text
  // to scan. Either is refused up front, like a denied statement, and the session goes on.
  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  for (const std::string copy :
       {"COPY m_people TO STDOUT", "copy (SELECT id, full_name FROM m_people) to stdout",
        "SELECT 1; COPY m_people (full_name) TO STDOUT WITH (FORMAT csv)"}) {
    SCOPED_TRACE(copy);
    auto r = pq_exec(c.get(), copy);
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
    EXPECT_EQ(sqlstate(r.get()), "42501");
    EXPECT_TRUE(contains(PQresultErrorMessage(r.get()), "mask columns by name"))
        << PQresultErrorMessage(r.get());
    EXPECT_FALSE(contains(PQresultErrorMessage(r.get()), "Avery")) << PQresultErrorMessage(r.get());
  }
  auto bs = alice_psql({"-c", "\\copy m_people to stdout"});
  EXPECT_NE(bs.exit_code, 0);
  EXPECT_EQ(bs.out, "");
  EXPECT_TRUE(contains(bs.err, "mask columns by name")) << bs.err;
  // Unparseable text that mentions COPY is not forwarded on the hope that it is harmless.
  auto bad = pq_exec(c.get(), "COPY m_people TO STDOUT WITH (FORMAT");
  EXPECT_EQ(sqlstate(bad.get()), "42501");
  EXPECT_TRUE(contains(PQresultErrorMessage(bad.get()), "could not parse"))
      << PQresultErrorMessage(bad.get());
  auto next = pq_exec(c.get(), "SELECT count(*) FROM m_people");
  ASSERT_EQ(PQresultStatus(next.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(next.get(), 0, 0), "3");

  // Binary COPY, even where the detectors alone apply.
  auto d = pq_connect(gw_conninfo(gw(), "alice", keys().alice, "require", "detect"));
  ASSERT_EQ(PQstatus(d.get()), CONNECTION_OK) << PQerrorMessage(d.get());
  auto bin = pq_exec(d.get(), "COPY m_people TO STDOUT (FORMAT binary)");
  EXPECT_EQ(sqlstate(bin.get()), "42501");
  EXPECT_TRUE(contains(PQresultErrorMessage(bin.get()), "binary format is refused"))
      << PQresultErrorMessage(bin.get());

  // The exempt group's COPY runs, clear, like PostgreSQL's own.
  const std::string direct = cluster().sql("clinic", "COPY m_people TO STDOUT");
  auto dana = gw_psql(gw(), "dana", keys().dana, {"-c", "COPY m_people TO STDOUT"});
  ASSERT_EQ(dana.exit_code, 0) << dana.err;
  EXPECT_EQ(dana.out, direct);

  // On record: the refusal, its rule and reason.
  auto ev = wait_audit(gw(), [&](const audit_events& e) {
    for (const auto& x : select(e, {{"kind", "statement"}, {"user", "alice"}}))
      if (contains(str(x, "statement"), "FORMAT binary")) return true;
    return false;
  });
  int refused = 0;
  for (const auto& x : select(ev, {{"kind", "statement"}, {"user", "alice"}}))
    if (contains(str(x, "detail"), "\"rule\":\"masking\"") &&
        contains(str(x, "reason"), "refused"))
      ++refused;
  EXPECT_GE(refused, 5) << dump(ev);
}

TEST_F(Masking, error_message_detail_is_masked) {
  auto c = pq_connect(gw_conninfo(gw(), "alice", keys().alice));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  auto r = pq_exec(c.get(),
                   "INSERT INTO m_people (id, full_name, ssn) VALUES (99, 'Dup Licate', "
                   "'123-45-6789')");
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
  EXPECT_EQ(sqlstate(r.get()), "23505");
  const char* detail = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_DETAIL);
  ASSERT_NE(detail, nullptr);
  EXPECT_STREQ(detail, "Key (ssn)=([SSN]) already exists.");
  EXPECT_FALSE(contains(PQresultErrorMessage(r.get()), "123-45-6789"))
      << PQresultErrorMessage(r.get());

  // PostgreSQL direct says the clear value (so the gateway is what masks it).
  auto d = pq_connect(direct_conninfo(cluster()));
  ASSERT_EQ(PQstatus(d.get()), CONNECTION_OK) << PQerrorMessage(d.get());
  auto rd = pq_exec(d.get(),
                    "INSERT INTO m_people (id, full_name, ssn) VALUES (99, 'Dup Licate', "
                    "'123-45-6789')");
  const char* ddetail = PQresultErrorField(rd.get(), PG_DIAG_MESSAGE_DETAIL);
  ASSERT_NE(ddetail, nullptr);
  EXPECT_STREQ(ddetail, "Key (ssn)=(123-45-6789) already exists.");

  // psql output too; the session is still usable afterwards.
  auto p = alice_psql({"-c",
                       "INSERT INTO m_people (id, full_name, ssn) VALUES (98, 'X', "
                       "'234-56-7890')"});
  EXPECT_NE(p.exit_code, 0);
  EXPECT_TRUE(contains(p.err, "Key (ssn)=([SSN]) already exists.")) << p.err;
  EXPECT_FALSE(contains(p.err, "234-56-7890")) << p.err;
  auto next = pq_exec(c.get(), "SELECT count(*) FROM m_people");
  ASSERT_EQ(PQresultStatus(next.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(next.get(), 0, 0), "3");
}

TEST_F(Masking, exempt_group_sees_clear_values) {
  const std::string direct = cluster().sql("clinic", select_all);
  auto p = gw_psql(gw(), "dana", keys().dana, {"-At", "-c", select_all});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out, direct);
}

TEST_F(Masking, audit_trail_has_no_clear_values_and_records_masking_counts) {
  const std::string q = "SELECT id, ssn, email FROM m_people WHERE ssn = '345-67-8901'";
  auto p = alice_psql({"-At", "-c", q});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out, "3|[SSN]|[EMAIL]\n");

  // The statement event, and the masking counts of its result: on the statement event itself
  // when the index folded statement.result into it, else on the separate statement.result.
  auto find = [](const audit_events& ev, std::string& statement, std::string& detail) {
    for (const auto& s : select(ev, {{"kind", "statement"}, {"user", "alice"}})) {
      if (!contains(str(s, "statement"), "FROM m_people WHERE ssn = ")) continue;
      statement = str(s, "statement");
      bool done = !str(s, "outcome").empty();
      detail = str(s, "detail");
      for (const auto& r :
           select(ev, {{"kind", "statement.result"}, {"session", str(s, "session")}})) {
        if (num(r, "stmt") != num(s, "stmt")) continue;
        done = true;
        detail += str(r, "detail");
      }
      return done;
    }
    return false;
  };
  std::string statement, detail;
  auto ev = wait_audit(
      gw(), [&](const audit_events& e) { return find(e, statement, detail); }, {}, 30s);
  ASSERT_TRUE(find(ev, statement, detail)) << dump(ev);
  EXPECT_EQ(statement, "SELECT id, ssn, email FROM m_people WHERE ssn = '[SSN]'");
  EXPECT_TRUE(contains(detail, "\"masked\"")) << "no masking counts on the statement's event(s)\n"
                                                << dump(ev);
  EXPECT_TRUE(contains(detail, "us_ssn")) << detail;
  EXPECT_TRUE(contains(detail, "email")) << detail;
  expect_no_clear_values(detail);
  // Nothing in the whole trail is a clear value (statements, errors, details).
  expect_no_clear_values(audit_export_text(gw()));
}

TEST_F(Masking, mask_command_masks_stdin) {
  auto r = run({gatehouse_bin().string(), "mask"}, {},
               "patient ssn 123-45-6789, contact avery.testcase@example.com\n"
               "plain line with nothing to hide\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "patient ssn [SSN], contact [EMAIL]\n"
            "plain line with nothing to hide\n");
}

}  // namespace
}  // namespace gh::e2e
