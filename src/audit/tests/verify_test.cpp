// Offline verification of a real audit trail: one written by the audit writer (journal, SQLite
// index, Ed25519 checkpoints), then tampered with the ways an attacker with file access would.
// Each kind of tampering is reported with the right kind of problem at the right seq:
//   one byte of an event changed          -> modified (that event)
//   a line deleted                        -> missing (that event)
//   two adjacent lines swapped            -> reordered (the first of the two)
//   the tail cut back past a checkpoint   -> truncated (the first cut event)
//   another key / a re-signed trail       -> bad signature (the first checkpoint it touches)
//   a checkpoint's signature altered      -> modified, or bad signature if re-chained
// and an export in `--format chain` form verifies the same way. Retention: pruning whole
// segments under a signed checkpoint leaves a trail that still verifies; deleting one more
// segment by hand does not.
#include "audit/verify.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "audit/journal.hpp"
#include "audit/signer.hpp"
#include "audit/writer.hpp"
#include "store/tests/test_util.hpp"

namespace gh::audit {
namespace {

namespace fs = std::filesystem;
using store::testing::scan_all;
using store::testing::temp_dir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

std::vector<std::string> split_lines(const std::string& data) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    auto nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    out.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out.append(l).push_back('\n');
  return out;
}

std::int64_t seq_of(const std::string& line) {
  auto r = decode_record(line, false);
  EXPECT_TRUE(r.ok()) << line;
  return r ? r->seq : -1;
}

std::string kind_of(const std::string& line) {
  auto r = decode_record(line, false);
  return r ? r->kind : std::string();
}

// A test writer's view of one audit directory: journal, index, signing key.
class trail {
 public:
  explicit trail(std::size_t segment_bytes = 64u << 20, checkpoint_policy cp = {4, std::chrono::hours(1)})
      : segment_bytes_(segment_bytes), cp_(cp) {}

  [[nodiscard]] std::string journal_dir() const { return (dir_.path() / "audit").string(); }
  [[nodiscard]] std::string key_path() const { return (dir_.path() / "audit-signing.key").string(); }
  [[nodiscard]] fs::path head_path() const { return fs::path(journal_dir()) / head_file; }
  [[nodiscard]] const temp_dir& dir() const { return dir_; }

  // Opens a writer the way `gatehouse serve` does (continuing the journal there is).
  std::unique_ptr<writer> open_writer() {
    auto st = store::open_store(dir_.url());
    EXPECT_TRUE(st.ok()) << st.err();
    if (!st) return nullptr;
    auto m = (*st)->migrate();
    EXPECT_TRUE(m.ok()) << m.err();
    auto j = journal::open(journal_dir(), sync_mode::write, 1, segment_bytes_);
    EXPECT_TRUE(j.ok()) << j.err();
    if (!j) return nullptr;
    auto s = signer::load_or_create(key_path());
    EXPECT_TRUE(s.ok()) << s.err();
    if (!s) return nullptr;
    auto w = std::make_unique<writer>(std::move(*j), std::move(*st), journal_dir(), std::move(*s),
                                      cp_);
    w->start();
    return w;
  }

  // Appends `n` statement events through `w`, one write each, waiting for every one.
  static void write_events(writer& w, int n, const std::string& session, int first_stmt = 1) {
    for (int i = 0; i < n; ++i) {
      record r;
      r.ts_us = now_us();
      r.kind = "statement";
      r.session_id = session;
      r.user = "alice";
      r.groups = "clinicians";
      r.connection = "patients";
      r.client_addr = "127.0.0.1:5000";
      r.stmt_id = first_stmt + i;
      r.statement = "SELECT name FROM patients WHERE id = " + std::to_string(first_stmt + i);
      r.param_count = 0;
      std::promise<std::string> done;
      auto f = done.get_future();
      w.async_append(std::vector<record>{std::move(r)},
                     [&done](std::string err) { done.set_value(std::move(err)); });
      auto err = f.get();
      EXPECT_EQ(err, "");
    }
  }

  // Three writer runs of `per_run` events each; each stop() signs the head, and the small
  // checkpoint cadence usually adds more checkpoints in between.
  void build(int runs = 3, int per_run = 10) {
    for (int run = 0; run < runs; ++run) {
      auto w = open_writer();
      ASSERT_NE(w, nullptr);
      write_events(*w, per_run, "s" + std::to_string(run));
      w->stop();
    }
  }

