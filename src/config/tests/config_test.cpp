// Parsing and validation of whole configs: the full fixture, defaults, and a table of invalid
// configs each of which must name the right file:line and key path.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "config/tests/test_util.hpp"

namespace gh::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Lines 1..9; tests append lines from 10 on, so expected line numbers are easy to read off.
const std::string listen_lines =
    "  listen:\n"                       // 2
    "    postgres: 127.0.0.1:15432\n";  // 3
const std::string connection_lines =
    "connections:\n"          // 4
    "  - name: patients\n"    // 5
    "    type: postgres\n"    // 6
    "    host: 127.0.0.1\n"   // 7
    "    database: clinic\n"  // 8
    "    user: app\n";        // 9
const std::string minimal = "gateway:\n" + listen_lines + connection_lines;
// minimal without its first line, for tests that add keys at the top of `gateway:`.
const std::string after_gateway = listen_lines + connection_lines;

TEST(ConfigParse, FullFixtureHasTheRightValues) {
  const fs::path dir = testing::testdata_dir();
  auto r = load_config((dir / "full.yaml").string());
  ASSERT_TRUE(r.ok()) << r.err();
  const config& c = *r;
  const std::string base = fs::absolute(dir).lexically_normal().string();
  EXPECT_EQ(c.base_dir + "/", base.ends_with('/') ? base : base + "/");

  EXPECT_EQ(c.gateway.state_dir, c.base_dir + "/var");
  EXPECT_EQ(c.gateway.listen.postgres.host, "127.0.0.1");
  EXPECT_EQ(c.gateway.listen.postgres.port, 15432);
  EXPECT_EQ(c.gateway.listen.ssh.port, 12222);
  EXPECT_EQ(c.gateway.listen.api.host, "::1");
  EXPECT_EQ(c.gateway.listen.api.port, 8009);
  EXPECT_EQ(c.gateway.tls.client, client_tls::require);
  EXPECT_EQ(c.gateway.tls.cert, c.base_dir + "/certs/cert.pem");
  EXPECT_EQ(c.gateway.tls.key, c.base_dir + "/certs/key.pem");
  EXPECT_EQ(c.gateway.idle_timeout, 15min);
  EXPECT_EQ(c.gateway.connect_timeout, 5s);
  EXPECT_EQ(c.gateway.auth_timeout, 20s);
  EXPECT_EQ(c.gateway.max_message_size, 8u * 1024 * 1024);
  EXPECT_EQ(c.gateway.workers, 4u);

  EXPECT_EQ(c.store.url, "sqlite://" + c.base_dir + "/var/gatehouse.db");
  EXPECT_EQ(c.store.sqlite_path(), c.base_dir + "/var/gatehouse.db");

  ASSERT_TRUE(c.identity.oidc.has_value());
  EXPECT_EQ(c.identity.oidc->issuer, "https://idp.example.com");
  EXPECT_EQ(c.identity.oidc->audience, "gatehouse");
  EXPECT_EQ(c.identity.oidc->groups_claim, "roles");
  ASSERT_EQ(c.identity.users.size(), 2u);
  const user_config& alice = c.identity.users[0];
  EXPECT_EQ(alice.name, "alice");
  EXPECT_EQ(alice.groups, std::vector<std::string>{"clinicians"});
  EXPECT_EQ(alice.api_key.spec, "env:ALICE_API_KEY");
  EXPECT_TRUE(alice.api_key_sha256.empty());
  EXPECT_EQ(alice.line, 28);
  EXPECT_EQ(alice.api_key_line, 30);
  const user_config& bot = c.identity.users[1];
  EXPECT_TRUE(bot.api_key.empty());
  EXPECT_EQ(bot.api_key_sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_EQ(bot.groups, (std::vector<std::string>{"dba", "ci"}));

  ASSERT_EQ(c.connections.size(), 2u);
  const connection_config& pg = c.connections[0];
  EXPECT_EQ(pg.name, "patients");
  EXPECT_EQ(pg.type, conn_type::postgres);
  EXPECT_EQ(pg.host, "127.0.0.1");
  EXPECT_EQ(pg.port, 5432);
  EXPECT_EQ(pg.database, "clinic");
  EXPECT_EQ(pg.user, "app");
  EXPECT_EQ(pg.password.spec, "env:CLINIC_DB_PASSWORD");
  EXPECT_EQ(pg.password_line, 41);
  EXPECT_EQ(pg.tls, upstream_tls::verify_full);
  EXPECT_EQ(pg.tls_ca, c.base_dir + "/certs/ca.pem");
  EXPECT_EQ(pg.allow_groups, (std::vector<std::string>{"clinicians", "dba"}));
  EXPECT_EQ(pg.line, 35);
  const connection_config& ssh = c.connections[1];
  EXPECT_EQ(ssh.type, conn_type::ssh);
  EXPECT_EQ(ssh.port, 22);
  EXPECT_EQ(ssh.password.spec, "file:" + c.base_dir + "/secrets/ssh_password");
  EXPECT_TRUE(ssh.allow_groups.empty());

  EXPECT_EQ(c.audit.retention, std::chrono::hours(24 * 365 * 6));
  EXPECT_EQ(c.audit.sync, audit_sync::write);
  EXPECT_EQ(c.audit.segment_size, 64u << 20);
  EXPECT_EQ(c.audit.checkpoint_events, 1000);
  EXPECT_EQ(c.audit.checkpoint_interval, std::chrono::seconds(10));

  EXPECT_EQ(c.find_connection("bastion"), &c.connections[1]);
  EXPECT_EQ(c.find_connection("nope"), nullptr);
  EXPECT_EQ(c.find_user("ci-bot"), &c.identity.users[1]);
  EXPECT_EQ(c.find_user("ALICE"), nullptr);
}

TEST(ConfigParse, ShippedDemoConfigParses) {
  // examples/demo.yaml is what scripts/demo runs; a parser change must not break it.
  auto demo = (testing::testdata_dir() / "../../../examples/demo.yaml").lexically_normal();
  auto r = load_config(demo.string());
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_NE(r->find_connection("clinic"), nullptr);
  EXPECT_EQ(r->gateway.state_dir, r->base_dir + "/var-demo");
}

TEST(ConfigParse, MinimalConfigGetsDefaults) {
  auto r = parse_config(minimal, "/etc/gatehouse/demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const config& c = *r;
  EXPECT_EQ(c.path, "/etc/gatehouse/demo.yaml");
  EXPECT_EQ(c.base_dir, "/etc/gatehouse");
  EXPECT_EQ(c.gateway.state_dir, "/etc/gatehouse/var");
  EXPECT_EQ(c.store.url, "sqlite:///etc/gatehouse/var/gatehouse.db");
  EXPECT_TRUE(c.gateway.listen.ssh.empty());
  EXPECT_EQ(c.gateway.tls.client, client_tls::require);
  EXPECT_TRUE(c.gateway.tls.cert.empty());
  EXPECT_EQ(c.gateway.idle_timeout, 15min);
  EXPECT_EQ(c.gateway.max_message_size, 16u * 1024 * 1024);
  EXPECT_EQ(c.gateway.workers, 0u);
  EXPECT_FALSE(c.identity.oidc.has_value());
  EXPECT_TRUE(c.identity.users.empty());
  ASSERT_EQ(c.connections.size(), 1u);
  EXPECT_EQ(c.connections[0].port, 5432);
  EXPECT_EQ(c.connections[0].tls, upstream_tls::prefer);
  EXPECT_TRUE(c.connections[0].password.empty());
  EXPECT_TRUE(c.connections[0].allow_groups.empty());
  EXPECT_EQ(c.audit.retention, 0ms);
}

TEST(ConfigParse, DefaultStoreFollowsStateDir) {
  auto r =
      parse_config("gateway:\n  state_dir: /srv/gh/state/\n" + after_gateway, "/etc/demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_EQ(r->gateway.state_dir, "/srv/gh/state");
  EXPECT_EQ(r->store.url, "sqlite:///srv/gh/state/gatehouse.db");
}

TEST(ConfigParse, StoreUrls) {
  auto with_store = [](const std::string& url) {
    return parse_config(minimal + "store:\n  url: " + url + "\n", "/cfg/demo.yaml");
  };
  auto rel = with_store("sqlite://data/g.db");
  ASSERT_TRUE(rel.ok()) << rel.err();
  EXPECT_EQ(rel->store.url, "sqlite:///cfg/data/g.db");
  auto abs = with_store("sqlite:///var/lib/g.db");
  ASSERT_TRUE(abs.ok()) << abs.err();
  EXPECT_EQ(abs->store.sqlite_path(), "/var/lib/g.db");
  auto mem = with_store("'sqlite://:memory:'");
  ASSERT_TRUE(mem.ok()) << mem.err();
  EXPECT_EQ(mem->store.sqlite_path(), ":memory:");
  auto pg = with_store("postgres://gh@db.example.com/gatehouse");
  ASSERT_TRUE(pg.ok()) << pg.err();
  EXPECT_EQ(pg->store.url, "postgres://gh@db.example.com/gatehouse");
  EXPECT_EQ(pg->store.sqlite_path(), "");
}

TEST(ConfigParse, MessageSizeForms) {
  auto size = [](const std::string& v) {
    return parse_config("gateway:\n  max_message_size: " + v + "\n" + after_gateway, "demo.yaml");
  };
  auto r = size("1024");
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_EQ(r->gateway.max_message_size, 1024u);
  r = size("64KB");
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_EQ(r->gateway.max_message_size, 64u * 1024);
  r = size("1GB");
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_EQ(r->gateway.max_message_size, 1024u * 1024 * 1024);
  EXPECT_FALSE(size("1023").ok());
  EXPECT_FALSE(size("1025MB").ok());
  EXPECT_FALSE(size("16XB").ok());
  EXPECT_FALSE(size("99999999999999999999").ok());
  EXPECT_FALSE(size("-5").ok());
}

TEST(ConfigParse, NullSectionsAreEmpty) {
  auto r = parse_config(minimal + "identity:\naudit:\nstore:\n", "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_TRUE(r->identity.users.empty());
}

TEST(ConfigParse, HttpIssuerAllowedOnlyForLoopback) {
  auto oidc = [](const std::string& issuer) {
    return parse_config(
        minimal + "identity:\n  oidc:\n    issuer: " + issuer + "\n    audience: gh\n",
        "demo.yaml");
  };
  EXPECT_TRUE(oidc("http://127.0.0.1:9000/realm").ok());
  EXPECT_TRUE(oidc("http://localhost:9000").ok());
  EXPECT_FALSE(oidc("http://localhost.evil.example").ok());
  EXPECT_FALSE(oidc("http://idp.example.com").ok());
}

// ---- invalid configs: each names file:line, the key path and the problem ----

struct bad_case {
  const char* name;
  std::string yaml;
  std::string where;    // expected "demo.yaml:LINE: key.path: " prefix
  std::string problem;  // expected substring of the rest
};

std::ostream& operator<<(std::ostream& os, const bad_case& c) {
  return os << c.name;
}

class ConfigErrors : public ::testing::TestWithParam<bad_case> {};

TEST_P(ConfigErrors, NamesLineKeyAndProblem) {
  const bad_case& c = GetParam();
  auto r = parse_config(c.yaml, "demo.yaml");
  ASSERT_FALSE(r.ok()) << "config was accepted:\n" << c.yaml;
  EXPECT_TRUE(r.err().starts_with(c.where)) << r.err();
  EXPECT_NE(r.err().find(c.problem), std::string::npos) << r.err();
}

const std::string user_head =
    "identity:\n"           // 10
    "  users:\n"            // 11
    "    - name: alice\n";  // 12

const std::string ssh_conn =
    "  - name: box\n"        // 10
    "    type: ssh\n"        // 11
    "    host: 127.0.0.1\n"  // 12
    "    user: ops\n";       // 13

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigErrors,
    ::testing::Values(
        bad_case{"unknown_connection_key", minimal + "    colour: red\n",
                 "demo.yaml:10: connections[0].colour: ", "unknown key"},
        bad_case{"typo_gets_hint", minimal + "    pasword: env:X\n",
                 "demo.yaml:10: connections[0].pasword: ", "did you mean 'password'?"},
        bad_case{"unknown_top_level_key", minimal + "gatway: {}\n",
                 "demo.yaml:10: gatway: ", "unknown key (did you mean 'gateway'?)"},
        bad_case{"unknown_listen_key", "gateway:\n  listen:\n    mysql: 127.0.0.1:3306\n",
                 "demo.yaml:3: gateway.listen.mysql: ", "unknown key"},
        bad_case{"unknown_oidc_key",
                 minimal + "identity:\n  oidc:\n    issuer: https://x\n    audience: a\n"
                           "    client_secret: s\n",
                 "demo.yaml:14: identity.oidc.client_secret: ", "unknown key"},
        bad_case{"duplicate_key", minimal + "    user: other\n",
                 "demo.yaml:10: connections[0].user: ", "duplicate key (first set on line 9)"},
        bad_case{"port_too_big", minimal + "    port: 70000\n",
                 "demo.yaml:10: connections[0].port: ", "expected an integer 1..65535"},
        bad_case{"port_zero", minimal + "    port: 0\n",
                 "demo.yaml:10: connections[0].port: ", "expected an integer 1..65535"},
        bad_case{"port_not_a_number", minimal + "    port: 54x\n",
                 "demo.yaml:10: connections[0].port: ", "expected an integer 1..65535"},
        bad_case{"port_is_a_list", minimal + "    port: [1]\n",
                 "demo.yaml:10: connections[0].port: ", "expected an integer 1..65535"},
        bad_case{"duplicate_connection_name",
                 minimal + "  - name: patients\n    type: ssh\n    host: h\n    user: u\n",
                 "demo.yaml:10: connections[1].name: ",
                 "duplicate connection name 'patients' (first defined on line 5)"},
        bad_case{"bad_connection_name", minimal + "  - name: my db\n",
                 "demo.yaml:10: connections[1].name: ", "must match [A-Za-z0-9_.-]+"},
        bad_case{"empty_connection_name", minimal + "  - name: ''\n",
                 "demo.yaml:10: connections[1].name: ", "must not be empty"},
        bad_case{"bad_type", minimal + "  - name: m\n    type: mysql\n",
                 "demo.yaml:11: connections[1].type: ", "expected one of postgres | ssh"},
        bad_case{"missing_type", minimal + "  - name: m\n    host: h\n",
                 "demo.yaml:10: connections[1].type: ", "is required"},
        bad_case{"missing_host", minimal + ssh_conn.substr(0, 28) + "    user: u\n",
                 "demo.yaml:10: connections[1].host: ", "is required"},
        bad_case{"missing_database",
                 minimal + "  - name: m\n    type: postgres\n    host: h\n    user: u\n",
                 "demo.yaml:10: connections[1].database: ", "is required"},
        bad_case{"missing_user", minimal + "  - name: box\n    type: ssh\n    host: h\n",
                 "demo.yaml:10: connections[1].user: ", "is required"},
        bad_case{"database_on_ssh", minimal + ssh_conn + "    database: x\n",
                 "demo.yaml:14: connections[1].database: ", "only valid for type postgres"},
        bad_case{"tls_on_ssh", minimal + ssh_conn + "    tls: require\n",
                 "demo.yaml:14: connections[1].tls: ", "only valid for type postgres"},
        bad_case{"bad_upstream_tls", minimal + "    tls: verify_full\n",
                 "demo.yaml:10: connections[0].tls: ",
                 "expected one of disable | prefer | require | verify-full, got 'verify_full'"},
        bad_case{"tls_ca_with_disable", minimal + "    tls: disable\n    tls_ca: ca.pem\n",
                 "demo.yaml:11: connections[0].tls_ca: ", "has no effect with tls: disable"},
        bad_case{"allow_groups_not_list", minimal + "    allow_groups: dba\n",
                 "demo.yaml:10: connections[0].allow_groups: ", "expected a list of strings"},
        bad_case{"allow_groups_nested", minimal + "    allow_groups:\n      - [a]\n",
                 "demo.yaml:11: connections[0].allow_groups[0]: ", "expected a non-empty string"},
        bad_case{"connection_not_a_map", minimal + "  - patients2\n",
                 "demo.yaml:10: connections[1]: ", "expected a mapping"},
        bad_case{"bad_env_secret", minimal + "    password: 'env:'\n",
                 "demo.yaml:10: connections[0].password: ", "env: needs a variable name"},
        bad_case{"empty_file_secret", minimal + "    password: 'file:'\n",
                 "demo.yaml:10: connections[0].password: ", "file: needs a path"},
        bad_case{"missing_connections", "gateway:\n  listen:\n    ssh: 0.0.0.0:22\n",
                 "demo.yaml:1: connections: ", "at least one connection is required"},
        bad_case{"empty_connections", "gateway:\n  listen:\n    ssh: 0.0.0.0:22\nconnections: []\n",
                 "demo.yaml:4: connections: ", "at least one connection is required"},
        bad_case{"null_connections", "gateway:\n  listen:\n    ssh: 0.0.0.0:22\nconnections:\n",
                 "demo.yaml:4: connections: ", "at least one connection is required"},
        bad_case{"empty_file", "", "demo.yaml:1: gateway.listen: ", "at least one listener"},
        bad_case{"top_level_list", "- a\n- b\n",
                 "demo.yaml:1: (top level): ", "expected a mapping"},
        bad_case{"second_document", minimal + "---\nfoo: 1\n",
                 "demo.yaml:11: (top level): ", "only one YAML document"},
        bad_case{"syntax_error", minimal + "    host: [unclosed\n",
                 "demo.yaml:11: YAML syntax error: ", ""},
        bad_case{"syntax_error_bad_indent", "gateway:\n  listen:\n    postgres: a:1\n   ssh: b\n",
                 "demo.yaml:4: YAML syntax error: ", ""},
        bad_case{"tab_indent", "gateway:\n\tlisten: {}\n", "demo.yaml:2: YAML syntax error: ", ""},
        bad_case{"no_listener", "gateway:\n  listen: {}\n" + connection_lines,
                 "demo.yaml:2: gateway.listen: ", "at least one listener"},
        bad_case{"bad_listen_address", "gateway:\n  listen:\n    postgres: ::1:5432\n",
                 "demo.yaml:3: gateway.listen.postgres: ", "IPv6 address must be in brackets"},
        bad_case{"same_listen_address",
                 "gateway:\n  listen:\n    postgres: 127.0.0.1:9\n    api: 127.0.0.1:9\n",
                 "demo.yaml:4: gateway.listen.api: ", "same address as gateway.listen.postgres"},
        bad_case{"bad_client_tls",
                 "gateway:\n  listen: {api: 127.0.0.1:1}\n  tls:\n    client: optional\n",
                 "demo.yaml:4: gateway.tls.client: ", "expected one of require | prefer"},
        bad_case{"cert_without_key",
                 "gateway:\n  listen: {api: 127.0.0.1:1}\n  tls:\n    cert: c.pem\n",
                 "demo.yaml:4: gateway.tls.cert: ", "set both cert and key"},
        bad_case{"duplicate_section", minimal + "gateway:\n  idle_timeout: 15 minutes\n",
                 "demo.yaml:10: gateway: ", "duplicate key"},
        bad_case{"bad_idle_timeout", "gateway:\n  idle_timeout: 15 minutes\n" + after_gateway,
                 "demo.yaml:2: gateway.idle_timeout: ", "invalid duration '15 minutes'"},
        bad_case{"unitless_duration", "gateway:\n  connect_timeout: 30\n" + after_gateway,
                 "demo.yaml:2: gateway.connect_timeout: ", "invalid duration '30'"},
        bad_case{"zero_auth_timeout", "gateway:\n  auth_timeout: 0\n" + after_gateway,
                 "demo.yaml:2: gateway.auth_timeout: ", "must be greater than 0"},
        bad_case{"bad_message_size", "gateway:\n  max_message_size: 512\n" + after_gateway,
                 "demo.yaml:2: gateway.max_message_size: ", "1024..1GB"},
        bad_case{"too_many_workers", "gateway:\n  workers: 257\n" + after_gateway,
                 "demo.yaml:2: gateway.workers: ", "expected an integer 0..256"},
        bad_case{"bad_store_scheme", minimal + "store:\n  url: mysql://x\n",
                 "demo.yaml:11: store.url: ", "sqlite:// or postgres://"},
        bad_case{"empty_sqlite_path", minimal + "store:\n  url: sqlite://\n",
                 "demo.yaml:11: store.url: ", "sqlite:// needs a path"},
        bad_case{"bad_retention", minimal + "audit:\n  retention: forever\n",
                 "demo.yaml:11: audit.retention: ", "invalid duration 'forever'"},
        bad_case{"both_api_key_forms",
                 minimal + user_head +
                     "      api_key: env:K\n      api_key_sha256: " + std::string(64, 'a') + "\n",
                 "demo.yaml:14: identity.users[0].api_key_sha256: ",
                 "set exactly one of api_key or api_key_sha256 (api_key is set on line 13)"},
        bad_case{
            "no_api_key", minimal + user_head + "      groups: [a]\n",
            "demo.yaml:12: identity.users[0]: ", "one of api_key or api_key_sha256 is required"},
        bad_case{"uppercase_sha256",
                 minimal + user_head + "      api_key_sha256: " + std::string(64, 'A') + "\n",
                 "demo.yaml:13: identity.users[0].api_key_sha256: ",
                 "expected 64 lowercase hex characters"},
        bad_case{"short_sha256", minimal + user_head + "      api_key_sha256: abc\n",
                 "demo.yaml:13: identity.users[0].api_key_sha256: ",
                 "expected 64 lowercase hex characters"},
        bad_case{"duplicate_user",
                 minimal + user_head + "      api_key: k1\n    - name: alice\n      api_key: k2\n",
                 "demo.yaml:14: identity.users[1].name: ",
                 "duplicate user name 'alice' (first defined on line 12)"},
        bad_case{"user_name_with_percent", minimal + "identity:\n  users:\n    - name: a%b\n",
                 "demo.yaml:12: identity.users[0].name: ", "'%'"},
        bad_case{"missing_user_name", minimal + "identity:\n  users:\n    - api_key: k\n",
                 "demo.yaml:12: identity.users[0].name: ", "is required"},
        bad_case{"unknown_user_key", minimal + user_head + "      api-key: k\n",
                 "demo.yaml:13: identity.users[0].api-key: ", "did you mean 'api_key'?"},
        bad_case{"oidc_missing_audience", minimal + "identity:\n  oidc:\n    issuer: https://x\n",
                 "demo.yaml:12: identity.oidc.audience: ", "is required"},
        bad_case{
            "oidc_plain_http",
            minimal + "identity:\n  oidc:\n    issuer: http://idp.example.com\n    audience: a\n",
            "demo.yaml:12: identity.oidc.issuer: ", "must be an https:// URL"},
        bad_case{"section_not_a_map", minimal + "store: sqlite://x\n",
                 "demo.yaml:10: store: ", "expected a mapping"},
        bad_case{"merge_key_not_supported", minimal + "    <<: {port: 1}\n",
                 "demo.yaml:10: connections[0].<<: ", "unknown key"}),
    [](const ::testing::TestParamInfo<bad_case>& i) { return std::string(i.param.name); });

TEST(ConfigParse, ReservedKeysAreAcceptedButStillChecked) {
  // Reserved keys are ignored, but a duplicate of one is still a mistake worth reporting.
  auto r = parse_config(minimal + "    masking: {}\n    masking: {}\n", "demo.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.err().starts_with("demo.yaml:11: connections[0].masking: duplicate key"))
      << r.err();
  auto ok = parse_config(minimal +
                             "    recording: true\n"
                             "masking: 1\nguardrails: []\nreviews: {}\nnotifications: x\n"
                             "audit:\n  recording: {input: false}\n  retention: 30d\n",
                         "demo.yaml");
  ASSERT_TRUE(ok.ok()) << ok.err();
  EXPECT_EQ(ok->audit.retention, std::chrono::hours(24 * 30));
  // audit: keys are parsed now; a typo is an error like anywhere else.
  auto typo = parse_config(minimal + "audit:\n  retension: 30d\n", "demo.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.err().find("audit.retension: unknown key"), std::string::npos) << typo.err();
  auto saml = parse_config(minimal + "identity:\n  saml: {sp: x}\n", "demo.yaml");
  EXPECT_TRUE(saml.ok()) << saml.err();
}

TEST(ConfigLoad, MissingFileIsAnErrorNamingIt) {
  auto r = load_config("/nonexistent/gatehouse.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("/nonexistent/gatehouse.yaml"), std::string::npos) << r.err();
}

TEST(ConfigLoad, ErrorsUseThePathAsGiven) {
  testing::temp_dir tmp;
  auto file = tmp.write("bad.yaml", minimal + "    port: 0\n");
  auto r = load_config(file.string());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.err().starts_with(file.string() + ":10: connections[0].port: ")) << r.err();
}

// Restores the working directory even if an assertion fails.
class cwd_guard {
 public:
  cwd_guard() : saved_(fs::current_path()) {}
  ~cwd_guard() {
    std::error_code ec;
    fs::current_path(saved_, ec);
  }
  cwd_guard(const cwd_guard&) = delete;
  cwd_guard& operator=(const cwd_guard&) = delete;

 private:
  fs::path saved_;
};

TEST(ConfigLoad, RelativePathsResolveAgainstTheConfigDirectory) {
  testing::temp_dir tmp;
  tmp.write("etc/demo.yaml",
            "gateway:\n"
            "  state_dir: ../state\n"
            "  listen: {postgres: 127.0.0.1:15432}\n"
            "  tls: {cert: tls/c.pem, key: /abs/k.pem}\n"
            "store:\n"
            "  url: sqlite://db/gh.db\n"
            "connections:\n"
            "  - {name: p, type: postgres, host: h, database: d, user: u,\n"
            "     password: file:secrets/pw, tls: verify-full, tls_ca: ./ca.pem}\n");
  cwd_guard guard;
  fs::current_path(tmp.path());
  const std::string root = fs::current_path().string();  // realpath, as the loader sees it
  auto r = load_config("etc/demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  // Nothing depends on the cwd any more: move away and check every path is absolute.
  fs::current_path("/");
  EXPECT_EQ(r->base_dir, root + "/etc");
  EXPECT_EQ(r->gateway.state_dir, root + "/state");
  EXPECT_EQ(r->gateway.tls.cert, root + "/etc/tls/c.pem");
  EXPECT_EQ(r->gateway.tls.key, "/abs/k.pem");
  EXPECT_EQ(r->store.sqlite_path(), root + "/etc/db/gh.db");
  EXPECT_EQ(r->connections[0].tls_ca, root + "/etc/ca.pem");
  EXPECT_EQ(r->connections[0].password.spec, "file:" + root + "/etc/secrets/pw");

  tmp.write("etc/secrets/pw", "s3cret\n");
  auto pw = r->connections[0].password.resolve();
  ASSERT_TRUE(pw.ok()) << pw.err();
  EXPECT_EQ(*pw, "s3cret");
}

TEST(ConfigToString, UsesYamlSpelling) {
  EXPECT_EQ(to_string(upstream_tls::verify_full), "verify-full");
  EXPECT_EQ(to_string(upstream_tls::disable), "disable");
  EXPECT_EQ(to_string(client_tls::prefer), "prefer");
  EXPECT_EQ(to_string(conn_type::ssh), "ssh");
}

}  // namespace
}  // namespace gh::config
