// End to end: just-in-time access. A connection with `access: review` opens a session only under
// an approved access review whose window is open; without one, the login is refused with a FATAL
// naming the review it opened (one per user and connection), and the refusal is audited.
#include <gtest/gtest.h>

#include <regex>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

class JitAccess : public gateway_suite<JitAccess> {
 public:
  static std::string gateway_yaml(pg_cluster& cluster) {
    std::string yaml = basic_gateway_config(cluster);
    yaml += extra_connection(cluster, "jit", "app", "require",
                             "    access: review\n"
                             "    access_window: 1h\n"
                             "    reviews:\n"
                             "      approvers: [dba]\n"
                             "      timeout: 5m\n");
    return yaml;
  }

 protected:
  static run_result psql_as(std::string_view user, std::string_view key) {
    return psql({gw_conninfo(*gw_, user, key, "require", "jit"), "-X", "-A", "-t", "-c",
                 "SELECT 'inside'"});
  }
  static std::string review_id(const std::string& text) {
    std::smatch m;
    static const std::regex re("access review (r-[a-z0-9]+)");
    return std::regex_search(text, m, re) ? m[1].str() : std::string();
  }
};

TEST_F(JitAccess, session_opens_only_after_an_approver_says_yes) {
  auto first = psql_as("alice", keys_->alice);
  ASSERT_NE(first.exit_code, 0) << first.out;
  EXPECT_TRUE(contains(first.err, "requires approval")) << first.err;
  auto id = review_id(first.err);
  ASSERT_FALSE(id.empty()) << first.err;

  // Asking again does not open a second review.
  auto second = psql_as("alice", keys_->alice);
  ASSERT_NE(second.exit_code, 0);
  EXPECT_EQ(review_id(second.err), id) << second.err;

  // alice is not an approver; dana is.
  auto self = gw_->cli({"reviews", "approve", id, "--as", "alice"},
                       {{"GATEHOUSE_API_KEY", keys_->alice}});
  EXPECT_EQ(self.exit_code, 1) << self.out << self.err;
  auto ok = gw_->cli({"reviews", "approve", id, "--as", "dana"},
                     {{"GATEHOUSE_API_KEY", keys_->dana}});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  auto in = psql_as("alice", keys_->alice);
  ASSERT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(in.out, "inside\n");
  // The window holds for further sessions.
  EXPECT_EQ(psql_as("alice", keys_->alice).exit_code, 0);

  // A connection without `access: review` never asked.
  auto plain = psql({gw_conninfo(*gw_, "alice", keys_->alice), "-X", "-A", "-t", "-c", "SELECT 1"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;

  auto ev = gw_->cli({"audit", "export", "--kind", "auth.fail", "--user", "alice"});
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  EXPECT_TRUE(contains(ev.out, "access pending approval (review " + id + ")")) << ev.out;
}

TEST_F(JitAccess, rejected_access_keeps_the_door_shut) {
  auto first = psql_as("dana", keys_->dana);
  ASSERT_NE(first.exit_code, 0);
  auto id = review_id(first.err);
  ASSERT_FALSE(id.empty()) << first.err;
  auto no = gw_->cli({"reviews", "reject", id, "--reason", "not on call"});
  ASSERT_EQ(no.exit_code, 0) << no.out << no.err;
  auto again = psql_as("dana", keys_->dana);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(contains(again.err, "requires approval")) << again.err;
  EXPECT_NE(review_id(again.err), id) << "a rejected review must not open the door";
}

}  // namespace
}  // namespace gh::e2e
