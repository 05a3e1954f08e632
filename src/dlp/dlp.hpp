#pragma once
// gh::dlp — the PHI masking engine. See src/dlp/README.md for the data-path contract.
//
//   policy  (per connection, from config)  -> engine (immutable, shared by all threads)
//   scanner (per session, not thread-safe) -> scan a batch of cells, then mask cell by cell
//
// Nothing here logs, and no error message ever contains a scanned value.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace gh::config {
struct masking_config;
}

namespace gh::dlp {

enum class action : std::uint8_t { redact, partial, hash, null };

// What the column holds, as the caller knows it from RowDescription. It decides what a masked value
// becomes so that it stays valid for the type: text gets the tag/token, number -> "0",
// date -> "1900-01-01", timestamp -> "1900-01-01 00:00:00", other -> NULL.
enum class value_kind : std::uint8_t { text, number, date, timestamp, other };

[[nodiscard]] std::string_view to_string(action a);
[[nodiscard]] std::string_view to_string(value_kind k);

// PostgreSQL built-in type OID -> value_kind. Text-like types (text, varchar, bpchar, name, char,
// json, xml, unknown, and text[]/varchar[] in text format) are `text`; int2/4/8, float4/8,
// numeric, oid are `number`; date, timestamp(tz) as named; everything else `other`. In binary
// format only text/varchar/bpchar/name/char/unknown stay `text` (their binary form is the text);
// the rest are `other`, so a masked binary value becomes NULL rather than invalid bytes.
[[nodiscard]] value_kind kind_of_pg_type(std::uint32_t type_oid, bool binary_format);

// The HMAC key of the `hash` action: 32 random bytes. Tokens are stable per key, so joins on a
// hashed column still work and a token means nothing without the key.
class hash_key {
 public:
  static constexpr std::size_t size = 32;
  explicit hash_key(std::span<const std::uint8_t, size> bytes);
  hash_key(const hash_key& other);
  hash_key& operator=(const hash_key& other);
  ~hash_key();
  [[nodiscard]] std::span<const std::uint8_t, size> bytes() const { return bytes_; }

 private:
  std::array<std::uint8_t, size> bytes_{};
};

// Loads STATE_DIR/dlp.key, or creates it once (32 CSPRNG bytes, mode 0600, published atomically
// with link(2) so concurrent starters agree on one key). Refuses a key file that is not a regular
// file of exactly 32 bytes or that group/others can read.
[[nodiscard]] result<hash_key> load_or_create_key(const std::string& state_dir);

struct rule_action {
  action act = action::redact;
  std::string replacement;  // redact: fixed text; empty -> the detector's tag ("[SSN]")
};

struct detector_info {
  std::string id;           // "us_ssn"; custom detectors keep their config id
  std::string tag;          // redact text by default: "[SSN]"
  std::string description;  // one line, for docs and `gatehouse mask --list`
  float confidence = 0;     // how likely a validated hit is the real thing (0..1)
  bool builtin = true;
  rule_action action;  // what a hit becomes in this engine
};

// The built-in detector ids, in engine numbering order (same list as config::builtin_detector_ids).
[[nodiscard]] std::span<const std::string_view> builtin_detector_ids();
// Metadata of a built-in detector (id, tag, description, confidence); nullptr if unknown.
[[nodiscard]] const detector_info* builtin_detector(std::string_view id);

struct column_rule {
  std::string match;  // Hyperscan syntax, searched in the column name
  rule_action action;
  std::string where;  // "FILE:LINE: path" of the rule, for messages
};

struct custom_detector_spec {
  std::string id;
  std::string pattern;    // Hyperscan syntax; the whole (leftmost-start) match is the value
  std::string validator;  // "", "luhn", "mod97", "ssn", "npi"
  std::vector<std::string> context;  // lowercase words; one must occur within 48 bytes
  std::optional<rule_action> action;
  std::string where;  // "FILE:LINE: path" of the pattern, for compile errors
};

// Everything an engine is compiled from. compile_policy() fills it from config; tests and
// benchmarks may build one directly.
struct engine_options {
  bool all_builtins = true;
  std::vector<std::string> builtins;  // used when !all_builtins
  std::vector<custom_detector_spec> custom;
  std::string mrn_pattern;  // replaces the default labelled MRN forms (whole match is the value)
  std::string mrn_where;
  rule_action default_action;
  std::vector<std::pair<std::string, rule_action>> actions;  // per detector id
  std::vector<column_rule> columns;                          // ordered; first match wins
  bool typed_null = false;  // number/date/timestamp columns get NULL instead of a placeholder
  std::optional<hash_key> key;  // required when any action is hash
};

class scanner;

// Detectors, validators, actions and column rules compiled into Hyperscan databases. Immutable
// once built; share it between threads as std::shared_ptr<const engine>.
class engine {
  struct token {
    explicit token() = default;
  };

