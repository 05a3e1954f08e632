#pragma once
// Implementation details of the masking engine shared by its .cpp files. Not part of the API.
#include <hs.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlp/dlp.hpp"

namespace gh::dlp::detail {

// Which validator runs after a pattern matched. Built-in patterns are compiled without
// start-of-match (SOM costs Hyperscan speed); their validators find the value's start by parsing
// backwards from the match end, which the pattern's shape makes unambiguous. Custom patterns use
// HS_FLAG_SOM_LEFTMOST and take the whole match.
enum class check : std::uint8_t {
  ssn_dashed,
  ssn_labelled,
  card,
  email,
  phone_nanp,
  phone_intl,
  phone_labelled,
  dob,
  mrn_labelled,
  npi_checksum,
  npi_labelled,
  ipv4,
  ipv6,
  iban,
  passport,
  drivers_license,
  address,
  som_whole,  // custom detectors and a configured mrn_pattern
};

// How a value is normalised before hashing, so "123-45-6789" and "123456789" get one token.
enum class normalise : std::uint8_t { raw, digits, alnum_upper, lower };

enum class custom_validator : std::uint8_t { none, luhn, mod97, ssn, npi };

struct pattern_def {
  const char* expr;
  check kind;
};

struct builtin_def {
  detector_info info;
  normalise norm;
  std::vector<pattern_def> patterns;
};

// The built-in table, in builtin_detector_ids() order.
[[nodiscard]] const std::vector<builtin_def>& builtins();

struct compiled_pattern {
  std::uint16_t detector = 0;
  check kind = check::som_whole;
  bool som = false;
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

// Validates a raw match ending at `to` (and starting at `from` for SOM patterns) inside `cell`.
// On success sets `out` to the value's span within the cell.
[[nodiscard]] bool validate(const compiled_pattern& p, const detector_rt& rt, std::string_view cell,
                            std::uint32_t from, std::uint32_t to, span32& out);

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
  std::vector<detail::detector_rt> rt;
  std::vector<detail::compiled_pattern> patterns;  // indexed by Hyperscan id
  detail::database_ptr db;                         // null when there is no detector at all
  detail::database_ptr column_db;                  // null when there are no column rules
  std::vector<column_rule> columns;
  bool typed_null = false;
  std::optional<hash_key> key;
};

}  // namespace gh::dlp
