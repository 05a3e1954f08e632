// The SQLite audit store: schema migration, seq assignment, filtered scans with statement results
// joined in, persistence across opens, and failing (not hanging) when another connection holds
// the write lock.
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/tests/test_util.hpp"

namespace gh::store {
namespace {

using testing::make_record;
using testing::raw_connection;
using testing::scan_all;
using testing::temp_dir;

std::unique_ptr<store> open_migrated(const temp_dir& dir, int busy_timeout_ms = 2000) {
  auto s = open_store(dir.url(), busy_timeout_ms);
  EXPECT_TRUE(s.ok()) << s.err();
  if (!s) return nullptr;
  auto m = (*s)->migrate();
  EXPECT_TRUE(m.ok()) << m.err();
  return std::move(*s);
}

TEST(store, migrate_is_idempotent) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  std::vector<audit_record> recs = {make_record(100, "session.start")};
  ASSERT_TRUE(s->append(recs).ok());
  auto again = s->migrate();
  ASSERT_TRUE(again.ok()) << again.err();
  auto third = s->migrate();
  ASSERT_TRUE(third.ok()) << third.err();
  EXPECT_EQ(scan_all(*s).size(), 1u);  // migrating again never drops data

  raw_connection raw(dir.db_path());
  EXPECT_EQ(raw.count("SELECT COUNT(*) FROM schema_version"), 1);
  EXPECT_EQ(raw.count("SELECT version FROM schema_version"), 2);  // 1 audit, 2 reviews
  EXPECT_EQ(raw.count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                      "name = 'audit_events'"),
            1);
}

TEST(store, unsupported_urls_are_refused) {
  auto pg = open_store("postgres://db.example/audit");
  ASSERT_FALSE(pg.ok());
  EXPECT_NE(pg.err().find("PostgreSQL store is not available"), std::string::npos) << pg.err();
  auto other = open_store("/tmp/audit.db");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.err().find("sqlite://"), std::string::npos) << other.err();
}

TEST(store, open_creates_missing_parent_directories) {
  temp_dir dir;
  auto s = open_store("sqlite://" + (dir.path() / "a" / "b" / "audit.db").string());
  ASSERT_TRUE(s.ok()) << s.err();
  EXPECT_TRUE((*s)->migrate().ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "a" / "b" / "audit.db"));
}

TEST(store, append_assigns_increasing_seq) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  std::vector<audit_record> first = {make_record(1, "session.start"), make_record(2, "auth.ok"),
                                     make_record(3, "statement")};
  ASSERT_TRUE(s->append(first).ok());
  EXPECT_GT(first[0].seq, 0);
  EXPECT_LT(first[0].seq, first[1].seq);
  EXPECT_LT(first[1].seq, first[2].seq);

  std::vector<audit_record> second = {make_record(4, "session.end")};
  ASSERT_TRUE(s->append(second).ok());
  EXPECT_GT(second[0].seq, first[2].seq);

  std::vector<audit_record> none;
  EXPECT_TRUE(s->append(none).ok());

  auto all = scan_all(*s);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].seq, first[0].seq);
  EXPECT_EQ(all[1].seq, first[1].seq);
  EXPECT_EQ(all[2].seq, first[2].seq);
  EXPECT_EQ(all[3].seq, second[0].seq);
  EXPECT_EQ(all[0].kind, "session.start");
  EXPECT_EQ(all[3].kind, "session.end");
}

TEST(store, every_field_round_trips) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  audit_record r;
  r.ts_us = 1718000000123456;
  r.kind = "session.end";
  r.session_id = "sess-42";
  r.user = "alice@example.com";
  r.groups = "dba,oncall";
  r.connection = "patients";
  r.client_addr = "[::1]:50000";
  r.statement = "SELECT 'it''s' -- \xc3\xa9";
  r.stmt_id = 7;
  r.param_count = 2;
  r.outcome = "57014";
  r.rows = 99;
  r.duration_us = 1234;
  r.reason = "idle timeout 15m";
  r.detail = R"({"k":"v"})";
  std::vector<audit_record> recs = {r};
  ASSERT_TRUE(s->append(recs).ok());
  auto all = scan_all(*s);
  ASSERT_EQ(all.size(), 1u);
  const auto& g = all[0];
  EXPECT_EQ(g.seq, recs[0].seq);
  EXPECT_EQ(g.ts_us, r.ts_us);
  EXPECT_EQ(g.kind, r.kind);
  EXPECT_EQ(g.session_id, r.session_id);
  EXPECT_EQ(g.user, r.user);
  EXPECT_EQ(g.groups, r.groups);
  EXPECT_EQ(g.connection, r.connection);
  EXPECT_EQ(g.client_addr, r.client_addr);
  EXPECT_EQ(g.statement, r.statement);
  EXPECT_EQ(g.stmt_id, r.stmt_id);
  EXPECT_EQ(g.param_count, r.param_count);
  EXPECT_EQ(g.outcome, r.outcome);
  EXPECT_EQ(g.rows, r.rows);
  EXPECT_EQ(g.duration_us, r.duration_us);
  EXPECT_EQ(g.reason, r.reason);
  EXPECT_EQ(g.detail, r.detail);
}

