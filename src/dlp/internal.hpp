#pragma once
// Implementation details of the masking engine shared by its .cpp files. Not part of the API.
#include <hs.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dlp/dlp.hpp"

namespace gh::dlp::detail {

// The built-in detectors, in builtin_detector_ids() order.
enum class builtin : std::uint8_t {
  us_ssn,
  payment_card,
  email,
  phone,
  dob,
  mrn,
  npi,
  ipv4,
  ipv6,
  iban,
  us_passport,
  drivers_license,
  street_address,
};
inline constexpr std::size_t builtin_count = 13;

// What a pattern is a trigger for. Hyperscan only finds cheap triggers — one shared "digit run"
// pattern, label literals, '@', '::', street suffixes — and the validator for the trigger parses
// the value around the match end (built-in patterns are compiled without start-of-match, which
// costs Hyperscan speed). Custom patterns use HS_FLAG_SOM_LEFTMOST and take the whole match.
enum class check : std::uint8_t {
  number,          // >= 9 digits with small separator gaps, or a dotted quad: SSN, card, NPI,
                   // phone, IBAN, IPv4 are decided at each digit-group end of the run
  email,           // x@y
  ipv6,            // "::" or four colon-separated hex groups
  address,         // a street suffix that names a street on its own ("Street", "Ave")
  dob_label,       // DOB / born / date of birth ... then a date
  mrn_label,       // MRN / medical record ... then the number
  passport_label,  // passport ... then the number
  dl_label,        // driver's licence / DL ... then the number
  address_label,   // "lives at", "Address:" ... then a street address
  som_whole,       // custom detectors and a configured mrn_pattern
};

// How a value is normalised before hashing, so "123-45-6789" and "123456789" get one token.
enum class normalise : std::uint8_t { raw, digits, alnum_upper, lower };

enum class custom_validator : std::uint8_t { none, luhn, mod97, ssn, npi };

struct builtin_def {
  detector_info info;
  normalise norm;
};

// The built-in table, in builtin_detector_ids() order.
[[nodiscard]] const std::vector<builtin_def>& builtins();

// A label or street-suffix literal that triggers a validator at its end.
struct literal_trigger {
  std::string text;  // lowercase when caseless
  bool caseless = false;
  bool word_bounds = false;  // like \bDL\b: no word character on either side
  check kind = check::som_whole;
  std::uint8_t label_len = 0;
  // Filled by trigger_set::build(): the literal's first and last (up to) 8 bytes as
  // little-endian words, with the case-folding bits and the bytes that count, for a compare with
  // two loads.
  std::uint64_t head = 0, head_fold = 0, head_mask = 0;
  std::uint64_t tail = 0, tail_fold = 0, tail_mask = 0;
};

// A trigger found by find_triggers(): `end` is the offset just past the match (for the digit
// trigger: just past the digits), `what` a literal index or one of the what_* codes.
struct trigger {
  std::uint32_t end = 0;
  std::uint16_t what = 0;
};

// The built-in triggers of an engine, compiled for the prefilter (prefilter.cpp).
struct trigger_set {
  static constexpr std::uint16_t what_number = 0xFFFF;  // check::number
  static constexpr std::uint16_t what_email = 0xFFFE;   // check::email
  static constexpr std::uint16_t what_ipv6 = 0xFFFD;    // check::ipv6
  static constexpr std::size_t max_buckets = 8;

  bool numbers = false;  // the digit trigger: SSN, card, phone, NPI, IBAN, IPv4
  bool email = false;
  bool ipv6 = false;
  std::vector<literal_trigger> literals;
  // Filled by build(): literal indexes per bucket, exact per-byte bucket sets for the first four
  // bytes of a match, and the same as nibble tables for the vector filter.
  std::array<std::vector<std::uint16_t>, max_buckets> buckets;
  static constexpr std::size_t filter_bytes = 4;
  std::array<std::array<std::uint8_t, 256>, filter_bytes> byte_sets{};
  std::array<std::array<std::uint8_t, 32>, filter_bytes> nibbles{};  // [0,16) low, [16,32) high

  // Filled by build() for the AVX-512 exact compare (prefilter.cpp): per bucket, its literals
  // (at most row_literals, each at most 16 bytes; else `rows_ok` is false) as 16-byte lanes of
  // qword pairs — bytes, case-fold bits (0x20 on caseless letters), bytes that count — so that
  // one 16-byte load at a position, broadcast, compares with every literal of the bucket at once.
  static constexpr std::size_t row_literals = 8;
  struct literal_rows {
    std::array<std::uint64_t, 2 * row_literals> value{}, fold{}, mask{};
    std::array<std::uint16_t, row_literals> literal{};  // index into literals
  };
  std::array<literal_rows, max_buckets> rows{};
  bool rows_ok = false;

