// The review tables of the SQLite store (migration 2): create/get/list with approvals in order,
// compare-and-set decisions, and upgrading a store created before reviews existed.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "store/tests/test_util.hpp"

namespace gh::store {
namespace {

using testing::make_record;
using testing::raw_connection;
using testing::temp_dir;

std::unique_ptr<store> open_migrated(const temp_dir& dir) {
  auto s = open_store(dir.url());
  EXPECT_TRUE(s.ok()) << s.err();
  if (!s) return nullptr;
  auto m = (*s)->migrate();
  EXPECT_TRUE(m.ok()) << m.err();
  return std::move(*s);
}

review_row make_review(std::string id, std::int64_t created_us, std::string requester = "alice") {
  review_row r;
  r.id = std::move(id);
  r.kind = "statement";
  r.status = "pending";
  r.created_us = created_us;
  r.expires_us = created_us + 600'000'000;
  r.requester = std::move(requester);
  r.requester_groups = "clinicians";
  r.connection = "clinic";
  r.session_id = "s-1";
  r.client_addr = "127.0.0.1:5555";
  r.statement = "DELETE FROM patients";
  r.rule = "unbounded-write";
  r.approvers = "dba,security";
  r.min_approvals = 2;
  return r;
}

TEST(review_store, create_then_get_round_trips_every_field) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  auto r = make_review("r-abc", 1000);
  r.self_approval = true;
  r.access_window_ms = 3'600'000;
  r.approvals = {{"dana", 1500}};
  ASSERT_TRUE(s->create_review(r).ok());
  auto got = s->get_review("r-abc");
  ASSERT_TRUE(got.ok()) << got.err();
  ASSERT_TRUE(got->has_value());
  const auto& g = **got;
  EXPECT_EQ(g.kind, "statement");
  EXPECT_EQ(g.status, "pending");
  EXPECT_EQ(g.created_us, 1000);
  EXPECT_EQ(g.expires_us, r.expires_us);
  EXPECT_EQ(g.requester, "alice");
  EXPECT_EQ(g.requester_groups, "clinicians");
  EXPECT_EQ(g.connection, "clinic");
  EXPECT_EQ(g.session_id, "s-1");
  EXPECT_EQ(g.client_addr, "127.0.0.1:5555");
  EXPECT_EQ(g.statement, "DELETE FROM patients");
  EXPECT_EQ(g.rule, "unbounded-write");
  EXPECT_EQ(g.approvers, "dba,security");
  EXPECT_EQ(g.min_approvals, 2);
  EXPECT_TRUE(g.self_approval);
  EXPECT_EQ(g.access_window_ms, 3'600'000);
  ASSERT_EQ(g.approvals.size(), 1u);
  EXPECT_EQ(g.approvals[0].user, "dana");
  EXPECT_EQ(g.approvals[0].at_us, 1500);

  auto missing = s->get_review("r-nope");
  ASSERT_TRUE(missing.ok()) << missing.err();
  EXPECT_FALSE(missing->has_value());
}

TEST(review_store, duplicate_id_is_refused) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->create_review(make_review("r-1", 1)).ok());
  auto again = s->create_review(make_review("r-1", 2));
  EXPECT_FALSE(again.ok());
  auto got = s->get_review("r-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->created_us, 1);  // the first one is untouched
}

TEST(review_store, update_is_compare_and_set_on_status) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  auto r = make_review("r-1", 1);
  ASSERT_TRUE(s->create_review(r).ok());

  r.approvals = {{"dana", 10}, {"erin", 20}};
  r.status = "approved";
  r.decided_by = "erin";
  r.reason = "ticket 42";
  r.decided_us = 20;
  auto first = s->update_review(r, "pending");
  ASSERT_TRUE(first.ok()) << first.err();
  EXPECT_TRUE(*first);

  // A second decider that still believes it is pending loses and changes nothing.
  auto other = r;
  other.status = "rejected";
  other.decided_by = "mallory";
  other.approvals.clear();
  auto second = s->update_review(other, "pending");
  ASSERT_TRUE(second.ok()) << second.err();
  EXPECT_FALSE(*second);

  auto got = s->get_review("r-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->status, "approved");
  EXPECT_EQ((*got)->decided_by, "erin");
  EXPECT_EQ((*got)->reason, "ticket 42");
  EXPECT_EQ((*got)->decided_us, 20);
  ASSERT_EQ((*got)->approvals.size(), 2u);
  EXPECT_EQ((*got)->approvals[0].user, "dana");
  EXPECT_EQ((*got)->approvals[1].user, "erin");

  auto unknown = s->update_review(make_review("r-unknown", 1), "pending");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(*unknown);
}

TEST(review_store, list_filters_and_orders_newest_first) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->create_review(make_review("r-old", 100)).ok());
  ASSERT_TRUE(s->create_review(make_review("r-new", 300, "bob")).ok());
  auto mid = make_review("r-mid", 200);
  mid.kind = "access";
  mid.status = "approved";
  mid.connection = "billing";
  ASSERT_TRUE(s->create_review(mid).ok());

  auto all = s->list_reviews({});
  ASSERT_TRUE(all.ok()) << all.err();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "r-new");
  EXPECT_EQ((*all)[1].id, "r-mid");
  EXPECT_EQ((*all)[2].id, "r-old");

  review_filter pending;
  pending.status = "pending";
  auto p = s->list_reviews(pending);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);

  review_filter by;
  by.requester = "alice";
  by.kind = "access";
  by.connection = "billing";
  auto b = s->list_reviews(by);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].id, "r-mid");

  review_filter limited;
  limited.limit = 1;
  auto l = s->list_reviews(limited);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].id, "r-new");
}

TEST(review_store, a_version_1_store_is_upgraded_and_keeps_its_events) {
  temp_dir dir;
  {
    auto s = open_migrated(dir);
    ASSERT_NE(s, nullptr);
    std::vector<audit_record> recs = {make_record(100, "session.start")};
    ASSERT_TRUE(s->append(recs).ok());
  }
  {
    // Turn it back into what a binary without reviews left behind.
    raw_connection raw(dir.db_path());
    ASSERT_EQ(raw.exec("DROP TABLE review_approvals; DROP TABLE reviews; "
                       "UPDATE schema_version SET version = 1"),
              "");
  }
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  raw_connection raw(dir.db_path());
  EXPECT_EQ(raw.count("SELECT version FROM schema_version"), 2);
  EXPECT_EQ(raw.count("SELECT COUNT(*) FROM audit_events"), 1);
  EXPECT_TRUE(s->create_review(make_review("r-1", 1)).ok());
}

}  // namespace
}  // namespace gh::store
