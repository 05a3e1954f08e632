// The audit journal: canonical line encoding round-trips, seqs continue across reopen, a torn tail
// is cut, segments rotate and are read back in order.
#include "audit/journal.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "store/tests/test_util.hpp"

namespace gh::audit {
namespace {

namespace fs = std::filesystem;
using store::testing::make_record;
using store::testing::temp_dir;

std::string lines_for(std::vector<record> recs, std::int64_t first_seq) {
  std::string out;
  for (auto& r : recs) {
    r.seq = first_seq++;
    encode_record(r, out);
  }
  return out;
}

std::vector<record> read_all(const std::string& dir, std::int64_t after = 0) {
  std::vector<record> out;
  auto s = journal::read(dir, after, [&](record&& r) { out.push_back(std::move(r)); });
  EXPECT_TRUE(s.ok()) << s.err();
  return out;
}

std::vector<fs::path> segment_files(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(audit_journal, record_encoding_round_trips) {
  record r;
  r.seq = 42;
  r.ts_us = -5;
  r.kind = "statement";
  r.session_id = "s\"1\\";
  r.user = "al\nice\r\t";
  r.groups = std::string("a\x01" "b\x1f", 4);
  r.connection = "caf\xc3\xa9";
  r.client_addr = "[::1]:5432";
  r.statement = "SELECT '{\"json\": [1,2]}'";
  r.stmt_id = 9;
  r.param_count = 0;
  r.outcome = "ok";
  r.rows = 123456789012;
  r.duration_us = 0;
  r.reason = "";
  r.detail = R"({"k":"v"})";
  std::string line;
  encode_record(r, line);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.rfind("{\"seq\":42,\"ts_us\":-5,\"kind\":\"statement\"", 0), 0u) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "a raw newline inside the line";

  line.pop_back();
  auto d = decode_record(line);
  ASSERT_TRUE(d.ok()) << d.err();
  EXPECT_EQ(d->seq, r.seq);
  EXPECT_EQ(d->ts_us, r.ts_us);
  EXPECT_EQ(d->kind, r.kind);
  EXPECT_EQ(d->session_id, r.session_id);
  EXPECT_EQ(d->user, r.user);
  EXPECT_EQ(d->groups, r.groups);
  EXPECT_EQ(d->connection, r.connection);
  EXPECT_EQ(d->client_addr, r.client_addr);
  EXPECT_EQ(d->statement, r.statement);
  EXPECT_EQ(d->stmt_id, r.stmt_id);
  EXPECT_EQ(d->param_count, r.param_count);
  EXPECT_EQ(d->outcome, r.outcome);
  EXPECT_EQ(d->rows, r.rows);
  EXPECT_EQ(d->duration_us, r.duration_us);
  EXPECT_EQ(d->reason, r.reason);
  EXPECT_EQ(d->detail, r.detail);
}

TEST(audit_journal, decode_refuses_what_it_cannot_read_exactly) {
  std::string good;
  encode_record(make_record(1, "statement"), good);
  good.pop_back();
  ASSERT_TRUE(decode_record(good).ok());
  EXPECT_FALSE(decode_record("").ok());
  EXPECT_FALSE(decode_record("not json").ok());
  EXPECT_FALSE(decode_record("[1,2]").ok());
  EXPECT_FALSE(decode_record(good.substr(0, good.size() / 2)).ok());
  std::string no_kind = good;
  no_kind.replace(no_kind.find("\"kind\""), 6, "\"kinx\"");
  EXPECT_FALSE(decode_record(no_kind).ok());
  std::string seq_as_string = good;
  seq_as_string.replace(0, 8, "{\"seq\":\"0\"");
  EXPECT_FALSE(decode_record(seq_as_string).ok());
}

TEST(audit_journal, seqs_continue_across_reopen) {
  temp_dir dir;
  const std::string jd = (dir.path() / "j").string();
  {
    auto j = journal::open(jd, sync_mode::write);
    ASSERT_TRUE(j.ok()) << j.err();
    EXPECT_EQ((*j)->next_seq(), 1);
    ASSERT_TRUE((*j)->append(lines_for({make_record(1, "a"), make_record(2, "b")}, 1), 2).ok());
    EXPECT_EQ((*j)->next_seq(), 3);
    ASSERT_TRUE((*j)->append("", 0).ok());
    EXPECT_EQ((*j)->next_seq(), 3);
  }
  {
    auto j = journal::open(jd, sync_mode::fsync);
    ASSERT_TRUE(j.ok()) << j.err();
    EXPECT_EQ((*j)->next_seq(), 3);
    ASSERT_TRUE((*j)->append(lines_for({make_record(3, "c")}, 3), 1).ok());
  }
  {
    // A store that is ahead (journal started beside an existing index) moves the start up.
    auto j = journal::open(jd, sync_mode::write, 100);
    ASSERT_TRUE(j.ok()) << j.err();
    EXPECT_EQ((*j)->next_seq(), 100);
  }
  auto all = read_all(jd);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].kind, "a");
  EXPECT_EQ(all[2].seq, 3);
  EXPECT_EQ(read_all(jd, 2).size(), 1u);
  EXPECT_TRUE(read_all(jd, 3).empty());
}

