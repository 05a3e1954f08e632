#pragma once
// The `masking:` block of a connection (see the masking issue). Parsed and validated here (every
// regex is compiled with Hyperscan at load, so a bad pattern is a FILE:LINE error from
// `check-config`, never a surprise at the first query); compiled into a masking engine by
// gh::dlp::compile_policy().
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::config {

enum class mask_action { redact, partial, hash, null };

// The built-in detectors, in the order the engine numbers them. The dlp module implements exactly
// these (its tests check that); config needs the list to reject typos in `detectors:`/`actions:`.
inline constexpr std::array<std::string_view, 13> builtin_detector_ids = {
    "us_ssn", "payment_card", "email",       "phone",           "dob",
    "mrn",    "npi",          "ipv4",        "ipv6",            "iban",
    "us_passport",            "drivers_license",                "street_address"};

// Validators a custom detector may name.
inline constexpr std::array<std::string_view, 4> custom_validator_names = {"luhn", "mod97", "ssn",
                                                                           "npi"};

struct mask_action_config {
  mask_action action = mask_action::redact;
  std::string replacement;  // fixed text for redact; empty -> the detector's tag ("[SSN]")
  int line = 0;
};

// `columns:` entry: a whole column whose name matches is masked regardless of content.
struct masking_column_config {
  std::string match;  // Hyperscan/PCRE syntax, searched in the column name ("(?i)^ssn$")
  mask_action_config action;
  std::string path;  // "connections[0].masking.columns[1]", for messages
  int line = 0;
  int match_line = 0;
};

// `custom:` entry: a detector defined in config.
struct masking_custom_config {
  std::string id;
  std::string pattern;    // Hyperscan syntax; the whole match is the value
  std::string validator;  // "", or one of custom_validator_names
  std::vector<std::string> context;  // lowercase; when non-empty one must occur near the match
  std::optional<mask_action_config> action;
  std::string path;
  int line = 0;
  int pattern_line = 0;
};

// `actions:` entry: per-detector override of the default action.
struct masking_detector_action {
  std::string detector;
  mask_action_config action;
  std::string path;
};

// What a masked value becomes in a number/date/timestamp column: a type-valid placeholder
// ("0", "1900-01-01") or NULL.
enum class typed_mask { placeholder, null };

struct masking_config {
  bool present = false;  // the block was given; absent means this connection is not masked
  int line = 0;
  std::string path;  // "connections[0].masking"
  std::string file;  // config file name as given, for messages built later

  bool default_detectors = true;       // `detectors: default` (or no `detectors:` key)
  std::vector<std::string> detectors;  // the listed ids otherwise (empty for `detectors: none`)
  mask_action_config action;           // default action for detector hits
  std::vector<masking_detector_action> actions;
  std::vector<masking_column_config> columns;
  std::vector<masking_custom_config> custom;
  std::vector<std::string> except_groups;  // members see clear values (access is still audited)
  std::string mrn_pattern;                 // replaces the default labelled MRN forms
  int mrn_pattern_line = 0;
  typed_mask typed = typed_mask::placeholder;

  [[nodiscard]] bool uses_hash() const;
};

[[nodiscard]] std::string_view to_string(mask_action a);

// Compiles `pattern` with Hyperscan the way the masking engine will (custom detectors: leftmost
// start of match; column rules: single match). Returns "" if it compiles, else Hyperscan's message.
[[nodiscard]] std::string check_detector_pattern(const std::string& pattern);
[[nodiscard]] std::string check_column_pattern(const std::string& pattern);

}  // namespace gh::config
