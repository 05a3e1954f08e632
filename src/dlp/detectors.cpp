// Built-in detectors: the Hyperscan patterns that find candidates and the validators that decide.
//
// Patterns are written so that Hyperscan can work from literals where possible (labels such as
// "SSN", "DOB", "@", "::"), never match across a NUL byte (the cell separator of a batch), and end
// with \b so one value gives one match end. They are compiled without start-of-match tracking;
// each validator re-parses the value backwards from the match end (the shapes are simple enough
// that this is unambiguous) and applies the real rules: checksums, number ranges, boundaries.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "dlp/internal.hpp"

namespace gh::dlp {

namespace {

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

// ---------------------------------------------------------------------------------- us_ssn

bool ssn_rules(const char* d) {
  int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  int group = (d[3] - '0') * 10 + (d[4] - '0');
  int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

bool v_ssn_dashed(std::string_view s, std::uint32_t to, detail::span32& out) {
  if (to < 11) return false;
  std::size_t b = to - 11;
  if (!all_digits(s, b, b + 3) || s[b + 3] != '-' || !all_digits(s, b + 4, b + 6) ||
      s[b + 6] != '-' || !all_digits(s, b + 7, to))
    return false;
  if (!clean_left(s, b) || !clean_right(s, to)) return false;
  char d[9] = {s[b],     s[b + 1], s[b + 2], s[b + 4], s[b + 5],
               s[b + 7], s[b + 8], s[b + 9], s[b + 10]};
  if (!ssn_rules(d)) return false;
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

// Parses digit groups backwards from `e`: sizes[0] is the last group. Separators are the chars in
// `seps`, at most one between groups. Returns the start, or npos.
std::size_t groups_back(std::string_view s, std::size_t e, std::initializer_list<int> sizes,
                        const char* seps, char* digits) {
  std::size_t p = e;
  int total = 0;
  for (int n : sizes) total += n;
  int w = total;
  bool first = true;
  for (int n : sizes) {
    if (!first && p > 0 && std::strchr(seps, s[p - 1]) != nullptr && s[p - 1] != '\0') --p;
    first = false;
    if (p < static_cast<std::size_t>(n) || !all_digits(s, p - n, p)) return std::string_view::npos;
    w -= n;
    std::memcpy(digits + w, s.data() + p - n, static_cast<std::size_t>(n));
    p -= n;
  }
  return p;
}

bool v_ssn_labelled(std::string_view s, std::uint32_t to, detail::span32& out) {
  char d[9] = {};
  std::size_t b = groups_back(s, to, {4, 2, 3}, " -", d);
  if (b == std::string_view::npos) return false;
  if (b > 0 && (is_alnum(s[b - 1]))) return false;
  if (!clean_right(s, to) || !ssn_rules(d)) return false;
  out = {static_cast<std::uint32_t>(b), to};
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
  if (d4 == 6011 || (d3 >= 644 && d3 <= 649) || d2 == 65 ||
      (d6 >= 622126 && d6 <= 622925))
    return n >= 16 && n <= 19;  // Discover
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

bool v_card(std::string_view s, std::uint32_t to, detail::span32& out) {
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
    gb[ng] = p - n;
    gl[ng] = static_cast<int>(n);
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
  // Try the longest run of trailing groups that is a card-like grouping: one run of 13-19
  // digits, 4-4-4-x (x = 1..7), or 4-6-4/5 (Amex, Diners).
  for (int k = ng; k >= 1; --k) {
    int digits = 0;
    for (int i = 0; i < k; ++i) digits += gl[i];
    if (digits < 13 || digits > 19) continue;
    bool shape = false;
    if (k == 1) {
      shape = true;
    } else {
      bool fours = gl[0] >= 1 && gl[0] <= 7;
      for (int i = 1; i < k; ++i) fours = fours && gl[i] == 4;
      bool amex = k == 3 && gl[2] == 4 && gl[1] == 6 && (gl[0] == 4 || gl[0] == 5);
      shape = fours || amex;
    }
    if (!shape) continue;
    std::size_t b = gb[k - 1];
    if (k == ng) {
      if (!clean_left(s, b)) continue;
    } else if (gl[k] == 4 || k + 1 < ng) {
      // A suffix of a longer grouped number is accepted only when one stray group precedes it
      // ("qty 1 4111 1111 ...") — not inside a long run of groups.
      continue;
    }
    char d[19] = {};
    int w = 0;
    for (std::size_t i = b; i < to; ++i) {
      if (is_digit(s[i])) d[w++] = s[i];
    }
    if (!iin_ok(d, w) || !luhn(d, w)) continue;
    out = {static_cast<std::uint32_t>(b), to};
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------- email

bool local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

bool v_email(std::string_view s, std::uint32_t to, detail::span32& out) {
  std::size_t p = to;
  while (p > 0 && (is_alnum(s[p - 1]) || s[p - 1] == '.' || s[p - 1] == '-')) --p;
  if (p == 0 || s[p - 1] != '@') return false;
  std::size_t at = p - 1;
  std::string_view domain = s.substr(p, to - p);
  if (domain.size() < 4 || domain.size() > 253) return false;
  // Labels: non-empty, no leading/trailing '-'; TLD alphabetic, 2+ chars.
  std::size_t label_start = 0;
  int labels = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      std::size_t len = i - label_start;
      if (len == 0 || len > 63) return false;
      if (domain[label_start] == '-' || domain[i - 1] == '-') return false;
      ++labels;
      label_start = i + 1;
    }
  }
  if (labels < 2) return false;
  std::size_t last_dot = domain.rfind('.');
  std::string_view tld = domain.substr(last_dot + 1);
  if (tld.size() < 2 || !std::all_of(tld.begin(), tld.end(), is_alpha)) return false;
  // A longer domain continues after this end ("a@b.co" inside "a@b.co.uk"): that end reports too.
  if (to < s.size() && (s[to] == '.' || s[to] == '-') && to + 1 < s.size() &&
      is_alnum(s[to + 1]))
    return false;
  if (to < s.size() && (is_alnum(s[to]) || s[to] == '_')) return false;
  std::size_t q = at;
  while (q > 0 && local_char(s[q - 1])) --q;
  while (q < at && s[q] == '.') ++q;
  if (q == at || at - q > 64 || s[at - 1] == '.') return false;
  out = {static_cast<std::uint32_t>(q), to};
  return true;
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

bool v_phone_nanp(std::string_view s, std::uint32_t to, detail::span32& out) {
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
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

bool v_phone_intl(std::string_view s, std::uint32_t to, detail::span32& out) {
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
  if (!clean_left(s, b) || !is_digit(s[p]) || s[p] == '0') return false;
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
  if (digits < 8 || digits > 15) return false;
  if (!clean_right(s, to)) return false;
  if (to + 1 < s.size() && s[to] == ' ' && is_digit(s[to + 1])) return false;  // not the end
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

bool v_phone_labelled(std::string_view s, std::uint32_t to, detail::span32& out) {
  std::size_t n = digits_before(s, to);
  if (n != 10 && n != 11) return false;
  std::size_t b = to - n;
  if (b > 0 && is_alnum(s[b - 1])) return false;
  std::size_t a = b;
  if (n == 11) {
    if (s[b] != '1') return false;
    a = b + 1;
  }
  if (!nanp_ok(s[a], s[a + 3]) || !clean_right(s, to)) return false;
  out = {static_cast<std::uint32_t>(b), to};
  return true;
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
  if (len < 3) return 0;
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

// Reads 1..max digits at p (at least min); returns the value or -1.
int read_num(std::string_view s, std::size_t& p, int min, int max, int* len_out = nullptr) {
  std::size_t e = p;
  while (e < s.size() && is_digit(s[e]) && static_cast<int>(e - p) < max + 1) ++e;
  int len = static_cast<int>(e - p);
  if (len < min || len > max) return -1;
  int v = number(s, p, e);
  p = e;
  if (len_out != nullptr) *len_out = len;
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

// True if s[b, e) is exactly one date in a supported format.
bool date_exact(std::string_view s, std::size_t b, std::size_t e) {
  auto ends = [&](std::size_t p) { return p == e; };
  // 1) YYYY-MM-DD (also / and .)
  {
    std::size_t p = b;
    int yl = 0;
    int y = read_num(s, p, 4, 4, &yl);
    if (y >= 0 && p < e && (s[p] == '-' || s[p] == '/' || s[p] == '.')) {
      char sep = s[p++];
      int m = read_num(s, p, 1, 2);
      if (m >= 0 && p < e && s[p] == sep) {
        ++p;
        int d = read_num(s, p, 1, 2);
        if (d >= 0 && ends(p) && valid_ymd(y, 4, m, d)) return true;
      }
    }
  }
  // 2) MM/DD/YYYY, DD.MM.YYYY, MM-DD-YYYY (2-digit years too); either day/month order.
  {
    std::size_t p = b;
    int a = read_num(s, p, 1, 2);
    if (a >= 0 && p < e && (s[p] == '/' || s[p] == '.' || s[p] == '-')) {
      char sep = s[p++];
      int c = read_num(s, p, 1, 2);
      if (c >= 0 && p < e && s[p] == sep) {
        ++p;
        int yl = 0;
        int y = read_num(s, p, 2, 4, &yl);
        if (y >= 0 && yl != 3 && ends(p) && (valid_ymd(y, yl, a, c) || valid_ymd(y, yl, c, a)))
          return true;
      }
    }
  }
  // 3) March 3, 1961 / Mar. 3 1961 / March 3rd, 1961
  {
    std::size_t p = b;
    int m = read_month(s, p);
    if (m > 0 && skip_spaces(s, p, 1, 3)) {
      int d = read_num(s, p, 1, 2);
      if (d >= 0) {
        skip_ordinal(s, p);
        if (p < e && s[p] == ',') ++p;
        int yl = 0;
        if (skip_spaces(s, p, 1, 3)) {
          int y = read_num(s, p, 4, 4, &yl);
          if (y >= 0 && ends(p) && valid_ymd(y, yl, m, d)) return true;
        }
      }
    }
  }
  // 4) 3 March 1961 / 3rd of March, 1961 / 03-Mar-1961
  {
    std::size_t p = b;
    int d = read_num(s, p, 1, 2);
    if (d >= 0) {
      bool dashed = p < e && s[p] == '-';
      if (dashed) {
        ++p;
      } else {
        skip_ordinal(s, p);
        if (!skip_spaces(s, p, 1, 3)) return false;
        if (p + 3 <= e && lower(s[p]) == 'o' && lower(s[p + 1]) == 'f' && s[p + 2] == ' ') p += 3;
      }
      int m = read_month(s, p);
      if (m > 0) {
        if (dashed) {
          if (p >= e || s[p] != '-') return false;
          ++p;
        } else {
          if (p < e && s[p] == ',') ++p;
          if (!skip_spaces(s, p, 1, 3)) return false;
        }
        int yl = 0;
        int y = read_num(s, p, dashed ? 2 : 4, 4, &yl);
        if (y >= 0 && yl != 3 && ends(p) && valid_ymd(y, yl, m, d)) return true;
      }
    }
  }
  return false;
}

bool v_dob(std::string_view s, std::uint32_t to, detail::span32& out) {
  constexpr std::size_t max_len = 32;
  std::size_t lo = to > max_len ? to - max_len : 0;
  if (!clean_right(s, to)) return false;
  for (std::size_t b = lo; b + 6 <= to; ++b) {
    if (!is_alnum(s[b]) || (b > 0 && is_alnum(s[b - 1]))) continue;
    if (date_exact(s, b, to)) {
      out = {static_cast<std::uint32_t>(b), to};
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------- mrn

bool v_mrn_labelled(std::string_view s, std::uint32_t to, detail::span32& out) {
  std::size_t n = digits_before(s, to);
  if (n < 5 || n > 12) return false;
  std::size_t b = to - n;
  int letters = 0;
  while (b > 0 && is_upper(s[b - 1]) && letters < 4) {
    --b;
    ++letters;
  }
  if (letters > 3 || (b > 0 && is_alnum(s[b - 1]))) return false;
  if (!clean_right(s, to)) return false;
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

// ---------------------------------------------------------------------------------- npi

bool npi_digits_valid(const char* d) {
  // Luhn over "80840" + the 10 digits (the card-issuer prefix of health applications).
  char buf[15] = {'8', '0', '8', '4', '0'};
  std::memcpy(buf + 5, d, 10);
  return (d[0] == '1' || d[0] == '2') && luhn(buf, 15);
}

bool v_npi_checksum(std::string_view s, std::uint32_t to, detail::span32& out) {
  if (to < 10 || digits_before(s, to) != 10) return false;
  std::size_t b = to - 10;
  if (!clean_left(s, b) || !clean_right(s, to)) return false;
  if (!npi_digits_valid(s.data() + b)) return false;
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

bool v_npi_labelled(std::string_view s, std::uint32_t to, detail::span32& out) {
  if (to < 10 || digits_before(s, to) != 10) return false;
  std::size_t b = to - 10;
  if ((b > 0 && is_alnum(s[b - 1])) || !clean_right(s, to)) return false;
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

// ---------------------------------------------------------------------------------- ip

bool v_ipv4(std::string_view s, std::uint32_t to, detail::span32& out) {
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
  out = {static_cast<std::uint32_t>(p), to};
  return true;
}

bool v_ipv6(std::string_view s, std::uint32_t to, detail::span32& out) {
  constexpr std::size_t max_len = 45;
  std::size_t e = to;
  // An embedded IPv4 tail ("::ffff:10.1.2.3"): the pattern ends at the first decimal group.
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
  std::size_t b = to;
  while (b > 0 && (is_hex(s[b - 1]) || s[b - 1] == ':') && e - b < max_len) --b;
  if (b > 0 && (is_alnum(s[b - 1]) || s[b - 1] == '_' || s[b - 1] == ':')) return false;
  if (e < s.size() && (is_alnum(s[e]) || s[e] == '_')) return false;
  if (e + 1 < s.size() && s[e] == ':' && is_hex(s[e + 1])) return false;
  if (e - b < 3 || e - b > max_len) return false;
  std::array<char, 64> buf{};
  std::memcpy(buf.data(), s.data() + b, e - b);
  in6_addr addr{};
  if (::inet_pton(AF_INET6, buf.data(), &addr) != 1) return false;
  out = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e)};
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

bool v_iban(std::string_view s, std::uint32_t to, detail::span32& out) {
  constexpr std::size_t max_len = 42;
  std::size_t w = to;
  while (w > 0 && (is_upper(s[w - 1]) || is_digit(s[w - 1]) || s[w - 1] == ' ') && to - w < max_len)
    --w;
  if (!clean_right(s, to)) return false;
  for (std::size_t b = w; b + 15 <= to; ++b) {
    if (!is_upper(s[b]) || !is_upper(s[b + 1]) || !is_digit(s[b + 2]) || !is_digit(s[b + 3]))
      continue;
    if (b > 0 && is_alnum(s[b - 1])) continue;
    int want = iban_length(s[b], s[b + 1]);
    if (want == 0) continue;
    std::array<char, 40> c{};
    int n = 0;
    bool ok = true;
    for (std::size_t i = b; i < to && ok; ++i) {
      if (s[i] == ' ') {
        ok = i > b && s[i - 1] != ' ';
        continue;
      }
      if (n >= 34) ok = false;
      else c[static_cast<std::size_t>(n++)] = s[i];
    }
    if (!ok || n != want || !mod97(c.data(), n)) continue;
    out = {static_cast<std::uint32_t>(b), to};
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------- passport, DL

bool v_passport(std::string_view s, std::uint32_t to, detail::span32& out) {
  std::size_t n = digits_before(s, to);
  std::size_t b;
  if (n == 9) {
    b = to - 9;
  } else if (n == 8 && to >= 9 && is_upper(s[to - 9])) {
    b = to - 9;
  } else {
    return false;
  }
  if ((b > 0 && is_alnum(s[b - 1])) || !clean_right(s, to)) return false;
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

bool v_drivers_license(std::string_view s, std::uint32_t to, detail::span32& out) {
  constexpr std::size_t max_len = 24;
  std::size_t w = to;
  while (w > 0 && (is_upper(s[w - 1]) || is_digit(s[w - 1]) || s[w - 1] == ' ' ||
                   s[w - 1] == '-') &&
         to - w < max_len)
    --w;
  if (!clean_right(s, to)) return false;
  // Skip leading tokens without a digit (label words like "DL", "NO").
  std::size_t b = w;
  while (b < to) {
    while (b < to && (s[b] == ' ' || s[b] == '-')) ++b;
    std::size_t e = b;
    bool digit = false;
    for (; e < to && s[e] != ' ' && s[e] != '-'; ++e) {
      if (is_digit(s[e])) digit = true;
    }
    if (digit) break;
    b = e;
  }
  if (b >= to || (b > 0 && is_alnum(s[b - 1]))) return false;
  int alnum = 0, digits = 0, letters_first = 0;
  bool in_prefix = true;
  for (std::size_t i = b; i < to; ++i) {
    if (is_digit(s[i])) {
      ++digits;
      in_prefix = false;
    }
    if (is_alnum(s[i])) ++alnum;
    if (in_prefix && is_upper(s[i])) ++letters_first;
  }
  if (alnum < 5 || alnum > 16 || digits < 4 || letters_first > 2) return false;
  if (date_exact(s, b, to)) return false;  // "DL expires 12-31-2027"
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

// ---------------------------------------------------------------------------------- address

constexpr std::array<std::string_view, 20> clear_suffixes = {
    "Street", "Avenue",  "Ave",     "Road", "Rd",      "Boulevard", "Blvd",
    "Lane",   "Ln",      "Drive",   "Court", "Place",  "Terrace",   "Parkway",
    "Pkwy",   "Highway", "Hwy",     "Circle", "Square", "Trail"};

const std::vector<std::string>& address_context() {
  static const std::vector<std::string> words = {
      "address", "addr",    "lives",    "living",  "resides", "residing", "residence",
      "home",    "street",  "mailing",  "located", "moved",   "apt",      "apartment",
      "suite",   "ship to", "billing",  "mail to", "reside",  "domicile", "lives at"};
  return words;
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

bool v_address(std::string_view s, std::uint32_t to, detail::span32& out) {
  std::size_t p = to;
  while (p > 0 && is_alpha(s[p - 1])) --p;
  std::string_view suffix = s.substr(p, to - p);
  if (suffix.empty() || !clean_right(s, to)) return false;
  int names = 0;
  std::size_t b = std::string_view::npos;
  for (int tokens = 0; tokens < 7; ++tokens) {
    std::size_t q = p;
    int spaces = 0;
    while (q > 0 && (s[q - 1] == ' ' || s[q - 1] == '\t') && spaces < 3) {
      --q;
      ++spaces;
    }
    if (spaces == 0) return false;
    std::size_t e = q;
    while (q > 0 && (is_alnum(s[q - 1]) || s[q - 1] == '\'' || s[q - 1] == '-' ||
                     s[q - 1] == '.'))
      --q;
    std::string_view t = s.substr(q, e - q);
    if (t.empty()) return false;
    if (all_digits(t, 0, t.size())) {
      if (t.size() > 6 || names == 0) return false;
      b = q;
      break;
    }
    bool direction = (t.size() == 1 || (t.size() == 2 && t[1] == '.')) &&
                     (t[0] == 'N' || t[0] == 'S' || t[0] == 'E' || t[0] == 'W');
    if (!direction) {
      if (!name_token(t) || ++names > 4) return false;
    }
    p = q;
  }
  if (b == std::string_view::npos || !clean_left(s, b)) return false;
  bool clear = std::find(clear_suffixes.begin(), clear_suffixes.end(), suffix) !=
               clear_suffixes.end();
  if (!clear) {
    constexpr std::size_t window = 64;
    if (!detail::has_context(s, b > window ? b - window : 0, b, address_context())) return false;
  }
  out = {static_cast<std::uint32_t>(b), to};
  return true;
}

// ---------------------------------------------------------------------------------- custom

bool v_custom(const detail::detector_rt& rt, std::string_view s, std::uint32_t from,
              std::uint32_t to, detail::span32& out) {
  if (from >= to) return false;
  if (rt.validator != detail::custom_validator::none) {
    std::array<char, 64> d{};
    int n = 0;
    for (std::uint32_t i = from; i < to; ++i) {
      char c = s[i];
      bool take = rt.validator == detail::custom_validator::mod97 ? is_alnum(c) : is_digit(c);
      if (!take) continue;
      if (n >= static_cast<int>(d.size())) return false;
      d[static_cast<std::size_t>(n++)] = rt.validator == detail::custom_validator::mod97 && is_lower(c)
                                             ? static_cast<char>(c - 'a' + 'A')
                                             : c;
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

// Label alternations, caseless. A label must start at a word boundary; what may sit between the
// label and the value is limited and never contains a NUL (cells are NUL-separated in a batch).
#define GH_GAP "[^0-9\\x00]{0,20}"
#define GH_SHORT_GAP "[^0-9A-Za-z\\x00]{0,4}"
#define GH_MONTH "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\\.?"
#define GH_DATE                                                           \
  "(?:\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}"                                   \
  "|\\d{1,2}[-/.]\\d{1,2}[-/.]\\d{2,4}"                                   \
  "|" GH_MONTH "\\s{1,3}\\d{1,2}(?:st|nd|rd|th)?,?\\s{1,3}\\d{4}"         \
  "|\\d{1,2}(?:st|nd|rd|th)?\\s{1,3}(?:of\\s)?" GH_MONTH ",?\\s{1,3}\\d{4}" \
  "|\\d{1,2}-" GH_MONTH "-\\d{2,4})\\b"

std::vector<detail::builtin_def> make_builtins() {
  using detail::check;
  using detail::normalise;
  std::vector<detail::builtin_def> t;
  auto add = [&](std::string id, std::string tag, std::string desc, float conf, normalise norm,
                 std::vector<detail::pattern_def> pats) {
    detail::builtin_def d;
    d.info.id = std::move(id);
    d.info.tag = std::move(tag);
    d.info.description = std::move(desc);
    d.info.confidence = conf;
    d.info.builtin = true;
    d.norm = norm;
    d.patterns = std::move(pats);
    t.push_back(std::move(d));
  };
  add("us_ssn", "[SSN]",
      "US Social Security number: AAA-GG-SSSS (area not 000/666/9xx, group not 00, serial not "
      "0000); 9 digits without dashes only after an SSN label",
      0.95f, normalise::digits,
      {{"\\d{3}-\\d{2}-\\d{4}\\b", check::ssn_dashed},
       {"(?i)\\b(?:ssn|ss#|ss\\s?no\\b|social\\s+security|soc\\.?\\s?sec\\b)" GH_GAP
        "\\d{3}[ -]?\\d{2}[ -]?\\d{4}\\b",
        check::ssn_labelled}});
  add("payment_card", "[CARD]",
      "Payment card number: 13-19 digits, optionally grouped with spaces or dashes; Luhn and IIN "
      "ranges (Visa, Mastercard, Amex, Discover, JCB, Diners)",
      0.95f, normalise::digits,
      {{"\\d{13,19}\\b", check::card},
       {"\\d{4}[ -]\\d{4}[ -]\\d{4}[ -]\\d{1,7}\\b", check::card},
       {"\\d{4}[ -]\\d{6}[ -]\\d{4,5}\\b", check::card}});
  add("email", "[EMAIL]", "Email address", 0.95f, normalise::lower,
      {{"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,24}\\b", check::email}});
  add("phone", "[PHONE]",
      "Phone number: NANP with separators or parentheses (optional +1), E.164/international with "
      "+, or 10 digits after a phone label",
      0.85f, normalise::digits,
      {{"(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}\\b", check::phone_nanp},
       {"\\+\\d[\\d .()-]{6,20}\\d\\b", check::phone_intl},
       {"(?i)\\b(?:phone|ph|tel|telephone|cell|mobile|mob|fax|contact|call)\\b" GH_GAP
        "\\d{10,11}\\b",
        check::phone_labelled}});
  add("dob", "[DOB]",
      "Date of birth: a date (YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, March 3, 1961, 3 Mar 1961, "
      "03-Mar-1961) right after DOB/born/birth/date of birth",
      0.9f, normalise::raw,
      {{"(?i)(?:\\b(?:dob|date\\s+of\\s+birth|birth\\s?date|birthday|born(?:\\s+on)?)\\b|"
        "\\bd\\.o\\.b\\.?)[^0-9A-Za-z\\x00]{0,5}(?:(?:is|was|on|of)[^0-9A-Za-z\\x00]{1,3})?" GH_DATE,
        check::dob}});
  add("mrn", "[MRN]",
      "Medical record number after a label: MRN: 00123456, MRN-00123456, Medical Record No. "
      "A1234567, Patient ID 123456",
      0.9f, normalise::alnum_upper,
      {{"(?i:\\b(?:mrn|medical\\s+record(?:\\s+(?:number|num|no\\.?))?|med\\.?\\s?rec(?:ord)?"
        "(?:\\s?(?:no\\.?|#))?|patient\\s+id|pt\\.?\\s+id))" GH_SHORT_GAP "[A-Z]{0,3}\\d{5,12}\\b",
        check::mrn_labelled}});
  add("npi", "[NPI]",
      "US National Provider Identifier: 10 digits starting with 1 or 2 with a valid Luhn check "
      "over 80840+NPI, or any 10 digits after an NPI label",
      0.85f, normalise::digits,
      {{"\\b[12]\\d{9}\\b", check::npi_checksum},
       {"(?i:\\bnpi\\b)" GH_GAP "\\d{10}\\b", check::npi_labelled}});
  add("ipv4", "[IP]", "IPv4 address (dotted quad, each part 0-255)", 0.8f, normalise::raw,
      {{"\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\b", check::ipv4}});
  add("ipv6", "[IP]", "IPv6 address (full or ::-compressed, validated with inet_pton)", 0.8f,
      normalise::lower,
      {{"(?i)[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){7}\\b", check::ipv6},
       {"(?i)::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}\\b", check::ipv6}});
  add("iban", "[IBAN]", "IBAN: country code, check digits, country length, mod-97 == 1", 0.95f,
      normalise::alnum_upper,
      {{"[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\\b", check::iban}});
  add("us_passport", "[PASSPORT]",
      "US passport number (9 digits, or a letter and 8 digits) after a passport label", 0.85f,
      normalise::alnum_upper,
      {{"(?i:\\bpassport\\b)" GH_GAP "(?:[A-Z]\\d{8}|\\d{9})\\b", check::passport}});
  add("drivers_license", "[DL]",
      "Driver's licence number (state formats: letters+digits, digit groups) after a "
      "driver's licence / DL / DLN label",
      0.8f, normalise::alnum_upper,
      {{"(?:(?i:\\bdriver'?s?\\s?licen[cs]e\\b)|\\bDLN?\\b|\\bD/L\\b|"
        "(?i:\\blicen[cs]e\\s?(?:no\\b|number\\b|num\\b|#)))" GH_GAP
        "(?:[A-Z]{1,2}\\d{4,14}|\\d{5,14}|[A-Z]?\\d{3}[- ]\\d{3}[- ]\\d{2,4}(?:[- ]\\d{1,4}){0,2})"
        "\\b",
        check::drivers_license}});
  add("street_address", "[ADDRESS]",
      "US street address: house number, 1-4 capitalised name words and a street suffix; the "
      "ambiguous suffixes (St, Dr, Ct, Pl, Way, ...) need an address word nearby",
      0.8f, normalise::raw,
      {{"\\d{1,6}[ \\t]{1,3}(?:[NSEW]\\.?[ \\t]{1,3})?(?:(?:[A-Z][A-Za-z'.-]{0,20}|\\d{1,3}(?:st|nd|"
        "rd|th))[ \\t]{1,3}){1,4}(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|"
        "Ct|Court|Way|Pl|Place|Ter|Terrace|Pkwy|Parkway|Cir|Circle|Hwy|Highway|Sq|Square|Trl|"
        "Trail)\\b",
        check::address}});
  return t;
}

#undef GH_GAP
#undef GH_SHORT_GAP
#undef GH_MONTH
#undef GH_DATE

}  // namespace

namespace detail {

const std::vector<builtin_def>& builtins() {
  static const std::vector<builtin_def> table = make_builtins();
  return table;
}

bool has_context(std::string_view cell, std::size_t from, std::size_t to,
                 const std::vector<std::string>& words) {
  to = std::min(to, cell.size());
  for (const auto& w : words) {
    if (w.empty() || w.size() > to - std::min(from, to)) continue;
    for (std::size_t i = from; i + w.size() <= to; ++i) {
      if (lower(cell[i]) != w[0]) continue;
      if (i > 0 && is_alpha(cell[i - 1]) && is_alpha(w[0])) continue;
      std::size_t k = 1;
      while (k < w.size() && lower(cell[i + k]) == w[k]) ++k;
      if (k == w.size()) return true;
    }
  }
  return false;
}

bool is_date(std::string_view text) { return date_exact(text, 0, text.size()); }

bool validate(const compiled_pattern& p, const detector_rt& rt, std::string_view cell,
              std::uint32_t from, std::uint32_t to, span32& out) {
  switch (p.kind) {
    case check::ssn_dashed: return v_ssn_dashed(cell, to, out);
    case check::ssn_labelled: return v_ssn_labelled(cell, to, out);
    case check::card: return v_card(cell, to, out);
    case check::email: return v_email(cell, to, out);
    case check::phone_nanp: return v_phone_nanp(cell, to, out);
    case check::phone_intl: return v_phone_intl(cell, to, out);
    case check::phone_labelled: return v_phone_labelled(cell, to, out);
    case check::dob: return v_dob(cell, to, out);
    case check::mrn_labelled: return v_mrn_labelled(cell, to, out);
    case check::npi_checksum: return v_npi_checksum(cell, to, out);
    case check::npi_labelled: return v_npi_labelled(cell, to, out);
    case check::ipv4: return v_ipv4(cell, to, out);
    case check::ipv6: return v_ipv6(cell, to, out);
    case check::iban: return v_iban(cell, to, out);
    case check::passport: return v_passport(cell, to, out);
    case check::drivers_license: return v_drivers_license(cell, to, out);
    case check::address: return v_address(cell, to, out);
    case check::som_whole: return v_custom(rt, cell, from, to, out);
  }
  return false;
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
