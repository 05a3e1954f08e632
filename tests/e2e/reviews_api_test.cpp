// The review queue through the real binary: `gatehouse serve` with its HTTP API on loopback and
// `gatehouse reviews list|show|approve|reject` against it, as users (--as + GATEHOUSE_API_KEY)
// and as the local admin (state_dir/admin.token). Reviews are put into the store while the
// gateway is stopped, so they also show the restart path: pending reviews come back orphaned.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "harness.hpp"

namespace gh::e2e {
namespace {

namespace fs = std::filesystem;

const std::string alice_key = "alice-e2e-key-0123456789abcdef";
const std::string dana_key = "dana-e2e-key-0123456789abcdef";
const std::string mallory_key = "mallory-e2e-key-0123456789abcdef";

// No upstream is contacted: nobody opens a PostgreSQL session in this test.
constexpr const char* config = R"yaml(gateway:
  state_dir: ./state
  listen:
    postgres: 127.0.0.1:{{postgres_port}}
    api: 127.0.0.1:{{api_port}}
store:
  url: sqlite://./state/gatehouse.db
identity:
  users:
    - name: alice
      groups: [clinicians]
      api_key: env:ALICE_API_KEY
    - name: dana
      groups: [dba]
      api_key: env:DANA_API_KEY
    - name: mallory
      groups: [outsiders]
      api_key: env:MALLORY_API_KEY
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: 9
    database: clinic
    user: app
    password: not-used-here
    allow_groups: [clinicians, dba]
    guardrails:
      - name: unbounded-write
        match: { statement: [delete, update], where: absent }
        action: review
    reviews:
      approvers: [dba]
      timeout: 1h
)yaml";

std::string seed_sql(const std::string& id, const std::string& requester, const std::string& groups,
                     const std::string& statement) {
  return "INSERT INTO reviews(id, kind, status, created_us, expires_us, requester, "
         "requester_groups, connection, session_id, statement, rule, approvers, min_approvals) "
         "VALUES('" +
         id +
         "', 'statement', 'pending', CAST(strftime('%s','now') AS INTEGER) * "
         "1000000, (CAST(strftime('%s','now') AS INTEGER) + 3600) * 1000000, '" +
         requester + "', '" + groups + "', 'clinic', 's-e2e', '" + statement +
         "', 'unbounded-write', 'dba', 1);";
}

TEST(reviews_api, queue_through_the_running_gateway) {
  gateway_options o;
  o.config_yaml = config;
  o.env = {
      {"ALICE_API_KEY", alice_key}, {"DANA_API_KEY", dana_key}, {"MALLORY_API_KEY", mallory_key}};
  gateway gw(o);

  auto empty = gw.cli({"reviews", "list"});
  ASSERT_EQ(empty.exit_code, 0) << empty.err << gw.log_text();
  EXPECT_NE(empty.out.find("no reviews"), std::string::npos) << empty.out;
  const auto token = gw.state_dir() / "admin.token";
  ASSERT_TRUE(fs::exists(token));
  EXPECT_EQ(fs::status(token).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  auto bad = gw.cli({"reviews", "list", "--as", "mallory"}, {{"GATEHOUSE_API_KEY", "wrong"}});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("invalid credentials"), std::string::npos) << bad.err;

  ASSERT_EQ(gw.stop(), 0) << gw.log_text();
  EXPECT_FALSE(fs::exists(token));  // removed on a clean stop
  const std::string db = (gw.state_dir() / "gatehouse.db").string();
  auto seeded =
      run({"sqlite3", db,
           seed_sql("r-aaaaaaaaaa", "alice", "clinicians", "DELETE FROM patients") +
               seed_sql("r-bbbbbbbbbb", "dana", "dba", "UPDATE patients SET ssn = NULL")});
  ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
  gw.start();

  auto list = gw.cli({"reviews", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("r-aaaaaaaaaa"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("r-bbbbbbbbbb"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("pending*"), std::string::npos) << list.out;  // orphaned
  EXPECT_NE(list.out.find("DELETE FROM patients"), std::string::npos) << list.out;

  auto mine = gw.cli({"reviews", "list", "--as", "alice"}, {{"GATEHOUSE_API_KEY", alice_key}});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_NE(mine.out.find("r-aaaaaaaaaa"), std::string::npos) << mine.out;
  EXPECT_EQ(mine.out.find("r-bbbbbbbbbb"), std::string::npos) << mine.out;  // not hers

  auto not_approver = gw.cli({"reviews", "approve", "r-aaaaaaaaaa", "--as", "alice"},
                             {{"GATEHOUSE_API_KEY", alice_key}});
  EXPECT_EQ(not_approver.exit_code, 1);
  EXPECT_NE(not_approver.err.find("approver group"), std::string::npos) << not_approver.err;

  auto self = gw.cli({"reviews", "approve", "r-bbbbbbbbbb", "--as", "dana"},
                     {{"GATEHOUSE_API_KEY", dana_key}});
  EXPECT_EQ(self.exit_code, 1);
  EXPECT_NE(self.err.find("self-approval"), std::string::npos) << self.err;

  auto ok = gw.cli({"reviews", "approve", "r-aaaaaaaaaa", "--reason", "ticket 7", "--as", "dana"},
                   {{"GATEHOUSE_API_KEY", dana_key}});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("approved by dana"), std::string::npos) << ok.out;

  auto twice = gw.cli({"reviews", "reject", "r-aaaaaaaaaa", "--as", "dana"},
                      {{"GATEHOUSE_API_KEY", dana_key}});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("already approved"), std::string::npos) << twice.err;

  auto admin = gw.cli({"reviews", "reject", "r-bbbbbbbbbb", "--reason", "use a WHERE clause"});
  ASSERT_EQ(admin.exit_code, 0) << admin.err;
  EXPECT_NE(admin.out.find("rejected by local-admin"), std::string::npos) << admin.out;

  auto show = gw.cli({"reviews", "show", "r-aaaaaaaaaa"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("approved"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("ticket 7"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("dana at"), std::string::npos) << show.out;

  auto unknown = gw.cli({"reviews", "show", "r-cccccccccc"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("HTTP 404"), std::string::npos) << unknown.err;

  EXPECT_EQ(gw.cli({"reviews"}).exit_code, 2);
  EXPECT_EQ(gw.cli({"reviews", "approve"}).exit_code, 2);
  EXPECT_EQ(gw.cli({"reviews", "show", "not-an-id"}).exit_code, 2);
  EXPECT_EQ(gw.cli({"reviews", "list", "--as", "dana"}).exit_code, 2);  // no GATEHOUSE_API_KEY
  auto help = gw.cli({"reviews", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("GATEHOUSE_API_KEY"), std::string::npos);

  ASSERT_EQ(gw.stop(), 0) << gw.log_text();
  auto exported = gw.cli({"audit", "export"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find(R"("kind":"review.approved","session":"s-e2e","user":"dana")"),
            std::string::npos)
      << exported.out;
  EXPECT_NE(exported.out.find(R"("kind":"review.rejected","session":"s-e2e","user":"local-admin")"),
            std::string::npos)
      << exported.out;
  EXPECT_NE(exported.out.find(R"("kind":"auth.fail")"), std::string::npos);
  EXPECT_EQ(exported.out.find(alice_key), std::string::npos);
  EXPECT_EQ(exported.out.find(dana_key), std::string::npos);
}

TEST(reviews_api, off_loopback_the_api_is_served_only_with_tls) {
  gateway_options o;
  std::string yaml = config;
  auto pos = yaml.find("api: 127.0.0.1:{{api_port}}");
  yaml.replace(pos, std::string("api: 127.0.0.1:{{api_port}}").size(), "api: 0.0.0.0:{{api_port}}");
  o.config_yaml = yaml;
  o.env = {
      {"ALICE_API_KEY", alice_key}, {"DANA_API_KEY", dana_key}, {"MALLORY_API_KEY", mallory_key}};
  gateway gw(o);
  // Not loopback: the API is served with the gateway's certificate, and the CLI verifies it.
  auto list = gw.cli({"reviews", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err << gw.log_text();
  EXPECT_NE(gw.log_text().find("tls=on"), std::string::npos) << gw.log_text();
  // Plain HTTP to it gets no HTTP answer (the TLS handshake fails).
  auto plain = run({"bash", "-c",
                    "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(gw.api_port()) +
                        " && printf 'GET /api/health HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3 && "
                        "timeout 10 cat <&3"});
  EXPECT_EQ(plain.out.find("HTTP/1.1 200"), std::string::npos) << plain.out;
}

}  // namespace
}  // namespace gh::e2e
