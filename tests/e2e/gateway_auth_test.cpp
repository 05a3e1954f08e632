// End to end: who gets in through the gateway and how it logs into PostgreSQL.
// Client TLS policy, refusals that all look alike (with the real reason in the audit trail), the
// upstream credential staying inside the gateway, and each upstream auth method / TLS mode.
#include <gtest/gtest.h>

#include <set>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

class GatewayAuth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      dir_ = new temp_dir("gh-auth");
      // A CA that did not sign the cluster's certificate (same names, different key).
      run_result ca =
          run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
               "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout",
               (*dir_ / "other.key").string(), "-out", (*dir_ / "other.crt").string()});
      if (!ca.ok()) throw std::runtime_error("openssl: " + ca.err);
      // A distinctive upstream password, so "never visible" can be checked by plain search.
      cluster_ = new pg_cluster({.password = "upw-" + random_hex(12)});
      keys_ = new api_keys();
      const std::string ca_line = "    tls_ca: " + cluster_->ca_cert_path().string() + "\n";
      std::string yaml = basic_gateway_config(*cluster_);
      yaml += extra_connection(*cluster_, "clinic_md5", "app_md5", "require");
      yaml += extra_connection(*cluster_, "clinic_plain", "app_plain", "prefer");
      yaml += extra_connection(*cluster_, "clinic_verify_ip", "app", "verify-full", ca_line);
      yaml += extra_connection(*cluster_, "clinic_verify_name", "app", "verify-full", ca_line,
                               "localhost");
      yaml += extra_connection(*cluster_, "clinic_wrong_ca", "app", "verify-full",
                               "    tls_ca: " + (*dir_ / "other.crt").string() + "\n");
      yaml += extra_connection(*cluster_, "clinic_bad_password", "app", "require", "", "127.0.0.1",
                               "env:WRONG_DB_PASSWORD");
      gateway_options o;
      o.config_yaml = yaml;
      o.env = gateway_env(*cluster_, *keys_);
      o.env["WRONG_DB_PASSWORD"] = "not-the-password";
      gw_ = new gateway(std::move(o));
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete gw_;
    delete cluster_;
    delete keys_;
    delete dir_;
    gw_ = nullptr;
    cluster_ = nullptr;
    keys_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static pg_cluster& cluster() { return *cluster_; }
  static gateway& gw() { return *gw_; }
  static const api_keys& keys() { return *keys_; }

  static temp_dir* dir_;
  static pg_cluster* cluster_;
  static api_keys* keys_;
  static gateway* gw_;
  static std::string setup_error_;
};
temp_dir* GatewayAuth::dir_ = nullptr;
pg_cluster* GatewayAuth::cluster_ = nullptr;
api_keys* GatewayAuth::keys_ = nullptr;
gateway* GatewayAuth::gw_ = nullptr;
std::string GatewayAuth::setup_error_;

// The line of a libpq error message from "FATAL:" on, with `user` replaced by USER, so messages
// for different users can be compared for shape.
std::string fatal_line(std::string msg, const std::string& user) {
  auto pos = msg.find("FATAL:");
  if (pos == std::string::npos) return "<no FATAL in: " + msg + ">";
  msg = msg.substr(pos);
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg.resize(nl);
  for (auto p = msg.find(user); !user.empty() && p != std::string::npos; p = msg.find(user))
    msg.replace(p, user.size(), "USER");
  return msg;
}

TEST_F(GatewayAuth, psql_over_tls_returns_what_postgres_returns) {
  const std::string q = "SELECT id, full_name, ssn, dob, icd10 FROM patients ORDER BY id";
  run_result direct = psql({direct_conninfo(cluster()), "-Atc", q});
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  run_result via = gw_psql(gw(), "alice", keys().alice, {"-Atc", q});
  ASSERT_EQ(via.exit_code, 0) << via.err << "\n" << gw().log_text();
  EXPECT_EQ(via.out, direct.out);
  EXPECT_TRUE(contains(via.out, "1|Avery Testcase|123-45-6789|1980-02-14|E11.9\n")) << via.out;

  pq_conn c = pq_connect(gw_conninfo(gw(), "alice", keys().alice));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(PQsslInUse(c.get()), 1);
  pq_result r = pq_exec(c.get(), "SELECT count(*) FROM patients");
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "5");
}

