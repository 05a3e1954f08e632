#pragma once
// The terminal recorder: what a terminal (SSH) session's proxy feeds with the bytes it relays.
// It writes an asciicast v2 recording (docs/AUDIT.md, "Terminal recordings"):
//
//   output/input bytes -> stream_masker (DLP, carry-over across feeds) -> asciicast events
//   -> buffered into chunks -> state_dir/recordings/<session>/NNNNNN.cast (temp, fsync, rename)
//   -> `recording.chunk` event {recording, chunk, sha256, bytes} in the audit chain
//
// A chunk is recorded only once its event is on record. Every failure (disk, audit trail) is
// sticky and returned from every later call: the caller must cut the session (fail closed).
// Masked values never reach disk: the masker runs before anything is encoded.
//
// Not thread-safe: one recorder per session, fed from the session's own thread. Chunk writes are
// blocking file I/O (one fsync per chunk, every chunk_size bytes or chunk_interval).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "dlp/dlp.hpp"
#include "record/asciicast.hpp"
#include "record/stream_mask.hpp"
#include "store/record.hpp"

namespace gh::audit {
class writer;
}

namespace gh::record {

// Event kinds in the audit chain.
inline constexpr std::string_view start_kind = "recording.start";
inline constexpr std::string_view chunk_kind = "recording.chunk";
inline constexpr std::string_view end_kind = "recording.end";

// Where recordings live: state_dir/recordings/<session id>/NNNNNN.cast (chunk 1 holds the header;
// the chunks concatenated in order are one asciicast v2 file).
[[nodiscard]] std::string recordings_dir(const std::string& state_dir);
[[nodiscard]] std::string chunk_path(const std::string& state_dir, std::string_view id,
                                     std::int64_t chunk);
// A session id is used as a directory name: [A-Za-z0-9_.-]+, not "." or "..".
[[nodiscard]] bool valid_recording_id(std::string_view id);

// Where the recorder's audit events go. append() returns once the event is on record: "" or
// why it is not.
class audit_sink {
 public:
  virtual ~audit_sink() = default;
  [[nodiscard]] virtual std::string append(store::audit_record r) = 0;
};

// The gateway's audit writer as a sink (blocks the calling thread until the journal write that
// holds the event returned).
class writer_sink final : public audit_sink {
 public:
  explicit writer_sink(audit::writer& w) : w_(w) {}
  [[nodiscard]] std::string append(store::audit_record r) override;

 private:
  audit::writer& w_;
};

struct recorder_options {
  std::string state_dir;
  // Copied into every audit event.
  std::string session_id;
  std::string user;
  std::string groups;
  std::string connection;
  std::string client;
  unsigned width = 80;
  unsigned height = 24;
  std::vector<std::pair<std::string, std::string>> env;  // TERM, SHELL for the header
  bool record_input = false;
  std::size_t chunk_bytes = 64u << 10;
  std::chrono::milliseconds chunk_interval{5000};
  // The connection's masking engine, or the built-in default policy's (dlp::default_policy()).
  // Exempt groups do not apply: recordings are stored, and stored PHI is always masked.
  std::shared_ptr<const dlp::engine> masking;
  stream_mask_options mask;
};

struct recording_summary {
  std::int64_t chunks = 0;  // written and chained
  std::int64_t bytes = 0;   // in those chunks
  std::int64_t events = 0;
  std::int64_t duration_us = 0;
};

class terminal_recorder {
  struct token {
    explicit token() = default;
  };

 public:
  using clock = std::chrono::steady_clock;

  // Creates the recording's directory and records `recording.start`; fails if either fails (the
  // session must not start unrecorded) or if the directory already holds a recording.
  [[nodiscard]] static result<std::unique_ptr<terminal_recorder>> open(recorder_options o,
                                                                      audit_sink& sink,
                                                                      clock::time_point start);
  // Use open(); public only for std::make_unique.
  terminal_recorder(token, recorder_options o, audit_sink& sink, clock::time_point start);
  ~terminal_recorder();
  terminal_recorder(const terminal_recorder&) = delete;
  terminal_recorder& operator=(const terminal_recorder&) = delete;

  // Bytes the target sent to the user's terminal.
  [[nodiscard]] status output(std::string_view bytes, clock::time_point t);
  // Bytes the user typed; dropped unless record_input.
  [[nodiscard]] status input(std::string_view bytes, clock::time_point t);
  [[nodiscard]] status resize(unsigned cols, unsigned rows, clock::time_point t);
  // Writes the buffered events as a chunk if the oldest has waited chunk_interval (call it from
  // a timer so a quiet session's last output reaches disk).
  [[nodiscard]] status tick(clock::time_point t);
  // Releases the carried text, writes the last chunk and records `recording.end`. Idempotent.
  [[nodiscard]] status close(clock::time_point t, std::string_view reason = {});

  [[nodiscard]] const recording_summary& summary() const { return sum_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  // Findings masked so far (output and input), per detector.
  [[nodiscard]] std::string masked_json() const;

 private:
  [[nodiscard]] std::int64_t offset(clock::time_point t);
  [[nodiscard]] status add(const std::vector<masked_piece>& pieces, char code);
  [[nodiscard]] status add_line(std::int64_t t_us, char code, std::string_view data);
  [[nodiscard]] status write_chunk();
  [[nodiscard]] status fail(std::string why);
  [[nodiscard]] store::audit_record event(std::string_view kind) const;

  recorder_options o_;
  audit_sink& sink_;
  clock::time_point start_;
  std::int64_t start_wall_us_ = 0;
  std::string dir_;
  stream_masker out_mask_;
  std::optional<stream_masker> in_mask_;
  std::vector<masked_piece> pieces_;
  std::string buf_;                   // encoded lines of the next chunk
  std::int64_t buf_first_t_us_ = -1;  // time of its first event
  std::int64_t last_t_us_ = 0;
  std::int64_t last_line_t_us_ = 0;
  recording_summary sum_;
  std::string failed_;  // sticky
  bool closed_ = false;
};

}  // namespace gh::record