  [[nodiscard]] std::unique_ptr<verifier> pubkey() const {
    auto s = signer::load_or_create(key_path());
    EXPECT_TRUE(s.ok()) << s.err();
    auto v = verifier::from_public_pem((*s)->public_pem());
    EXPECT_TRUE(v.ok()) << v.err();
    return std::move(*v);
  }

  [[nodiscard]] std::vector<fs::path> segments() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(journal_dir()))
      if (e.path().filename().string().rfind("journal-", 0) == 0) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  // The only segment (the tamper tests use one).
  [[nodiscard]] fs::path segment() const {
    auto s = segments();
    EXPECT_EQ(s.size(), 1u);
    return s.empty() ? fs::path() : s.front();
  }
  [[nodiscard]] std::vector<std::string> lines() const { return split_lines(slurp(segment())); }
  void set_lines(const std::vector<std::string>& l) const { spit(segment(), join_lines(l)); }

  [[nodiscard]] verify_report verify() const {
    auto k = pubkey();
    return verify_journal(journal_dir(), k.get());
  }

 private:
  temp_dir dir_;
  std::size_t segment_bytes_;
  checkpoint_policy cp_;
};

// Index of the first non-checkpoint line at or after `from`.
std::size_t event_line_at_or_after(const std::vector<std::string>& lines, std::size_t from) {
  for (std::size_t i = from; i < lines.size(); ++i)
    if (kind_of(lines[i]) == "statement") return i;
  ADD_FAILURE() << "no statement line after " << from;
  return from;
}

std::vector<std::size_t> checkpoint_lines(const std::vector<std::string>& lines) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (kind_of(lines[i]) == checkpoint_kind) out.push_back(i);
  return out;
}

std::string detail_sig(const std::string& detail) {
  return std::string(boost::json::parse(detail).as_object().at("sig").as_string());
}

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

// What an attacker who can write the files does: rewrites records from `from_seq` on (through
// `edit`), re-chains every hash after them, re-signs every checkpoint from `from_seq` on with
// `key` (then `after_sign` may alter the checkpoint), and rewrites head.json to match.
void forge(const trail& t, std::int64_t from_seq, const signer& key,
           const std::function<void(record&)>& edit,
           const std::function<void(record&)>& after_sign = {}) {
  std::vector<std::string> out;
  std::string prev = genesis_hash;
  std::string head_line;
  for (const auto& l : t.lines()) {
    auto r = decode_record(l, false);
    ASSERT_TRUE(r.ok()) << l;
    if (r->seq >= from_seq) {
      edit(*r);
      if (r->kind == checkpoint_kind) {
        boost::json::object d;
        d["head_seq"] = r->seq - 1;
        d["head_hash"] = prev;
        d["key_id"] = key.key_id();
        d["sig"] = key.sign_base64(checkpoint_message(r->seq - 1, prev));
        r->detail = boost::json::serialize(d);
        if (after_sign) after_sign(*r);
      }
    }
    std::string line;
    encode_record(*r, prev, line);
    prev = r->hash;
    if (r->kind == checkpoint_kind) head_line = line;
    line.pop_back();
    out.push_back(std::move(line));
  }
  t.set_lines(out);
  spit(t.head_path(), head_line);
}

// ---- the untouched trail ----

TEST(audit_verify, an_untouched_trail_verifies_with_the_signers_key) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto cps = checkpoint_lines(lines);
  ASSERT_GE(cps.size(), 3u);  // at least one per writer run
  EXPECT_EQ(cps.back(), lines.size() - 1);  // stop() signs everything written
  ASSERT_TRUE(fs::exists(t.head_path()));
  EXPECT_EQ(slurp(t.head_path()), lines.back() + "\n");  // the newest checkpoint

  auto rep = t.verify();
  EXPECT_TRUE(rep.ok) << rep.bad_seq << ": " << rep.problem;
  EXPECT_EQ(rep.events, static_cast<std::int64_t>(lines.size()));
  EXPECT_EQ(rep.events, 30 + static_cast<std::int64_t>(cps.size()));
  EXPECT_EQ(rep.checkpoints, static_cast<std::int64_t>(cps.size()));
  EXPECT_EQ(rep.last_signed_seq, seq_of(lines.back()));
  EXPECT_EQ(rep.bad_seq, 0);
  EXPECT_EQ(rep.problem, "");

  // The index holds the same events (and is not what verify reads).
  auto st = store::open_store(t.dir().url());
  ASSERT_TRUE(st.ok()) << st.err();
  EXPECT_EQ(scan_all(**st).size(), lines.size());
}

