// The audit journal: the chained line encoding round-trips and detects edits, seqs and the chain
// continue across reopen, a torn tail is cut, segments rotate and are read back in order, and
// whatever bytes a client put in a statement can be read back.
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

// Appends `recs` to `j` as one batch with the next seqs, chained to what the journal holds.
status append(journal& j, std::vector<record> recs) {
  std::string lines;
  std::string prev = j.last_hash();
  std::int64_t seq = j.next_seq();
  for (auto& r : recs) {
    r.seq = seq++;
    encode_record(r, prev, lines);
    prev = r.hash;
  }
  return j.append(lines, static_cast<std::int64_t>(recs.size()), prev);
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

std::string line_for(record r, std::string_view prev = genesis_hash) {
  std::string line;
  encode_record(r, prev, line);
  line.pop_back();  // the newline
  return line;
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
  encode_record(r, genesis_hash, line);
  EXPECT_EQ(r.prev_hash, genesis_hash);
  EXPECT_EQ(r.hash.size(), 64u);
  EXPECT_NE(r.hash, genesis_hash);
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
  EXPECT_EQ(d->prev_hash, genesis_hash);
  EXPECT_EQ(d->hash, r.hash);
}

TEST(audit_journal, every_byte_at_every_position_of_a_long_value_round_trips) {
  // The encoder checks 16 bytes at a time for bytes that need escaping; put each byte value at
  // each position around those blocks (and in the scalar tail) and read it back.
  std::string line;
  for (int c = 0; c < 256; ++c) {
    for (std::size_t pos = 0; pos < 40; ++pos) {
      record r;
      r.seq = 1;
      r.kind = "statement";
      r.statement = std::string(40, 'a');
      r.statement[pos] = static_cast<char>(c);
      line.clear();
      encode_record(r, genesis_hash, line);
      ASSERT_EQ(line.find('\n'), line.size() - 1) << "byte " << c << " at " << pos;
      line.pop_back();
      auto d = decode_record(line);
      ASSERT_TRUE(d.ok()) << "byte " << c << " at " << pos << ": " << d.err();
      ASSERT_EQ(d->statement, r.statement) << "byte " << c << " at " << pos;
    }
  }
}

TEST(audit_journal, the_hash_chains_to_the_previous_event) {
  auto a = make_record(1, "session.start");
  a.seq = 1;
  auto b = make_record(2, "statement");
  b.seq = 2;
  std::string lines;
  encode_record(a, genesis_hash, lines);
  encode_record(b, a.hash, lines);
  EXPECT_EQ(b.prev_hash, a.hash);
  EXPECT_NE(b.hash, a.hash);
  // The same event after a different predecessor has a different hash.
  auto b2 = b;
  std::string other;
  encode_record(b2, genesis_hash, other);
  EXPECT_NE(b2.hash, b.hash);
}

TEST(audit_journal, decode_refuses_edits_and_what_it_cannot_read_exactly) {
  const std::string good = line_for(make_record(1, "statement"));
  ASSERT_TRUE(decode_record(good).ok());
  EXPECT_FALSE(decode_record("").ok());
  EXPECT_FALSE(decode_record("not json").ok());
  EXPECT_FALSE(decode_record("[1,2]").ok());
  EXPECT_FALSE(decode_record(good.substr(0, good.size() / 2)).ok());

  // An edited value: still valid JSON, but the hash no longer matches.
  std::string edited = good;
  edited.replace(edited.find("alice"), 5, "carol");
  auto e = decode_record(edited);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.err().find("modified"), std::string::npos) << e.err();
  EXPECT_TRUE(decode_record(edited, /*verified=*/false).ok());

  // Same content, different spelling: not the canonical form.
  std::string spaced = good;
  spaced.replace(spaced.find("\"kind\":"), 7, "\"kind\": ");
  EXPECT_FALSE(decode_record(spaced).ok());

  std::string renamed = good;
  renamed.replace(renamed.find("\"kind\""), 6, "\"kinx\"");
  EXPECT_FALSE(decode_record(renamed, false).ok());
  std::string seq_as_string = good;
  seq_as_string.replace(0, 8, "{\"seq\":\"0\"");
  EXPECT_FALSE(decode_record(seq_as_string, false).ok());
}

TEST(audit_journal, statement_bytes_that_are_not_utf8_read_back) {
  // A client chooses the bytes of its statements; the gateway journals them before PostgreSQL
  // checks the encoding. Such a line must read back, or reopening the journal would cut it and
  // every event after it as a "torn tail".
  auto r = make_record(1, "statement");
  r.statement = "SELECT '\xff\xfe\xc3(' -- latin1: caf\xe9";
  const std::string line = line_for(r);
  auto d = decode_record(line);
  ASSERT_TRUE(d.ok()) << d.err();
  EXPECT_EQ(d->statement, r.statement);

  temp_dir dir;
  const std::string jd = (dir.path() / "j").string();
  {
    auto j = journal::open(jd, sync_mode::write);
    ASSERT_TRUE(j.ok()) << j.err();
    auto after = make_record(2, "statement");
    ASSERT_TRUE(append(**j, {r, after}).ok());
  }
  auto j = journal::open(jd, sync_mode::write);
  ASSERT_TRUE(j.ok()) << j.err();
  EXPECT_EQ((*j)->next_seq(), 3) << "reopening cut events off the journal";
  auto all = read_all(jd);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].statement, r.statement);
}

