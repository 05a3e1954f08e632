#include "record/stream_mask.hpp"

#include <algorithm>

#include "record/asciicast.hpp"

namespace gh::record {

namespace {
constexpr char esc = 0x1b;
bool in(unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; }
}  // namespace

escape_span escape_at(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  if (i + 1 >= n) return {};
  const auto c = static_cast<unsigned char>(s[i + 1]);
  auto at = [&](std::size_t j) { return static_cast<unsigned char>(s[j]); };
  if (c == '[') {  // CSI: parameters, intermediates, final byte
    std::size_t j = i + 2;
    while (j < n && in(at(j), 0x30, 0x3F)) ++j;
    while (j < n && in(at(j), 0x20, 0x2F)) ++j;
    if (j >= n) return {};
    if (in(at(j), 0x40, 0x7E)) return {j + 1 - i, at(j) == 'm'};
    return {j - i};
  }
  if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X') {
    // A string (window title, hyperlink, ...): its text is scanned like any other text.
    for (std::size_t j = i + 2; j < n; ++j) {
      if (at(j) == 0x07 && c == ']') return {j + 1 - i, false, 2, j - i};
      if (at(j) == esc) {
        if (j + 1 >= n) return {};
        if (s[j + 1] == '\\') return {j + 2 - i, false, 2, j - i};
        return {j - i, false, 2, j - i};  // cut off by another escape
      }
    }
    return {};
  }
  if (in(c, 0x20, 0x2F)) {  // ESC ( B and friends
    std::size_t j = i + 1;
    while (j < n && in(at(j), 0x20, 0x2F)) ++j;
    if (j >= n) return {};
    if (in(at(j), 0x30, 0x7E)) return {j + 1 - i};
    return {j - i};
  }
  if (in(c, 0x30, 0x7E)) return {2};
  return {1};
}

stream_masker::stream_masker(std::shared_ptr<const dlp::engine> e, stream_mask_options o)
    : opt_(o), scanner_(std::move(e)) {}

void stream_masker::feed(std::string_view bytes, std::int64_t t_us,
                         std::vector<masked_piece>& out) {
  if (bytes.empty()) return;
  marks_.push_back({buf_.size(), t_us});
  buf_.append(bytes);
  release(false, out);
}

void stream_masker::flush(std::vector<masked_piece>& out) {
  if (!buf_.empty()) release(true, out);
}