// ---- tampering ----

TEST(audit_verify, one_changed_byte_inside_a_value_is_modified) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto i = event_line_at_or_after(lines, lines.size() / 2);
  auto at = lines[i].find("patients WHERE");
  ASSERT_NE(at, std::string::npos);
  lines[i][at] = 'q';  // "qatients": still canonical JSON, different content
  auto seq = seq_of(lines[i]);
  t.set_lines(lines);

  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, seq);
  EXPECT_TRUE(starts_with(rep.problem, "modified: hash does not match its content"))
      << rep.problem;
}

TEST(audit_verify, a_byte_changed_outside_a_value_is_modified) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto i = event_line_at_or_after(lines, 3);
  auto at = lines[i].find("\"rows\":-1");
  ASSERT_NE(at, std::string::npos);
  lines[i].insert(at + 9, " ");  // whitespace: same values, not canonical
  auto seq = seq_of(lines[i]);
  t.set_lines(lines);

  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, seq);
  EXPECT_TRUE(starts_with(rep.problem, "modified: not in canonical form")) << rep.problem;
}

TEST(audit_verify, a_deleted_line_is_missing) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto i = event_line_at_or_after(lines, lines.size() / 3);
  auto seq = seq_of(lines[i]);
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
  t.set_lines(lines);

  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, seq);
  EXPECT_EQ(rep.problem, "missing: events " + std::to_string(seq) + ".." + std::to_string(seq) +
                             " are not in the trail");
}

TEST(audit_verify, two_deleted_lines_are_named_as_a_range) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto i = event_line_at_or_after(lines, 2);
  auto seq = seq_of(lines[i]);
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i),
              lines.begin() + static_cast<std::ptrdiff_t>(i) + 2);
  t.set_lines(lines);

  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, seq);
  EXPECT_EQ(rep.problem, "missing: events " + std::to_string(seq) + ".." +
                             std::to_string(seq + 1) + " are not in the trail");
}

TEST(audit_verify, two_swapped_lines_are_reordered) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto i = event_line_at_or_after(lines, lines.size() / 2);
  ASSERT_LT(i + 1, lines.size());
  auto seq = seq_of(lines[i]);
  std::swap(lines[i], lines[i + 1]);
  t.set_lines(lines);

  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, seq);
  EXPECT_EQ(rep.problem, "reordered: event " + std::to_string(seq) + " comes after event " +
                             std::to_string(seq + 1));
}

TEST(audit_verify, the_tail_cut_back_past_the_newest_checkpoint_is_truncated) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto cps = checkpoint_lines(lines);
  ASSERT_GE(cps.size(), 2u);
  // Cut everything from a few events before the newest checkpoint; head.json stays.
  auto cut = cps.back() - 3;
  auto first_cut = seq_of(lines[cut]);
  auto head_seq = seq_of(lines[cps.back()]);
  lines.resize(cut);
  t.set_lines(lines);
  ASSERT_TRUE(fs::exists(t.head_path()));

  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, first_cut);
  EXPECT_EQ(rep.problem, "truncated: the trail ends at seq " + std::to_string(first_cut - 1) +
                             " but a checkpoint at seq " + std::to_string(head_seq) +
                             " was recorded");
}

TEST(audit_verify, another_keys_public_key_is_a_bad_signature) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto first_cp = seq_of(lines[checkpoint_lines(lines).front()]);
  auto other = signer::load_or_create((t.dir().path() / "other.key").string());
  ASSERT_TRUE(other.ok()) << other.err();
  auto other_pub = verifier::from_public_pem((*other)->public_pem());
  ASSERT_TRUE(other_pub.ok()) << other_pub.err();
  auto real = signer::load_or_create(t.key_path());
  ASSERT_TRUE(real.ok());

  auto rep = verify_journal(t.journal_dir(), other_pub->get());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, first_cp);
  EXPECT_EQ(rep.problem, "bad signature: signed by key " + (*real)->key_id() + ", expected key " +
                             (*other)->key_id());
}

