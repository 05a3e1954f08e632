// Built-in detectors: the Hyperscan trigger patterns and the validators that decide.
//
// Throughput is set by how many bytes Hyperscan must run a state machine over. Literal triggers
// (labels such as "passport", "@", "::", street suffixes) cost almost nothing; every pattern
// that starts with a digit class costs a pass over the text, which on digit-dense clinical text is
// ~1 ns/byte. So there is exactly ONE digit trigger — a run of 9+ digits with small separator
// gaps, or a dotted quad — and its validator decides, at each digit-group end of the run, whether
// an SSN, card, NPI, phone, IBAN or IPv4 address ends there. Label-dependent forms (9-digit SSN,
// unseparated phone, labelled NPI) look back for their label instead of having a pattern of
// their own; label-started forms (DOB, MRN, passport, driver's licence) are triggered by the
// label literal and parse the value forward.
//
// Patterns never match a NUL (the cell separator of a batch); validators read only their cell.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "dlp/internal.hpp"

namespace gh::dlp {

namespace {

using detail::builtin;
using detail::span32;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool all_digits(std::string_view s, std::size_t b, std::size_t e) {
  if (e > s.size() || b > e) return false;
  for (std::size_t i = b; i < e; ++i) {
    if (!is_digit(s[i])) return false;
  }
  return true;
}

std::size_t digits_before(std::string_view s, std::size_t e) {
  std::size_t b = e;
  while (b > 0 && is_digit(s[b - 1])) --b;
  return e - b;
}

std::size_t digits_after(std::string_view s, std::size_t b) {
  std::size_t e = b;
  while (e < s.size() && is_digit(s[e])) ++e;
  return e - b;
}

int number(std::string_view s, std::size_t b, std::size_t e) {
  int v = 0;
  for (std::size_t i = b; i < e; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// A value must not be glued to more of the same: no letter or digit next to it, and no
// "-"/"." followed by a digit (which would make it part of a longer number like 1-123-45-6789).
bool clean_left(std::string_view s, std::size_t b) {
  if (b == 0) return true;
  char p = s[b - 1];
  if (is_alnum(p) || p == '_') return false;
  if ((p == '-' || p == '.') && b >= 2 && is_digit(s[b - 2])) return false;
  return true;
}

bool clean_right(std::string_view s, std::size_t e) {
  if (e >= s.size()) return true;
  char n = s[e];
  if (is_alnum(n) || n == '_') return false;
  if ((n == '-' || n == '.') && e + 1 < s.size() && is_digit(s[e + 1])) return false;
  return true;
}

bool sep_char(char c) { return c == ' ' || c == '-' || c == '.'; }

// Labels that make a bare number an SSN / phone / NPI (lowercase).
const std::vector<std::string>& ssn_words() {
  static const std::vector<std::string> w = {"ssn", "ss", "s.s.n", "social security", "soc sec",
                                             "soc. sec", "socsec"};
  return w;
}
const std::vector<std::string>& phone_words() {
  static const std::vector<std::string> w = {"phone", "tel", "telephone", "cell", "mobile",
                                             "mob",   "fax", "ph",        "pager", "contact"};
  return w;
}
const std::vector<std::string>& npi_words() {
  static const std::vector<std::string> w = {"npi"};
  return w;
}

// True if one of `words` ends right before b, with only separators and at most one filler word
// ("number", "no", "#", "is") in between: "SSN: 123456789", "Social Security Number 1234...",
// "ssn = '123456789'". A label further away belongs to something else.
bool label_before(std::string_view s, std::size_t b, const std::vector<std::string>& words) {
  auto skip_seps = [&](std::size_t p) {
    std::size_t n = 0;
    while (p > 0 && n < 6 && !is_alnum(s[p - 1]) && s[p - 1] != '\0' && s[p - 1] != '\n') {
      --p;
      ++n;
    }
    return p;
  };
  auto ends_with_label = [&](std::size_t p) {
    for (const auto& w : words) {
      if (p < w.size()) continue;
      std::size_t start = p - w.size();
      if (start > 0 && is_alpha(s[start - 1])) continue;
      bool eq = true;
      for (std::size_t i = 0; i < w.size() && eq; ++i) eq = lower(s[start + i]) == w[i];
      if (eq) return true;
    }
    return false;
  };
  std::size_t p = skip_seps(b);
  if (ends_with_label(p)) return true;
  static constexpr std::array<std::string_view, 6> fillers = {"number", "num", "no", "nr",
                                                              "is",     "was"};
  std::size_t w = p;
  while (w > 0 && is_alpha(s[w - 1]) && p - w < 7) --w;
  std::string_view word = s.substr(w, p - w);
  for (auto f : fillers) {
    if (word.size() != f.size()) continue;
    bool eq = true;
    for (std::size_t i = 0; i < f.size() && eq; ++i) eq = lower(word[i]) == f[i];
    if (eq) return ends_with_label(skip_seps(w));
  }
  return false;
}

// ---------------------------------------------------------------------------------- us_ssn

bool ssn_rules(const char* d) {
  int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  int group = (d[3] - '0') * 10 + (d[4] - '0');
  int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

bool v_ssn_dashed(std::string_view s, std::size_t to, span32& out) {
  if (to < 11) return false;
  std::size_t b = to - 11;
  if (!all_digits(s, b, b + 3) || s[b + 3] != '-' || !all_digits(s, b + 4, b + 6) ||
      s[b + 6] != '-' || !all_digits(s, b + 7, to))
    return false;
  if (!clean_left(s, b) || !clean_right(s, to)) return false;
  char d[9] = {s[b],     s[b + 1], s[b + 2], s[b + 4], s[b + 5],
               s[b + 7], s[b + 8], s[b + 9], s[b + 10]};
  if (!ssn_rules(d)) return false;
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(to)};
  return true;
}

// Parses digit groups backwards from `e`: the first size is the last group. At most one
// separator from `seps` between groups. Returns the start, or npos.
std::size_t groups_back(std::string_view s, std::size_t e, std::initializer_list<int> sizes,
                        std::string_view seps, char* digits) {
  std::size_t p = e;
  int w = 0;
  for (int n : sizes) w += n;
  bool first = true;
  for (int n : sizes) {
    if (!first && p > 0 && seps.find(s[p - 1]) != std::string_view::npos) --p;
    first = false;
    auto un = static_cast<std::size_t>(n);
    if (p < un || !all_digits(s, p - un, p)) return std::string_view::npos;
    w -= n;
    std::memcpy(digits + w, s.data() + p - un, un);
    p -= un;
  }
  return p;
}

// 9 digits (spaces or dashes allowed) right after an SSN label.
bool v_ssn_labelled(std::string_view s, std::size_t to, span32& out) {
  char d[9] = {};
  std::size_t b = groups_back(s, to, {4, 2, 3}, " -", d);
  if (b == std::string_view::npos || !clean_left(s, b) || !clean_right(s, to)) return false;
  if (!ssn_rules(d) || !label_before(s, b, ssn_words())) return false;
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(to)};
  return true;
}

// ---------------------------------------------------------------------------------- payment_card

bool iin_ok(const char* d, int n) {
  auto pre = [&](int len) {
    int v = 0;
    for (int i = 0; i < len; ++i) v = v * 10 + (d[i] - '0');
    return v;
  };
  int d1 = pre(1), d2 = pre(2), d3 = pre(3), d4 = pre(4), d6 = pre(6);
  if (d1 == 4) return n == 13 || n == 16 || n == 19;                        // Visa
  if ((d2 >= 51 && d2 <= 55) || (d4 >= 2221 && d4 <= 2720)) return n == 16;  // Mastercard
  if (d2 == 34 || d2 == 37) return n == 15;                                 // Amex
  if (d4 == 6011 || (d3 >= 644 && d3 <= 649) || d2 == 65 || (d6 >= 622126 && d6 <= 622925))
    return n >= 16 && n <= 19;                              // Discover
  if (d4 >= 3528 && d4 <= 3589) return n >= 16 && n <= 19;  // JCB
  if ((d3 >= 300 && d3 <= 305) || d4 == 3095 || d2 == 36 || d2 == 38 || d2 == 39)
    return n >= 14 && n <= 19;  // Diners Club
  return false;
}

bool luhn(const char* d, int n) {
  int sum = 0;
  bool dbl = false;
  for (int i = n - 1; i >= 0; --i) {
    int v = d[i] - '0';
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool v_card(std::string_view s, std::size_t to, span32& out) {
  constexpr int max_groups = 8;
  std::array<std::size_t, max_groups> gb{};  // group starts, right to left
  std::array<int, max_groups> gl{};          // group lengths
  int ng = 0;
  char sep = 0;
  std::size_t p = to;
  int total = 0;
  while (ng < max_groups) {
    std::size_t n = digits_before(s, p);
    if (n == 0) break;
    gb[static_cast<std::size_t>(ng)] = p - n;
    gl[static_cast<std::size_t>(ng)] = static_cast<int>(n);
    ++ng;
    total += static_cast<int>(n);
    p -= n;
    if (total > 19 || p < 2) break;
    char c = s[p - 1];
    if ((c != ' ' && c != '-') || !is_digit(s[p - 2]) || (sep != 0 && c != sep)) break;
    sep = c;
    --p;
  }
  if (ng == 0 || !clean_right(s, to)) return false;
  // A further group of 3+ digits after the same separator: this is the prefix of a longer
  // grouped number (an IBAN, an account number), not a card.
  if (sep != 0 && to + 1 < s.size() && s[to] == sep && digits_after(s, to + 1) >= 3) return false;
  // The longest run of trailing groups with a card grouping: one run of 13-19 digits, 4-4-4-x
  // (x = 1..7), or 4-6-4/5 (Amex, Diners).
  for (int k = ng; k >= 1; --k) {
    int digits = 0;
    for (int i = 0; i < k; ++i) digits += gl[static_cast<std::size_t>(i)];
    if (digits < 13 || digits > 19) continue;
    bool shape = k == 1;
    if (!shape) {
      bool fours = gl[0] >= 1 && gl[0] <= 7;
      for (int i = 1; i < k; ++i) fours = fours && gl[static_cast<std::size_t>(i)] == 4;
      bool amex = k == 3 && gl[2] == 4 && gl[1] == 6 && (gl[0] == 4 || gl[0] == 5);
      shape = fours || amex;
    }
    if (!shape) continue;
    std::size_t b = gb[static_cast<std::size_t>(k - 1)];
    if (k == ng) {
      if (!clean_left(s, b)) continue;
    } else if (gl[static_cast<std::size_t>(k)] == 4 || k + 1 < ng ||
               !clean_left(s, gb[static_cast<std::size_t>(k)])) {
      // A suffix of a longer grouped number only when one short stray group precedes it
      // ("qty 1 4111 1111 ..."), never inside a long run of 4-digit groups or after letters
      // ("FR05 3602 ...", an IBAN).
      continue;
    }
    char d[19] = {};
    int w = 0;
    for (std::size_t i = b; i < to; ++i) {
      if (is_digit(s[i])) d[w++] = s[i];
    }
    if (!iin_ok(d, w) || !luhn(d, w)) continue;
    out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(to)};
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------- phone

bool nanp_ok(char area0, char exch0) { return area0 >= '2' && exch0 >= '2'; }

// Optional "+1 " / "1-" / "1" country prefix before a NANP number starting at b.
std::size_t nanp_prefix(std::string_view s, std::size_t b) {
  std::size_t q = b;
  if (q >= 1 && sep_char(s[q - 1])) --q;
  if (q >= 1 && s[q - 1] == '1') {
    std::size_t r = q - 1;
    if (r >= 1 && s[r - 1] == '+') --r;
    if (clean_left(s, r)) return r;
  }
  return b;
}

bool v_phone_nanp(std::string_view s, std::size_t to, span32& out) {
  std::size_t p = to;
  if (p < 4 || !all_digits(s, p - 4, p)) return false;
  p -= 4;
  if (p < 1 || !sep_char(s[p - 1])) return false;
  char s2 = s[p - 1];
  --p;
  if (p < 3 || !all_digits(s, p - 3, p)) return false;
  p -= 3;
  char exch0 = s[p];
  char s1 = 0;
  if (p >= 1 && sep_char(s[p - 1])) {
    s1 = s[p - 1];
    --p;
  }
  char area0;
  if (p >= 5 && s[p - 1] == ')' && all_digits(s, p - 4, p - 1) && s[p - 5] == '(') {
    area0 = s[p - 4];
    p -= 5;
  } else if (p >= 3 && s1 != 0 && s1 == s2 && all_digits(s, p - 3, p)) {
    area0 = s[p - 3];
    p -= 3;
  } else {
    return false;
  }
  if (!nanp_ok(area0, exch0)) return false;
  std::size_t b = nanp_prefix(s, p);
  if (b == p && !clean_left(s, p)) return false;
  if (!clean_right(s, to)) return false;
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(to)};
  return true;
}

// "+CC ..." with 8-15 digits.
bool v_phone_intl(std::string_view s, std::size_t to, span32& out) {
  constexpr std::size_t max_len = 24;
  std::size_t p = to;
  std::size_t lo = to > max_len ? to - max_len : 0;
  while (p > lo && s[p - 1] != '+') {
    char c = s[p - 1];
    if (!is_digit(c) && c != ' ' && c != '.' && c != '-' && c != '(' && c != ')') return false;
    --p;
  }
  if (p == lo || s[p - 1] != '+') return false;
  std::size_t b = p - 1;
  if (!clean_left(s, b) || p >= to || !is_digit(s[p]) || s[p] == '0') return false;
  int digits = 0, parens = 0;
  char prev = '+';
  for (std::size_t i = p; i < to; ++i) {
    char c = s[i];
    if (is_digit(c)) {
      ++digits;
    } else if (c == '(') {
      if (++parens > 1) return false;
    } else if (c == ')') {
      if (parens != 1) return false;
    } else if (!is_digit(prev) && prev != ')') {
      return false;  // two separators in a row
    }
    prev = c;
  }
  if (digits < 8 || digits > 15 || !clean_right(s, to)) return false;
  if (to + 1 < s.size() && s[to] == ' ' && is_digit(s[to + 1])) return false;  // not the end
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(to)};
  return true;
}

// 10 digits (11 with a leading 1) right after a phone label.
bool v_phone_labelled(std::string_view s, std::size_t to, span32& out) {
  std::size_t n = digits_before(s, to);
  if (n != 10 && n != 11) return false;
  std::size_t b = to - n;
  std::size_t a = n == 11 ? b + 1 : b;
  if (n == 11 && s[b] != '1') return false;
  if (!clean_left(s, b) || !clean_right(s, to) || !nanp_ok(s[a], s[a + 3])) return false;
  if (!label_before(s, b, phone_words())) return false;
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(to)};
  return true;
}

// ---------------------------------------------------------------------------------- npi

bool npi_digits_valid(const char* d) {
  // Luhn over "80840" + the 10 digits (the card-issuer prefix of US health applications).
  char buf[15] = {'8', '0', '8', '4', '0'};
  std::memcpy(buf + 5, d, 10);
  return (d[0] == '1' || d[0] == '2') && luhn(buf, 15);
}

// Words that make a 10-digit number with a valid NPI check digit an NPI. The check digit alone
// is not enough: one in ten random 10-digit ids starting with 1 or 2 (epoch seconds, order and
// claim numbers) has a valid one.
const std::vector<std::string>& npi_context_words() {
  static const std::vector<std::string> w = {
      "npi",       "provider",  "prescriber", "prescribing", "referring",    "referred",
      "ordering",  "attending", "rendering",  "billing",     "physician",    "practitioner",
      "pcp",       "clinician", "surgeon",    "dentist",     "pharmacist"};
  return w;
}
constexpr std::size_t npi_context_before = 48;
constexpr std::size_t npi_context_after = 16;

// Any 10 digits right after an NPI label; or 10 digits with a valid NPI check digit and a
// provider word within 48 bytes before or 16 after ("Ordering provider Dr. Kim (1234567893)",
// "1234567893 (NPI)").
bool v_npi(std::string_view s, std::size_t to, span32& out) {
  if (to < 10 || digits_before(s, to) != 10) return false;
  std::size_t b = to - 10;
  if (!clean_left(s, b) || !clean_right(s, to)) return false;
  if (!label_before(s, b, npi_words())) {
    if (!npi_digits_valid(s.data() + b)) return false;
    const std::size_t lo = b > npi_context_before ? b - npi_context_before : 0;
    const std::size_t hi = std::min(s.size(), to + npi_context_after);
    if (!detail::has_context(s, lo, b, npi_context_words()) &&
        !detail::has_context(s, to, hi, npi_context_words()))
      return false;
  }
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(to)};
  return true;
}

// ---------------------------------------------------------------------------------- ipv4

bool v_ipv4(std::string_view s, std::size_t to, span32& out) {
  std::size_t p = to;
  for (int i = 0; i < 4; ++i) {
    std::size_t n = digits_before(s, p);
    if (n < 1 || n > 3 || number(s, p - n, p) > 255) return false;
    p -= n;
    if (i < 3) {
      if (p < 1 || s[p - 1] != '.') return false;
      --p;
    }
  }
  if (!clean_left(s, p) || !clean_right(s, to)) return false;
  if (p > 0 && s[p - 1] == '.') return false;
  out = {static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(to)};
  return true;
}

// ---------------------------------------------------------------------------------- iban

int iban_length(char a, char b) {
  struct entry {
    char cc[3];
    int len;
  };
  static constexpr entry table[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28},
      {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24},
      {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18},
      {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23},
      {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
      {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22},
      {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24},
      {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
      {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28},
      {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}};
  for (const auto& t : table) {
    if (t.cc[0] == a && t.cc[1] == b) return t.len;
  }
  return 0;
}

bool mod97(const char* c, int n) {
  // Move the first four characters to the end, letters become 10..35, remainder mod 97 == 1.
  int rem = 0;
  for (int k = 0; k < n; ++k) {
    char ch = c[(k + 4) % n];
    if (is_digit(ch)) {
      rem = (rem * 10 + (ch - '0')) % 97;
    } else if (is_upper(ch)) {
      rem = (rem * 100 + (ch - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

// An IBAN containing the digit run [rb, re): its start is at most 34 characters before the run
// (uppercase letters, digits, single spaces), its length is the country's.
bool v_iban(std::string_view s, std::size_t rb, std::size_t re, span32& out) {
  constexpr std::size_t max_back = 36;
  std::size_t w = rb;
  while (w > 0 && (is_upper(s[w - 1]) || is_digit(s[w - 1]) || s[w - 1] == ' ') && rb - w < max_back)
    --w;
  for (std::size_t b = w; b <= rb && b + 4 <= s.size(); ++b) {
    if (!is_upper(s[b]) || !is_upper(s[b + 1]) || !is_digit(s[b + 2]) || !is_digit(s[b + 3]))
      continue;
    if (b > 0 && is_alnum(s[b - 1])) continue;
    int want = iban_length(s[b], s[b + 1]);
    if (want == 0) continue;
    std::array<char, 34> c{};
    int n = 0;
    std::size_t i = b;
    while (i < s.size() && n < want) {
      if (s[i] == ' ' && n > 0 && n % 4 == 0 && i + 1 < s.size() && s[i + 1] != ' ') {
        ++i;  // groups of four, one space between
        continue;
      }
      if (!is_upper(s[i]) && !is_digit(s[i])) break;
      c[static_cast<std::size_t>(n++)] = s[i++];
    }
    if (n != want || i < re || !clean_right(s, i) || !mod97(c.data(), n)) continue;
    out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(i)};
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------- digit runs

bool run_sep(char c) { return c == ' ' || c == '.' || c == '-' || c == '(' || c == ')'; }

// The digit run around [.., e): digits joined by gaps of at most two separator characters —
// the same shape the trigger pattern matches.
constexpr std::size_t digit_run_limit = 96;

void digit_run(std::string_view s, std::size_t e, std::size_t& rb, std::size_t& re) {
  constexpr std::size_t max_run = digit_run_limit;
  std::size_t b = e;
  while (b > 0 && e - b < max_run) {
    if (is_digit(s[b - 1])) {
      --b;
      continue;
    }
    std::size_t g = b;
    while (g > 0 && b - g < 3 && run_sep(s[g - 1])) --g;
    if (g == b || b - g > 2 || g == 0 || !is_digit(s[g - 1])) break;
    b = g;
  }
  std::size_t f = e;
  while (f < s.size() && f - b < max_run) {
    if (is_digit(s[f])) {
      ++f;
      continue;
    }
    std::size_t g = f;
    while (g < s.size() && g - f < 3 && run_sep(s[g])) ++g;
    if (g == f || g - f > 2 || g >= s.size() || !is_digit(s[g])) break;
    f = g;
  }
  rb = b;
  re = f;
}

void emit(detail::sink& k, builtin b, const span32& sp) {
  int d = k.eng->builtin_index[static_cast<std::size_t>(b)];
  if (d >= 0) k.out->push_back({k.cell, sp.begin, sp.end, static_cast<std::uint16_t>(d)});
}

bool on(const detail::sink& k, builtin b) {
  return k.eng->builtin_index[static_cast<std::size_t>(b)] >= 0;
}

void check_number(detail::sink& k, std::string_view s, std::size_t to) {
  // Inside the last run, which was whole: digit_run from here finds that run again (the chain
  // relation is symmetric and the length limit was not reached), so it has been validated.
  if (k.run_cell == k.cell && k.run_whole && to > k.run_begin && to <= k.run_end) return;
  std::size_t rb = 0, re = 0;
  digit_run(s, to, rb, re);
  if (k.run_cell == k.cell && k.run_begin == rb && k.run_end == re) return;
  k.run_cell = k.cell;
  k.run_begin = static_cast<std::uint32_t>(rb);
  k.run_end = static_cast<std::uint32_t>(re);
  k.run_whole = re - rb < digit_run_limit;  // neither scan in digit_run stopped at the limit
  span32 sp;
  // An international number starts with '+' just before the run (at most a '(' between), so
  // without one v_phone_intl cannot match anywhere in it.
  bool plus = false;
  for (std::size_t q = rb >= 3 ? rb - 3 : 0; q < rb; ++q) plus = plus || s[q] == '+';
  // A card's groups (joined by one ' ' or '-') lie inside the run that holds them, so a whole
  // run of fewer than 13 digits holds none: dates and times, doses, 10-digit ids and phone
  // numbers skip v_card at each of their group ends.
  bool card = on(k, builtin::payment_card);
  if (card && k.run_whole) {
    std::size_t run_digits = 0;
    for (std::size_t q = rb; q < re; ++q) run_digits += is_digit(s[q]) ? 1 : 0;
    card = run_digits >= 13;
  }
  // Every digit-group end of the run may end a value: a run can hold several ("SSN 123-45-6789
  // (555) 234-5678" is one run of 19 digits). `d` counts the digits of the group ending at g (a
  // run cut at the length limit may start inside a group).
  std::size_t d = digits_before(s, rb);
  for (std::size_t g = rb + 1; g <= re; ++g) {
    d = is_digit(s[g - 1]) ? d + 1 : 0;
    if (d == 0 || (g < re && is_digit(s[g]))) continue;
    if (on(k, builtin::us_ssn) && (d == 4 || d == 9) &&
        (v_ssn_dashed(s, g, sp) || v_ssn_labelled(s, g, sp)))
      emit(k, builtin::us_ssn, sp);
    if (on(k, builtin::phone) && ((d == 4 && v_phone_nanp(s, g, sp)) || (plus && v_phone_intl(s, g, sp)) ||
                                  (d >= 10 && v_phone_labelled(s, g, sp))))
      emit(k, builtin::phone, sp);
    if (on(k, builtin::ipv4) && d <= 3 && v_ipv4(s, g, sp)) emit(k, builtin::ipv4, sp);
    if (on(k, builtin::npi) && d == 10 && v_npi(s, g, sp)) emit(k, builtin::npi, sp);
    if (card && v_card(s, g, sp)) emit(k, builtin::payment_card, sp);
  }
  if (on(k, builtin::iban) && v_iban(s, rb, re, sp)) emit(k, builtin::iban, sp);
}

// ---------------------------------------------------------------------------------- email

bool local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\'';
}

// Trigger "x@y": `to` is just past the first domain character.
bool v_email(std::string_view s, std::size_t to, span32& out) {
  if (to < 3 || s[to - 2] != '@') return false;
  std::size_t at = to - 2;
  // Domain: labels of letters, digits and '-', dot-separated, alphabetic TLD of 2+ letters;
  // take the longest such domain.
  std::size_t p = at + 1, end = 0;
  int labels = 0;
  while (true) {
    std::size_t l = p;
    while (p < s.size() && (is_alnum(s[p]) || s[p] == '-') && p - l < 63) ++p;
    if (p == l || s[l] == '-' || s[p - 1] == '-') break;
    ++labels;
    bool alpha = std::all_of(s.begin() + static_cast<std::ptrdiff_t>(l),
                             s.begin() + static_cast<std::ptrdiff_t>(p), is_alpha);
    if (labels >= 2 && alpha && p - l >= 2 && (p >= s.size() || !is_alnum(s[p]))) end = p;
    if (p + 1 < s.size() && s[p] == '.' && is_alnum(s[p + 1])) {
      ++p;
      continue;
    }
    break;
  }
  if (end == 0 || end - at > 254) return false;
  if (end < s.size() && (s[end] == '_' || s[end] == '@')) return false;
  std::size_t q = at;
  while (q > 0 && local_char(s[q - 1]) && at - q < 65) --q;
  while (q < at && (s[q] == '.' || s[q] == '\'')) ++q;  // 'quoted@example.com' in SQL
  if (q == at || at - q > 64 || s[at - 1] == '.') return false;
  out = {static_cast<std::uint32_t>(q), static_cast<std::uint32_t>(end)};
  return true;
}

// ---------------------------------------------------------------------------------- ipv6

// `span_b`/`span_e`: the hex/colon span around `to` the decision rests on; `whole` when neither
// scan stopped at the length limit, so that any `to` inside it finds the same span (and answer).
bool v_ipv6(std::string_view s, std::size_t to, span32& out, std::size_t& span_b,
            std::size_t& span_e, bool& whole) {
  constexpr std::size_t max_len = 45;
  auto v6 = [](char c) { return is_hex(c) || c == ':'; };
  std::size_t b = to;
  while (b > 0 && v6(s[b - 1]) && to - b < max_len) --b;
  std::size_t e = to;
  while (e < s.size() && v6(s[e]) && e - b < max_len) ++e;
  span_b = b;
  span_e = e;
  whole = (b == 0 || !v6(s[b - 1])) && (e == s.size() || !v6(s[e])) && e - b <= max_len;
  // An embedded IPv4 tail ("::ffff:10.1.2.3").
  if (e < s.size() && s[e] == '.') {
    std::size_t q = e;
    int parts = 0;
    while (parts < 3 && q + 1 < s.size() && s[q] == '.' && is_digit(s[q + 1])) {
      ++q;
      while (q < s.size() && is_digit(s[q])) ++q;
      ++parts;
    }
    if (parts == 3) e = q;
  }
  if (b > 0 && (is_alnum(s[b - 1]) || s[b - 1] == '_' || s[b - 1] == '.')) return false;
  if (e < s.size() && (is_alnum(s[e]) || s[e] == '_')) return false;
  if (e - b < 3 || e - b > max_len) return false;
  // Times ("10:30:45") and ratios are the common colon-hex shapes: an address has "::" or
  // seven colons. Checked before inet_pton, which is comparatively slow.
  int colons = 0;
  bool compressed = false, hex = false;
  for (std::size_t i = b; i < e; ++i) {
    if (s[i] == ':') {
      ++colons;
      compressed = compressed || (i + 1 < e && s[i + 1] == ':');
    } else if (is_hex(s[i])) {
      hex = true;
    }
  }
  if (!hex || (!compressed && colons != 7)) return false;
  std::array<char, 64> buf{};
  std::memcpy(buf.data(), s.data() + b, e - b);
  in6_addr addr{};
  if (::inet_pton(AF_INET6, buf.data(), &addr) != 1) return false;
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e)};
  return true;
}

void check_ipv6(detail::sink& k, std::string_view s, std::size_t to) {
  // A trigger inside the last whole span was decided with it (a hit then was emitted already).
  if (k.v6_cell == k.cell && to > k.v6_begin && to <= k.v6_end) return;
  span32 sp;
  std::size_t b = 0, e = 0;
  bool whole = false;
  if (v_ipv6(s, to, sp, b, e, whole)) emit(k, builtin::ipv6, sp);
  if (whole) {
    k.v6_cell = k.cell;
    k.v6_begin = static_cast<std::uint32_t>(b);
    k.v6_end = static_cast<std::uint32_t>(e);
  }
}

// ---------------------------------------------------------------------------------- dates

constexpr std::array<std::string_view, 12> month_names = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};

// Reads a month name (full, 3-letter, or "sept") at p; returns 1..12 and advances p, or 0.
int read_month(std::string_view s, std::size_t& p) {
  std::size_t e = p;
  while (e < s.size() && is_alpha(s[e]) && e - p < 10) ++e;
  std::size_t len = e - p;
  if (len < 3 || len >= 10) return 0;
  std::array<char, 10> w{};
  for (std::size_t i = 0; i < len; ++i) w[i] = lower(s[p + i]);
  std::string_view word(w.data(), len);
  for (std::size_t m = 0; m < month_names.size(); ++m) {
    std::string_view full = month_names[m];
    if (word == full || word == full.substr(0, 3) || (m == 8 && word == "sept")) {
      p = e;
      if (p < s.size() && s[p] == '.' && len < full.size()) ++p;
      return static_cast<int>(m) + 1;
    }
  }
  return 0;
}

// Reads min..max digits at p (not followed by another digit); returns the value or -1.
int read_num(std::string_view s, std::size_t& p, int min, int max, int* len_out = nullptr) {
  std::size_t n = digits_after(s, p);
  if (static_cast<int>(n) < min || static_cast<int>(n) > max) return -1;
  int v = number(s, p, p + n);
  p += n;
  if (len_out != nullptr) *len_out = static_cast<int>(n);
  return v;
}

bool skip_spaces(std::string_view s, std::size_t& p, int min, int max) {
  int n = 0;
  while (p < s.size() && (s[p] == ' ' || s[p] == '\t') && n < max) {
    ++p;
    ++n;
  }
  return n >= min;
}

void skip_ordinal(std::string_view s, std::size_t& p) {
  if (p + 2 <= s.size()) {
    char a = lower(s[p]), b = lower(s[p + 1]);
    if ((a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
        (a == 't' && b == 'h')) {
      if (p + 2 == s.size() || !is_alpha(s[p + 2])) p += 2;
    }
  }
}

bool valid_ymd(int y, int ylen, int m, int d) {
  if (m < 1 || m > 12 || d < 1) return false;
  if (ylen == 4 && (y < 1875 || y > 2100)) return false;
  static constexpr std::array<int, 12> days = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d > days[static_cast<std::size_t>(m - 1)]) return false;
  if (m == 2 && d == 29 && ylen == 4 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    return false;
  return true;
}

constexpr std::size_t npos = std::string_view::npos;

// Each returns the end of a date of one format starting at b, or npos.
std::size_t date_ymd(std::string_view s, std::size_t b) {  // 1961-03-04, 1961/3/4, 1961.03.04
  std::size_t p = b;
  int y = read_num(s, p, 4, 4);
  if (y < 0 || p >= s.size() || (s[p] != '-' && s[p] != '/' && s[p] != '.')) return npos;
  char sep = s[p++];
  int m = read_num(s, p, 1, 2);
  if (m < 0 || p >= s.size() || s[p] != sep) return npos;
  ++p;
  int d = read_num(s, p, 1, 2);
  return d >= 0 && valid_ymd(y, 4, m, d) ? p : npos;
}

std::size_t date_numeric(std::string_view s, std::size_t b) {  // 03/04/1961, 4.3.1961, 3-4-61
  std::size_t p = b;
  int a = read_num(s, p, 1, 2);
  if (a < 0 || p >= s.size() || (s[p] != '/' && s[p] != '.' && s[p] != '-')) return npos;
  char sep = s[p++];
  int c = read_num(s, p, 1, 2);
  if (c < 0 || p >= s.size() || s[p] != sep) return npos;
  ++p;
  int yl = 0;
  int y = read_num(s, p, 2, 4, &yl);
  if (y < 0 || yl == 3) return npos;
  return valid_ymd(y, yl, a, c) || valid_ymd(y, yl, c, a) ? p : npos;
}

std::size_t date_month_first(std::string_view s, std::size_t b) {  // March 3, 1961 / Mar. 3rd 1961
  std::size_t p = b;
  int m = read_month(s, p);
  if (m == 0 || !skip_spaces(s, p, 1, 3)) return npos;
  int d = read_num(s, p, 1, 2);
  if (d < 0) return npos;
  skip_ordinal(s, p);
  if (p < s.size() && s[p] == ',') ++p;
  if (!skip_spaces(s, p, 1, 3)) return npos;
  int y = read_num(s, p, 4, 4);
  return y >= 0 && valid_ymd(y, 4, m, d) ? p : npos;
}

std::size_t date_day_first(std::string_view s, std::size_t b) {  // 3 March 1961, 03-Mar-1961
  std::size_t p = b;
  int d = read_num(s, p, 1, 2);
  if (d < 0 || p >= s.size()) return npos;
  bool dashed = s[p] == '-';
  if (dashed) {
    ++p;
  } else {
    skip_ordinal(s, p);
    if (!skip_spaces(s, p, 1, 3)) return npos;
    if (p + 3 <= s.size() && lower(s[p]) == 'o' && lower(s[p + 1]) == 'f' && s[p + 2] == ' ')
      p += 3;
  }
  int m = read_month(s, p);
  if (m == 0) return npos;
  if (dashed) {
    if (p >= s.size() || s[p] != '-') return npos;
    ++p;
  } else {
    if (p < s.size() && s[p] == ',') ++p;
    if (!skip_spaces(s, p, 1, 3)) return npos;
  }
  int yl = 0;
  int y = read_num(s, p, dashed ? 2 : 4, 4, &yl);
  if (y < 0 || yl == 3) return npos;
  return valid_ymd(y, yl, m, d) ? p : npos;
}

// The end of the longest date starting at b, or npos.
std::size_t date_at(std::string_view s, std::size_t b) {
  std::size_t best = npos;
  for (auto f : {date_ymd, date_numeric, date_month_first, date_day_first}) {
    std::size_t e = f(s, b);
    if (e != npos && (best == npos || e > best)) best = e;
  }
  return best;
}

// ---------------------------------------------------------------------------------- labels

// The label literal ended at `to`; it must not continue as a longer word ("dobutamine",
// "borne") and must start at a word boundary.
bool label_bounds(std::string_view s, std::size_t to, std::size_t label_len) {
  if (to < s.size() && is_alpha(s[to])) return false;
  if (to >= label_len) {
    std::size_t b = to - label_len;
    if (b > 0 && is_alpha(s[b - 1])) return false;
  }
  return true;
}

// Skips what may sit between a label and its value: up to `max` non-alphanumerics, then
// optionally one filler word ("no", "number", "is", ...) and more separators.
std::size_t skip_label_gap(std::string_view s, std::size_t p, std::size_t max) {
  auto gap = [&](std::size_t q) {
    std::size_t n = 0;
    while (q < s.size() && n < max && !is_alnum(s[q]) && s[q] != '\0' && s[q] != '\n') {
      ++q;
      ++n;
    }
    return q;
  };
  p = gap(p);
  static constexpr std::array<std::string_view, 8> fillers = {"number", "num", "no", "nr",
                                                              "is",     "was", "on", "of"};
  for (auto f : fillers) {
    if (p + f.size() > s.size()) continue;
    bool eq = true;
    for (std::size_t i = 0; i < f.size() && eq; ++i) eq = lower(s[p + i]) == f[i];
    std::size_t after = p + f.size();
    if (eq && (after >= s.size() || !is_alnum(s[after]))) return gap(after);
  }
  return p;
}

// Case-insensitive: does s continue with `word` at p?
bool continues_with(std::string_view s, std::size_t p, std::string_view word) {
  if (p + word.size() > s.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (lower(s[p + i]) != word[i]) return false;
  }
  return true;
}

void check_dob(detail::sink& k, std::string_view s, std::size_t to, std::size_t label_len) {
  // "birth" is also the start of "birthdate" / "birthday".
  if (label_len == 5 && lower(s[to - 1]) == 'h') {
    if (continues_with(s, to, "date")) {
      to += 4;
      label_len += 4;
    } else if (continues_with(s, to, " date")) {
      to += 5;
      label_len += 5;
    } else if (continues_with(s, to, "day")) {
      to += 3;
      label_len += 3;
    }
  }
  if (!label_bounds(s, to, label_len)) return;
  std::size_t p = skip_label_gap(s, to, 5);
  if (p >= s.size() || !is_alnum(s[p])) return;
  std::size_t e = date_at(s, p);
  if (e == npos || !clean_right(s, e)) return;
  emit(k, builtin::dob, {static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(e)});
}

void check_mrn(detail::sink& k, std::string_view s, std::size_t to, std::size_t label_len) {
  if (!label_bounds(s, to, label_len)) return;
  // "record" alone is too common; it counts as "medical record" / "med. record".
  if (label_len == 6 && lower(s[to - 1]) == 'd') {
    std::size_t b = to - label_len;
    std::size_t q = b;
    while (q > 0 && s[q - 1] == ' ') --q;
    std::size_t w = q;
    while (w > 0 && (is_alpha(s[w - 1]) || s[w - 1] == '.')) --w;
    std::string_view prev = s.substr(w, q - w);
    if (q == b || !(continues_with(prev, 0, "medical") || continues_with(prev, 0, "med")))
      return;
  }
  std::size_t p = skip_label_gap(s, to, 4);
  std::size_t b = p;
  int letters = 0;
  while (p < s.size() && is_upper(s[p]) && letters < 4) {
    ++p;
    ++letters;
  }
  std::size_t n = digits_after(s, p);
  if (letters > 3 || n < 5 || n > 12 || !clean_right(s, p + n)) return;
  emit(k, builtin::mrn, {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(p + n)});
}

// The first token within `window` bytes after the label that starts with a digit or with
// uppercase letters followed by digits. Stops at a newline or a NUL.
std::size_t value_start(std::string_view s, std::size_t p, std::size_t window) {
  std::size_t lim = std::min(s.size(), p + window);
  for (std::size_t i = p; i < lim; ++i) {
    char c = s[i];
    if (c == '\n' || c == '\0') return npos;
    if (!is_alnum(c) || (i > 0 && is_alnum(s[i - 1]))) continue;
    std::size_t j = i;
    while (j < s.size() && is_upper(s[j]) && j - i < 3) ++j;
    if (j < s.size() && is_digit(s[j])) return i;
  }
  return npos;
}

void check_passport(detail::sink& k, std::string_view s, std::size_t to, std::size_t label_len) {
  if (!label_bounds(s, to, label_len)) return;
  std::size_t b = value_start(s, to, 24);
  if (b == npos) return;
  std::size_t p = b + (is_upper(s[b]) ? 1 : 0);
  std::size_t n = digits_after(s, p);
  if (!(p == b && n == 9) && !(p == b + 1 && n == 8)) return;
  if (!clean_right(s, p + n)) return;
  emit(k, builtin::us_passport, {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(p + n)});
}

// State formats: letters+digits (A1234567), digits (123456789), digit groups (123-456-789,
// S530-460-80-123-0).
void check_dl(detail::sink& k, std::string_view s, std::size_t to, std::size_t label_len) {
  if (!label_bounds(s, to, label_len)) return;
  if (to < s.size() && is_digit(s[to])) return;
  std::size_t b = value_start(s, to, 24);
  if (b == npos) return;
  std::size_t p = b;
  int letters = 0;
  while (p < s.size() && is_upper(s[p]) && letters < 3) {
    ++p;
    ++letters;
  }
  if (letters > 2) return;
  int digits = 0, groups = 0;
  std::size_t e = p;
  while (true) {
    std::size_t n = digits_after(s, e);
    if (n == 0) break;
    digits += static_cast<int>(n);
    e += n;
    ++groups;
    if (e + 1 < s.size() && (s[e] == '-' || s[e] == ' ') && is_digit(s[e + 1]) && groups < 5) {
      ++e;
      continue;
    }
    break;
  }
  if (digits < 5 || digits + letters > 16 || !clean_right(s, e)) return;
  if (date_at(s, b) == e) return;  // "DL expires 12-31-2027"
  emit(k, builtin::drivers_license, {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e)});
}

// ---------------------------------------------------------------------------------- address

constexpr std::array<std::string_view, 32> street_suffixes = {
    "St",     "Street",  "Ave",    "Avenue", "Av",     "Rd",      "Road",  "Blvd",
    "Boulevard", "Dr",   "Drive",  "Ln",     "Lane",   "Ct",      "Court", "Way",
    "Pl",     "Place",   "Ter",    "Terrace", "Pkwy",  "Parkway", "Cir",   "Circle",
    "Hwy",    "Highway", "Sq",     "Square", "Trl",    "Trail",   "Row",   "Loop"};

constexpr std::array<std::string_view, 12> clear_suffixes = {
    "Street", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Lane", "Ln", "Drive", "Court",
    "Place"};

bool is_suffix(std::string_view w) {
  return std::find(street_suffixes.begin(), street_suffixes.end(), w) != street_suffixes.end();
}

bool name_token(std::string_view t) {
  if (t.empty()) return false;
  if (is_upper(t[0])) {
    return std::all_of(t.begin(), t.end(),
                       [](char c) { return is_alpha(c) || c == '\'' || c == '-' || c == '.'; });
  }
  // Numbered streets: 5th, 21st, 42nd, 3rd
  std::size_t d = 0;
  while (d < t.size() && is_digit(t[d])) ++d;
  if (d == 0 || d > 3 || t.size() != d + 2) return false;
  std::string_view suf = t.substr(d);
  return suf == "st" || suf == "nd" || suf == "rd" || suf == "th";
}

bool direction_token(std::string_view t) {
  return (t.size() == 1 || (t.size() == 2 && t[1] == '.')) &&
         (t[0] == 'N' || t[0] == 'S' || t[0] == 'E' || t[0] == 'W');
}

// 1-6 digits, optionally one uppercase letter ("221B").
bool house_number(std::string_view t) {
  std::size_t n = t.size();
  if (n >= 2 && is_upper(t[n - 1])) --n;
  return n >= 1 && n <= 6 && all_digits(t, 0, n);
}

bool token_char(char c) { return is_alnum(c) || c == '\'' || c == '-' || c == '.'; }

// Trigger: a clear suffix word ending at `to`. House number, 1-4 name words, suffix.
bool v_address(std::string_view s, std::size_t to, span32& out) {
  std::size_t p = to;
  while (p > 0 && is_alpha(s[p - 1])) --p;
  std::string_view suffix = s.substr(p, to - p);
  if (std::find(clear_suffixes.begin(), clear_suffixes.end(), suffix) == clear_suffixes.end())
    return false;
  if (to < s.size() && is_alpha(s[to])) return false;
  if (!clean_right(s, to)) return false;
  int names = 0;
  for (int tokens = 0; tokens < 7; ++tokens) {
    std::size_t q = p;
    int spaces = 0;
    while (q > 0 && (s[q - 1] == ' ' || s[q - 1] == '\t') && spaces < 3) {
      --q;
      ++spaces;
    }
    if (spaces == 0) return false;
    std::size_t e = q;
    while (q > 0 && token_char(s[q - 1])) --q;
    std::string_view t = s.substr(q, e - q);
    if (t.empty()) return false;
    if (house_number(t)) {
      if (names == 0 || !clean_left(s, q)) return false;
      out = {static_cast<std::uint32_t>(q), static_cast<std::uint32_t>(to)};
      return true;
    }
    if (!direction_token(t) && (!name_token(t) || ++names > 4)) return false;
    p = q;
  }
  return false;
}

// Trigger: an address word ("lives at", "Address:") ending at `to`; the address follows within
// a few words: house number, optional direction, 1-4 name words, any street suffix.
void check_address_label(detail::sink& k, std::string_view s, std::size_t to,
                         std::size_t label_len) {
  if (!label_bounds(s, to, label_len)) return;
  std::size_t lim = std::min(s.size(), to + 40);
  std::size_t b = npos;
  for (std::size_t i = to; i < lim; ++i) {
    if (s[i] == '\n' || s[i] == '\0') return;
    if (is_digit(s[i]) && !is_alnum(s[i - 1])) {
      b = i;
      break;
    }
  }
  if (b == npos) return;
  std::size_t n = digits_after(s, b);
  if (n > 6 || !clean_left(s, b)) return;
  std::size_t p = b + n;
  if (p + 1 < s.size() && is_upper(s[p]) && !is_alnum(s[p + 1])) ++p;  // 221B
  int names = 0;
  for (int tokens = 0; tokens < 7; ++tokens) {
    int spaces = 0;
    while (p < s.size() && (s[p] == ' ' || s[p] == '\t') && spaces < 3) {
      ++p;
      ++spaces;
    }
    if (spaces == 0) return;
    std::size_t e = p;
    while (e < s.size() && token_char(s[e])) ++e;
    std::string_view t = s.substr(p, e - p);
    if (t.empty()) return;
    std::string_view word = t.back() == '.' ? t.substr(0, t.size() - 1) : t;
    if (names > 0 && is_suffix(word)) {
      std::size_t end = p + word.size();
      if (!clean_right(s, end) && s[end] != '.') return;
      emit(k, builtin::street_address,
           {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(end)});
      return;
    }
    if (!direction_token(t) && (!name_token(word) || ++names > 4)) return;
    p = e;
  }
}

// ---------------------------------------------------------------------------------- custom

bool v_custom(const detail::detector_rt& rt, std::string_view s, std::uint32_t from,
              std::uint32_t to, span32& out) {
  if (from >= to) return false;
  if (rt.validator != detail::custom_validator::none) {
    std::array<char, 64> d{};
    int n = 0;
    for (std::uint32_t i = from; i < to; ++i) {
      char c = s[i];
      bool alnum_mode = rt.validator == detail::custom_validator::mod97;
      if (alnum_mode ? !is_alnum(c) : !is_digit(c)) continue;
      if (n >= static_cast<int>(d.size())) return false;
      d[static_cast<std::size_t>(n++)] = alnum_mode && is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c;
    }
    switch (rt.validator) {
      case detail::custom_validator::luhn:
        if (n < 2 || !luhn(d.data(), n)) return false;
        break;
      case detail::custom_validator::mod97:
        if (n < 5 || !mod97(d.data(), n)) return false;
        break;
      case detail::custom_validator::ssn:
        if (n != 9 || !ssn_rules(d.data())) return false;
        break;
      case detail::custom_validator::npi:
        if (n != 10 || !npi_digits_valid(d.data())) return false;
        break;
      case detail::custom_validator::none: break;
    }
  }
  if (!rt.context.empty()) {
    constexpr std::size_t window = 48;
    std::size_t lo = from > window ? from - window : 0;
    std::size_t hi = std::min<std::size_t>(s.size(), std::size_t{to} + window);
    if (!detail::has_context(s, lo, hi, rt.context)) return false;
  }
  out = {from, to};
  return true;
}

// ---------------------------------------------------------------------------------- table

std::vector<detail::builtin_def> make_builtins() {
  using detail::normalise;
  std::vector<detail::builtin_def> t;
  auto add = [&](std::string id, std::string tag, std::string desc, float conf, normalise norm) {
    detail::builtin_def d;
    d.info.id = std::move(id);
    d.info.tag = std::move(tag);
    d.info.description = std::move(desc);
    d.info.confidence = conf;
    d.info.builtin = true;
    d.norm = norm;
    t.push_back(std::move(d));
  };
  add("us_ssn", "[SSN]",
      "US Social Security number AAA-GG-SSSS (area not 000/666/9xx, group not 00, serial not "
      "0000); 9 digits without dashes only right after an SSN label",
      0.95f, normalise::digits);
  add("payment_card", "[CARD]",
      "Payment card number: 13-19 digits, plain or grouped with spaces/dashes; Luhn and IIN "
      "ranges (Visa, Mastercard, Amex, Discover, JCB, Diners)",
      0.95f, normalise::digits);
  add("email", "[EMAIL]", "Email address", 0.95f, normalise::lower);
  add("phone", "[PHONE]",
      "Phone number: NANP with separators or parentheses (optional +1), international with +, "
      "or 10 digits right after a phone label",
      0.85f, normalise::digits);
  add("dob", "[DOB]",
      "Date of birth: a date (YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, March 3, 1961, 3 Mar 1961, "
      "03-Mar-1961) right after DOB / born / birth date / date of birth",
      0.9f, normalise::raw);
  add("mrn", "[MRN]",
      "Medical record number after a label: MRN: 00123456, MRN-00123456, Medical Record No. "
      "A1234567, Patient ID 123456 (or a configured mrn_pattern)",
      0.9f, normalise::alnum_upper);
  add("npi", "[NPI]",
      "US National Provider Identifier: any 10 digits right after an NPI label, or 10 digits "
      "starting with 1 or 2 with a valid check digit (Luhn over 80840+NPI) and a provider word "
      "(provider, prescriber, referring, ordering, attending, physician, ...) within 48 bytes "
      "before or 16 after",
      0.8f, normalise::digits);
  add("ipv4", "[IP]", "IPv4 address (dotted quad, each part 0-255)", 0.8f, normalise::raw);
  add("ipv6", "[IP]", "IPv6 address (full or ::-compressed, validated with inet_pton)", 0.8f,
      normalise::lower);
  add("iban", "[IBAN]", "IBAN: country code, check digits, the country's length, mod-97 == 1",
      0.95f, normalise::alnum_upper);
  add("us_passport", "[PASSPORT]",
      "US passport number (9 digits, or a letter and 8 digits) after a passport label", 0.85f,
      normalise::alnum_upper);
  add("drivers_license", "[DL]",
      "Driver's licence number (letters+digits, digits, digit groups) after a driver's "
      "licence / DL / DLN label",
      0.8f, normalise::alnum_upper);
  add("street_address", "[ADDRESS]",
      "US street address: house number, 1-4 capitalised name words and a street suffix; "
      "ambiguous suffixes (St, Dr, Ct, Pl, Way, ...) need an address word before it",
      0.8f, normalise::raw);
  return t;
}

// Label literals: the validator knows the literal's length (for the word-boundary check) and
// parses the value after it.
struct label_def {
  const char* text;
  bool caseless = true;
  bool word_bounds = false;  // no word character on either side (\bDL\b)
};

// "birth" also covers "date of birth", "birth date", "birthdate"; "record" covers "medical
// record (number)"; "license"/"licence" cover the driver's licence phrases. Fewer, longer
// literals keep the literal filter selective.
constexpr std::array<label_def, 4> dob_labels = {{{"dob"}, {"d.o.b"}, {"birth"}, {"born"}}};
constexpr std::array<label_def, 5> mrn_labels = {
    {{"mrn"}, {"record"}, {"med rec"}, {"patient id"}, {"pt id"}}};
constexpr std::array<label_def, 1> passport_labels = {{{"passport"}}};
constexpr std::array<label_def, 2> dl_labels = {{{"license"}, {"licence"}}};
// Uppercase only ("mg/dL" is a unit), and as whole words ("LDL" is a lab).
constexpr std::array<label_def, 3> dl_upper_labels = {
    {{"DL", false, true}, {"DLN", false, true}, {"D/L", false, true}}};
// Words after which a street address is expected (the value is parsed forward).
constexpr std::array<label_def, 6> address_labels = {
    {{"address"}, {"lives at"}, {"resides"}, {"residing"}, {"moved to"}, {"mailing"}}};
// Suffixes that name a street on their own (the value is parsed backward from them). The
// trigger includes the space before: it starts the word, and a longer literal filters better.
constexpr std::array<const char*, 12> clear_suffix_triggers = {
    "Street", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Lane", "Ln", "Drive", "Court",
    "Place"};

// Escapes a literal for Hyperscan.
std::string literal(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!is_alnum(c) && c != ' ' && c != '\'' && c != '/') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

namespace detail {

const std::vector<builtin_def>& builtins() {
  static const std::vector<builtin_def> table = make_builtins();
  return table;
}

trigger_set builtin_triggers(const std::array<bool, builtin_count>& on, bool mrn_labels_on) {
  auto is_on = [&](builtin b) { return on[static_cast<std::size_t>(b)]; };
  trigger_set t;
  t.numbers = is_on(builtin::us_ssn) || is_on(builtin::payment_card) || is_on(builtin::phone) ||
              is_on(builtin::npi) || is_on(builtin::iban) || is_on(builtin::ipv4);
  t.email = is_on(builtin::email);
  t.ipv6 = is_on(builtin::ipv6);
  if (is_on(builtin::street_address)) {
    for (const char* sfx : clear_suffix_triggers) {
      t.add_literal(std::string(" ") + sfx, false, false, check::address, 0);
    }
  }
  auto labels = [&](auto& list, check kind) {
    for (const label_def& l : list) {
      std::string text(l.text);
      auto len = static_cast<std::uint8_t>(text.size());
      t.add_literal(std::move(text), l.caseless, l.word_bounds, kind, len);
    }
  };
  if (is_on(builtin::dob)) labels(dob_labels, check::dob_label);
  if (is_on(builtin::mrn) && mrn_labels_on) labels(mrn_labels, check::mrn_label);
  if (is_on(builtin::us_passport)) labels(passport_labels, check::passport_label);
  if (is_on(builtin::drivers_license)) {
    labels(dl_labels, check::dl_label);
    labels(dl_upper_labels, check::dl_label);
  }
  if (is_on(builtin::street_address)) labels(address_labels, check::address_label);
  t.build();
  return t;
}

std::vector<reference_pattern> reference_patterns(const trigger_set& ts) {
  std::vector<reference_pattern> p;
  if (ts.numbers) {
    p.push_back({"(?:\\d(?:[ .()-]{0,2}\\d){8,}|\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3})[^0-9]",
                 trigger_set::what_number});
  }
  if (ts.email) p.push_back({"[A-Za-z0-9._%+-]@[A-Za-z0-9-]", trigger_set::what_email});
  if (ts.ipv6) {
    p.push_back({"::", trigger_set::what_ipv6});
    p.push_back({"(?i)[0-9a-f]:[0-9a-f]", trigger_set::what_ipv6});
  }
  for (std::size_t i = 0; i < ts.literals.size(); ++i) {
    const literal_trigger& l = ts.literals[i];
    std::string e = literal(l.text);
    if (l.word_bounds) e = "\\b" + e + "\\b";
    if (l.caseless) e = "(?i)" + e;
    p.push_back({std::move(e), static_cast<std::uint16_t>(i)});
  }
  return p;
}

bool has_context(std::string_view cell, std::size_t from, std::size_t to,
                 const std::vector<std::string>& words) {
  to = std::min(to, cell.size());
  from = std::min(from, to);
  for (const auto& w : words) {
    if (w.empty() || w.size() > to - from) continue;
    for (std::size_t i = from; i + w.size() <= to; ++i) {
      if (lower(cell[i]) != w[0]) continue;
      if (i > 0 && is_alpha(cell[i - 1]) && is_alpha(w[0])) continue;
      std::size_t k = 1;
      while (k < w.size() && lower(cell[i + k]) == w[k]) ++k;
      if (k == w.size() && (i + k >= cell.size() || !is_alpha(cell[i + k]) || !is_alpha(w[k - 1])))
        return true;
    }
  }
  return false;
}

bool is_date(std::string_view text) { return !text.empty() && date_at(text, 0) == text.size(); }

void check_match(const compiled_pattern& p, sink& k, std::string_view s, std::uint32_t from,
                 std::uint32_t to) {
  span32 sp;
  switch (p.kind) {
    case check::number: check_number(k, s, to); return;
    case check::email:
      if (v_email(s, to, sp)) emit(k, builtin::email, sp);
      return;
    case check::ipv6:
      check_ipv6(k, s, to);
      return;
    case check::address:
      if (v_address(s, to, sp)) emit(k, builtin::street_address, sp);
      return;
    case check::dob_label: check_dob(k, s, to, p.label_len); return;
    case check::mrn_label: check_mrn(k, s, to, p.label_len); return;
    case check::passport_label: check_passport(k, s, to, p.label_len); return;
    case check::dl_label: check_dl(k, s, to, p.label_len); return;
    case check::address_label: check_address_label(k, s, to, p.label_len); return;
    case check::som_whole:
      if (v_custom(k.eng->rt[p.detector], s, from, to, sp)) {
        k.out->push_back({k.cell, sp.begin, sp.end, p.detector});
      }
      return;
  }
}

}  // namespace detail

bool luhn_valid(std::string_view digits) {
  if (digits.size() < 2 || digits.size() > 64 || !all_digits(digits, 0, digits.size()))
    return false;
  return luhn(digits.data(), static_cast<int>(digits.size()));
}

bool iban_mod97_valid(std::string_view text) {
  std::array<char, 64> c{};
  int n = 0;
  for (char ch : text) {
    if (ch == ' ') continue;
    if (n >= static_cast<int>(c.size())) return false;
    c[static_cast<std::size_t>(n++)] = is_lower(ch) ? static_cast<char>(ch - 'a' + 'A') : ch;
  }
  return n >= 5 && mod97(c.data(), n);
}

bool ssn_valid(std::string_view digits9) {
  return digits9.size() == 9 && all_digits(digits9, 0, 9) && ssn_rules(digits9.data());
}

bool npi_valid(std::string_view digits10) {
  return digits10.size() == 10 && all_digits(digits10, 0, 10) && npi_digits_valid(digits10.data());
}

}  // namespace gh::dlp
