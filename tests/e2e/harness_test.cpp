// Checks the e2e harness itself against PostgreSQL directly (no gateway in the path), so a
// failure in a gateway test can be told apart from a broken test environment.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

namespace gh::e2e {
namespace {

namespace fs = std::filesystem;

TEST(harness, temp_dir_is_traversable_and_removed) {
  fs::path p;
  {
    temp_dir d("gh-harness");
    p = d.path();
    ASSERT_TRUE(fs::is_directory(p));
    auto perms = fs::status(p).permissions();
    EXPECT_NE(perms & fs::perms::others_exec, fs::perms::none);
    write_file(d / "f.txt", "x");
    EXPECT_EQ(read_file(d / "f.txt"), "x");
  }
  EXPECT_FALSE(fs::exists(p));
}

TEST(harness, run_captures_output_exit_code_and_stdin) {
  run_result r = run({"sh", "-c", "cat; echo err >&2; exit 3"}, {}, "hello\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(harness, run_passes_env_and_drops_inherited_pg_vars) {
  ::setenv("PGHOST", "should-not-leak", 1);
  run_result r = run({"sh", "-c", "echo \"${PGHOST:-unset} $GH_X\""}, {{"GH_X", "42"}});
  ::unsetenv("PGHOST");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "unset 42\n");
}

TEST(harness, run_kills_on_timeout) {
  run_result r = run({"sleep", "30"}, {}, {}, 300ms);
  EXPECT_EQ(r.exit_code, -1);
}

TEST(harness, run_reports_missing_binary) {
  EXPECT_THROW((void)run({"/nonexistent/gh-no-such-binary"}), std::exception);
}

TEST(harness, child_process_kill_and_wait) {
  temp_dir d("gh-harness");
  spawn_options o;
  o.argv = {"sh", "-c", "echo started >&2; exec sleep 30"};
  o.log_dir = d.path();
  o.name = "sleeper";
  child_process c(std::move(o));
  EXPECT_GT(c.pid(), 0);
  EXPECT_TRUE(c.running());
  EXPECT_FALSE(c.wait(100ms).has_value());
  c.kill(SIGTERM);
  auto code = c.wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 128 + SIGTERM);
  EXPECT_FALSE(c.running());
  EXPECT_EQ(c.stderr_text(), "started\n");
}

TEST(harness, free_port_and_wait_port) {
  std::uint16_t p = free_port();
  EXPECT_GT(p, 0);
  EXPECT_FALSE(port_listening(p));
  EXPECT_FALSE(port_open(p));
  EXPECT_FALSE(wait_port(p, 100ms));
}

TEST(harness, substitute_fills_placeholders_and_rejects_unknown) {
  EXPECT_EQ(substitute("a {{x}} b {{y}}", {{"x", "1"}, {"y", "2"}}), "a 1 b 2");
  EXPECT_THROW((void)substitute("{{nope}}", {{"x", "1"}}), std::exception);
}

TEST(harness, gatehouse_binary_was_built) {
  EXPECT_TRUE(fs::exists(gatehouse_bin())) << gatehouse_bin();
}

class pg_cluster_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new pg_cluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static pg_cluster& cluster() { return *cluster_; }
  static env_map password_env() { return {{"PGPASSWORD", cluster_->password()}}; }

 private:
  static pg_cluster* cluster_;
};
pg_cluster* pg_cluster_test::cluster_ = nullptr;

TEST_F(pg_cluster_test, listens_on_its_port) {
  EXPECT_TRUE(port_listening(cluster().port()));
  EXPECT_TRUE(wait_port(cluster().port(), 1s));
  EXPECT_TRUE(port_open(cluster().port()));
}

TEST_F(pg_cluster_test, superuser_sql_over_unix_socket) {
  EXPECT_EQ(cluster().sql("clinic", "SELECT count(*) FROM patients"), "5\n");
  EXPECT_THROW((void)cluster().sql("clinic", "SELECT * FROM no_such_table"), std::exception);
  EXPECT_FALSE(cluster().try_sql("clinic", "SELECT 1/0").ok());
}