TEST(audit_verify, a_trail_re_signed_with_a_replaced_key_fails_against_the_pinned_key) {
  trail t;
  t.build();
  auto pinned = t.pubkey();  // what the auditor kept off the machine
  auto old_id = pinned->key_id();
  // The attacker replaces audit-signing.key, edits an event and re-signs the whole trail.
  fs::remove(t.key_path());
  auto forged_key = signer::load_or_create(t.key_path());
  ASSERT_TRUE(forged_key.ok());
  forge(t, 1, **forged_key, [](record& r) {
    if (r.seq == 5) r.statement = "SELECT 1";
  });
  auto lines = t.lines();
  auto first_cp = seq_of(lines[checkpoint_lines(lines).front()]);

  // The forged trail is internally consistent: without the pinned key it would pass.
  auto unpinned = verify_journal(t.journal_dir(), nullptr);
  EXPECT_TRUE(unpinned.ok) << unpinned.problem;

  auto rep = verify_journal(t.journal_dir(), pinned.get());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, first_cp);
  EXPECT_EQ(rep.problem, "bad signature: signed by key " + (*forged_key)->key_id() +
                             ", expected key " + old_id);
}

TEST(audit_verify, a_key_replaced_midway_is_a_changed_signing_key_even_unpinned) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto cps = checkpoint_lines(lines);
  ASSERT_GE(cps.size(), 2u);
  auto old_id = t.pubkey()->key_id();
  // Keep everything up to the first checkpoint; rewrite and re-sign what follows.
  auto from = seq_of(lines[cps[0]]) + 1;
  auto second_cp = seq_of(lines[cps[1]]);
  auto forged_key = signer::load_or_create((t.dir().path() / "forged.key").string());
  ASSERT_TRUE(forged_key.ok());
  forge(t, from, **forged_key, [&](record& r) {
    if (r.seq == from) r.statement = "SELECT 1";
  });

  auto rep = verify_journal(t.journal_dir(), nullptr);
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, second_cp);
  EXPECT_EQ(rep.problem, "bad signature: signing key changed from " + old_id + " to " +
                             (*forged_key)->key_id());
}

TEST(audit_verify, an_altered_checkpoint_signature_is_detected) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto cps = checkpoint_lines(lines);
  ASSERT_GE(cps.size(), 2u);
  auto i = cps[1];
  auto seq = seq_of(lines[i]);
  auto rec = decode_record(lines[i], false);
  ASSERT_TRUE(rec.ok());
  auto sig = detail_sig(rec->detail);
  auto at = lines[i].find(sig);
  ASSERT_NE(at, std::string::npos);
  // Left in place, the altered line no longer hashes to its hash.
  {
    auto tampered = lines;
    tampered[i][at + 10] = tampered[i][at + 10] == 'A' ? 'B' : 'A';
    t.set_lines(tampered);
    auto rep = t.verify();
    EXPECT_FALSE(rep.ok);
    EXPECT_EQ(rep.bad_seq, seq);
    EXPECT_TRUE(starts_with(rep.problem, "modified: hash does not match its content"))
        << rep.problem;
  }
  // Re-chained so every hash matches again, the signature itself fails.
  t.set_lines(lines);
  auto key = signer::load_or_create(t.key_path());
  ASSERT_TRUE(key.ok());
  forge(t, seq, **key, [](record&) {}, [&](record& r) {
    if (r.seq != seq) return;
    auto d = boost::json::parse(r.detail).as_object();
    std::string s(d["sig"].as_string());
    s[10] = s[10] == 'A' ? 'B' : 'A';
    d["sig"] = s;
    r.detail = boost::json::serialize(d);
  });
  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, seq);
  EXPECT_EQ(rep.problem, "bad signature: checkpoint signature does not verify");
}

