// Scanning and masking. The hot path is scan(): cells are copied into one reusable buffer with a
// NUL after each (no built-in pattern can match a NUL), one hs_scan runs over the lot, and each
// match is mapped back to its cell through the table of cell start offsets and validated on the
// spot. Everything it touches is owned by the scanner and reused, so a warm scanner does not
// allocate.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "dlp/internal.hpp"

namespace gh::dlp {

namespace {

// Bounds the batch buffer: cells beyond this go into the next hs_scan of the same call.
constexpr std::size_t max_group_bytes = 8u << 20;
// A buffer grown past this by one unusually large batch is released afterwards.
constexpr std::size_t keep_capacity = 4u << 20;

constexpr std::string_view redacted = "[REDACTED]";
constexpr std::string_view placeholder_number = "0";
constexpr std::string_view placeholder_date = "1900-01-01";
constexpr std::string_view placeholder_timestamp = "1900-01-01 00:00:00";

struct mac_deleter {
  void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
};
struct mac_ctx_deleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

bool alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

struct scanner::state {
  const engine::impl* eng = nullptr;
  detail::scratch_ptr scratch;

  // Current hs_scan: the bytes, where each cell starts (plus one entry past the last separator),
  // and where its findings go.
  std::string buf;
  std::vector<std::uint32_t> starts;
  const char* data = nullptr;
  std::uint32_t group_first = 0;
  std::uint32_t cursor = 0;
  detail::sink sink;
  std::vector<std::uint32_t> rescan;  // cells a custom pattern matched across (see on_match)
  std::vector<detail::trigger> triggers;  // built-in triggers of the current group
  bool single = false;                // rescanning one cell: only custom (SOM) patterns count
  std::uint32_t single_cell = 0;
  std::uint32_t single_len = 0;

  std::vector<finding> text_findings;  // mask_text
  std::string norm;                    // hash input

