#pragma once
// The audit journal: the append-only file every audit event reaches before the action it
// describes happens. One line per event, a JSON object with keys in a fixed order (the canonical
// form, see docs/AUDIT.md). Segments `journal-<first seq, 20 digits>.log` in one directory,
// rotated by size. A torn last line (crash mid-write) is cut off when the journal is opened.
// Not thread-safe: the audit writer serialises access.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "store/record.hpp"

namespace gh::audit {

using record = store::audit_record;

// The hash of "no previous event": 64 zeros.
extern const std::string genesis_hash;

// Appends the journal line for `r` (with its seq) chained to `prev_hash` to `out`, newline
// included; sets r.prev_hash and r.hash.
void encode_record(record& r, std::string_view prev_hash, std::string& out);
// Parses a journal line (without its newline). Also checks the line is exactly the canonical
// encoding of what it holds and that its hash matches; `verified=false` skips the hash check.
[[nodiscard]] result<record> decode_record(std::string_view line, bool verified = true);

enum class sync_mode {
  write,  // in the OS page cache when write(2) returns: survives kill -9 of the gateway
  fsync,  // fdatasync per batch: survives power loss too, costs a disk flush per group commit
};

class journal {
 public:
  // Opens (creating) the journal in `dir`. `min_next_seq` lets a journal started beside an
  // existing store continue its numbering.
  [[nodiscard]] static result<std::unique_ptr<journal>> open(const std::string& dir,
                                                             sync_mode mode,
                                                             std::int64_t min_next_seq = 1,
                                                             std::size_t segment_bytes = 64u << 20);
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  [[nodiscard]] std::int64_t next_seq() const { return next_seq_; }
  [[nodiscard]] const std::string& last_hash() const { return last_hash_; }
  // Writes encoded lines holding seqs next_seq() .. next_seq()+count-1 whose last hash is
  // `new_last_hash`, all or nothing: on any failure the file is cut back to where it was and
  // next_seq()/last_hash() are unchanged.
  [[nodiscard]] status append(std::string_view lines, std::int64_t count,
                              const std::string& new_last_hash);

  struct segment_info {
    std::string path;
    std::int64_t first_seq = 0;
    std::int64_t last_seq = 0;  // 0: empty
    std::int64_t last_ts_us = 0;
    std::string last_hash;
  };
  // The segments in order (reads each one's last line).
  [[nodiscard]] static result<std::vector<segment_info>> list_segments(const std::string& dir);

  // Calls fn for every record with seq > after, in order, across segments.
  [[nodiscard]] static status read(const std::string& dir, std::int64_t after,
                                   const std::function<void(record&&)>& fn);

 private:
  journal(std::string dir, sync_mode mode, std::size_t segment_bytes)
      : dir_(std::move(dir)), mode_(mode), segment_bytes_(segment_bytes) {}
  [[nodiscard]] status open_segment(std::int64_t first_seq);

  std::string dir_;
  sync_mode mode_;
  std::size_t segment_bytes_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::int64_t next_seq_ = 1;
  std::string last_hash_;
};

}  // namespace gh::audit