TEST(audit_journal, seqs_and_chain_continue_across_reopen) {
  temp_dir dir;
  const std::string jd = (dir.path() / "j").string();
  std::string last_hash;
  {
    auto j = journal::open(jd, sync_mode::write);
    ASSERT_TRUE(j.ok()) << j.err();
    EXPECT_EQ((*j)->next_seq(), 1);
    EXPECT_EQ((*j)->last_hash(), genesis_hash);
    ASSERT_TRUE(append(**j, {make_record(1, "a"), make_record(2, "b")}).ok());
    EXPECT_EQ((*j)->next_seq(), 3);
    last_hash = (*j)->last_hash();
    EXPECT_NE(last_hash, genesis_hash);
  }
  {
    auto j = journal::open(jd, sync_mode::fsync);
    ASSERT_TRUE(j.ok()) << j.err();
    EXPECT_EQ((*j)->next_seq(), 3);
    EXPECT_EQ((*j)->last_hash(), last_hash);
    ASSERT_TRUE(append(**j, {make_record(3, "c")}).ok());
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
  EXPECT_EQ(all[0].prev_hash, genesis_hash);
  EXPECT_EQ(all[1].prev_hash, all[0].hash);
  EXPECT_EQ(all[2].prev_hash, all[1].hash);
  EXPECT_EQ(all[2].seq, 3);
  EXPECT_EQ(read_all(jd, 2).size(), 1u);
  EXPECT_TRUE(read_all(jd, 3).empty());
}

TEST(audit_journal, torn_tail_is_cut_on_open) {
  temp_dir dir;
  const std::string jd = (dir.path() / "j").string();
  std::string last_hash;
  {
    auto j = journal::open(jd, sync_mode::write);
    ASSERT_TRUE(j.ok()) << j.err();
    ASSERT_TRUE(append(**j, {make_record(1, "a"), make_record(2, "b")}).ok());
    last_hash = (*j)->last_hash();
  }
  auto segs = segment_files(jd);
  ASSERT_EQ(segs.size(), 1u);
  const auto good_size = fs::file_size(segs[0]);
  {
    // A crash in the middle of writing seq 3.
    auto r = make_record(3, "c");
    r.seq = 3;
    std::string torn;
    encode_record(r, last_hash, torn);
    std::ofstream(segs[0], std::ios::app | std::ios::binary) << torn.substr(0, torn.size() / 2);
  }
  // Readers skip a tail without a newline (it may be being written right now).
  EXPECT_EQ(read_all(jd).size(), 2u);

  auto j = journal::open(jd, sync_mode::write);
  ASSERT_TRUE(j.ok()) << j.err();
  EXPECT_EQ(fs::file_size(segs[0]), good_size);
  EXPECT_EQ((*j)->next_seq(), 3);
  EXPECT_EQ((*j)->last_hash(), last_hash);
  ASSERT_TRUE(append(**j, {make_record(4, "d")}).ok());
  auto all = read_all(jd);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].seq, 3);
  EXPECT_EQ(all[2].kind, "d");
  EXPECT_EQ(all[2].prev_hash, all[1].hash);
}

TEST(audit_journal, segments_rotate_and_read_back_in_order) {
  temp_dir dir;
  const std::string jd = (dir.path() / "j").string();
  {
    auto j = journal::open(jd, sync_mode::write, 1, /*segment_bytes=*/1);
    ASSERT_TRUE(j.ok()) << j.err();
    for (int i = 1; i <= 5; ++i) {
      auto s = append(**j, {make_record(i, "e" + std::to_string(i))});
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
    if (i > 0) {
      EXPECT_EQ(all[i].prev_hash, all[i - 1].hash) << "chain broken across segments";
    }
  }
  auto tail = read_all(jd, 3);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].seq, 4);

  // A newest segment that was created but never written: numbering and chain continue from the
  // one before it.
  std::ofstream(fs::path(jd) / "journal-00000000000000000006.log").flush();
  auto j = journal::open(jd, sync_mode::write, 1, 1);
  ASSERT_TRUE(j.ok()) << j.err();
  EXPECT_EQ((*j)->next_seq(), 6);
  EXPECT_EQ((*j)->last_hash(), all.back().hash);
}

}  // namespace
}  // namespace gh::audit