void stream_masker::release(bool all, std::vector<masked_piece>& out) {
  const std::string_view b = buf_;
  const std::size_t n = b.size();
  // An unterminated escape sequence is held back, but not forever: at the end of the stream, or
  // once the carry is far too long, its bytes are scanned as text (PHI must not hide in an
  // escape that never ends).
  const bool no_hold = all || n > 4 * opt_.max_carry;

  // Per byte: part of escape syntax? Per position: strictly inside something a cut must not split.
  std::vector<char> syntax(n, 0), unsafe(n + 1, 0);
  std::string view = context_;
  const std::size_t ctx = context_.size();
  std::vector<std::size_t> vstart, vend;  // view index (after ctx) -> original [start, end)
  vstart.reserve(n);
  vend.reserve(n);
  std::size_t complete_end = n;
  std::size_t last_break = 0;
  auto add_view = [&](char c, std::size_t s, std::size_t e) {
    view += c;
    vstart.push_back(s);
    vend.push_back(e);
  };
  for (std::size_t i = 0; i < n;) {
    if (b[i] == esc) {
      escape_span sp = escape_at(b, i);
      if (sp.len == 0) {
        if (!no_hold) {
          complete_end = i;
          break;
        }
        sp.len = 1;
      }
      for (std::size_t k = i + 1; k < i + sp.len; ++k) unsafe[k] = 1;
      if (sp.text_to > sp.text_from) {
        // A string sequence: intro and terminator are syntax, the text between is text.
        for (std::size_t k = i; k < i + sp.text_from; ++k) syntax[k] = 1;
        for (std::size_t k = i + sp.text_to; k < i + sp.len; ++k) syntax[k] = 1;
        add_view('\n', i, i + sp.text_from);
        for (std::size_t k = i + sp.text_from; k < i + sp.text_to; ++k) add_view(b[k], k, k + 1);
        add_view('\n', i + sp.text_to, i + sp.len);
      } else {
        for (std::size_t k = i; k < i + sp.len; ++k) syntax[k] = 1;
        if (!sp.style) add_view('\n', i, i + sp.len);
      }
      if (!sp.style) last_break = i + sp.len;  // cursor movement and the like end a line
      i += sp.len;
      continue;
    }
    std::size_t u = utf8_sequence_at(b, i);
    for (std::size_t k = i + 1; k < i + u; ++k) unsafe[k] = 1;
    std::size_t len = u == 0 ? 1 : u;
    for (std::size_t k = i; k < i + len; ++k) add_view(b[k], k, k + 1);
    if (b[i] == '\n' || (opt_.cr_breaks_line && b[i] == '\r')) last_break = i + 1;
    i += len;
  }

  // Findings over the view (with the released context before it), in original positions.
  struct hit {
    std::size_t ob, oe, vb, ve;
    std::uint16_t detector;
  };
  std::vector<hit> hits;
  if (view.size() > ctx) {
    std::vector<dlp::finding> found;
    std::string_view cells[1] = {view};
    scanner_.scan(cells, found);
    for (const auto& f : found) {
      if (f.end <= ctx) continue;  // already released
      std::size_t vb = std::max<std::size_t>(f.begin, ctx) - ctx, ve = f.end - ctx;
      hits.push_back({vstart[vb], vend[ve - 1], vb, ve, f.detector});
      for (std::size_t k = vstart[vb] + 1; k < vend[ve - 1]; ++k) unsafe[k] = 1;
    }
  }

  std::size_t cut = n;
  if (!all) {
    cut = last_break;
    if (complete_end > opt_.max_carry)
      cut = std::max(cut, complete_end - std::min(opt_.keep_tail, complete_end));
    cut = std::min(cut, complete_end);
    while (cut > 0 && unsafe[cut]) --cut;
  }
  if (cut == 0) return;

  // One piece per feed, each with its feed's time; boundaries move forward to a safe place.
  std::vector<std::pair<std::size_t, std::int64_t>> bounds;
  for (const auto& m : marks_) {
    if (m.offset >= cut) break;
    std::size_t p = m.offset;
    while (p < cut && unsafe[p]) ++p;
    if (p >= cut) break;
    if (!bounds.empty() && p <= bounds.back().first) continue;
    bounds.emplace_back(p, m.t_us);
  }
  if (bounds.empty() || bounds.front().first != 0) bounds.insert(bounds.begin(), {0, marks_.front().t_us});
  std::size_t hi = 0;
  for (std::size_t k = 0; k < bounds.size(); ++k) {
    const std::size_t pb = bounds[k].first;
    const std::size_t pe = k + 1 < bounds.size() ? bounds[k + 1].first : cut;
    masked_piece piece{bounds[k].second, {}};
    piece.data.reserve(pe - pb);
    std::size_t p = pb;
    while (p < pe) {
      while (hi < hits.size() && hits[hi].oe <= p) ++hi;
      if (hi < hits.size() && hits[hi].ob == p && hits[hi].oe <= pe) {
        const hit& h = hits[hi];
        std::string_view value = std::string_view(view).substr(ctx + h.vb, h.ve - h.vb);
        const dlp::finding whole{0, 0, static_cast<std::uint32_t>(value.size()), h.detector};
        scanner_.mask_text(value, std::span<const dlp::finding>(&whole, 1), piece.data, counts_);
        // Whatever the escape sequences inside the value did to the terminal still happens.
        for (std::size_t k2 = h.ob; k2 < h.oe; ++k2)
          if (syntax[k2]) piece.data += b[k2];
        p = h.oe;
        continue;
      }
      std::size_t next = pe;
      if (hi < hits.size() && hits[hi].ob > p) next = std::min(next, hits[hi].ob);
      piece.data.append(b.substr(p, next - p));
      p = next;
    }
    if (!piece.data.empty()) out.push_back(std::move(piece));
  }

  // What detectors may look back at next time.
  std::size_t released_view = 0;
  while (released_view < vstart.size() && vstart[released_view] < cut) ++released_view;
  std::string_view seen = std::string_view(view).substr(0, ctx + released_view);
  context_.assign(seen.substr(seen.size() - std::min(seen.size(), opt_.context)));

  std::vector<mark> rest;
  for (std::size_t k = 0; k < marks_.size(); ++k) {
    bool covers = marks_[k].offset <= cut && (k + 1 == marks_.size() || marks_[k + 1].offset > cut);
    if (covers && cut < n) rest.push_back({0, marks_[k].t_us});
    else if (marks_[k].offset > cut) rest.push_back({marks_[k].offset - cut, marks_[k].t_us});
  }
  marks_ = std::move(rest);
  buf_.erase(0, cut);
}

}  // namespace gh::record