TEST(audit_verify, a_checkpoint_naming_another_head_is_a_bad_checkpoint) {
  trail t;
  t.build();
  auto lines = t.lines();
  auto cps = checkpoint_lines(lines);
  auto seq = seq_of(lines[cps[0]]);
  auto key = signer::load_or_create(t.key_path());
  ASSERT_TRUE(key.ok());
  // Validly signed, but over an older head than the event before it.
  forge(t, seq, **key, [](record&) {}, [&](record& r) {
    if (r.seq != seq) return;
    boost::json::object d;
    d["head_seq"] = r.seq - 2;
    d["head_hash"] = std::string(64, 'a');
    d["key_id"] = (*key)->key_id();
    d["sig"] = (*key)->sign_base64(checkpoint_message(r.seq - 2, std::string(64, 'a')));
    r.detail = boost::json::serialize(d);
  });
  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, seq);
  EXPECT_EQ(rep.problem, "bad checkpoint: it does not sign the event before it");
}

// ---- `audit export --format chain` files ----

// Writes the journal's lines to `path` the way `gatehouse audit export --format chain` does.
void export_chain(const std::string& journal_dir, const fs::path& path) {
  std::string out, line;
  auto st = journal::read(journal_dir, 0, [&](record&& r) {
    line.clear();
    encode_record(r, r.prev_hash, line);
    out += line;
  });
  ASSERT_TRUE(st.ok()) << st.err();
  spit(path, out);
}

TEST(audit_verify, an_exported_chain_file_verifies_and_a_changed_byte_is_modified) {
  trail t;
  t.build();
  auto file = t.dir().path() / "export.jsonl";
  export_chain(t.journal_dir(), file);
  EXPECT_EQ(slurp(file), slurp(t.segment()));  // byte for byte the journal
  auto key = t.pubkey();
  auto journal_rep = verify_journal(t.journal_dir(), key.get());
  auto rep = verify_file(file.string(), key.get());
  EXPECT_TRUE(rep.ok) << rep.bad_seq << ": " << rep.problem;
  EXPECT_EQ(rep.events, journal_rep.events);
  EXPECT_EQ(rep.checkpoints, journal_rep.checkpoints);

  auto lines = split_lines(slurp(file));
  auto i = event_line_at_or_after(lines, 7);
  auto at = lines[i].find("\"stmt\":");
  ASSERT_NE(at, std::string::npos);
  char& digit = lines[i][at + 7];
  digit = digit == '9' ? '8' : static_cast<char>(digit + 1);
  spit(file, join_lines(lines));
  auto bad = verify_file(file.string(), key.get());
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.bad_seq, seq_of(lines[i]));
  EXPECT_TRUE(starts_with(bad.problem, "modified:")) << bad.problem;

  auto gone = verify_file((t.dir().path() / "nope.jsonl").string(), key.get());
  EXPECT_FALSE(gone.ok);
}

// ---- retention ----

