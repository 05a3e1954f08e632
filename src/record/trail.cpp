#include "record/trail.hpp"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "audit/journal.hpp"
#include "audit/writer.hpp"
#include "core/crypto.hpp"
#include "record/asciicast.hpp"
#include "record/recorder.hpp"

namespace gh::record {

namespace fs = std::filesystem;

std::int64_t recording_info::bytes() const {
  std::int64_t b = 0;
  for (const auto& c : chunks) b += c.bytes;
  return b;
}

namespace {

const boost::json::object* as_object(const boost::json::value& v) { return v.if_object(); }

std::string str_of(const boost::json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t int_of(const boost::json::object& o, const char* k, std::int64_t dflt = -1) {
  auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : dflt;
}

std::string chunk_name(const std::string& id, std::int64_t n) {
  return "recording " + id + " chunk " + std::to_string(n);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Why a chunk file does not match its event, or "" if it does.
std::string mismatch(const std::string& data, const chunk_ref& c) {
  if (static_cast<std::int64_t>(data.size()) != c.bytes)
    return "its size (" + std::to_string(data.size()) + " bytes) is not the " +
           std::to_string(c.bytes) + " bytes the audit trail recorded";
  if (crypto::sha256_hex(data) != c.sha256)
    return "its SHA-256 does not match the hash the audit trail recorded";
  return {};
}

}  // namespace

void trail_builder::add(const store::audit_record& r) {
  if (r.kind == audit::pruned_kind) {
    boost::system::error_code ec;
    auto d = boost::json::parse(r.detail, ec);
    if (!ec && d.is_object())
      t_.pruned_through = std::max(t_.pruned_through, int_of(d.as_object(), "pruned_through_seq", 0));
    return;
  }
  if (r.kind != start_kind && r.kind != chunk_kind && r.kind != end_kind) return;
  boost::system::error_code ec;
  auto d = boost::json::parse(r.detail, ec);
  const boost::json::object* o = ec ? nullptr : as_object(d);
  if (o == nullptr) return;
  std::string id = str_of(*o, "recording");
  if (id.empty()) return;
  auto& rec = t_.recordings[id];
  rec.id = id;
  if (r.kind == start_kind) {
    rec.start_seq = r.seq;
    auto* in = o->if_contains("input");
    rec.input = in && in->is_bool() && in->as_bool();
  } else if (r.kind == chunk_kind) {
    rec.chunks.push_back({int_of(*o, "chunk"), r.seq, int_of(*o, "bytes"), str_of(*o, "sha256")});
  } else {
    rec.end_seq = r.seq;
    rec.declared_chunks = int_of(*o, "chunks");
    rec.duration_us = r.duration_us;
  }
}

result<recording_trail> read_trail(const std::string& journal_dir, std::string_view only_id) {
  trail_builder b;
  std::string prev_hash;
  std::int64_t prev_seq = 0;
  std::string problem;
  std::string line;
  auto s = audit::journal::read(journal_dir, 0, [&](audit::record&& r) {
    if (!problem.empty()) return;
    // The journal reader checks the form, not the hash: recompute it, and the link.
    audit::record copy = r;
    line.clear();
    audit::encode_record(copy, r.prev_hash, line);
    if (copy.hash != r.hash) {
      problem = "the audit trail is damaged at seq " + std::to_string(r.seq) +
                " (its hash does not match; run `gatehouse audit verify`)";
      return;
    }
    if (prev_seq != 0 && (r.seq != prev_seq + 1 || r.prev_hash != prev_hash)) {
      problem = "the audit trail is damaged at seq " + std::to_string(r.seq) +
                " (not chained to the event before it; run `gatehouse audit verify`)";
      return;
    }
    prev_seq = r.seq;
    prev_hash = r.hash;
    if (only_id.empty() || r.kind == audit::pruned_kind || r.session_id == only_id) b.add(r);
  });
  if (!s) return error{s.err()};
  if (!problem.empty()) return make_error(problem);
  auto t = b.take();
  if (!only_id.empty())
    for (auto it = t.recordings.begin(); it != t.recordings.end();)
      it = it->first == only_id ? std::next(it) : t.recordings.erase(it);
  return t;
}

std::optional<chunk_problem> check_chunks(const std::string& state_dir, const recording_trail& t,
                                          std::int64_t* checked) {
  std::int64_t n = 0;
  for (const auto& [id, rec] : t.recordings) {
    std::set<std::int64_t> chained;
    for (const auto& c : rec.chunks) {
      chained.insert(c.chunk);
      if (!valid_recording_id(id))
        return chunk_problem{c.seq, "recording '" + id + "' has a name that cannot be a folder"};
      auto data = read_file(chunk_path(state_dir, id, c.chunk));
      if (!data) {
        if (c.seq <= t.pruned_through) continue;  // removed by retention, under its mark
        return chunk_problem{c.seq, "missing: " + chunk_name(id, c.chunk) + " is not on disk (" +
                                        chunk_path(state_dir, id, c.chunk) + ")"};
      }
      if (auto why = mismatch(*data, c); !why.empty())
        return chunk_problem{c.seq, "modified: " + chunk_name(id, c.chunk) + ": " + why};
      ++n;
    }
    if (rec.end_seq != 0 && rec.declared_chunks >= 0 &&
        rec.declared_chunks != static_cast<std::int64_t>(rec.chunks.size()) &&
        rec.chunks.empty() == false && rec.chunks.front().seq > t.pruned_through)
      return chunk_problem{rec.end_seq, "recording " + id + " ended with " +
                                            std::to_string(rec.declared_chunks) +
                                            " chunks but the trail has " +
                                            std::to_string(rec.chunks.size())};
    // A chunk file no event vouches for, in a recording that has ended: planted or left over.
    if (rec.end_seq == 0 || !valid_recording_id(id)) continue;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(recordings_dir(state_dir)) / id, ec)) {
      auto name = e.path().filename().string();
      if (name.size() != 11 || !name.ends_with(".cast")) continue;
      std::int64_t num = std::atoll(name.substr(0, 6).c_str());
      if (!chained.count(num))
        return chunk_problem{rec.end_seq, "unchained: " + chunk_name(id, num) +
                                              " is on disk but no audit event vouches for it"};
    }
  }
  if (checked) *checked = n;
  return std::nullopt;
}

result<std::string> load_recording(const std::string& state_dir, const recording_info& r) {
  if (r.chunks.empty()) {
    if (r.start_seq == 0 && r.end_seq == 0) return make_error("no terminal recording " + r.id);
    return make_error("recording " + r.id + " has no chunks in the audit trail" +
                      (r.end_seq == 0 ? " (it has not ended: live, or the gateway stopped)" : ""));
  }
  std::string all;
  std::int64_t expect = 1;
  for (const auto& c : r.chunks) {
    if (c.chunk != expect)
      return make_error(expect == 1
                            ? "recording " + r.id + " starts at chunk " + std::to_string(c.chunk) +
                                  ": earlier chunks were removed from the audit trail"
                            : "recording " + r.id + ": chunk " + std::to_string(c.chunk) +
                                  " (seq " + std::to_string(c.seq) + ") follows chunk " +
                                  std::to_string(expect - 1));
    ++expect;
    auto data = read_file(chunk_path(state_dir, r.id, c.chunk));
    if (!data)
      return make_error("refusing to replay: " + chunk_name(r.id, c.chunk) + " (seq " +
                        std::to_string(c.seq) + ") is missing from disk");
    if (auto why = mismatch(*data, c); !why.empty())
      return make_error("refusing to replay: " + chunk_name(r.id, c.chunk) + " (seq " +
                        std::to_string(c.seq) + ") was modified: " + why);
    all += *data;
  }
  if (r.end_seq != 0 && r.declared_chunks >= 0 &&
      r.declared_chunks != static_cast<std::int64_t>(r.chunks.size()))
    return make_error("refusing to replay: recording " + r.id + " ended with " +
                      std::to_string(r.declared_chunks) + " chunks but the audit trail has " +
                      std::to_string(r.chunks.size()));
  return all;
}

status play(std::string_view cast_text, double speed,
            const std::function<void(std::string_view)>& write,
            const std::function<void(std::int64_t)>& sleep, std::int64_t max_pause_us) {
  auto c = parse_cast(cast_text);
  if (!c) return make_error("recording is not valid asciicast v2: " + c.err());
  std::int64_t prev = 0;
  for (const auto& e : c->events) {
    if (e.code != 'o') continue;
    if (speed > 0) {
      auto pause = static_cast<std::int64_t>(static_cast<double>(e.t_us - prev) / speed);
      if (pause > 0) sleep(std::min(pause, max_pause_us));
    }
    prev = e.t_us;
    write(e.data);
  }
  return {};
}

}  // namespace gh::record
