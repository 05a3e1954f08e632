// End to end: the audit trail survives kill -9 under load. pgbench (select-only, simple
// protocol, 4 clients) runs through the gateway; the gateway is killed with SIGKILL while the
// clients are busy and started again. Then `gatehouse audit verify` passes on the trail the
// crash left, every statement pgbench saw answered has its `statement` event, and the trail
// exported as a chain file verifies offline against the published public key, but not after
// one byte of it is changed.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <thread>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

using clock = std::chrono::steady_clock;

class AuditCrash : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = new pg_cluster();
      keys_ = new api_keys();
      // The pgbench tables, created directly on PostgreSQL as the connection's upstream role.
      run_result init =
          run({pgbench(), "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
               std::to_string(cluster_->port()), "-U", "app", "clinic"},
              {{"PGPASSWORD", cluster_->password()}, {"PGSSLMODE", "require"}}, {}, 300s);
      if (!init.ok()) throw std::runtime_error("pgbench -i failed: " + init.err);
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

  static std::string pgbench() { return (pg_bindir() / "pgbench").string(); }

  static pg_cluster* cluster_;
  static api_keys* keys_;
  static std::string setup_error_;
};
pg_cluster* AuditCrash::cluster_ = nullptr;
api_keys* AuditCrash::keys_ = nullptr;
std::string AuditCrash::setup_error_;

// `statement` events of `user` that are pgbench -S's transaction ("SELECT abalance FROM
// pgbench_accounts WHERE aid = ..."), not pgbench's own setup queries on its main connection.
std::int64_t pgbench_statements(const gateway& gw, const std::string& user) {
  auto ev = audit_export(gw, {"--kind", "statement", "--user", user, "--statement",
                              "select abalance from pgbench_accounts"});
  std::int64_t n = 0;
  for (const auto& e : ev)
    if (str(e, "kind") == "statement" && str(e, "user") == user &&
        str(e, "statement").rfind("SELECT abalance FROM pgbench_accounts WHERE aid = ", 0) == 0)
      ++n;
  return n;
}

TEST_F(AuditCrash, kill_9_under_load_loses_no_acknowledged_statement_and_the_trail_verifies) {
  auto gw = start_gateway(*cluster_, *keys_, basic_gateway_config(*cluster_));
  constexpr int clients = 4;

  // Long enough that the gateway dies long before pgbench would stop on its own.
  spawn_options bench;
  bench.argv = {pgbench(), "-M", "simple", "-S", "-n", "-T", "600", "-c",
                std::to_string(clients), "-j", "2", "-h", "127.0.0.1", "-p",
                std::to_string(gw->port()), "-U", "alice", "clinic"};
  bench.env = {{"PGPASSWORD", keys_->alice}, {"PGSSLMODE", "require"}, {"PGCONNECT_TIMEOUT", "30"}};
  bench.log_dir = gw->dir();
  bench.name = "pgbench";
  child_process pb(std::move(bench));

  // "In the middle": once a good number of statements are on record and pgbench still runs.
  const auto deadline = clock::now() + 180s;
  std::int64_t seen = 0;
  while (clock::now() < deadline && pb.running()) {
    seen = pgbench_statements(*gw, "alice");
    if (seen >= 300) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(pb.running()) << "pgbench ended before the crash:\n"
                            << pb.stdout_text() << pb.stderr_text() << "\n" << gw->log_text();
  ASSERT_GE(seen, 300) << pb.stdout_text() << pb.stderr_text() << "\n" << gw->log_text();
  gw->kill9();
  EXPECT_FALSE(gw->running());

  // Every client loses its connection; pgbench reports what completed and gives up.
  auto code = pb.wait(120s);
  ASSERT_TRUE(code.has_value()) << "pgbench still running after the gateway died";
  std::string out = pb.stdout_text();
  std::string err = pb.stderr_text();
  std::smatch m;
  static const std::regex processed("number of transactions actually processed: ([0-9]+)");
  ASSERT_TRUE(std::regex_search(out, m, processed)) << out << err;
  const std::int64_t acknowledged = std::stoll(m[1].str());
  EXPECT_GT(acknowledged, 0) << out;
  EXPECT_TRUE(contains(err, "aborted")) << "pgbench did not notice the crash:\n" << out << err;

  // Restart on the same state: it takes up the journal the crash left and serves again.
  gw->start();
  run_result after = gw_psql(*gw, "dana", keys_->dana, {"-Atc", "SELECT 'after-crash'"});
  ASSERT_TRUE(after.ok()) << after.err << "\n" << gw->log_text();
  EXPECT_EQ(after.out, "after-crash\n");
  EXPECT_EQ(gw->stop(), 0) << gw->log_text();  // shutdown signs the head

  run_result verify = gw->cli({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  static const std::regex verified("^verified ([0-9]+) events, ([0-9]+) checkpoints");
  ASSERT_TRUE(std::regex_search(verify.out, m, verified)) << verify.out << verify.err;
  const std::int64_t events = std::stoll(m[1].str());
  EXPECT_GE(std::stoll(m[2].str()), 1) << verify.out;

  // No acknowledged statement is missing: each was on record before it was forwarded. At most
  // one per client was in flight (recorded, never answered) when the gateway died.
  const std::int64_t recorded = pgbench_statements(*gw, "alice");
  EXPECT_LE(acknowledged, recorded) << out;
  EXPECT_LE(recorded, acknowledged + clients) << out;
  EXPECT_GT(events, recorded);

  // Offline: the chain export verifies against the published public key...
  run_result pub = gw->cli({"audit", "pubkey"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  ASSERT_TRUE(contains(pub.out, "BEGIN PUBLIC KEY")) << pub.out;
  const auto pem = gw->dir() / "audit-pub.pem";
  write_file(pem, pub.out);
  const auto chain = gw->dir() / "trail.jsonl";
  run_result exp = gw->cli({"audit", "export", "--format", "chain", "--out", chain.string()});
  ASSERT_EQ(exp.exit_code, 0) << exp.out << exp.err;
  EXPECT_TRUE(std::filesystem::exists(chain.string() + ".sig"));
  run_result offline = run({gatehouse_bin().string(), "audit", "verify", "--config",
                            gw->config_path().string(), "--file", chain.string(), "--pubkey",
                            pem.string()});
  EXPECT_EQ(offline.exit_code, 0) << offline.out << offline.err;
  EXPECT_TRUE(contains(offline.out, "verified " + std::to_string(events) + " events"))
      << offline.out;

  // ...and not once one byte of one event is changed.
  std::string text = read_file(chain);
  auto at = text.find("\"kind\":\"statement\"");
  ASSERT_NE(at, std::string::npos);
  auto line_start = text.rfind('\n', at);
  line_start = line_start == std::string::npos ? 0 : line_start + 1;
  static const std::regex seq_re("^\\{\"seq\":([0-9]+),");
  std::string head = text.substr(line_start, 40);
  ASSERT_TRUE(std::regex_search(head, m, seq_re)) << head;
  const std::string bad_seq = m[1].str();
  text[at + std::string("\"kind\":\"statemen").size()] = 'T';  // "statemenT"
  write_file(chain, text);
  run_result tampered = run({gatehouse_bin().string(), "audit", "verify", "--config",
                             gw->config_path().string(), "--file", chain.string(), "--pubkey",
                             pem.string()});
  EXPECT_EQ(tampered.exit_code, 1) << tampered.out << tampered.err;
  EXPECT_TRUE(contains(tampered.out, "FAILED at seq " + bad_seq + ": modified"))
      << tampered.out;
}

}  // namespace
}  // namespace gh::e2e