TEST(audit_verify, retention_prunes_signed_segments_and_the_rest_still_verifies) {
  // Segments smaller than a line: every journal write starts a new one.
  trail t(200, {3, std::chrono::hours(1)});
  t.build(2, 12);
  auto before = t.segments();
  ASSERT_GE(before.size(), 4u);
  std::int64_t pruned = 0;
  {
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    auto n = w->prune_before(now_us() + 1);
    ASSERT_TRUE(n.ok()) << n.err();
    pruned = *n;
    trail::write_events(*w, 2, "after");
    w->stop();  // signs the pruned event
  }
  EXPECT_GT(pruned, 0);
  auto after = t.segments();
  ASSERT_GE(after.size(), 2u);
  EXPECT_LT(after.size(), before.size());
  for (std::size_t i = 0; i < before.size() - after.size(); ++i)
    EXPECT_FALSE(fs::exists(before[i])) << before[i];

  // The prune is on record, naming the last pruned seq and its hash.
  std::vector<record> recs;
  ASSERT_TRUE(journal::read(t.journal_dir(), 0, [&](record&& r) { recs.push_back(std::move(r)); })
                  .ok());
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.front().seq, pruned + 1);
  std::int64_t pruned_events = 0;
  for (const auto& r : recs) {
    if (r.kind != pruned_kind) continue;
    ++pruned_events;
    auto d = boost::json::parse(r.detail).as_object();
    EXPECT_EQ(d["pruned_through_seq"].as_int64(), pruned);
    EXPECT_EQ(std::string(d["head_hash"].as_string()), recs.front().prev_hash);
    EXPECT_EQ(r.reason, "retention");
  }
  EXPECT_EQ(pruned_events, 1);
  // The index dropped the same range.
  auto st = store::open_store(t.dir().url());
  ASSERT_TRUE(st.ok());
  auto indexed = scan_all(**st);
  ASSERT_FALSE(indexed.empty());
  EXPECT_EQ(indexed.front().seq, pruned + 1);

  auto rep = t.verify();
  EXPECT_TRUE(rep.ok) << rep.bad_seq << ": " << rep.problem;
  EXPECT_EQ(rep.events, static_cast<std::int64_t>(recs.size()));

  // Deleting one more (unpruned) segment by hand is not covered by the prune record.
  auto first_kept = after.front();
  auto lost_from = seq_of(split_lines(slurp(first_kept)).front());
  auto next_first = seq_of(split_lines(slurp(after[1])).front());
  fs::remove(first_kept);
  auto bad = t.verify();
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.bad_seq, lost_from);
  EXPECT_EQ(bad.problem, "missing: events " + std::to_string(lost_from) + ".." +
                             std::to_string(next_first - 1) +
                             " are not in the trail (retention pruned only through " +
                             std::to_string(pruned) + ")");
}

// Appends one `recording.*` event for recording `id` (detail {"recording":id}, plus `extra`
// fields) through `w` and waits for it to be written.
void append_recording_event(writer& w, std::string_view kind, const std::string& id,
                            const std::string& extra = "") {
  record r;
  r.ts_us = now_us();
  r.kind = std::string(kind);
  r.session_id = id;
  r.detail = "{\"recording\":\"" + id + "\"" + extra + "}";
  std::promise<std::string> done;
  auto f = done.get_future();
  w.async_append(std::vector<record>{std::move(r)},
                 [&done](std::string err) { done.set_value(std::move(err)); });
  EXPECT_EQ(f.get(), "");
}

TEST(audit_verify, retention_removes_recordings_that_ended_in_pruned_segments) {
  trail t(200, {3, std::chrono::hours(1)});
  const fs::path recs = t.dir().path() / "recordings";
  auto end_recording = [](writer& w, const std::string& id) {
    append_recording_event(w, recording_end_kind, id, ",\"chunks\":1");
  };
  for (const char* id : {"rec-old", "rec-new"}) {
    fs::create_directories(recs / id);
    std::ofstream(recs / id / "000001.cast") << "{\"version\":2}\n";
  }
  fs::create_directories(t.dir().path() / "evil");
  {
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    trail::write_events(*w, 2, "s0");
    end_recording(*w, "rec-old");
    end_recording(*w, "../evil");  // never a path outside the recordings folder
    trail::write_events(*w, 3, "s0", 3);
    w->stop();
  }
  const auto cutoff = now_us() + 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    end_recording(*w, "rec-new");  // ended after the cutoff: kept
    trail::write_events(*w, 3, "s1");
    w->stop();
  }
  {
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    w->set_recordings_dir(recs.string());
    auto n = w->prune_before(cutoff);
    ASSERT_TRUE(n.ok()) << n.err();
    EXPECT_GT(*n, 0);
    w->stop();
  }
  EXPECT_FALSE(fs::exists(recs / "rec-old"));
  EXPECT_TRUE(fs::exists(recs / "rec-new" / "000001.cast"));
  EXPECT_TRUE(fs::exists(t.dir().path() / "evil"));
  std::int64_t removed = -1;
  ASSERT_TRUE(journal::read(t.journal_dir(), 0, [&](record&& r) {
                if (r.kind == pruned_kind)
                  removed = boost::json::parse(r.detail).as_object().at("recordings").as_int64();
              }).ok());
  EXPECT_EQ(removed, 1);
  auto rep = t.verify();
  EXPECT_TRUE(rep.ok) << rep.bad_seq << ": " << rep.problem;
}