std::vector<std::int64_t> timestamps(const std::vector<audit_record>& recs) {
  std::vector<std::int64_t> out;
  for (const auto& r : recs) out.push_back(r.ts_us);
  return out;
}

TEST(store, scan_filters) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  std::vector<audit_record> recs = {
      make_record(100, "session.start", "alice", "patients"),
      make_record(200, "statement", "alice", "patients"),
      make_record(300, "session.start", "bob", "billing"),
      make_record(400, "statement", "bob", "patients"),
      make_record(500, "auth.fail", "mallory", "billing"),
  };
  ASSERT_TRUE(s->append(recs).ok());

  using v = std::vector<std::int64_t>;
  EXPECT_EQ(timestamps(scan_all(*s)), (v{100, 200, 300, 400, 500}));
  EXPECT_EQ(timestamps(scan_all(*s, {.since_us = 300})), (v{300, 400, 500}));  // inclusive
  EXPECT_EQ(timestamps(scan_all(*s, {.until_us = 300})), (v{100, 200}));       // exclusive
  EXPECT_EQ(timestamps(scan_all(*s, {.since_us = 200, .until_us = 400})), (v{200, 300}));
  EXPECT_EQ(timestamps(scan_all(*s, {.user = "bob"})), (v{300, 400}));
  EXPECT_EQ(timestamps(scan_all(*s, {.connection = "billing"})), (v{300, 500}));
  EXPECT_EQ(timestamps(scan_all(*s, {.kind = "statement"})), (v{200, 400}));
  EXPECT_EQ(timestamps(scan_all(*s, {.user = "alice", .kind = "statement"})), (v{200}));
  EXPECT_EQ(timestamps(scan_all(*s, {.since_us = 150, .connection = "patients"})),
            (v{200, 400}));
  EXPECT_EQ(timestamps(scan_all(*s, {.since_us = 100,
                                     .until_us = 600,
                                     .user = "bob",
                                     .connection = "patients",
                                     .kind = "statement"})),
            (v{400}));
  EXPECT_TRUE(scan_all(*s, {.user = "nobody"}).empty());
  EXPECT_TRUE(scan_all(*s, {.since_us = 600}).empty());
  // Filter values are bound, not spliced into SQL.
  EXPECT_TRUE(scan_all(*s, {.user = "' OR 1=1 --"}).empty());
}

TEST(store, statement_carries_its_result) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  auto stmt1 = make_record(100, "statement", "alice", "patients", "s1", 1);
  stmt1.statement = "SELECT * FROM patients";
  auto stmt2 = make_record(110, "statement", "alice", "patients", "s1", 2);
  stmt2.statement = "DELETE FROM patients";
  // Same stmt_id in another session: must not pick up s1's result.
  auto other = make_record(120, "statement", "bob", "patients", "s2", 1);
  std::vector<audit_record> first = {stmt1, stmt2, other};
  ASSERT_TRUE(s->append(first).ok());

  // Before the result arrives the statement has no outcome.
  auto pending = scan_all(*s, {.kind = "statement"});
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].outcome, "");
  EXPECT_EQ(pending[0].rows, -1);
  EXPECT_EQ(pending[0].duration_us, -1);

  auto res1 = make_record(150, "statement.result", "alice", "patients", "s1", 1);
  res1.outcome = "ok";
  res1.rows = 5;
  res1.duration_us = 1234;
  auto res2 = make_record(160, "statement.result", "alice", "patients", "s1", 2);
  res2.outcome = "42501";
  res2.rows = -1;
  res2.duration_us = 77;
  std::vector<audit_record> second = {res1, res2};
  ASSERT_TRUE(s->append(second).ok());

  auto stmts = scan_all(*s, {.kind = "statement"});
  ASSERT_EQ(stmts.size(), 3u);
  EXPECT_EQ(stmts[0].statement, "SELECT * FROM patients");
  EXPECT_EQ(stmts[0].outcome, "ok");
  EXPECT_EQ(stmts[0].rows, 5);
  EXPECT_EQ(stmts[0].duration_us, 1234);
  EXPECT_EQ(stmts[0].ts_us, 100);  // the statement's own time, not the result's
  EXPECT_EQ(stmts[1].statement, "DELETE FROM patients");
  EXPECT_EQ(stmts[1].outcome, "42501");
  EXPECT_EQ(stmts[1].rows, -1);
  EXPECT_EQ(stmts[1].duration_us, 77);
  EXPECT_EQ(stmts[2].session_id, "s2");
  EXPECT_EQ(stmts[2].outcome, "");
  EXPECT_EQ(stmts[2].rows, -1);
  EXPECT_EQ(stmts[2].duration_us, -1);

  // Without a kind filter, each event appears once, in seq order.
  auto all = scan_all(*s);
  ASSERT_EQ(all.size(), 5u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].seq, all[i].seq);
  EXPECT_EQ(all[3].kind, "statement.result");
}