TEST_F(GatewayAuth, plaintext_is_refused_under_tls_client_require) {
  run_result r = gw_psql(gw(), "alice", keys().alice, {"-Atc", "SELECT 1"}, {}, "disable");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_TRUE(contains(r.err, "gatehouse requires an encrypted connection")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;

  pq_conn c = pq_connect_verbose(gw_conninfo(gw(), "alice", keys().alice, "disable"));
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);
  EXPECT_TRUE(contains(PQerrorMessage(c.get()), "FATAL:  28000:")) << PQerrorMessage(c.get());

  auto ev = wait_audit(gw(), [](const audit_events& e) {
    for (const auto& x : select(e, {{"kind", "auth.fail"}, {"user", "alice"}}))
      if (contains(str(x, "reason"), "plaintext")) return true;
    return false;
  });
  bool found = false;
  for (const auto& x : select(ev, {{"kind", "auth.fail"}, {"user", "alice"}}))
    found = found || contains(str(x, "reason"), "plaintext connection refused");
  EXPECT_TRUE(found) << dump(ev);
}

TEST_F(GatewayAuth, plaintext_from_loopback_is_allowed_under_prefer) {
  auto gw2 = start_gateway(
      cluster(), keys(),
      replace_once(basic_gateway_config(cluster()), "client: require", "client: prefer"));
  run_result plain = gw_psql(*gw2, "alice", keys().alice, {"-Atc", "SELECT count(*) FROM patients"},
                             {}, "disable");
  EXPECT_EQ(plain.exit_code, 0) << plain.err << "\n" << gw2->log_text();
  EXPECT_EQ(plain.out, "5\n");

  pq_conn c = pq_connect(gw_conninfo(*gw2, "alice", keys().alice, "disable"));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(PQsslInUse(c.get()), 0);
  pq_conn t = pq_connect(gw_conninfo(*gw2, "alice", keys().alice, "require"));
  ASSERT_EQ(PQstatus(t.get()), CONNECTION_OK) << PQerrorMessage(t.get());
  EXPECT_EQ(PQsslInUse(t.get()), 1);

  // The audit trail tells the two apart.
  auto ev = wait_audit(*gw2, [](const audit_events& e) {
    return select(e, {{"kind", "session.start"}, {"user", "alice"}}).size() >= 3;
  });
  int plain_starts = 0, tls_starts = 0;
  for (const auto& x : select(ev, {{"kind", "session.start"}, {"user", "alice"}})) {
    auto d = x.if_contains("detail");
    if (d == nullptr || !d->is_object() || !d->as_object().contains("tls")) continue;
    (d->as_object().at("tls").as_bool() ? tls_starts : plain_starts)++;
  }
  EXPECT_EQ(plain_starts, 2) << dump(ev);
  EXPECT_EQ(tls_starts, 1) << dump(ev);
}