TEST(audit_verify, retention_removes_orphaned_recordings_but_not_live_or_still_named_ones) {
  trail t(200, {3, std::chrono::hours(1)});
  const fs::path recs = t.dir().path() / "recordings";
  for (const char* id : {"rec-orphan", "rec-named-later", "rec-mine"}) {
    fs::create_directories(recs / id);
    std::ofstream(recs / id / "000001.cast") << "{\"version\":2}\n";
  }
  {
    // A gateway that stopped mid-session: both recordings started, neither ended.
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    append_recording_event(*w, recording_start_kind, "rec-orphan");
    append_recording_event(*w, recording_start_kind, "rec-named-later");
    trail::write_events(*w, 3, "s0");
    w->stop();
  }
  const auto cutoff = now_us() + 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    // After the cutoff: the kept trail still names it.
    append_recording_event(*w, "recording.chunk", "rec-named-later");
    trail::write_events(*w, 3, "s1");
    w->stop();
  }
  auto pruned_counts = [&]() {
    std::vector<std::int64_t> out;
    EXPECT_TRUE(journal::read(t.journal_dir(), 0, [&](record&& r) {
                  if (r.kind != pruned_kind) return;
                  auto d = boost::json::parse(r.detail).as_object();
                  auto* o = d.if_contains("orphaned_recordings");
                  out.push_back(o != nullptr ? o->as_int64() : 0);
                }).ok());
    return out;
  };
  {
    // First prune, up to the cutoff: the orphan goes; the one named after the cutoff stays.
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    w->set_recordings_dir(recs.string());
    auto n = w->prune_before(cutoff);
    ASSERT_TRUE(n.ok()) << n.err();
    EXPECT_GT(*n, 0);
    w->stop();
  }
  EXPECT_FALSE(fs::exists(recs / "rec-orphan"));
  EXPECT_TRUE(fs::exists(recs / "rec-named-later" / "000001.cast"));
  EXPECT_EQ(pruned_counts(), std::vector<std::int64_t>{1});
  {
    // Second prune, of everything signed: rec-named-later is an orphan now (its start was
    // pruned before; its chunk now). rec-mine was started by this very writer: kept.
    auto w = t.open_writer();
    ASSERT_NE(w, nullptr);
    w->set_recordings_dir(recs.string());
    append_recording_event(*w, recording_start_kind, "rec-mine");
    trail::write_events(*w, 3, "s2");
    // Only signed segments are pruned: wait for a checkpoint over rec-mine's start.
    auto signed_over_mine = [&] {
      std::int64_t mine = 0, signed_seq = 0;
      (void)journal::read(t.journal_dir(), 0, [&](record&& r) {
        if (r.kind == recording_start_kind && r.session_id == "rec-mine") mine = r.seq;
        if (r.kind == checkpoint_kind && mine != 0) signed_seq = r.seq;
      });
      return signed_seq > mine;
    };
    for (int i = 0; i < 500 && !signed_over_mine(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(signed_over_mine());
    trail::write_events(*w, 1, "s2", 4);  // the newest segment is never pruned
    auto n = w->prune_before(now_us() + 1);
    ASSERT_TRUE(n.ok()) << n.err();
    EXPECT_GT(*n, 0);
    w->stop();
  }
  EXPECT_FALSE(fs::exists(recs / "rec-named-later"));
  EXPECT_TRUE(fs::exists(recs / "rec-mine" / "000001.cast"));
  EXPECT_EQ(pruned_counts(), std::vector<std::int64_t>{1}) << "the first prune record is pruned";
  auto rep = t.verify();
  EXPECT_TRUE(rep.ok) << rep.bad_seq << ": " << rep.problem;
}

TEST(audit_verify, a_trail_missing_its_first_segment_without_a_prune_record_is_missing) {
  trail t(200, {3, std::chrono::hours(1)});
  t.build(2, 12);
  auto segs = t.segments();
  ASSERT_GE(segs.size(), 3u);
  auto next_first = seq_of(split_lines(slurp(segs[1])).front());
  fs::remove(segs[0]);
  auto rep = t.verify();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.bad_seq, 1);
  EXPECT_TRUE(starts_with(rep.problem, "missing: the trail starts at seq " +
                                           std::to_string(next_first)))
      << rep.problem;
}

}  // namespace
}  // namespace gh::audit
