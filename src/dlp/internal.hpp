#pragma once
// Implementation details of the masking engine shared by its .cpp files. Not part of the API.
#include <hs.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
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

struct pattern_def {
  std::string expr;
  check kind;
  std::uint8_t label_len = 0;  // label triggers: length of the literal (word-boundary check)
};

struct builtin_def {
  detector_info info;
  normalise norm;
};

// The built-in table, in builtin_detector_ids() order.
[[nodiscard]] const std::vector<builtin_def>& builtins();

// The trigger patterns needed for the enabled built-ins (`mrn_labels` false when a configured
// mrn_pattern replaces the labelled forms).
[[nodiscard]] std::vector<pattern_def> builtin_patterns(const std::array<bool, builtin_count>& on,
                                                        bool mrn_labels);

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
  // validated once.
  std::uint32_t run_cell = UINT32_MAX;
  std::uint32_t run_begin = 0;
  std::uint32_t run_end = 0;
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
  detail::database_ptr db;                         // null when there is no detector at all
  detail::database_ptr column_db;                  // null when there are no column rules
  std::vector<column_rule> columns;
  bool typed_null = false;
  std::optional<hash_key> key;
};

}  // namespace gh::dlp
