#include "audit/verify.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "audit/journal.hpp"
#include "audit/writer.hpp"

namespace gh::audit {

namespace fs = std::filesystem;

bool chain_verifier::fail(std::int64_t seq, std::string problem) {
  if (!r_.ok) return false;
  r_.ok = false;
  r_.bad_seq = seq;
  r_.problem = std::move(problem);
  return false;
}

bool chain_verifier::add(std::string_view line) {
  if (!r_.ok) return false;
  ++line_no_;
  std::int64_t expected = expect_seq_ == 0 ? 0 : expect_seq_;
  auto rec = decode_record(line, true);
  if (!rec) {
    // Name the seq the line claims if it can be read at all, else the one expected there.
    std::int64_t seq = expected;
    if (auto loose = decode_record(line, false)) seq = loose->seq;
    return fail(seq == 0 ? line_no_ : seq,
                "modified: " + rec.err() + " (line " + std::to_string(line_no_) + ")");
  }
  if (gap_from_ != 0) {
    // The line after a jump in seqs tells a swap from a deletion.
    if (rec->seq == gap_from_)
      return fail(gap_from_, "reordered: event " + std::to_string(gap_from_) +
                                 " comes after event " + std::to_string(gap_to_));
    return fail(gap_from_, "missing: events " + std::to_string(gap_from_) + ".." +
                               std::to_string(gap_to_ - 1) + " are not in the trail");
  }
  if (expect_seq_ != 0 && rec->seq != expect_seq_) {
    if (rec->seq > expect_seq_) {
      gap_from_ = expect_seq_;
      gap_to_ = rec->seq;
      return true;
    }
    return fail(rec->seq, "reordered: seq " + std::to_string(rec->seq) + " appears where " +
                              std::to_string(expect_seq_) + " belongs");
  }
  if (expect_seq_ == 0) {
    // The first event: either the very first (chained to genesis) or the first one kept after
    // a retention prune, which links to a hash an earlier signed checkpoint vouched for.
    if (rec->seq != 1) {
      // Acceptable only if a signed `audit.pruned` event later in the trail vouches for exactly
      // this cut: checked when it arrives and at the end.
      prune_from_ = rec->seq;
      prune_prev_ = rec->prev_hash;
    } else if (rec->prev_hash != genesis_hash) {
      return fail(1, "chain broken: the first event does not start from the genesis hash");
    }
  } else if (rec->prev_hash != prev_hash_) {
    return fail(rec->seq, "chain broken: prev hash does not match event " +
                              std::to_string(rec->seq - 1));
  }
  if (rec->kind == pruned_kind && prune_from_ != 0 && prune_seq_ == 0) {
    boost::system::error_code ec;
    auto d = boost::json::parse(rec->detail, ec);
    if (!ec && d.is_object()) {
      auto* t = d.as_object().if_contains("pruned_through_seq");
      auto* h = d.as_object().if_contains("head_hash");
      if (t && h && t->is_int64() && h->is_string() && t->as_int64() == prune_from_ - 1 &&
          std::string_view(h->as_string()) == prune_prev_)
        prune_seq_ = rec->seq;
      else if (t && t->is_int64() && t->as_int64() < prune_from_ - 1)
        pruned_through_ = std::max(pruned_through_, t->as_int64());
    }
  }
  if (rec->kind == checkpoint_kind) {
    boost::system::error_code ec;
    auto d = boost::json::parse(rec->detail, ec);
    const boost::json::object* o = (!ec && d.is_object()) ? &d.as_object() : nullptr;
    auto* hs = o ? o->if_contains("head_seq") : nullptr;
    auto* hh = o ? o->if_contains("head_hash") : nullptr;
    auto* kid = o ? o->if_contains("key_id") : nullptr;
    auto* sig = o ? o->if_contains("sig") : nullptr;
    if (!hs || !hh || !kid || !sig || !hs->is_int64() || !hh->is_string() || !kid->is_string() ||
        !sig->is_string())
      return fail(rec->seq, "bad checkpoint: malformed detail");
    if (hs->as_int64() != rec->seq - 1 || std::string_view(hh->as_string()) != rec->prev_hash)
      return fail(rec->seq, "bad checkpoint: it does not sign the event before it");
    std::string key_id(kid->as_string());
    if (!key_id_.empty() && key_id != key_id_)
      return fail(rec->seq, "bad signature: signing key changed from " + key_id_ + " to " + key_id);
    key_id_ = key_id;
    if (key_ != nullptr) {
      if (key_->key_id() != key_id)
        return fail(rec->seq, "bad signature: signed by key " + key_id + ", expected key " +
                                  key_->key_id());
      if (!key_->verify_base64(checkpoint_message(hs->as_int64(), std::string(hh->as_string())),
                               std::string(sig->as_string())))
        return fail(rec->seq, "bad signature: checkpoint signature does not verify");
    }
    ++r_.checkpoints;
    r_.last_signed_seq = rec->seq;
    checkpoints_.emplace_back(rec->seq, rec->hash);
  }
  ++r_.events;
  prev_hash_ = rec->hash;
  last_seq_ = rec->seq;
  expect_seq_ = rec->seq + 1;
  return true;
}

verify_report chain_verifier::finish(const std::optional<std::string>& head_line) {
  if (!r_.ok) return r_;
  if (prune_from_ != 0 && prune_seq_ == 0 && pruned_through_ > 0) {
    // Retention pruned the trail, but more is gone than it pruned.
    fail(pruned_through_ + 1, "missing: events " + std::to_string(pruned_through_ + 1) + ".." +
                                  std::to_string(prune_from_ - 1) +
                                  " are not in the trail (retention pruned only through " +
                                  std::to_string(pruned_through_) + ")");
    return r_;
  }
  if (prune_from_ != 0 && (prune_seq_ == 0 || r_.last_signed_seq <= prune_seq_)) {
    fail(1, "missing: the trail starts at seq " + std::to_string(prune_from_) + " and no signed " +
                "retention record accounts for events 1.." + std::to_string(prune_from_ - 1));
    return r_;
  }
  if (gap_from_ != 0) {
    fail(gap_from_, "missing: events " + std::to_string(gap_from_) + ".." +
                        std::to_string(gap_to_ - 1) + " are not in the trail");
    return r_;
  }
  if (head_line) {
    auto head = decode_record(*head_line, true);
    if (!head || head->kind != checkpoint_kind) {
      fail(0, "the recorded head checkpoint (head.json) is not a valid checkpoint");
      return r_;
    }
    if (head->seq > last_seq_) {
      fail(last_seq_ + 1, "truncated: the trail ends at seq " + std::to_string(last_seq_) +
                              " but a checkpoint at seq " + std::to_string(head->seq) +
                              " was recorded");
      return r_;
    }
    bool found = false;
    for (const auto& [seq, hash] : checkpoints_)
      if (seq == head->seq) found = hash == head->hash;
    if (!found) {
      fail(head->seq, "modified: the checkpoint at seq " + std::to_string(head->seq) +
                          " differs from the recorded head");
      return r_;
    }
  }
  return r_;
}

namespace {
template <typename F>
void each_line(const fs::path& p, F&& f) {
  std::ifstream in(p, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (!f(std::string_view(line))) return;
  }
}
}  // namespace

verify_report verify_journal(const std::string& dir, const verifier* key) {
  std::vector<fs::path> segs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto n = e.path().filename().string();
    if (n.rfind("journal-", 0) == 0 && n.size() > 12 && n.substr(n.size() - 4) == ".log")
      segs.push_back(e.path());
  }
  std::sort(segs.begin(), segs.end());
  chain_verifier v(key);
  for (const auto& s : segs) {
    bool go = true;
    each_line(s, [&](std::string_view l) { return go = v.add(l); });
    if (!go) break;
  }
  std::optional<std::string> head;
  auto hp = fs::path(dir) / head_file;
  if (fs::exists(hp)) {
    std::ifstream in(hp, std::ios::binary);
    std::string line;
    std::getline(in, line);
    head = line;
  }
  return v.finish(head);
}

verify_report verify_file(const std::string& path, const verifier* key) {
  chain_verifier v(key);
  if (!fs::exists(path)) {
    verify_report r;
    r.ok = false;
    r.problem = "cannot read " + path;
    return r;
  }
  each_line(path, [&](std::string_view l) { return v.add(l); });
  return v.finish(std::nullopt);
}

}  // namespace gh::audit
