// End to end: the target database goes away. Down at login: a clear, generic error, and service
// resumes when it is back. Killed in the middle of a result: the client gets an error rather
// than a hang, and the session's end is recorded with the upstream as the reason.
#include <gtest/gtest.h>
#include <poll.h>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

using clock = std::chrono::steady_clock;

class GatewayTarget : public gateway_suite<GatewayTarget> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    cluster_->start();  // a previous test may have left it down
  }

  static run_result count_patients() {
    return gw_psql(gw(), "alice", keys().alice, {"-Atc", "SELECT count(*) FROM patients"});
  }
};

TEST_F(GatewayTarget, target_down_gives_a_clear_error_and_service_resumes) {
  run_result up = count_patients();
  ASSERT_EQ(up.exit_code, 0) << up.err;
  ASSERT_EQ(up.out, "5\n");

  cluster().stop();
  run_result down = count_patients();
  EXPECT_EQ(down.exit_code, 2) << down.out;
  EXPECT_TRUE(contains(down.err,
                       "FATAL:  gatehouse could not log in to connection \"clinic\"; "
                       "the gateway log has the details"))
      << down.err;
  EXPECT_TRUE(gw().running());

  cluster().start();
  run_result again = count_patients();
  EXPECT_EQ(again.exit_code, 0) << again.err << "\n" << gw().log_text();
  EXPECT_EQ(again.out, "5\n");

  auto ev = wait_audit(gw(), [](const audit_events& e) {
    return !select(e, {{"kind", "upstream.fail"}, {"connection", "clinic"}}).empty();
  });
  auto fails = select(ev, {{"kind", "upstream.fail"}, {"connection", "clinic"}});
  ASSERT_EQ(fails.size(), 1u) << dump(ev);
  EXPECT_TRUE(contains(str(fails[0], "reason"), "connect")) << boost::json::serialize(fails[0]);
  EXPECT_EQ(str(fails[0], "user"), "alice");
}

TEST_F(GatewayTarget, target_killed_mid_result_gives_the_client_an_error) {
  pq_conn c = pq_connect(gw_conninfo(gw(), "alice", keys().alice));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  // A set-returning function in the select list streams (one in FROM would be materialized
  // first); 100M rows is far more than will ever arrive.
  const std::string big =
      "SELECT generate_series(1, 100000000) AS g, repeat('x', 100) AS pad /* killed-mid-result */";
  ASSERT_EQ(PQsendQuery(c.get(), big.c_str()), 1);
  ASSERT_EQ(PQsetSingleRowMode(c.get()), 1);
  ASSERT_EQ(PQsetnonblocking(c.get(), 1), 0);

  long rows = 0;
  bool killed = false;
  bool finished = false;
  std::string error, error_state;  // the first error result
  auto take = [&](const PGresult* r) {
    auto st = PQresultStatus(r);
    if (st == PGRES_SINGLE_TUPLE) {
      ++rows;
    } else if (st == PGRES_FATAL_ERROR && error.empty()) {
      error = PQresultErrorMessage(r);
      error_state = sqlstate(r);
    }
  };
  const auto deadline = clock::now() + 180s;
  while (!finished && clock::now() < deadline) {
    pollfd p{PQsocket(c.get()), POLLIN, 0};
    if (::poll(&p, 1, 1000) < 0) break;
    (void)PQconsumeInput(c.get());  // 0 once the connection is gone; results are still buffered
    while (!finished && PQisBusy(c.get()) == 0) {
      pq_result r(PQgetResult(c.get()));
      if (!r)
        finished = true;  // the query's results ended
      else
        take(r.get());
    }
    if (!killed && rows >= 1000) {
      cluster().kill9();
      killed = true;
    }
    if (PQstatus(c.get()) == CONNECTION_BAD) {
      // What arrived before the connection closed is still buffered in libpq: the rest of the
      // rows, then the gateway's ErrorResponse.
      for (int guard = 0; guard < 10000000; ++guard) {
        pq_result r(PQgetResult(c.get()));
        if (!r) break;
        take(r.get());
      }
      finished = true;
    }
  }
  ASSERT_TRUE(killed) << "only " << rows << " rows arrived";
  EXPECT_TRUE(finished) << "client still waiting after the target was killed (" << rows << " rows)";
  EXPECT_LT(rows, 100000000L);
  EXPECT_EQ(error_state, "08006") << rows << " rows; " << error << PQerrorMessage(c.get());
  EXPECT_TRUE(contains(error, "FATAL:  gatehouse lost the connection to the target database"))
      << error;
  EXPECT_TRUE(gw().running());

  auto stmt_done = [&](const audit_events& e) {
    for (const auto& x : select(e, {{"kind", "statement"}, {"user", "alice"}}))
      if (contains(str(x, "statement"), "killed-mid-result") && !str(x, "outcome").empty())
        return str(x, "session");
    return std::string();
  };
  auto ev = wait_audit(gw(), [&](const audit_events& e) {
    auto sid = stmt_done(e);
    return !sid.empty() && !select(e, {{"kind", "session.end"}, {"session", sid}}).empty();
  });
  const std::string sid = stmt_done(ev);
  ASSERT_FALSE(sid.empty()) << dump(ev);
  auto ends = select(ev, {{"kind", "session.end"}, {"session", sid}});
  ASSERT_EQ(ends.size(), 1u) << dump(ev);
  EXPECT_TRUE(contains(str(ends[0], "reason"), "upstream")) << boost::json::serialize(ends[0]);
  for (const auto& x : select(ev, {{"kind", "statement"}, {"session", sid}})) {
    if (contains(str(x, "statement"), "killed-mid-result")) {
      EXPECT_EQ(str(x, "outcome"), "08006") << boost::json::serialize(x);
    }
  }

  // Back up: new sessions work through the same gateway.
  cluster().start();
  run_result again = count_patients();
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "5\n");
}

}  // namespace
}  // namespace gh::e2e