TEST(audit_journal, torn_tail_is_cut_on_open) {
  temp_dir dir;
  const std::string jd = (dir.path() / "j").string();
  {
    auto j = journal::open(jd, sync_mode::write);
    ASSERT_TRUE(j.ok()) << j.err();
    ASSERT_TRUE((*j)->append(lines_for({make_record(1, "a"), make_record(2, "b")}, 1), 2).ok());
  }
  auto segs = segment_files(jd);
  ASSERT_EQ(segs.size(), 1u);
  const auto good_size = fs::file_size(segs[0]);
  {
    // A crash in the middle of writing seq 3.
    std::string torn;
    encode_record([] {
      auto r = make_record(3, "c");
      r.seq = 3;
      return r;
    }(), torn);
    std::ofstream(segs[0], std::ios::app | std::ios::binary) << torn.substr(0, torn.size() / 2);
  }
  // Readers skip a tail without a newline (it may be being written right now).
  EXPECT_EQ(read_all(jd).size(), 2u);

  auto j = journal::open(jd, sync_mode::write);
  ASSERT_TRUE(j.ok()) << j.err();
  EXPECT_EQ(fs::file_size(segs[0]), good_size);
  EXPECT_EQ((*j)->next_seq(), 3);
  ASSERT_TRUE((*j)->append(lines_for({make_record(4, "d")}, 3), 1).ok());
  auto all = read_all(jd);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].seq, 3);
  EXPECT_EQ(all[2].kind, "d");
}

TEST(audit_journal, segments_rotate_and_read_back_in_order) {
  temp_dir dir;
  const std::string jd = (dir.path() / "j").string();
  {
    auto j = journal::open(jd, sync_mode::write, 1, /*segment_bytes=*/1);
    ASSERT_TRUE(j.ok()) << j.err();
    for (std::int64_t seq = 1; seq <= 5; ++seq) {
      auto s = (*j)->append(lines_for({make_record(seq, "e" + std::to_string(seq))}, seq), 1);
      ASSERT_TRUE(s.ok()) << s.err();
    }
  }
  auto segs = segment_files(jd);
  ASSERT_EQ(segs.size(), 5u);
  EXPECT_EQ(segs[0].filename(), "journal-00000000000000000001.log");
  EXPECT_EQ(segs[4].filename(), "journal-00000000000000000005.log");

  auto all = read_all(jd);
  ASSERT_EQ(all.size(), 5u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, static_cast<std::int64_t>(i) + 1);
    EXPECT_EQ(all[i].kind, "e" + std::to_string(i + 1));
  }
  auto tail = read_all(jd, 3);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].seq, 4);

  // A newest segment that was created but never written: numbering continues from the one
  // before it.
  std::ofstream(fs::path(jd) / "journal-00000000000000000006.log").flush();
  auto j = journal::open(jd, sync_mode::write, 1, 1);
  ASSERT_TRUE(j.ok()) << j.err();
  EXPECT_EQ((*j)->next_seq(), 6);
}

}  // namespace
}  // namespace gh::audit
