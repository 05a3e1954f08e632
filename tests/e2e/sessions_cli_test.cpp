// End to end: `gatehouse sessions list|show` and `replay` for database sessions recorded through a
// real gateway in front of real PostgreSQL. A session's timeline shows its statements in order
// with outcomes and row counts; list filters by user, connection and time; an unknown id is a
// clear error.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The list rows (header dropped) that mention `needle`.
std::vector<std::string> rows_with(const std::string& list, const std::string& needle) {
  std::vector<std::string> out;
  auto ls = lines_of(list);
  for (std::size_t i = 1; i < ls.size(); ++i)
    if (contains(ls[i], needle)) out.push_back(ls[i]);
  return out;
}

// The timeline line that holds `what`, or "".
std::string line_with(const std::string& text, const std::string& what) {
  for (const auto& l : lines_of(text))
    if (contains(l, what)) return l;
  return {};
}

TEST(SessionsCli, ListShowAndReplayDatabaseSessions) {
  pg_cluster cluster;
  api_keys keys;
  auto gw = start_gateway(cluster, keys, basic_gateway_config(cluster));

  const std::string q_rows = "SELECT id FROM patients ORDER BY id LIMIT 3";
  const std::string q_count = "SELECT count(*) FROM patients";
  const std::string q_fail = "SELECT 1/0";
  auto a = gw_psql(*gw, "alice", keys.alice, {"-c", q_count, "-c", q_rows, "-c", q_fail});
  EXPECT_NE(a.exit_code, 0) << "division by zero must fail: " << a.out;
  EXPECT_TRUE(contains(a.err, "division by zero")) << a.err;
  auto d = gw_psql(*gw, "dana", keys.dana, {"-Atc", "SELECT 7"});
  ASSERT_EQ(d.exit_code, 0) << d.err;

  // Both sessions end (and their results land) shortly after the clients disconnect.
  std::string alice_id, list, show;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    auto l = gw->cli({"sessions", "list"});
    ASSERT_EQ(l.exit_code, 0) << l.err;
    list = l.out;
    auto alice_rows = rows_with(list, "alice");
    if (alice_rows.size() == 1) {
      alice_id = alice_rows[0].substr(0, alice_rows[0].find(' '));
      auto s = gw->cli({"sessions", "show", alice_id});
      show = s.out;
    }
    bool ended = !contains(list, "live?") && rows_with(list, "dana").size() == 1;
    if ((ended && contains(line_with(show, q_fail), "22012")) ||
        std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_FALSE(alice_id.empty()) << list;

  // list: one row per session, what was recorded, how many statements, how it ended.
  auto header = lines_of(list).at(0);
  for (const char* col : {"SESSION", "USER", "CONNECTION", "STARTED", "DURATION", "REC", "STMTS"})
    EXPECT_TRUE(contains(header, col)) << header;
  auto alice_row = rows_with(list, "alice").at(0);
  EXPECT_TRUE(contains(alice_row, " clinic ")) << alice_row;
  EXPECT_TRUE(contains(alice_row, " sql ")) << alice_row;
  EXPECT_TRUE(contains(alice_row, " 3 ")) << "three statements: " << alice_row;
  EXPECT_FALSE(contains(alice_row, "live?")) << alice_row;

  auto by_user = gw->cli({"sessions", "list", "--user", "alice"});
  ASSERT_EQ(by_user.exit_code, 0) << by_user.err;
  EXPECT_EQ(rows_with(by_user.out, "alice").size(), 1u) << by_user.out;
  EXPECT_TRUE(rows_with(by_user.out, "dana").empty()) << by_user.out;
  EXPECT_EQ(lines_of(by_user.out).size(), 2u) << by_user.out;

  auto by_conn = gw->cli({"sessions", "list", "--connection", "clinic"});
  ASSERT_EQ(by_conn.exit_code, 0) << by_conn.err;
  EXPECT_EQ(lines_of(by_conn.out).size(), 3u) << by_conn.out;
  auto other_conn = gw->cli({"sessions", "list", "--connection", "nowhere"});
  ASSERT_EQ(other_conn.exit_code, 0) << other_conn.err;
  EXPECT_EQ(lines_of(other_conn.out).size(), 1u) << other_conn.out;

  auto recent = gw->cli({"sessions", "list", "--since", "1h"});
  ASSERT_EQ(recent.exit_code, 0) << recent.err;
  EXPECT_EQ(lines_of(recent.out).size(), 3u) << recent.out;
  auto future = gw->cli({"sessions", "list", "--since", "2999-01-01"});
  ASSERT_EQ(future.exit_code, 0) << future.err;
  EXPECT_EQ(lines_of(future.out).size(), 1u) << future.out;
  auto bad_since = gw->cli({"sessions", "list", "--since", "yesterday-ish"});
  EXPECT_EQ(bad_since.exit_code, 2);
  EXPECT_TRUE(contains(bad_since.err, "--since")) << bad_since.err;

  // show: who and where, then the statements in order with outcome, rows and duration.
  EXPECT_TRUE(contains(show, "session     " + alice_id)) << show;
  EXPECT_TRUE(contains(show, "user        alice (clinicians)")) << show;
  EXPECT_TRUE(contains(show, "connection  clinic")) << show;
  auto count_line = line_with(show, q_count);
  auto rows_line = line_with(show, q_rows);
  auto fail_line = line_with(show, q_fail);
  EXPECT_TRUE(contains(count_line, " ok ") && contains(count_line, " 1 ")) << count_line;
  EXPECT_TRUE(contains(rows_line, " ok ") && contains(rows_line, " 3 ")) << rows_line;
  EXPECT_TRUE(contains(fail_line, " 22012 ")) << fail_line;
  auto pos_count = show.find(q_count), pos_rows = show.find(q_rows), pos_fail = show.find(q_fail);
  EXPECT_TRUE(pos_count < pos_rows && pos_rows < pos_fail) << show;
  EXPECT_TRUE(contains(show, "session.start")) << show;
  EXPECT_TRUE(contains(show, "session.end")) << show;
  EXPECT_FALSE(contains(show, "SELECT 7")) << "dana's statement is not alice's: " << show;
  EXPECT_FALSE(contains(show, "terminal")) << show;

  // replay: the same timeline, at once with --speed 0.
  auto replay = gw->cli({"replay", alice_id, "--speed", "0"});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(line_with(replay.out, q_rows), rows_line);
  EXPECT_EQ(line_with(replay.out, q_fail), fail_line);
  auto r_count = replay.out.find(q_count), r_rows = replay.out.find(q_rows),
       r_fail = replay.out.find(q_fail);
  EXPECT_TRUE(r_count != std::string::npos && r_count < r_rows && r_rows < r_fail) << replay.out;

  // Unknown ids and bad arguments.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"replay", "no-such-session", "--speed", "0"},
        std::vector<std::string>{"sessions", "show", "no-such-session"}}) {
    auto r = gw->cli(args);
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_TRUE(contains(r.err, "no session no-such-session")) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  auto neg = gw->cli({"replay", alice_id, "--speed", "-1"});
  EXPECT_EQ(neg.exit_code, 2) << neg.err;
}

}  // namespace
}  // namespace gh::e2e
