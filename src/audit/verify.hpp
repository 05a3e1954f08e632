#pragma once
// Offline verification of an audit trail: every line canonical and hashing to its stated hash,
// seqs contiguous, each event chained to the one before, every checkpoint signed by the expected
// key over the head it names, and the trail not cut back past the newest checkpoint on record.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/signer.hpp"

namespace gh::audit {

struct verify_report {
  bool ok = true;
  std::int64_t events = 0;
  std::int64_t checkpoints = 0;
  std::int64_t last_signed_seq = 0;  // events after it are chained but not yet signed
  std::int64_t bad_seq = 0;          // the first event that fails (0 if none)
  std::string problem;               // what is wrong with it
};

class chain_verifier {
 public:
  // `key` may be null: then signatures are not checked (and the report says so via problem).
  explicit chain_verifier(const verifier* key) : key_(key) {}
  // Feeds one line (without its newline). Returns false once the trail has failed.
  bool add(std::string_view line);
  // Ends the trail. `head_line`: the newest checkpoint as kept beside the journal, if any.
  verify_report finish(const std::optional<std::string>& head_line);

 private:
  bool fail(std::int64_t seq, std::string problem);

  const verifier* key_;
  verify_report r_;
  std::int64_t expect_seq_ = 0;  // 0: whatever the first event says (a pruned trail)
  std::string prev_hash_;
  std::string key_id_;
  std::int64_t line_no_ = 0;
  std::int64_t gap_from_ = 0, gap_to_ = 0;
  // A trail that starts after seq 1 (retention) and the pruned event that accounts for it.
  std::int64_t prune_from_ = 0;
  std::string prune_prev_;
  std::int64_t prune_seq_ = 0;  // the `audit.pruned` event that accounts for the cut
  std::int64_t pruned_through_ = 0;  // what a pruned event that does not account for it says
  std::string last_hash_;
  std::int64_t last_seq_ = 0;
  // Hashes of checkpointed heads, to match head.json against.
  std::vector<std::pair<std::int64_t, std::string>> checkpoints_;
};

// Verifies a journal directory (all segments in order).
[[nodiscard]] verify_report verify_journal(const std::string& dir, const verifier* key);
// Verifies a file of journal lines (`audit export --format chain`).
[[nodiscard]] verify_report verify_file(const std::string& path, const verifier* key);

}  // namespace gh::audit