TEST(store, a_second_open_sees_the_data) {
  temp_dir dir;
  std::int64_t seq = 0;
  {
    auto s = open_migrated(dir);
    ASSERT_NE(s, nullptr);
    std::vector<audit_record> recs = {make_record(100, "session.start", "carol")};
    ASSERT_TRUE(s->append(recs).ok());
    seq = recs[0].seq;
  }
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  auto all = scan_all(*s);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].seq, seq);
  EXPECT_EQ(all[0].user, "carol");

  // Seq keeps growing across opens.
  std::vector<audit_record> more = {make_record(200, "session.end", "carol")};
  ASSERT_TRUE(s->append(more).ok());
  EXPECT_GT(more[0].seq, seq);

  // And a concurrent second connection (e.g. `gatehouse audit` while serving) sees it too.
  auto reader = open_store(dir.url());
  ASSERT_TRUE(reader.ok()) << reader.err();
  EXPECT_EQ(scan_all(**reader).size(), 2u);
}

TEST(store, newer_schema_version_is_refused) {
  temp_dir dir;
  {
    auto s = open_migrated(dir);
    ASSERT_NE(s, nullptr);
    std::vector<audit_record> recs = {make_record(100, "session.start")};
    ASSERT_TRUE(s->append(recs).ok());
  }
  {
    raw_connection raw(dir.db_path());
    ASSERT_EQ(raw.exec("UPDATE schema_version SET version = 99"), "");
  }
  auto s = open_store(dir.url());
  ASSERT_TRUE(s.ok()) << s.err();
  auto m = (*s)->migrate();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.err().find("newer"), std::string::npos) << m.err();
  EXPECT_NE(m.err().find("99"), std::string::npos) << m.err();

  // The refusal leaves the file as it was.
  raw_connection raw(dir.db_path());
  EXPECT_EQ(raw.count("SELECT version FROM schema_version"), 99);
  EXPECT_EQ(raw.count("SELECT COUNT(*) FROM audit_events"), 1);
}

TEST(store, write_fails_while_another_connection_holds_the_lock) {
  temp_dir dir;
  auto s = open_migrated(dir, /*busy_timeout_ms=*/200);
  ASSERT_NE(s, nullptr);
  raw_connection other(dir.db_path());
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), "");

  std::vector<audit_record> recs = {make_record(100, "statement"), make_record(101, "statement")};
  auto st = s->append(recs);
  ASSERT_FALSE(st.ok()) << "append succeeded while the store was locked";
  EXPECT_FALSE(st.err().empty());
  EXPECT_EQ(recs[0].seq, 0);
  EXPECT_EQ(recs[1].seq, 0);

  // Reads still work (WAL) and show nothing of the failed append.
  EXPECT_TRUE(scan_all(*s).empty());

  // The same store object recovers once the lock is gone.
  ASSERT_EQ(other.exec("ROLLBACK"), "");
  auto again = s->append(recs);
  ASSERT_TRUE(again.ok()) << again.err();
  EXPECT_GT(recs[0].seq, 0);
  EXPECT_EQ(scan_all(*s).size(), 2u);
}

