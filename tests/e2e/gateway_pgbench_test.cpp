// End to end: pgbench through the gateway in each query mode (simple, extended, prepared),
// several clients at once, for a few seconds each, with no failed transaction. The tables are
// created directly on PostgreSQL first, as the connection's upstream role.
#include <gtest/gtest.h>

#include <regex>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

class GatewayPgbench : public gateway_suite<GatewayPgbench> {
 public:
  static std::string gateway_yaml(pg_cluster& cluster) {
    run_result init = run({pgbench(), "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                           std::to_string(cluster.port()), "-U", "app", "clinic"},
                          {{"PGPASSWORD", cluster.password()}, {"PGSSLMODE", "require"}}, {}, 300s);
    if (!init.ok()) throw std::runtime_error("pgbench -i failed: " + init.err);
    return basic_gateway_config(cluster);
  }

 protected:
  static std::string pgbench() { return (pg_bindir() / "pgbench").string(); }

  static void run_mode(const std::string& mode) {
    run_result r =
        run({pgbench(), "-M", mode, "-T", "3", "-c", "4", "-j", "2", "-n", "-h", "127.0.0.1", "-p",
             std::to_string(gw_->port()), "-U", "alice", "clinic"},
            {{"PGPASSWORD", keys_->alice}, {"PGSSLMODE", "require"}, {"PGCONNECT_TIMEOUT", "30"}},
            {}, 180s);
    EXPECT_EQ(r.exit_code, 0) << mode << "\n" << r.out << r.err << "\n" << gw_->log_text();
    EXPECT_TRUE(contains(r.out, "query mode: " + mode)) << r.out;
    EXPECT_TRUE(contains(r.out, "number of clients: 4")) << r.out;
    EXPECT_TRUE(contains(r.out, "number of failed transactions: 0 ")) << r.out;
    std::smatch m;
    static const std::regex processed("number of transactions actually processed: ([0-9]+)");
    ASSERT_TRUE(std::regex_search(r.out, m, processed)) << r.out;
    EXPECT_GT(std::stol(m[1].str()), 0) << r.out;
    EXPECT_FALSE(contains(r.err, "error")) << r.err;
    // The transactions really went through to PostgreSQL (pgbench_history grows).
    EXPECT_NE(cluster_->sql("clinic", "SELECT count(*) FROM pgbench_history"), "0\n");
  }
};

TEST_F(GatewayPgbench, simple) {
  run_mode("simple");
}
TEST_F(GatewayPgbench, extended) {
  run_mode("extended");
}
TEST_F(GatewayPgbench, prepared) {
  run_mode("prepared");
}

// Every transaction pgbench ran is in the audit trail, with its outcome.
TEST_F(GatewayPgbench, every_statement_is_audited) {
  run_result r = run({pgbench(), "-M", "prepared", "-t", "50", "-c", "2", "-j", "2", "-n", "-h",
                      "127.0.0.1", "-p", std::to_string(gw_->port()), "-U", "dana", "clinic"},
                     {{"PGPASSWORD", keys_->dana}, {"PGSSLMODE", "require"}}, {}, 180s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // 2 clients x 50 transactions x 7 statements (BEGIN, 3 UPDATE, SELECT, INSERT, END), plus
  // pgbench's own look at the scale.
  auto ev = wait_audit(*gw_,
                       [](const audit_events& e) {
                         int done = 0;
                         for (const auto& x : e)
                           if (str(x, "kind") == "statement" && !str(x, "outcome").empty()) ++done;
                         return done >= 700;
                       },
                       {"--user", "dana"});
  int ok = 0, other = 0, account_updates = 0;
  for (const auto& x : select(ev, {{"kind", "statement"}, {"user", "dana"}})) {
    (str(x, "outcome") == "ok" ? ok : other)++;
    if (str(x, "statement").rfind("UPDATE pgbench_accounts SET abalance", 0) == 0) {
      ++account_updates;
      EXPECT_EQ(num(x, "param_count"), 2) << boost::json::serialize(x);
      EXPECT_EQ(num(x, "rows"), 1) << boost::json::serialize(x);
    }
  }
  EXPECT_GE(ok, 700);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(account_updates, 100);
}

}  // namespace
}  // namespace gh::e2e