 public:
  struct impl;
  engine(token, std::unique_ptr<impl> p);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  [[nodiscard]] static result<std::shared_ptr<const engine>> compile(const engine_options& opts);

  [[nodiscard]] std::size_t detector_count() const;
  [[nodiscard]] const detector_info& detector(std::uint16_t index) const;
  [[nodiscard]] std::optional<std::uint16_t> find_detector(std::string_view id) const;
  [[nodiscard]] std::span<const column_rule> column_rules() const;
  [[nodiscard]] bool typed_null() const;
  [[nodiscard]] const impl& internals() const { return *impl_; }

 private:
  std::unique_ptr<impl> impl_;
};

// A validated hit. begin/end are byte offsets inside the cell (not the batch).
struct finding {
  std::uint32_t cell = 0;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint16_t detector = 0;
  friend bool operator==(const finding&, const finding&) = default;
};

// What was masked, for the audit event: hits per detector and masked cells per column. Never values.
// Column slots are assigned once per RowDescription (column()); add() is then allocation-free.
class counts {
 public:
  static constexpr std::uint32_t no_column = UINT32_MAX;

  // Slot for a column name; allocates only the first time a name is seen.
  [[nodiscard]] std::uint32_t column(std::string_view name);
  void add_detector(std::uint16_t detector, std::uint64_t n = 1);
  void add_column(std::uint32_t slot, std::uint64_t n = 1);
  // Zeroes the numbers, keeps the column slots (so a result's slots stay valid across statements).
  void reset();
  // Drops slots too.
  void clear();
  void merge(const counts& other);  // adds other's numbers (columns matched by name)
  [[nodiscard]] bool empty() const;
  [[nodiscard]] std::uint64_t detector_hits(std::uint16_t detector) const;
  [[nodiscard]] std::uint64_t column_hits(std::string_view name) const;
  [[nodiscard]] std::uint64_t total() const;  // all detector hits
  // {"detectors":{"us_ssn":3},"columns":{"ssn":10}} — zero entries omitted, keys sorted.
  [[nodiscard]] std::string to_json(const engine& e) const;

 private:
  std::vector<std::uint64_t> detectors_;
  std::vector<std::string> column_names_;
  std::vector<std::uint64_t> column_counts_;
};

enum class mask_outcome : std::uint8_t { value, null };

// How the data path treats one result column (see scanner::plan).
enum class column_mode : std::uint8_t {
  pass,   // forward unchanged (typed column, no rule)
  scan,   // run the detectors over the value
  whole,  // a column rule matched: mask the whole value, no scanning
};

struct column_desc {
  std::string_view name;
  value_kind kind = value_kind::text;  // from kind_of_pg_type(oid, binary)
};

struct column_plan {
  column_mode mode = column_mode::pass;
  value_kind kind = value_kind::text;
  const column_rule* rule = nullptr;  // set for whole
  std::uint32_t slot = counts::no_column;
};

// Walks findings sorted by cell; next(cell) returns that cell's findings. Cells must be asked for
// in increasing order. No allocation.
class finding_cursor {
 public:
  explicit finding_cursor(std::span<const finding> f) : f_(f) {}
  [[nodiscard]] std::span<const finding> next(std::uint32_t cell);