TEST_F(GatewayAuth, every_refusal_looks_the_same_and_the_audit_has_the_real_reason) {
  struct attempt {
    std::string user, key, connection, reason_part;
  };
  const std::string stranger = "nobody_" + random_hex(4);
  const std::vector<attempt> attempts{
      {"alice", "wrong-" + random_hex(8), "clinic", "wrong API key"},
      {stranger, keys().alice, "clinic", "unknown user"},
      {"mallory", keys().mallory, "clinic", "allow_groups"},
      {"dana", keys().dana, "no_such_connection", "no such connection"},
  };
  std::set<std::string> shapes;
  for (const auto& a : attempts) {
    pq_conn c = pq_connect_verbose(gw_conninfo(gw(), a.user, a.key, "require", a.connection));
    EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD) << a.user;
    const std::string msg = PQerrorMessage(c.get());
    EXPECT_TRUE(
        contains(msg, "FATAL:  28P01: password authentication failed for user \"" + a.user + "\""))
        << a.user << ": " << msg;
    shapes.insert(fatal_line(msg, a.user));

    run_result r = gw_psql(gw(), a.user, a.key, {"-Atc", "SELECT 1"}, {}, "require", a.connection);
    EXPECT_EQ(r.exit_code, 2) << a.user << ": " << r.out;
    EXPECT_TRUE(
        contains(r.err, "FATAL:  password authentication failed for user \"" + a.user + "\""))
        << a.user << ": " << r.err;
    EXPECT_FALSE(contains(r.err, a.reason_part)) << r.err;
  }
  EXPECT_EQ(shapes.size(), 1u) << [&] {
    std::string s;
    for (const auto& x : shapes) s += x + "\n";
    return s;
  }();

  // Each attempt was made twice (libpq, psql); the audit trail names the real reason.
  auto has_reason = [&](const audit_events& e, const attempt& a) {
    int n = 0;
    for (const auto& x : select(e, {{"kind", "auth.fail"}, {"user", a.user}}))
      if (str(x, "connection") == a.connection && contains(str(x, "reason"), a.reason_part)) ++n;
    return n;
  };
  auto ev = wait_audit(gw(), [&](const audit_events& e) {
    for (const auto& a : attempts)
      if (has_reason(e, a) < 2) return false;
    return true;
  });
  std::set<std::string> reasons;
  for (const auto& a : attempts) {
    EXPECT_EQ(has_reason(ev, a), 2) << a.user << "/" << a.reason_part << "\n" << dump(ev);
    for (const auto& x : select(ev, {{"kind", "auth.fail"}, {"user", a.user}}))
      if (str(x, "connection") == a.connection) {
        reasons.insert(str(x, "reason"));
        EXPECT_EQ(str(x, "outcome"), "28P01") << boost::json::serialize(x);
      }
  }
  EXPECT_EQ(reasons.size(), attempts.size()) << dump(ev);
  // None of the refused connections became a session.
  for (const auto& fail : select(ev, {{"kind", "auth.fail"}}))
    EXPECT_TRUE(select(ev, {{"kind", "session.start"}, {"session", str(fail, "session")}}).empty())
        << boost::json::serialize(fail);
}

TEST_F(GatewayAuth, upstream_scram_md5_and_cleartext_each_work) {
  struct method {
    std::string connection, role, pg_method;
  };
  for (const method& m :
       {method{"clinic", "app", "scram-sha-256"}, method{"clinic_md5", "app_md5", "md5"},
        method{"clinic_plain", "app_plain", "password"}}) {
    run_result r =
        gw_psql(gw(), "dana", keys().dana, {"-Atc", "SELECT current_user, count(*) FROM patients"},
                {}, "require", m.connection);
    EXPECT_EQ(r.exit_code, 0) << m.connection << ": " << r.err << "\n" << gw().log_text();
    EXPECT_EQ(r.out, m.role + "|5\n") << m.connection;
    // PostgreSQL (log_connections) records the method it used to authenticate the gateway.
    const std::string line =
        "connection authenticated: identity=\"" + m.role + "\" method=" + m.pg_method;
    EXPECT_TRUE(contains(cluster().log_text(), line)) << line << "\n" << cluster().log_text();
  }
}

TEST_F(GatewayAuth, upstream_verify_full_checks_the_certificate) {
  for (const char* conn : {"clinic_verify_ip", "clinic_verify_name"}) {
    run_result r = gw_psql(gw(), "alice", keys().alice,
                           {"-Atc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"}, {},
                           "require", conn);
    EXPECT_EQ(r.exit_code, 0) << conn << ": " << r.err << "\n" << gw().log_text();
    EXPECT_EQ(r.out, "t\n") << conn;
  }

  run_result bad =
      gw_psql(gw(), "alice", keys().alice, {"-Atc", "SELECT 1"}, {}, "require", "clinic_wrong_ca");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_TRUE(contains(bad.err, "could not log in to connection \"clinic_wrong_ca\"")) << bad.err;
  EXPECT_FALSE(contains(bad.err, "certificate")) << "details belong in the log: " << bad.err;

  auto ev = wait_audit(gw(), [](const audit_events& e) {
    return !select(e, {{"kind", "upstream.fail"}, {"connection", "clinic_wrong_ca"}}).empty();
  });
  auto fails = select(ev, {{"kind", "upstream.fail"}, {"connection", "clinic_wrong_ca"}});
  ASSERT_FALSE(fails.empty()) << dump(ev);
  EXPECT_TRUE(contains(str(fails[0], "reason"), "TLS")) << boost::json::serialize(fails[0]);
  EXPECT_TRUE(contains(gw().log_text(), "certificate verify failed")) << gw().log_text();
}

