// End to end: how sessions end and what happens when the gateway cannot do its job. Idle
// timeout, an audit store that cannot be written (statements refused, nothing executed),
// SIGTERM with sessions open. Each test starts its own gateway; the cluster is shared.
#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

using clock = std::chrono::steady_clock;

class GatewayLifecycle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = new pg_cluster();
      keys_ = new api_keys();
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete keys_;
    cluster_ = nullptr;
    keys_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static pg_cluster& cluster() { return *cluster_; }
  static const api_keys& keys() { return *keys_; }

  static pg_cluster* cluster_;
  static api_keys* keys_;
  static std::string setup_error_;
};
pg_cluster* GatewayLifecycle::cluster_ = nullptr;
api_keys* GatewayLifecycle::keys_ = nullptr;
std::string GatewayLifecycle::setup_error_;

// True once the server side has sent something or closed (the socket turns readable).
bool wait_readable(PGconn* c, std::chrono::milliseconds timeout) {
  pollfd p{PQsocket(c), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// The gateway's session id for the (only) session of `user` that ran `statement`.
std::string session_of(const audit_events& ev, const std::string& statement) {
  auto s = select(ev, {{"kind", "statement"}, {"statement", statement}});
  return s.size() == 1
             ? str(s[0], "session")
             : std::string("<" + std::to_string(s.size()) + " statements '" + statement + "'>");
}

TEST_F(GatewayLifecycle, idle_timeout_closes_idle_sessions_only) {
  auto gw = start_gateway(
      cluster(), keys(),
      replace_once(basic_gateway_config(cluster()), "idle_timeout: 15m", "idle_timeout: 2s"));
  pq_conn idle = pq_connect(gw_conninfo(*gw, "alice", keys().alice));
  ASSERT_EQ(PQstatus(idle.get()), CONNECTION_OK) << PQerrorMessage(idle.get());
  pq_result r = pq_exec(idle.get(), "SELECT 'idle-marker'");
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(idle.get());

  // A statement that runs longer than the idle timeout is not idleness.
  pq_conn busy = pq_connect(gw_conninfo(*gw, "dana", keys().dana));
  ASSERT_EQ(PQstatus(busy.get()), CONNECTION_OK) << PQerrorMessage(busy.get());
  pq_result slow = pq_exec(busy.get(), "SELECT pg_sleep(4), 'busy-marker'");
  EXPECT_EQ(PQresultStatus(slow.get()), PGRES_TUPLES_OK) << PQerrorMessage(busy.get());

  // By now (>= 4 s) the idle one has been closed; wait generously for the gateway to act.
  EXPECT_TRUE(wait_readable(idle.get(), 60s));
  pq_result after = pq_exec(idle.get(), "SELECT 1");
  EXPECT_NE(PQresultStatus(after.get()), PGRES_TUPLES_OK);
  EXPECT_TRUE(contains(PQerrorMessage(idle.get()), "idle timeout (2s)"))
      << PQerrorMessage(idle.get());
  EXPECT_EQ(PQstatus(idle.get()), CONNECTION_BAD);

  auto ev = wait_audit(*gw, [](const audit_events& e) {
    return !select(e, {{"kind", "session.end"}, {"user", "alice"}}).empty();
  });
  const std::string sid = session_of(ev, "SELECT 'idle-marker'");
  auto ends = select(ev, {{"kind", "session.end"}, {"session", sid}});
  ASSERT_EQ(ends.size(), 1u) << dump(ev);
  EXPECT_EQ(str(ends[0], "reason"), "idle timeout 2s");
}

TEST_F(GatewayLifecycle, unwritable_audit_store_refuses_statements_until_it_recovers) {
  cluster().sql("clinic", "CREATE TABLE store_t (v text); GRANT ALL ON store_t TO app;");
  auto gw = start_gateway(cluster(), keys(), basic_gateway_config(cluster()));
  pq_conn c = pq_connect(gw_conninfo(*gw, "alice", keys().alice));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  pq_result r0 = pq_exec(c.get(), "INSERT INTO store_t VALUES ('before')");
  ASSERT_EQ(PQresultStatus(r0.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());

  // Every write of the gateway process now fails with EFBIG (it ignores SIGXFSZ). Only the soft
  // limit, so it can be raised again.
  const std::string pid = std::to_string(gw->pid());
  run_result lim = run({"prlimit", "--pid", pid, "--fsize=1:"});
  ASSERT_EQ(lim.exit_code, 0) << lim.err;

  pq_result refused = pq_exec(c.get(), "INSERT INTO store_t VALUES ('refused')");
  EXPECT_EQ(PQresultStatus(refused.get()), PGRES_FATAL_ERROR) << PQerrorMessage(c.get());
  EXPECT_EQ(sqlstate(refused.get()), "58030") << PQerrorMessage(c.get());

  run_result unlim = run({"prlimit", "--pid", pid, "--fsize=unlimited:"});
  ASSERT_EQ(unlim.exit_code, 0) << unlim.err;
  EXPECT_EQ(cluster().sql("clinic", "SELECT count(*) FROM store_t WHERE v = 'refused'"), "0\n")
      << "a statement the audit trail could not record reached the target";

  // Same session, no restart: statements are recorded and run again.
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  pq_result r1 = pq_exec(c.get(), "INSERT INTO store_t VALUES ('after')");
  EXPECT_EQ(PQresultStatus(r1.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  run_result fresh = gw_psql(*gw, "dana", keys().dana,
                             {"-Atc", "INSERT INTO store_t VALUES ('fresh') RETURNING v"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err << "\n" << gw->log_text();
  EXPECT_EQ(cluster().sql("clinic", "SELECT v FROM store_t ORDER BY v"), "after\nbefore\nfresh\n");

  auto ev = wait_audit(*gw, [](const audit_events& e) {
    auto s =
        select(e, {{"kind", "statement"}, {"statement", "INSERT INTO store_t VALUES ('after')"}});
    return !s.empty() && str(s[0], "outcome") == "ok";
  });
  EXPECT_EQ(select(ev, {{"kind", "statement"},
                        {"statement", "INSERT INTO store_t VALUES ('after')"},
                        {"outcome", "ok"}})
                .size(),
            1u)
      << dump(ev);
  // Whatever the trail holds about the refused statement, it never says it ran.
  for (const auto& x :
       select(ev, {{"kind", "statement"}, {"statement", "INSERT INTO store_t VALUES ('refused')"}}))
    EXPECT_NE(str(x, "outcome"), "ok") << boost::json::serialize(x);
}

TEST_F(GatewayLifecycle, sigterm_ends_open_sessions_with_a_reason_and_exits_0) {
  auto gw = start_gateway(cluster(), keys(), basic_gateway_config(cluster()));
  pq_conn idle = pq_connect(gw_conninfo(*gw, "alice", keys().alice));
  ASSERT_EQ(PQstatus(idle.get()), CONNECTION_OK) << PQerrorMessage(idle.get());
  pq_result r = pq_exec(idle.get(), "SELECT 'sigterm-idle'");
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(idle.get());
  // And one in the middle of a statement.
  pq_conn busy = pq_connect(gw_conninfo(*gw, "dana", keys().dana));
  ASSERT_EQ(PQstatus(busy.get()), CONNECTION_OK) << PQerrorMessage(busy.get());
  ASSERT_EQ(PQsendQuery(busy.get(), "SELECT pg_sleep(60) AS sigterm_busy"), 1);
  const auto deadline = clock::now() + 60s;
  while (cluster().sql("clinic",
                       "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                       "AND query = 'SELECT pg_sleep(60) AS sigterm_busy'") != "1\n") {
    ASSERT_LT(clock::now(), deadline) << "statement never started";
    std::this_thread::sleep_for(50ms);
  }

  EXPECT_EQ(gw->stop(60s), 0) << gw->log_text();

  pq_result busy_result(PQgetResult(busy.get()));
  EXPECT_NE(PQresultStatus(busy_result.get()), PGRES_TUPLES_OK);
  EXPECT_TRUE(contains(PQerrorMessage(busy.get()), "shutting down")) << PQerrorMessage(busy.get());
  pq_result after = pq_exec(idle.get(), "SELECT 1");
  EXPECT_NE(PQresultStatus(after.get()), PGRES_TUPLES_OK);
  EXPECT_TRUE(contains(PQerrorMessage(idle.get()), "shutting down")) << PQerrorMessage(idle.get());
  EXPECT_FALSE(port_listening(gw->port()));

  // The trail was flushed before exit: read it with the gateway stopped.
  auto ev = audit_export(*gw);
  for (const std::string stmt : {"SELECT 'sigterm-idle'", "SELECT pg_sleep(60) AS sigterm_busy"}) {
    auto ends = select(ev, {{"kind", "session.end"}, {"session", session_of(ev, stmt)}});
    ASSERT_EQ(ends.size(), 1u) << stmt << "\n" << dump(ev);
    EXPECT_EQ(str(ends[0], "reason"), "gatehouse is shutting down");
  }
  auto stops = select(ev, {{"kind", "gateway.stop"}});
  ASSERT_EQ(stops.size(), 1u) << dump(ev);
  EXPECT_TRUE(contains(str(stops[0], "reason"), "SIGTERM")) << boost::json::serialize(stops[0]);
  // Recorded after every session had ended.
  for (const auto& end : select(ev, {{"kind", "session.end"}}))
    EXPECT_LT(num(end, "seq"), num(stops[0], "seq")) << boost::json::serialize(end);
}

}  // namespace
}  // namespace gh::e2e