 private:
  std::span<const finding> f_;
  std::size_t pos_ = 0;
};

// Per session: owns the Hyperscan scratch and every buffer a scan needs, reused across calls, so
// the data path allocates nothing per row once warm. Not thread-safe; one per session.
class scanner {
 public:
  explicit scanner(std::shared_ptr<const engine> e);
  ~scanner();
  scanner(scanner&&) noexcept;
  scanner& operator=(scanner&&) noexcept;
  scanner(const scanner&) = delete;
  scanner& operator=(const scanner&) = delete;

  // Scans all cells with as few Hyperscan calls as possible (cells are concatenated with a NUL
  // separator no detector can match across). `out` is cleared, then filled with validated
  // findings sorted by (cell, begin); overlapping hits in a cell are merged into one. Returns
  // out.size(); 0 means every cell can be forwarded unchanged.
  std::size_t scan(std::span<const std::string_view> cells, std::vector<finding>& out);

  // Appends the masked form of `cell` (given its findings from scan(), possibly empty) to `out`.
  // Returns null when the value must become SQL NULL (nothing is appended then): a `null` action
  // hit, a typed column with typed_null, or kind other. Counts each finding; `slot` (from
  // counts::column) counts the cell once under its column.
  [[nodiscard]] mask_outcome mask_cell(std::string_view cell, std::span<const finding> f,
                                       value_kind kind, std::string& out, counts& c,
                                       std::uint32_t slot = counts::no_column);

  // Column rule: masks the whole value regardless of content (appends to `out`).
  [[nodiscard]] mask_outcome mask_whole(std::string_view cell, const column_rule& rule,
                                        value_kind kind, std::string& out, counts& c,
                                        std::uint32_t slot = counts::no_column);

  // Free text (statement text, notices, errors, CLI lines): never NULL — a `null` action becomes
  // the tag. The first form appends to `out`.
  void mask_text(std::string_view text, std::string& out, counts& c);
  [[nodiscard]] std::string mask_text(std::string_view text, counts& c);
  // Same for a cell already scanned in a batch (many notices or CLI lines in one scan()).
  void mask_text(std::string_view text, std::span<const finding> f, std::string& out, counts& c);

  // The first column rule whose pattern matches `name`, or nullptr.
  [[nodiscard]] const column_rule* column(std::string_view name);

  // Per RowDescription: decides pass/scan/whole for each column and assigns count slots.
  // text and other columns are scanned; number/date/timestamp columns pass unless a rule matches.
  void plan(std::span<const column_desc> cols, std::vector<column_plan>& out, counts& c);

  [[nodiscard]] const engine& get_engine() const { return *engine_; }

  struct state;  // buffers and scratch; public only so the implementation's helpers can name it

 private:
  std::shared_ptr<const engine> engine_;
  std::unique_ptr<state> st_;
};

// A connection's masking policy: the engine plus who is exempt.
class policy {
 public:
  policy(std::shared_ptr<const engine> e, std::vector<std::string> except_groups);
  [[nodiscard]] const std::shared_ptr<const engine>& engine_ptr() const { return engine_; }
  [[nodiscard]] std::span<const std::string> except_groups() const { return except_groups_; }
  // True if any of `groups` is an except group: the session sees clear values (and the audit
  // event says so).
  [[nodiscard]] bool exempt(std::span<const std::string> groups) const;

 private:
  std::shared_ptr<const engine> engine_;
  std::vector<std::string> except_groups_;
};

// config -> policy. `key` is needed only when the block uses `hash` (else it may be null); errors
// name the config file, line and key path.
[[nodiscard]] result<std::shared_ptr<const policy>> compile_policy(const config::masking_config& m,
                                                                   const hash_key* key);
// Every built-in detector with redact: what `gatehouse mask` uses without a config.
[[nodiscard]] result<std::shared_ptr<const policy>> default_policy();

// Checksums and rules shared by built-in and custom validators (exposed for tests and tools).
[[nodiscard]] bool luhn_valid(std::string_view digits);
[[nodiscard]] bool iban_mod97_valid(std::string_view alnum);  // spaces ignored
[[nodiscard]] bool ssn_valid(std::string_view digits9);
[[nodiscard]] bool npi_valid(std::string_view digits10);

}  // namespace gh::dlp