TEST(store, migrate_fails_while_another_connection_holds_the_lock) {
  temp_dir dir;
  raw_connection other(dir.db_path());
  ASSERT_EQ(other.exec("PRAGMA journal_mode=WAL"), "");
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), "");
  auto s = open_store(dir.url(), 200);
  ASSERT_TRUE(s.ok()) << s.err();
  EXPECT_FALSE((*s)->migrate().ok());
  ASSERT_EQ(other.exec("COMMIT"), "");
  auto m = (*s)->migrate();
  EXPECT_TRUE(m.ok()) << m.err();
}

TEST(store, append_is_all_or_nothing) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  {
    // A trigger makes the second insert of the batch fail after the first succeeded.
    raw_connection raw(dir.db_path());
    ASSERT_EQ(raw.exec("CREATE TRIGGER poison BEFORE INSERT ON audit_events "
                       "WHEN NEW.kind = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"),
              "");
  }
  std::vector<audit_record> recs = {make_record(1, "statement"), make_record(2, "statement"),
                                    make_record(3, "poison"), make_record(4, "statement")};
  recs[1].seq = 77;  // carried from the journal
  auto st = s->append(recs);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.err().find("poisoned"), std::string::npos) << st.err();
  EXPECT_TRUE(scan_all(*s).empty());
  EXPECT_EQ(recs[0].seq, 0) << "seq assigned to a rolled-back record";
  EXPECT_EQ(recs[1].seq, 77) << "the caller's own seq was overwritten";
  EXPECT_EQ(recs[2].seq, 0);
  EXPECT_EQ(recs[3].seq, 0);

  // The prepared insert is still usable afterwards.
  std::vector<audit_record> ok = {make_record(4, "statement")};
  ASSERT_TRUE(s->append(ok).ok());
  EXPECT_EQ(scan_all(*s).size(), 1u);
}

TEST(store, journal_seqs_are_kept_and_replays_are_skipped) {
  temp_dir dir;
  auto s = open_migrated(dir);
  ASSERT_NE(s, nullptr);
  auto empty = s->max_seq();
  ASSERT_TRUE(empty.ok()) << empty.err();
  EXPECT_EQ(*empty, 0);

  std::vector<audit_record> from_journal = {make_record(1, "session.start"),
                                            make_record(2, "statement")};
  from_journal[0].seq = 10;
  from_journal[1].seq = 11;
  ASSERT_TRUE(s->append(from_journal).ok());
  EXPECT_EQ(from_journal[0].seq, 10);
  EXPECT_EQ(from_journal[1].seq, 11);
  EXPECT_EQ(*s->max_seq(), 11);

  // The journal is replayed into the index again (crash between journal and index): the seqs
  // already stored are skipped, the new one goes in, nothing is duplicated.
  std::vector<audit_record> replay = {make_record(1, "session.start"),
                                      make_record(2, "statement"), make_record(3, "session.end")};
  replay[0].seq = 10;
  replay[1].seq = 11;
  replay[2].seq = 12;
  replay[1].user = "changed";  // a replay never rewrites what is stored
  ASSERT_TRUE(s->append(replay).ok());
  auto all = scan_all(*s);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].seq, 10);
  EXPECT_EQ(all[1].seq, 11);
  EXPECT_EQ(all[1].user, "alice");
  EXPECT_EQ(all[2].seq, 12);
  EXPECT_EQ(*s->max_seq(), 12);

  // A record without a seq continues after the highest one.
  std::vector<audit_record> fresh = {make_record(4, "auth.ok")};
  ASSERT_TRUE(s->append(fresh).ok());
  EXPECT_EQ(fresh[0].seq, 13);
  EXPECT_EQ(*s->max_seq(), 13);
}

TEST(store, failed_append_keeps_journal_seqs) {
  temp_dir dir;
  auto s = open_migrated(dir, 200);
  ASSERT_NE(s, nullptr);
  raw_connection other(dir.db_path());
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), "");
  std::vector<audit_record> recs = {make_record(1, "statement"), make_record(2, "statement")};
  recs[0].seq = 41;
  ASSERT_FALSE(s->append(recs).ok());
  EXPECT_EQ(recs[0].seq, 41);  // the caller's seq, not cleared
  EXPECT_EQ(recs[1].seq, 0);
  ASSERT_EQ(other.exec("ROLLBACK"), "");
  ASSERT_TRUE(s->append(recs).ok());
  EXPECT_EQ(recs[0].seq, 41);
  EXPECT_EQ(recs[1].seq, 42);
}

}  // namespace
}  // namespace gh::store