TEST_F(pg_cluster_test, roles_use_the_expected_password_storage) {
  EXPECT_EQ(cluster().sql("postgres",
                          "SELECT rolname, split_part(rolpassword, '$', 1) = 'SCRAM-SHA-256', "
                          "rolpassword LIKE 'md5%' FROM pg_authid "
                          "WHERE rolname IN ('app', 'app_md5', 'app_plain') ORDER BY rolname"),
            "app|t|f\napp_md5|f|t\napp_plain|t|f\n");
}

TEST_F(pg_cluster_test, psql_as_app_over_tls_with_scram) {
  run_result r = psql({conninfo(cluster().port(), "clinic", "app", "require"), "-Atc",
                       "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"},
                      password_env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "app|t\n");
}

TEST_F(pg_cluster_test, psql_verify_full_against_the_cluster_cert) {
  run_result r = psql({conninfo(cluster().port(), "clinic", "app", "verify-full") +
                           " sslrootcert=" + cluster().ca_cert_path().string(),
                       "-Atc", "SELECT count(*) FROM patients"},
                      password_env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "5\n");
}

TEST_F(pg_cluster_test, wrong_password_is_refused) {
  run_result r = psql({conninfo(cluster().port(), "clinic", "app", "require"), "-Atc", "SELECT 1"},
                      {{"PGPASSWORD", "wrong"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("password authentication failed"), std::string::npos) << r.err;
}

TEST_F(pg_cluster_test, md5_and_cleartext_roles_can_log_in) {
  for (const char* user : {"app_md5", "app_plain"}) {
    for (const char* sslmode : {"disable", "require"}) {
      run_result r = psql({conninfo(cluster().port(), "clinic", user, sslmode), "-Atc",
                           "SELECT current_user, count(*) FROM patients"},
                          password_env());
      EXPECT_EQ(r.exit_code, 0) << user << " " << sslmode << ": " << r.err;
      EXPECT_EQ(r.out, std::string(user) + "|5\n");
    }
  }
}

TEST_F(pg_cluster_test, libpq_connects_with_tls) {
  pq_conn c = pq_connect(conninfo(cluster().port(), "clinic", "app", "require") +
                         " password=" + cluster().password());
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(PQsslInUse(c.get()), 1);
  pq_result r = pq_exec(c.get(), "SELECT full_name FROM patients WHERE id = 1");
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQntuples(r.get()), 1);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "Avery Testcase");
}

// Own cluster: stopping and crashing must not disturb the shared one.
TEST(pg_cluster_lifecycle, stop_start_and_kill9_then_start) {
  pg_cluster c({.password = "s3cret", .seed = true});
  const std::uint16_t port = c.port();
  env_map env{{"PGPASSWORD", "s3cret"}};
  auto query = [&] {
    return psql(
        {conninfo(port, "clinic", "app", "require"), "-Atc", "SELECT count(*) FROM patients"}, env);
  };
  ASSERT_EQ(query().out, "5\n");

  c.stop();
  EXPECT_FALSE(c.running());
  EXPECT_NE(query().exit_code, 0);
  c.start();
  EXPECT_EQ(c.port(), port);
  EXPECT_EQ(query().out, "5\n");

  // Crash with a session open, then recover on the same port.
  pq_conn held = pq_connect(conninfo(port, "clinic", "app", "require") + " password=s3cret");
  ASSERT_EQ(PQstatus(held.get()), CONNECTION_OK) << PQerrorMessage(held.get());
  c.kill9();
  EXPECT_FALSE(c.running());
  pq_result dead = pq_exec(held.get(), "SELECT 1");
  EXPECT_NE(PQresultStatus(dead.get()), PGRES_TUPLES_OK);
  c.start();
  run_result after = query();
  EXPECT_EQ(after.exit_code, 0) << after.err << "\n" << c.log_text();
  EXPECT_EQ(after.out, "5\n");
}

}  // namespace
}  // namespace gh::e2e