  void add_literal(std::string text, bool caseless, bool word_bounds, check kind,
                   std::uint8_t label_len);
  void build();
  [[nodiscard]] bool empty() const { return !numbers && !email && !ipv6 && literals.empty(); }
};

// The triggers of the enabled built-ins (`mrn_labels` false when a configured mrn_pattern
// replaces the labelled forms), built.
[[nodiscard]] trigger_set builtin_triggers(const std::array<bool, builtin_count>& on,
                                           bool mrn_labels);

// The same triggers as Hyperscan patterns (what the engine compiled before the prefilter): each
// pattern's match ends are exactly find_triggers()' ends for its `what`, except that the digit
// pattern's ends include the terminating non-digit (one more). For tests and benchmarks.
struct reference_pattern {
  std::string expr;
  std::uint16_t what = 0;
};
[[nodiscard]] std::vector<reference_pattern> reference_patterns(const trigger_set& ts);

// Appends every trigger in `text` (in no particular order). Uses the best vector path the CPU
// has (AVX-512BW+VBMI, AVX2, else portable), chosen once at run time.
void find_triggers(const trigger_set& ts, std::string_view text, std::vector<trigger>& out);
// The portable path (no AVX2), for tests on machines that have AVX2.
void find_triggers_portable(const trigger_set& ts, std::string_view text,
                            std::vector<trigger>& out);

// Copies cells, in order, into `dst` from offset `off` with a NUL after each, as long as they
// end by offset `room`; writes each one's offset into `starts` and the end after the last
// (starts[count]); returns how many it copied. May write up to pack_slack bytes past `room`:
// `dst` must have that much more. Short cells (most of a result's) take one masked vector copy
// each where the CPU has AVX-512, instead of a memcpy call.
inline constexpr std::size_t pack_slack = 64;
std::size_t pack_cells(std::span<const std::string_view> cells, char* dst, std::size_t off,
                       std::size_t room, std::uint32_t* starts);

// The prefilter's code paths, so tests and benchmarks can run each one the CPU has.
enum class prefilter_path : std::uint8_t { portable, avx2, avx512 };
[[nodiscard]] prefilter_path best_prefilter_path();
// find_triggers() on one path; false (and nothing appended) when the CPU lacks it.
bool find_triggers_on(prefilter_path path, const trigger_set& ts, std::string_view text,
                      std::vector<trigger>& out);

struct compiled_pattern {
  std::uint16_t detector = 0;  // for som_whole; built-in triggers emit via builtin_index
  check kind = check::som_whole;
  bool som = false;
  std::uint8_t label_len = 0;
};

struct detector_rt {
  normalise norm = normalise::raw;
  custom_validator validator = custom_validator::none;
  std::vector<std::string> context;  // lowercase
};

struct database_deleter {
  void operator()(hs_database_t* d) const { hs_free_database(d); }
};
struct scratch_deleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
struct compile_error_deleter {
  void operator()(hs_compile_error_t* e) const { hs_free_compile_error(e); }
};
using database_ptr = std::unique_ptr<hs_database_t, database_deleter>;
using scratch_ptr = std::unique_ptr<hs_scratch_t, scratch_deleter>;

struct span32 {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
};

// Where validated hits of one cell go.
struct sink {
  const engine::impl* eng = nullptr;
  std::vector<finding>* out = nullptr;
  std::uint32_t cell = 0;
  // The last digit run handled: the trigger reports once per digit group of a run, the run is
  // validated once. `run_whole`: the run was not cut at its length limit, so every trigger
  // inside it has this same run (and is skipped before the run is computed again).
  std::uint32_t run_cell = UINT32_MAX;
  std::uint32_t run_begin = 0;
  std::uint32_t run_end = 0;
  bool run_whole = false;
  // The last whole hex/colon span an IPv6 trigger was decided on ("10:30:45" has two triggers,
  // an address up to eight): the other triggers inside it get the same answer.
  std::uint32_t v6_cell = UINT32_MAX;
  std::uint32_t v6_begin = 0;
  std::uint32_t v6_end = 0;
};

// Validates a raw match ending at `to` (starting at `from` for SOM patterns) inside `cell` and
// appends what it finds. For check::number `to` is the end of the digits (the terminator byte
// the pattern needs is excluded).
void check_match(const compiled_pattern& p, sink& k, std::string_view cell, std::uint32_t from,
                 std::uint32_t to);

// True if one of `words` (lowercase) occurs in cell[from, to) case-insensitively, not inside a
// longer word.
[[nodiscard]] bool has_context(std::string_view cell, std::size_t from, std::size_t to,
                               const std::vector<std::string>& words);

// True if text is exactly one date in a supported format.
[[nodiscard]] bool is_date(std::string_view text);

}  // namespace gh::dlp::detail

namespace gh::dlp {

struct engine::impl {
  std::vector<detector_info> detectors;
  std::array<int, detail::builtin_count> builtin_index{};  // engine index, or -1 when off
  std::vector<detail::detector_rt> rt;
  std::vector<detail::compiled_pattern> patterns;  // indexed by Hyperscan id
  detail::trigger_set triggers;                    // built-in triggers (prefilter.cpp)
  detail::database_ptr db;  // custom patterns and mrn_pattern; null when there are none
  detail::database_ptr column_db;                  // null when there are no column rules
  std::vector<column_rule> columns;
  bool typed_null = false;
  std::optional<hash_key> key;
};

}  // namespace gh::dlp