TEST_F(GatewayAuth, wrong_upstream_password_gives_the_generic_error) {
  run_result r = gw_psql(gw(), "alice", keys().alice, {"-Atc", "SELECT 1"}, {}, "require",
                         "clinic_bad_password");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_TRUE(contains(r.err,
                       "FATAL:  gatehouse could not log in to connection "
                       "\"clinic_bad_password\"; the gateway log has the details"))
      << r.err;
  EXPECT_FALSE(contains(r.err, "\"app\"")) << "the upstream role must not be named: " << r.err;
  auto ev = wait_audit(gw(), [](const audit_events& e) {
    return !select(e, {{"kind", "upstream.fail"}, {"connection", "clinic_bad_password"}}).empty();
  });
  auto fails = select(ev, {{"kind", "upstream.fail"}, {"connection", "clinic_bad_password"}});
  ASSERT_FALSE(fails.empty()) << dump(ev);
  EXPECT_TRUE(contains(str(fails[0], "reason"), "28P01")) << boost::json::serialize(fails[0]);
}

// Last in this file on purpose: the gateway log and the audit trail then also hold what the
// tests above did (md5/cleartext logins, upstream failures).
TEST_F(GatewayAuth, upstream_password_is_never_visible) {
  const std::string& secret = cluster().password();
  ASSERT_GE(secret.size(), 16u);
  const std::string script =
      "\\set ON_ERROR_STOP 0\n"
      "\\set VERBOSITY verbose\n"
      "\\conninfo\n"
      "SHOW session_authorization;\n"
      "SELECT 1/0;\n"
      "SELECT * FROM no_such_table;\n"
      "SHOW ALL;\n"
      "SELECT * FROM pg_stat_activity;\n"
      "SELECT count(*) FROM patients;\n";
  std::string client_text;
  for (const char* conn : {"clinic", "clinic_md5", "clinic_plain", "clinic_bad_password"}) {
    run_result r = gw_psql(gw(), "alice", keys().alice, {"-f", "-"}, script, "require", conn);
    client_text += r.out + r.err;
    if (std::string(conn) != "clinic_bad_password") {
      EXPECT_EQ(r.exit_code, 0) << conn << ": " << r.err;
      EXPECT_TRUE(contains(r.err, "22012")) << conn << ": " << r.err;  // verbose really on
    }
  }
  EXPECT_FALSE(contains(client_text, secret)) << client_text;
  EXPECT_FALSE(contains(gw().log_text(), secret));
  EXPECT_FALSE(contains(audit_export_text(gw()), secret));

  // ParameterStatus session_authorization names the gatehouse user, not the upstream role.
  pq_conn c = pq_connect(gw_conninfo(gw(), "alice", keys().alice));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  ASSERT_NE(PQparameterStatus(c.get(), "session_authorization"), nullptr);
  EXPECT_STREQ(PQparameterStatus(c.get(), "session_authorization"), "alice");
  pq_result r = pq_exec(c.get(), "SET SESSION AUTHORIZATION DEFAULT");
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQparameterStatus(c.get(), "session_authorization"), "alice");
  // Direct, PostgreSQL reports the role: the rewrite above is the gateway's doing.
  pq_conn d = pq_connect(direct_conninfo(cluster()));
  ASSERT_EQ(PQstatus(d.get()), CONNECTION_OK) << PQerrorMessage(d.get());
  EXPECT_STREQ(PQparameterStatus(d.get(), "session_authorization"), "app");
}

}  // namespace
}  // namespace gh::e2e
