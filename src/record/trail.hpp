#pragma once
// Recordings as the audit chain describes them, and checking the chunk files on disk against it.
// Used by `gatehouse replay`, `sessions show/list` and `audit verify`.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "store/record.hpp"

namespace gh::record {

struct chunk_ref {
  std::int64_t chunk = 0;
  std::int64_t seq = 0;  // of its `recording.chunk` event
  std::int64_t bytes = 0;
  std::string sha256;
};

struct recording_info {
  std::string id;
  std::int64_t start_seq = 0;  // 0: its start is not in the trail (pruned, or never recorded)
  std::int64_t end_seq = 0;    // 0: not ended (live, or the gateway stopped before close)
  std::int64_t declared_chunks = -1;  // what `recording.end` says
  std::int64_t duration_us = -1;
  bool input = false;
  std::vector<chunk_ref> chunks;  // in trail order
  [[nodiscard]] std::int64_t bytes() const;
};

struct recording_trail {
  std::map<std::string, recording_info> recordings;
  std::int64_t pruned_through = 0;  // the highest seq an `audit.pruned` event removed
};

// Collects recordings from audit records (any order of calls, trail order). Pure.
class trail_builder {
 public:
  void add(const store::audit_record& r);
  [[nodiscard]] recording_trail take() { return std::move(t_); }

 private:
  recording_trail t_;
};

// Reads the journal in `journal_dir`, checking each event's hash and its link to the one before
// (a recording is only as trustworthy as the events that vouch for it), and collects recordings
// (only `only_id` if given). An error names the seq where the trail is damaged.
[[nodiscard]] result<recording_trail> read_trail(const std::string& journal_dir,
                                                 std::string_view only_id = {});

struct chunk_problem {
  std::int64_t seq = 0;  // the event that vouches for the chunk (0: none does)
  std::string what;      // names the recording and the chunk
};

// Checks the chunk files of every recording in `t` (audit verify). A chunk file that is missing is
// fine only if its event lies at or below the retention mark; a chunk file of an ended recording
// that no event vouches for is a problem too. Returns the first problem, and counts what it checked.
[[nodiscard]] std::optional<chunk_problem> check_chunks(const std::string& state_dir,
                                                        const recording_trail& t,
                                                        std::int64_t* checked = nullptr);

// The recording's chunks concatenated, each checked against its chained hash and size first;
// an error says why it cannot be trusted (tampered, missing, removed by retention, not ended).
[[nodiscard]] result<std::string> load_recording(const std::string& state_dir,
                                                 const recording_info& r);

// Plays `cast` (asciicast v2): output events are passed to `write` in order; `sleep` is called
// with the pause before each one, the recorded pause divided by `speed` (speed 0: never called)
// and capped at `max_pause_us`. Input and resize events are not played.
[[nodiscard]] status play(std::string_view cast_text, double speed,
                          const std::function<void(std::string_view)>& write,
                          const std::function<void(std::int64_t)>& sleep,
                          std::int64_t max_pause_us = 5'000'000);

}  // namespace gh::record