  std::unique_ptr<EVP_MAC, mac_deleter> mac;
  std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> mac_ctx;
  bool mac_failed = false;
};

namespace {

int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int,
             void* ctx) {
  auto& st = *static_cast<scanner::state*>(ctx);
  const detail::compiled_pattern& pat = st.eng->patterns[id];
  const auto end = static_cast<std::uint32_t>(to);
  if (st.single) {
    if (!pat.som || end > st.single_len) return 0;
    st.sink.cell = st.single_cell;
    detail::check_match(pat, st.sink, std::string_view(st.data, st.single_len),
                        static_cast<std::uint32_t>(from), end);
    return 0;
  }
  const std::uint32_t pos = end - 1;
  std::uint32_t c = st.cursor;
  if (!(st.starts[c] <= pos && pos < st.starts[c + 1])) {
    auto it = std::upper_bound(st.starts.begin(), st.starts.end(), pos);
    c = static_cast<std::uint32_t>(it - st.starts.begin()) - 1;
    st.cursor = c;
  }
  const std::uint32_t cb = st.starts[c];
  const std::uint32_t ce = st.starts[c + 1] - 1;  // the separator after the cell
  if (end > ce) return 0;                         // a custom pattern that matched the separator
  if (pat.som && from < cb) {
    // A custom pattern matched across the separator; its leftmost start hides any match that
    // starts inside this cell, so the cell is scanned again on its own afterwards.
    if (st.rescan.empty() || st.rescan.back() != c) st.rescan.push_back(c);
    return 0;
  }
  st.sink.cell = st.group_first + c;
  detail::check_match(pat, st.sink, std::string_view(st.data + cb, ce - cb),
                      pat.som ? static_cast<std::uint32_t>(from - cb) : 0u, end - cb);
  return 0;
}

// The built-in triggers (prefilter) over the current group: each is mapped to its cell and
// validated there, like a Hyperscan match.
void scan_triggers(scanner::state& st) {
  const detail::trigger_set& ts = st.eng->triggers;
  st.triggers.clear();
  detail::find_triggers(ts, std::string_view(st.data, st.starts.back()), st.triggers);
  std::uint32_t c = 0;
  for (const detail::trigger& t : st.triggers) {
    // No trigger contains a NUL, so its last byte (end - 1) tells the cell.
    const std::uint32_t pos = t.end - 1;
    if (pos < st.starts[c]) {
      auto it = std::upper_bound(st.starts.begin(), st.starts.end(), pos);
      c = static_cast<std::uint32_t>(it - st.starts.begin()) - 1;
    } else {
      while (pos >= st.starts[c + 1]) ++c;  // triggers mostly come in increasing order
    }
    detail::compiled_pattern p;
    switch (t.what) {
      case detail::trigger_set::what_number: p.kind = detail::check::number; break;
      case detail::trigger_set::what_email: p.kind = detail::check::email; break;
      case detail::trigger_set::what_ipv6: p.kind = detail::check::ipv6; break;
      default:
        p.kind = ts.literals[t.what].kind;
        p.label_len = ts.literals[t.what].label_len;
        break;
    }
    const std::uint32_t cb = st.starts[c];
    const std::uint32_t ce = st.starts[c + 1] - 1;
    st.sink.cell = st.group_first + c;
    detail::check_match(p, st.sink, std::string_view(st.data + cb, ce - cb), 0, t.end - cb);
  }
}

int on_column(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  auto& best = *static_cast<unsigned*>(ctx);
  best = std::min(best, id);
  return 0;
}

// Sorts by (cell, begin) and merges overlapping hits of one cell into one finding, keeping the
// detector with the higher confidence (the longer hit on a tie).
void merge_findings(const engine::impl& eng, std::vector<finding>& out) {
  std::sort(out.begin(), out.end(), [](const finding& a, const finding& b) {
    if (a.cell != b.cell) return a.cell < b.cell;
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end > b.end;
    return a.detector < b.detector;  // ties resolve the same whatever order hits came in
  });
  std::size_t w = 0;
  for (std::size_t r = 0; r < out.size(); ++r) {
    const finding f = out[r];
    if (w > 0 && out[w - 1].cell == f.cell && f.begin < out[w - 1].end) {
      finding& prev = out[w - 1];
      float cp = eng.detectors[prev.detector].confidence;
      float cf = eng.detectors[f.detector].confidence;
      if (cf > cp || (cf == cp && f.end - f.begin > prev.end - prev.begin)) prev.detector = f.detector;
      prev.end = std::max(prev.end, f.end);
      continue;
    }
    out[w++] = f;
  }
  out.resize(w);
}

void append_partial(std::string_view v, std::string& out) {
  std::size_t n = 0;
  for (char c : v) n += alnum(c) ? 1 : 0;
  // Keep the last four, but never more than half of a short value.
  std::size_t keep = n >= 8 ? 4 : n / 2;
  std::size_t i = 0;
  for (char c : v) {
    if (!alnum(c)) {
      out.push_back(c);
      continue;
    }
    out.push_back(i >= n - keep ? c : '*');
    ++i;
  }
}

}  // namespace

scanner::scanner(std::shared_ptr<const engine> e) : engine_(std::move(e)), st_(std::make_unique<state>()) {
  const engine::impl& eng = engine_->internals();
  st_->eng = &eng;
  hs_scratch_t* s = nullptr;
  // Allocation failure here means the process is out of memory; a scanner without scratch would
  // have to pass values unmasked, so there is no safe degraded mode.
  if (eng.db && hs_alloc_scratch(eng.db.get(), &s) != HS_SUCCESS) std::abort();
  if (eng.column_db && hs_alloc_scratch(eng.column_db.get(), &s) != HS_SUCCESS) std::abort();
  st_->scratch.reset(s);
}

scanner::~scanner() = default;
scanner::scanner(scanner&&) noexcept = default;
scanner& scanner::operator=(scanner&&) noexcept = default;

std::size_t scanner::scan(std::span<const std::string_view> cells, std::vector<finding>& out) {
  out.clear();
  state& st = *st_;
  const engine::impl& eng = *st.eng;
  if ((!eng.db && eng.triggers.empty()) || cells.empty()) return 0;
  st.sink.eng = &eng;
  st.sink.out = &out;
  st.sink.run_cell = UINT32_MAX;
  st.sink.v6_cell = UINT32_MAX;
  st.rescan.clear();
  st.single = false;

  std::size_t i = 0;
  while (i < cells.size()) {
    // Cells are copied with a NUL after each, which no built-in pattern matches (so no match
    // spans two cells) and which terminates a digit run at the end of a cell. A group is the
    // cells that fit in max_group_bytes (at least one). They are copied straight into the
    // buffer, whose size is the high-water mark (not the group's length, starts.back()); only
    // when it is too small is the rest of the group sized, and the buffer grown to fit it.
    const auto first = static_cast<std::uint32_t>(i);
    if (st.starts.size() < cells.size() - i + 1) st.starts.resize(cells.size() - i + 1);
    std::size_t packed = 0, off = 0;
    while (i + packed < cells.size()) {
      const std::size_t limit =
          packed == 0 ? std::max(max_group_bytes, cells[i].size() + 1) : max_group_bytes;
      const std::size_t room =
          st.buf.size() > detail::pack_slack ? std::min(st.buf.size() - detail::pack_slack, limit) : 0;
      packed += detail::pack_cells(cells.subspan(i + packed), st.buf.data(), off, room,
                                   st.starts.data() + packed);
      off = st.starts[packed];
      if (i + packed == cells.size()) break;
      const std::size_t next = cells[i + packed].size() + 1;
      if (off + next > limit) break;  // the group is full
      std::size_t total = off;
      for (std::size_t j = i + packed;
           j < cells.size() && (j == i || total + cells[j].size() + 1 <= max_group_bytes); ++j)
        total += cells[j].size() + 1;
      st.buf.resize(total + detail::pack_slack);
    }
    st.starts.resize(packed + 1);
    i += packed;
    st.data = st.buf.data();
    st.group_first = first;
    st.cursor = 0;
    if (!eng.triggers.empty()) scan_triggers(st);
    if (eng.db) {
      (void)hs_scan(eng.db.get(), st.buf.data(), st.starts.back(), 0,
                    st.scratch.get(), on_match, &st);
    }
    // Rescans read this group's bytes, so they run before the buffer is reused.
    for (std::uint32_t c : st.rescan) {
      st.single = true;
      st.single_cell = first + c;
      st.single_len = st.starts[c + 1] - 1 - st.starts[c];
      st.data = st.buf.data() + st.starts[c];
      (void)hs_scan(eng.db.get(), st.data, st.single_len, 0, st.scratch.get(), on_match, &st);
      st.single = false;
    }
    st.rescan.clear();
  }
  if (st.buf.capacity() > keep_capacity) std::string().swap(st.buf);
  st.sink.out = nullptr;
  if (!out.empty()) merge_findings(eng, out);
  return out.size();
}

namespace {

// HMAC-SHA-256 token of `v` (normalised per detector): "tok_" + 16 hex digits.
bool append_token(scanner::state& st, std::string_view v, detail::normalise norm,
                  std::string& out) {
  const engine::impl& eng = *st.eng;
  if (!eng.key || st.mac_failed) return false;
  if (!st.mac_ctx) {
    st.mac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (st.mac) st.mac_ctx.reset(EVP_MAC_CTX_new(st.mac.get()));
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    auto kb = eng.key->bytes();
    if (!st.mac_ctx || EVP_MAC_init(st.mac_ctx.get(), kb.data(), kb.size(), params) != 1) {
      st.mac_failed = true;
      st.mac_ctx.reset();
      return false;
    }
  } else if (EVP_MAC_init(st.mac_ctx.get(), nullptr, 0, nullptr) != 1) {  // same key again
    st.mac_failed = true;
    return false;
  }
  st.norm.clear();
  for (char c : v) {
    switch (norm) {
      case detail::normalise::raw: st.norm.push_back(c); break;
      case detail::normalise::digits:
        if (c >= '0' && c <= '9') st.norm.push_back(c);
        break;
      case detail::normalise::alnum_upper:
        if (alnum(c)) st.norm.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
        break;
      case detail::normalise::lower:
        st.norm.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
        break;
    }
  }
  if (st.norm.empty()) st.norm.assign(v);
  std::array<unsigned char, 32> mac{};
  std::size_t len = 0;
  if (EVP_MAC_update(st.mac_ctx.get(), reinterpret_cast<const unsigned char*>(st.norm.data()),
                     st.norm.size()) != 1 ||
      EVP_MAC_final(st.mac_ctx.get(), mac.data(), &len, mac.size()) != 1 || len != mac.size()) {
    st.mac_failed = true;
    return false;
  }
  static constexpr char hexd[] = "0123456789abcdef";
  out.append("tok_");
  for (std::size_t i = 0; i < 8; ++i) {
    out.push_back(hexd[mac[i] >> 4]);
    out.push_back(hexd[mac[i] & 15]);
  }
  return true;
}

void append_replacement(scanner::state& st, std::string_view v, const rule_action& a,
                        std::string_view tag, detail::normalise norm, std::string& out) {
  switch (a.act) {
    case action::partial: append_partial(v, out); return;
    case action::hash:
      if (append_token(st, v, norm, out)) return;
      break;  // no key or a broken MAC: fall back to the tag, never to the clear value
    case action::redact:
    case action::null: break;
  }
  out.append(a.replacement.empty() ? tag : std::string_view(a.replacement));
}

// The value a masked typed column gets, or null.
mask_outcome typed_value(const engine::impl& eng, value_kind kind, bool any_null,
                         std::string& out) {
  if (any_null || eng.typed_null) return mask_outcome::null;
  switch (kind) {
    case value_kind::number: out.append(placeholder_number); return mask_outcome::value;
    case value_kind::date: out.append(placeholder_date); return mask_outcome::value;
    case value_kind::timestamp: out.append(placeholder_timestamp); return mask_outcome::value;
    case value_kind::text:
    case value_kind::other: break;
  }
  return mask_outcome::null;
}

mask_outcome mask_impl(scanner::state& st, std::string_view cell, std::span<const finding> f,
                       value_kind kind, bool allow_null, std::string& out, counts& c,
                       std::uint32_t slot) {
  if (f.empty()) {
    out.append(cell);
    return mask_outcome::value;
  }
  const engine::impl& eng = *st.eng;
  bool any_null = false;
  for (const auto& x : f) {
    c.add_detector(x.detector);
    any_null = any_null || eng.detectors[x.detector].action.act == action::null;
  }
  if (slot != counts::no_column) c.add_column(slot);
  if (kind != value_kind::text && allow_null) return typed_value(eng, kind, any_null, out);
  if (any_null && allow_null) return mask_outcome::null;
  std::size_t pos = 0;
  for (const auto& x : f) {
    if (x.begin < pos || x.end > cell.size()) continue;  // not this cell's findings
    out.append(cell.substr(pos, x.begin - pos));
    const detector_info& d = eng.detectors[x.detector];
    append_replacement(st, cell.substr(x.begin, x.end - x.begin), d.action, d.tag,
                       eng.rt[x.detector].norm, out);
    pos = x.end;
  }
  out.append(cell.substr(pos));
  return mask_outcome::value;
}

}  // namespace

mask_outcome scanner::mask_cell(std::string_view cell, std::span<const finding> f, value_kind kind,
                                std::string& out, counts& c, std::uint32_t slot) {
  return mask_impl(*st_, cell, f, kind, true, out, c, slot);
}

mask_outcome scanner::mask_whole(std::string_view cell, const column_rule& rule, value_kind kind,
                                 std::string& out, counts& c, std::uint32_t slot) {
  if (slot != counts::no_column) c.add_column(slot);
  const engine::impl& eng = *st_->eng;
  if (rule.action.act == action::null) return mask_outcome::null;
  if (kind != value_kind::text) return typed_value(eng, kind, false, out);
  append_replacement(*st_, cell, rule.action, redacted, detail::normalise::raw, out);
  return mask_outcome::value;
}

void scanner::mask_text(std::string_view text, std::string& out, counts& c) {
  std::string_view one[1] = {text};
  scan(one, st_->text_findings);
  (void)mask_impl(*st_, text, st_->text_findings, value_kind::text, false, out, c,
                  counts::no_column);
}

void scanner::mask_text(std::string_view text, std::span<const finding> f, std::string& out,
                        counts& c) {
  (void)mask_impl(*st_, text, f, value_kind::text, false, out, c, counts::no_column);
}

std::string scanner::mask_text(std::string_view text, counts& c) {
  std::string out;
  out.reserve(text.size());
  mask_text(text, out, c);
  return out;
}

const column_rule* scanner::column(std::string_view name) {
  const engine::impl& eng = *st_->eng;
  if (!eng.column_db) return nullptr;
  unsigned best = UINT32_MAX;
  (void)hs_scan(eng.column_db.get(), name.data(), static_cast<unsigned>(name.size()), 0,
                st_->scratch.get(), on_column, &best);
  return best < eng.columns.size() ? &eng.columns[best] : nullptr;
}

void scanner::plan(std::span<const column_desc> cols, std::vector<column_plan>& out, counts& c) {
  out.clear();
  for (const auto& col : cols) {
    column_plan p;
    p.kind = col.kind;
    p.slot = c.column(col.name);
    if (const column_rule* r = column(col.name)) {
      p.mode = column_mode::whole;
      p.rule = r;
    } else if (col.kind == value_kind::text || col.kind == value_kind::other) {
      p.mode = st_->eng->db || !st_->eng->triggers.empty() ? column_mode::scan : column_mode::pass;
    } else {
      p.mode = column_mode::pass;
    }
    out.push_back(p);
  }
}

std::span<const finding> finding_cursor::next(std::uint32_t cell) {
  while (pos_ < f_.size() && f_[pos_].cell < cell) ++pos_;
  std::size_t b = pos_;
  while (pos_ < f_.size() && f_[pos_].cell == cell) ++pos_;
  return f_.subspan(b, pos_ - b);
}

// ---------------------------------------------------------------------------------- counts

std::uint32_t counts::column(std::string_view name) {
  for (std::size_t i = 0; i < column_names_.size(); ++i) {
    if (column_names_[i] == name) return static_cast<std::uint32_t>(i);
  }
  column_names_.emplace_back(name);
  column_counts_.push_back(0);
  return static_cast<std::uint32_t>(column_names_.size() - 1);
}

void counts::add_detector(std::uint16_t detector, std::uint64_t n) {
  if (detector >= detectors_.size()) detectors_.resize(std::size_t{detector} + 1, 0);
  detectors_[detector] += n;
}

void counts::add_column(std::uint32_t slot, std::uint64_t n) {
  if (slot < column_counts_.size()) column_counts_[slot] += n;
}

void counts::reset() {
  std::fill(detectors_.begin(), detectors_.end(), 0);
  std::fill(column_counts_.begin(), column_counts_.end(), 0);
}

void counts::clear() {
  detectors_.clear();
  column_names_.clear();
  column_counts_.clear();
}

void counts::merge(const counts& other) {
  for (std::size_t i = 0; i < other.detectors_.size(); ++i) {
    if (other.detectors_[i] != 0) add_detector(static_cast<std::uint16_t>(i), other.detectors_[i]);
  }
  for (std::size_t i = 0; i < other.column_names_.size(); ++i) {
    if (other.column_counts_[i] != 0) add_column(column(other.column_names_[i]), other.column_counts_[i]);
  }
}

bool counts::empty() const {
  return std::all_of(detectors_.begin(), detectors_.end(), [](auto v) { return v == 0; }) &&
         std::all_of(column_counts_.begin(), column_counts_.end(), [](auto v) { return v == 0; });
}

std::uint64_t counts::detector_hits(std::uint16_t detector) const {
  return detector < detectors_.size() ? detectors_[detector] : 0;
}

std::uint64_t counts::column_hits(std::string_view name) const {
  for (std::size_t i = 0; i < column_names_.size(); ++i) {
    if (column_names_[i] == name) return column_counts_[i];
  }
  return 0;
}

std::uint64_t counts::total() const {
  std::uint64_t t = 0;
  for (auto v : detectors_) t += v;
  return t;
}

namespace {

// A JSON string (quotes and escapes), as boost::json::serialize writes one.
void put_json_string(std::string& out, std::string_view v) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20) {
          out.append("\\u00");
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void put_json_counts(std::string& out,
                     std::vector<std::pair<std::string_view, std::uint64_t>>& entries) {
  std::sort(entries.begin(), entries.end());
  out.push_back('{');
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out.push_back(',');
    put_json_string(out, entries[i].first);
    out.push_back(':');
    out.append(std::to_string(entries[i].second));
  }
  out.push_back('}');
}

}  // namespace

std::string counts::to_json(const engine& e) const {
  // Once per statement with findings: written directly, without a JSON document in between.
  std::vector<std::pair<std::string_view, std::uint64_t>> d;
  for (std::size_t i = 0; i < detectors_.size() && i < e.detector_count(); ++i) {
    if (detectors_[i] != 0) d.emplace_back(e.detector(static_cast<std::uint16_t>(i)).id, detectors_[i]);
  }
  std::vector<std::pair<std::string_view, std::uint64_t>> cols;
  for (std::size_t i = 0; i < column_names_.size(); ++i) {
    if (column_counts_[i] != 0) cols.emplace_back(column_names_[i], column_counts_[i]);
  }
  std::string out = R"({"detectors":)";
  put_json_counts(out, d);
  out.append(R"(,"columns":)");
  put_json_counts(out, cols);
  out.push_back('}');
  return out;
}

}  // namespace gh::dlp
