// The built-in triggers without Hyperscan. Every built-in detector starts from a cheap trigger —
// a digit chain, a label or street-suffix literal, an '@', a ':' — and its validator decides. In
// one Hyperscan database these cost ~2 ns/byte on clinical text: the digit trigger starts with
// \d (no literal to accelerate on) and the ~35 short caseless literals keep the literal matcher
// busy. Here one vector pass over the batch turns 64 bytes at a time into bitmasks:
//   - digits, chain separators [ .()-] and dots: only digit chains spanning 9+ bytes, or with
//     three dots between digits, are walked byte by byte (vitals, doses, times are skipped);
//   - a four-byte bucket filter over the literals (the "Teddy" idea: nibble-table shuffles give
//     per-bucket sets for the first four bytes of each literal); the few positions that pass
//     are compared with the literals exactly;
//   - '@' and ':' positions, checked for the email / IPv6 trigger shape.
// The triggers reported are exactly the match ends the Hyperscan patterns of
// reference_patterns() report (dlp_test checks this on random and synthetic text), so the
// validators see the same calls as before.
//
// AVX-512 (BW + VBMI) or AVX2 is used when the CPU has it (runtime check); otherwise a portable
// path computes the same masks (SSE2 where available) and filters literals with exact per-byte
// tables.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "dlp/internal.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif
// The AVX2 and AVX-512 paths rely on GCC's `#pragma GCC target`; other compilers get the
// portable path.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GH_DLP_AVX2 1
#endif

namespace gh::dlp::detail {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
bool sep(char c) { return c == ' ' || c == '.' || c == '-' || c == '(' || c == ')'; }
bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool word(char c) { return digit(c) || alpha(c) || c == '_'; }
bool hex(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool email_side(char c) { return digit(c) || alpha(c) || c == '-'; }
bool email_local(char c) {
  return email_side(c) || c == '.' || c == '_' || c == '%' || c == '+';
}
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Bit i of each mask describes byte i of a 64-byte block.
struct block_masks {
  std::uint64_t d = 0;        // '0'..'9'
  std::uint64_t s = 0;        // ' ' '.' '-' '(' ')'
  std::uint64_t dot = 0;      // '.'
  std::uint64_t special = 0;  // '@' ':'
  std::uint64_t lit = 0;      // a literal may start here (bucket filter)
};

// ---------------------------------------------------------------------------------- portable

block_masks classify_portable(const char* p, const trigger_set& ts);

void check_literals(const trigger_set& ts, const char* s, std::size_t n, std::size_t p,
                    std::vector<trigger>& out);

struct portable_classifier {
  const trigger_set* ts;
  explicit portable_classifier(const trigger_set& t) : ts(&t) {}
  block_masks operator()(const char* p) const { return classify_portable(p, *ts); }
  void literals_at(const char* s, std::size_t n, std::size_t p, std::vector<trigger>& out) const {
    check_literals(*ts, s, n, p, out);
  }
};

block_masks classify_portable(const char* p, const trigger_set& ts) {
  block_masks m;
#if defined(__SSE2__)
  const __m128i zero = _mm_set1_epi8('0');
  const __m128i nine = _mm_set1_epi8(9);
  const __m128i one = _mm_set1_epi8(1);
  for (int k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    __m128i t = _mm_sub_epi8(v, zero);
    __m128i is_d = _mm_cmpeq_epi8(_mm_min_epu8(t, nine), t);
    __m128i is_dot = _mm_cmpeq_epi8(v, _mm_set1_epi8('.'));
    __m128i is_s = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), is_dot),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
                     _mm_cmpeq_epi8(_mm_or_si128(v, one), _mm_set1_epi8(')'))));
    __m128i is_sp = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('@')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
    const int sh = 16 * k;
    auto bits = [](__m128i x) {
      return static_cast<std::uint64_t>(static_cast<std::uint16_t>(_mm_movemask_epi8(x)));
    };
    m.d |= bits(is_d) << sh;
    m.s |= bits(is_s) << sh;
    m.dot |= bits(is_dot) << sh;
    m.special |= bits(is_sp) << sh;
  }
#else
  for (int i = 0; i < 64; ++i) {
    const std::uint64_t bit = std::uint64_t{1} << i;
    if (digit(p[i])) m.d |= bit;
    if (sep(p[i])) m.s |= bit;
    if (p[i] == '.') m.dot |= bit;
    if (p[i] == '@' || p[i] == ':') m.special |= bit;
  }
#endif
  if (!ts.literals.empty()) {
    for (int i = 0; i < 64; ++i) {
      const auto* u = reinterpret_cast<const unsigned char*>(p + i);
      if ((ts.byte_sets[0][u[0]] & ts.byte_sets[1][u[1]] & ts.byte_sets[2][u[2]] &
           ts.byte_sets[3][u[3]]) != 0)
        m.lit |= std::uint64_t{1} << i;
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------- AVX2

#if defined(GH_DLP_AVX2)
bool cpu_has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}
#endif

// ---------------------------------------------------------------------------------- checks

// Shifts that pull bits from the neighbouring block: "at i-k" and "at i+k".
std::uint64_t back(std::uint64_t cur, std::uint64_t prev, int k) {
  return (cur << k) | (prev >> (64 - k));
}
std::uint64_t fwd(std::uint64_t cur, std::uint64_t next, int k) {
  return (cur >> k) | (next << (64 - k));
}

// The masks the digit-chain candidates are computed from, per kind, for a chunk of blocks (see
// prefilter_pass.inc): [0] the block before, [1, count] the blocks, [count + 1] the one after;
// padded so that a vector path may load whole groups of 8 blocks.
struct chain_masks {
  static constexpr std::size_t pad = 8;
  // Not zeroed as a whole (a scan may be one short cell): the pass sets the entries it reads.
  std::uint64_t d[64 + 2 + pad], s[64 + 2 + pad], dot[64 + 2 + pad];
};

// What the candidates of a block need from the block before it.
struct chain_carry {
  std::uint64_t r = 0, a = 0, b = 0, dd = 0, x = 0;
};

// cand[k] for blocks 1..count of m: the bytes that end 9+ bytes of a digit chain (a chain of 9
// digits spans at least that), or a dotted quad.
void chain_candidates(const chain_masks& m, std::size_t count, std::uint64_t* cand,
                      chain_carry& c) {
  for (std::size_t k = 1; k <= count; ++k) {
    const std::uint64_t d = m.d[k], sp = m.s[k], pd = m.d[k - 1], nd = m.d[k + 1];
    // No digit in this block or within two bytes of it: no chain byte here (computing it
    // would give zeros all through).
    if ((d | (pd >> 62) | (nd << 62)) == 0) {
      c = chain_carry{};
      cand[k - 1] = 0;
      continue;
    }
    const std::uint64_t dl1 = back(d, pd, 1), dl2 = back(d, pd, 2);
    const std::uint64_t dr1 = fwd(d, nd, 1), dr2 = fwd(d, nd, 2);
    // Separators inside a chain: one between two digits, or either of two between two digits.
    const std::uint64_t single = sp & dl1 & dr1;
    const std::uint64_t first_of_two = sp & fwd(sp, m.s[k + 1], 1) & dl1 & dr2;
    const std::uint64_t second_of_two = sp & back(sp, m.s[k - 1], 1) & dl2 & dr1;
    // r: bytes inside a chain; a run of set bits is exactly one chain.
    const std::uint64_t r = d | single | first_of_two | second_of_two;
    // Bit i set when bytes i-8..i all belong to a chain.
    const std::uint64_t a = r & back(r, c.r, 1);
    const std::uint64_t b2 = a & back(a, c.a, 2);
    const std::uint64_t e4 = b2 & back(b2, c.b, 4);
    const std::uint64_t long_chain = e4 & back(r, c.r, 8);
    // A dot between digits with another 2-4 bytes before, twice over: a dotted quad.
    const std::uint64_t dd = m.dot[k] & dl1 & dr1;
    const std::uint64_t x = dd & (back(dd, c.dd, 2) | back(dd, c.dd, 3) | back(dd, c.dd, 4));
    const std::uint64_t quad = x & (back(x, c.x, 2) | back(x, c.x, 3) | back(x, c.x, 4));
    cand[k - 1] = long_chain | quad;
    c = {r, a, b2, dd, x};
  }
}

// A dotted quad ends at g (g just past its last digit): three dot-bounded groups of 1-3 digits
// before g, and at least one digit before the first dot.
bool quad_ends_at(const char* s, std::size_t g) {
  std::size_t p = g;
  for (int part = 0; part < 3; ++part) {
    std::size_t n = 0;
    while (p > 0 && n < 4 && digit(s[p - 1])) {
      --p;
      ++n;
    }
    if (n < 1 || n > 3 || p == 0 || s[p - 1] != '.') return false;
    --p;
  }
  return p > 0 && digit(s[p - 1]);
}

// Walks the chain containing position p (a digit, or a separator inside a chain) from its start
// and reports every trigger end; returns the end of the chain.
std::size_t walk_chain(const char* s, std::size_t n, std::size_t p, std::vector<trigger>& out) {
  std::size_t b = p;
  while (!digit(s[b])) --b;  // a separator inside a chain has a digit at most two bytes before
  while (true) {
    while (b > 0 && digit(s[b - 1])) --b;
    std::size_t g = b;
    while (g > 0 && b - g < 3 && sep(s[g - 1])) --g;
    if (g == b || b - g > 2 || g == 0 || !digit(s[g - 1])) break;
    b = g - 1;
  }
  std::size_t i = b;
  std::size_t count = 0;
  while (true) {
    std::size_t gs = i;
    while (i < n && digit(s[i])) ++i;
    count += i - gs;
    if (i >= n) break;  // the pattern needs a non-digit after the run
    if (count >= 9 || quad_ends_at(s, i)) {
      out.push_back({static_cast<std::uint32_t>(i), trigger_set::what_number});
    }
    std::size_t g = i;
    while (g < n && g - i < 3 && sep(s[g])) ++g;
    if (g == i || g - i > 2 || g >= n || !digit(s[g])) break;
    i = g;
  }
  return i;
}

// '@' or ':' at p: the email trigger [A-Za-z0-9._%+-]@[A-Za-z0-9-], or the IPv6 triggers "::"
// and hex:hex (each reported at its match end, as Hyperscan would).
void check_special(const trigger_set& ts, const char* s, std::size_t n, std::size_t p,
                   std::vector<trigger>& out) {
  if (p + 1 >= n) return;
  const auto end = static_cast<std::uint32_t>(p + 2);
  if (s[p] == '@') {
    if (ts.email && p > 0 && email_local(s[p - 1]) && email_side(s[p + 1]))
      out.push_back({end, trigger_set::what_email});
    return;
  }
  if (!ts.ipv6) return;
  if (s[p + 1] == ':') out.push_back({end, trigger_set::what_ipv6});
  if (p > 0 && hex(s[p - 1]) && hex(s[p + 1])) out.push_back({end, trigger_set::what_ipv6});
}

void check_literals(const trigger_set& ts, const char* s, std::size_t n, std::size_t p,
                    std::vector<trigger>& out) {
  const auto* u = reinterpret_cast<const unsigned char*>(s + p);
  unsigned buckets = ts.byte_sets[0][u[0]];
  if (p + 1 < n) buckets &= ts.byte_sets[1][u[1]];
  if (p + 2 < n) buckets &= ts.byte_sets[2][u[2]];
  if (p + 3 < n) buckets &= ts.byte_sets[3][u[3]];
  // Two 8-byte loads compare any literal of up to 16 bytes; near the end, byte by byte.
  const bool fast = p + 16 <= n;
  for (; buckets != 0; buckets &= buckets - 1) {
    const auto b = static_cast<std::size_t>(__builtin_ctz(buckets));
    for (std::uint16_t li : ts.buckets[b]) {
      const literal_trigger& l = ts.literals[li];
      const std::size_t len = l.text.size();
      if (p + len > n) continue;
      bool eq;
      if (fast && len <= 16) {
        std::uint64_t w0, w1;
        std::memcpy(&w0, s + p, 8);
        std::memcpy(&w1, s + p + (len > 8 ? len - 8 : 0), 8);
        eq = ((w0 | l.head_fold) & l.head_mask) == l.head &&
             ((w1 | l.tail_fold) & l.tail_mask) == l.tail;
      } else {
        eq = true;
        for (std::size_t i = 0; i < len && eq; ++i) {
          eq = l.caseless ? lower(s[p + i]) == l.text[i] : s[p + i] == l.text[i];
        }
      }
      if (!eq) continue;
      if (l.word_bounds && ((p > 0 && word(s[p - 1])) || (p + len < n && word(s[p + len]))))
        continue;
      out.push_back({static_cast<std::uint32_t>(p + len), li});
    }
  }
}

namespace portable_pass {
#include "dlp/prefilter_pass.inc"
}  // namespace portable_pass

#if defined(GH_DLP_AVX2)
#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2_pass {
#include "dlp/prefilter_pass.inc"
}  // namespace avx2_pass

// The vector classifier: the nibble tables live in registers for the whole pass.
struct avx2_classifier {
  bool literals;
  __m256i lo[trigger_set::filter_bytes], hi[trigger_set::filter_bytes];

  const trigger_set* ts;

  void literals_at(const char* s, std::size_t n, std::size_t p, std::vector<trigger>& out) const {
    check_literals(*ts, s, n, p, out);
  }

  explicit avx2_classifier(const trigger_set& t) : literals(!t.literals.empty()), ts(&t) {
    for (std::size_t k = 0; k < trigger_set::filter_bytes; ++k) {
      const auto* tk = reinterpret_cast<const __m128i*>(t.nibbles[k].data());
      lo[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128(tk));
      hi[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128(tk + 1));
    }
  }

  // p must have 67 readable bytes (the literal filter looks three bytes ahead).
  block_masks operator()(const char* p) const {
    block_masks m;
    const __m256i zero = _mm256_set1_epi8('0');
    const __m256i nine = _mm256_set1_epi8(9);
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i nib = _mm256_set1_epi8(0x0f);
    const __m256i z = _mm256_setzero_si256();
    std::uint32_t d[2], s[2], dot[2], sp[2], lit[2];
    for (int h = 0; h < 2; ++h) {
      const char* q = p + 32 * h;
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
      __m256i t = _mm256_sub_epi8(v, zero);
      __m256i is_dot = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('.'));
      __m256i is_s = _mm256_or_si256(
          _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')), is_dot),
          _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('-')),
                          _mm256_cmpeq_epi8(_mm256_or_si256(v, one), _mm256_set1_epi8(')'))));
      __m256i is_sp = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('@')),
                                      _mm256_cmpeq_epi8(v, _mm256_set1_epi8(':')));
      d[h] = static_cast<std::uint32_t>(
          _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(t, nine), t)));
      s[h] = static_cast<std::uint32_t>(_mm256_movemask_epi8(is_s));
      dot[h] = static_cast<std::uint32_t>(_mm256_movemask_epi8(is_dot));
      sp[h] = static_cast<std::uint32_t>(_mm256_movemask_epi8(is_sp));
      lit[h] = 0;
      if (!literals) continue;
      // A position passes when some bucket allows all four bytes from it.
      __m256i a = _mm256_set1_epi8(-1);
      for (int k = 0; k < static_cast<int>(trigger_set::filter_bytes); ++k) {
        __m256i w = k == 0 ? v : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + k));
        __m256i wl = _mm256_and_si256(w, nib);
        __m256i wh = _mm256_and_si256(_mm256_srli_epi16(w, 4), nib);
        a = _mm256_and_si256(a, _mm256_and_si256(_mm256_shuffle_epi8(lo[k], wl),
                                                 _mm256_shuffle_epi8(hi[k], wh)));
      }
      lit[h] = ~static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, z)));
    }
    auto join = [](const std::uint32_t* x) { return x[0] | (std::uint64_t{x[1]} << 32); };
    m.d = join(d);
    m.s = join(s);
    m.dot = join(dot);
    m.special = join(sp);
    m.lit = join(lit);
    return m;
  }
};

void run_avx2(const trigger_set& ts, std::string_view text, std::vector<trigger>& out) {
  avx2_pass::run(avx2_classifier(ts), ts, text, out);
}
#pragma GCC pop_options

// ---------------------------------------------------------------------------------- AVX-512

// AVX-512BW with VBMI: a whole block per compare, masks straight into k registers (no
// movemask/join), and every byte classified by one 128-entry table lookup (vpermi2b) instead of
// a compare per class. The literal filter looks bytes up in the exact per-byte bucket tables
// (byte_sets) the same way, which also spares the nibble tables' cross-combinations. vpermi2b
// reads the low 7 bits of an index byte: bytes >= 0x80 are masked out of the classes (none of
// them is a digit, separator, '@' or ':') and may pass the literal filter like their low 7
// bits, which check_literals then rejects (a superset filter is all it needs to be).
bool cpu_has_avx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
           __builtin_cpu_supports("avx512vbmi") != 0;
  }();
  return has;
}

#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512bw,avx512vbmi")
namespace avx512_pass {
#include "dlp/prefilter_pass.inc"
}  // namespace avx512_pass

// back/fwd per 64-bit lane (see chain_candidates), and the helpers of its vector version.
// GCC 12 warns that the _mm512_undefined_epi32() inside its shift intrinsics may be used
// uninitialized (a false positive: the unmasked forms never read it).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <int K>
__m512i back512(__m512i cur, __m512i prev) {
  return _mm512_or_si512(_mm512_slli_epi64(cur, K), _mm512_srli_epi64(prev, 64 - K));
}
template <int K>
__m512i fwd512(__m512i cur, __m512i next) {
  return _mm512_or_si512(_mm512_srli_epi64(cur, K), _mm512_slli_epi64(next, 64 - K));
}
__m512i and3_512(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi64(a, b, c, 0x80); }
__m512i or3_512(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi64(a, b, c, 0xFE); }
// Lane j of the result is lane j - 1 of `cur`; lane 0 is the last lane of `before`.
__m512i shift_in512(__m512i cur, __m512i before) { return _mm512_alignr_epi64(cur, before, 7); }
__m512i ld512(const std::uint64_t* p) { return _mm512_loadu_si512(p); }
#pragma GCC diagnostic pop

struct avx512_classifier {
  static constexpr std::uint8_t c_digit = 1, c_sep = 2, c_dot = 4, c_special = 8;
  bool literals;
  __m512i cls_lo, cls_hi;  // class bits of bytes 0..63, 64..127
  __m512i lo[trigger_set::filter_bytes], hi[trigger_set::filter_bytes];  // bucket sets

  const trigger_set* ts;

  // The literals that start at p, by one compare per bucket row instead of a loop over the
  // bucket's literals (check_literals near the end of the text, or for literal sets that do not
  // fit the rows).
  void literals_at(const char* s, std::size_t n, std::size_t p, std::vector<trigger>& out) const {
    if (!ts->rows_ok || p + 16 > n) {
      check_literals(*ts, s, n, p, out);
      return;
    }
    const auto* u = reinterpret_cast<const unsigned char*>(s + p);
    unsigned buckets = ts->byte_sets[0][u[0]] & ts->byte_sets[1][u[1]] &
                       ts->byte_sets[2][u[2]] & ts->byte_sets[3][u[3]];
    if (buckets == 0) return;
    // The 16 bytes at p in every 16-byte lane (two qword broadcasts: GCC 12 warns about
    // _mm512_broadcast_i32x4 with -Wmaybe-uninitialized).
    std::uint64_t q0, q1;
    std::memcpy(&q0, s + p, 8);
    std::memcpy(&q1, s + p + 8, 8);
    const __m512i w = _mm512_mask_blend_epi64(0xAA, _mm512_set1_epi64(static_cast<long long>(q0)),
                                              _mm512_set1_epi64(static_cast<long long>(q1)));
    for (; buckets != 0; buckets &= buckets - 1) {
      const trigger_set::literal_rows& r = ts->rows[static_cast<std::size_t>(__builtin_ctz(buckets))];
      // ((w | fold) & mask) == value per qword; a literal matches when both of its qwords do.
      const __mmask8 e0 = _mm512_cmpeq_epi64_mask(
          _mm512_ternarylogic_epi64(w, _mm512_loadu_si512(r.fold.data()),
                                    _mm512_loadu_si512(r.mask.data()), 0xA8),
          _mm512_loadu_si512(r.value.data()));
      const __mmask8 e1 = _mm512_cmpeq_epi64_mask(
          _mm512_ternarylogic_epi64(w, _mm512_loadu_si512(r.fold.data() + 8),
                                    _mm512_loadu_si512(r.mask.data() + 8), 0xA8),
          _mm512_loadu_si512(r.value.data() + 8));
      const unsigned e = static_cast<unsigned>(e0) | (static_cast<unsigned>(e1) << 8);
      for (unsigned m = e & (e >> 1) & 0x5555u; m != 0; m &= m - 1) {
        const std::uint16_t li = r.literal[static_cast<std::size_t>(__builtin_ctz(m)) / 2];
        const literal_trigger& l = ts->literals[li];
        const std::size_t len = l.text.size();
        if (l.word_bounds && ((p > 0 && word(s[p - 1])) || (p + len < n && word(s[p + len]))))
          continue;
        out.push_back({static_cast<std::uint32_t>(p + len), li});
      }
    }
  }

  explicit avx512_classifier(const trigger_set& t) : literals(!t.literals.empty()), ts(&t) {
    // Built once: a classifier is constructed per find_triggers call, i.e. per scan, which
    // may be a single short cell.
    alignas(64) static constexpr std::array<std::uint8_t, 128> cls = [] {
      std::array<std::uint8_t, 128> t{};
      for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] |= c_digit;
      for (char c : {' ', '.', '-', '(', ')'}) t[static_cast<std::size_t>(c)] |= c_sep;
      t['.'] |= c_dot;
      t['@'] |= c_special;
      t[':'] |= c_special;
      return t;
    }();
    cls_lo = _mm512_load_si512(cls.data());
    cls_hi = _mm512_load_si512(cls.data() + 64);
    for (std::size_t k = 0; k < trigger_set::filter_bytes; ++k) {
      lo[k] = _mm512_loadu_si512(t.byte_sets[k].data());
      hi[k] = _mm512_loadu_si512(t.byte_sets[k].data() + 64);
    }
  }

  // chain_candidates for 8 blocks at a time, one per 64-bit lane: the same formulas, with
  // "the block before / after" from the neighbouring lane (valignq) and, for the first lane,
  // the carry from the previous group. A block far from digits needs no special case: its
  // masks come out zero, as the scalar version's reset makes them.
  void chain_candidates(const chain_masks& m, std::size_t count, std::uint64_t* cand,
                        chain_carry& c) const {
    __m512i rc = _mm512_set1_epi64(static_cast<long long>(c.r));
    __m512i ac = _mm512_set1_epi64(static_cast<long long>(c.a));
    __m512i bc = _mm512_set1_epi64(static_cast<long long>(c.b));
    __m512i ddc = _mm512_set1_epi64(static_cast<long long>(c.dd));
    __m512i xc = _mm512_set1_epi64(static_cast<long long>(c.x));
    for (std::size_t k = 0; k < count; k += 8) {
      const __m512i d = ld512(m.d + 1 + k), pd = ld512(m.d + k), nd = ld512(m.d + 2 + k);
      const __m512i sp = ld512(m.s + 1 + k);
      const __m512i dl1 = back512<1>(d, pd), dl2 = back512<2>(d, pd);
      const __m512i dr1 = fwd512<1>(d, nd), dr2 = fwd512<2>(d, nd);
      const __m512i single = and3_512(sp, dl1, dr1);
      const __m512i first_of_two =
          and3_512(and3_512(sp, fwd512<1>(sp, ld512(m.s + 2 + k)), dl1), dr2, dr2);
      const __m512i second_of_two =
          and3_512(and3_512(sp, back512<1>(sp, ld512(m.s + k)), dl2), dr1, dr1);
      const __m512i r = _mm512_or_si512(or3_512(d, single, first_of_two), second_of_two);
      const __m512i rp = shift_in512(r, rc);
      const __m512i a = _mm512_and_si512(r, back512<1>(r, rp));
      const __m512i b2 = _mm512_and_si512(a, back512<2>(a, shift_in512(a, ac)));
      const __m512i e4 = _mm512_and_si512(b2, back512<4>(b2, shift_in512(b2, bc)));
      const __m512i long_chain = _mm512_and_si512(e4, back512<8>(r, rp));
      const __m512i dd = and3_512(ld512(m.dot + 1 + k), dl1, dr1);
      const __m512i ddp = shift_in512(dd, ddc);
      const __m512i x = _mm512_and_si512(
          dd, or3_512(back512<2>(dd, ddp), back512<3>(dd, ddp), back512<4>(dd, ddp)));
      const __m512i xp = shift_in512(x, xc);
      const __m512i quad = _mm512_and_si512(
          x, or3_512(back512<2>(x, xp), back512<3>(x, xp), back512<4>(x, xp)));
      _mm512_storeu_si512(cand + k, _mm512_or_si512(long_chain, quad));
      rc = r;
      ac = a;
      bc = b2;
      ddc = dd;
      xc = x;
    }
    // The carry is the last block's (lanes past `count` in the last group are padding).
    alignas(64) std::uint64_t lanes[5][8];
    _mm512_store_si512(lanes[0], rc);
    _mm512_store_si512(lanes[1], ac);
    _mm512_store_si512(lanes[2], bc);
    _mm512_store_si512(lanes[3], ddc);
    _mm512_store_si512(lanes[4], xc);
    const std::size_t j = count == 0 ? 7 : (count - 1) % 8;
    if (count > 0) c = {lanes[0][j], lanes[1][j], lanes[2][j], lanes[3][j], lanes[4][j]};
  }

  // p must have 67 readable bytes (the literal filter looks three bytes ahead).
  block_masks operator()(const char* p) const {
    block_masks m;
    const __m512i v = _mm512_loadu_si512(p);
    const __mmask64 ascii = ~_mm512_movepi8_mask(v);
    const __m512i c = _mm512_permutex2var_epi8(cls_lo, v, cls_hi);
    m.d = _mm512_mask_test_epi8_mask(ascii, c, _mm512_set1_epi8(c_digit));
    m.s = _mm512_mask_test_epi8_mask(ascii, c, _mm512_set1_epi8(c_sep));
    m.dot = _mm512_mask_test_epi8_mask(ascii, c, _mm512_set1_epi8(c_dot));
    m.special = _mm512_mask_test_epi8_mask(ascii, c, _mm512_set1_epi8(c_special));
    if (literals) {
      const __m512i f0 = _mm512_permutex2var_epi8(lo[0], v, hi[0]);
      const __m512i f1 = _mm512_permutex2var_epi8(lo[1], _mm512_loadu_si512(p + 1), hi[1]);
      const __m512i f2 = _mm512_permutex2var_epi8(lo[2], _mm512_loadu_si512(p + 2), hi[2]);
      const __m512i f3 = _mm512_permutex2var_epi8(lo[3], _mm512_loadu_si512(p + 3), hi[3]);
      const __m512i a = _mm512_ternarylogic_epi32(f0, f1, f2, 0x80);  // f0 & f1 & f2
      m.lit = _mm512_test_epi8_mask(a, f3);
    }
    return m;
  }
};

void run_avx512(const trigger_set& ts, std::string_view text, std::vector<trigger>& out) {
  avx512_pass::run(avx512_classifier(ts), ts, text, out);
}

// A cell's last (or only) up to 63 bytes are read with a masked load, which reads (and can
// fault on) only the bytes in the mask, and stored as a whole 64-byte vector: the cell's bytes,
// then zeros, the first of which is the cell's NUL separator. The next cell overwrites the rest.
std::size_t pack_cells_avx512(std::span<const std::string_view> cells, char* dst,
                              std::size_t off, std::size_t room, std::uint32_t* starts) {
  std::size_t count = 0;
  for (const std::string_view c : cells) {
    const char* src = c.data();
    std::size_t n = c.size();
    if (off + n + 1 > room) break;
    starts[count++] = static_cast<std::uint32_t>(off);
    char* d = dst + off;
    off += n + 1;
    if (n >= 256) {
      const std::size_t bulk = n & ~std::size_t{63};
      std::memcpy(d, src, bulk);
      d += bulk;
      src += bulk;
      n -= bulk;
    }
    for (; n >= 64; n -= 64, d += 64, src += 64) {
      _mm512_storeu_si512(d, _mm512_loadu_si512(src));
    }
    const __mmask64 keep = (std::uint64_t{1} << n) - 1;
    _mm512_storeu_si512(d, _mm512_maskz_loadu_epi8(keep, src));
  }
  starts[count] = static_cast<std::uint32_t>(off);
  return count;
}
#pragma GCC pop_options
#endif

}  // namespace

void trigger_set::add_literal(std::string text, bool caseless, bool word_bounds, check kind,
                              std::uint8_t label_len) {
  if (caseless) {
    for (char& c : text) c = lower(c);
  }
  literals.push_back({std::move(text), caseless, word_bounds, kind, label_len});
}

void trigger_set::build() {
  for (literal_trigger& l : literals) {
    // Words of the first 8 bytes and of the last 8 (overlapping the first when shorter than
    // 16). Caseless letters compare with bit 5 set on both sides (0x41|0x20 == 0x61; only
    // letters map onto lowercase letters that way).
    auto word_of = [&](std::size_t from, std::uint64_t& value, std::uint64_t& fold,
                       std::uint64_t& mask) {
      value = fold = mask = 0;
      for (std::size_t i = 0; i < 8 && from + i < l.text.size(); ++i) {
        const char c = l.text[from + i];
        const std::size_t sh = 8 * i;
        value |= std::uint64_t{static_cast<unsigned char>(c)} << sh;
        mask |= std::uint64_t{0xff} << sh;
        if (l.caseless && alpha(c)) fold |= std::uint64_t{0x20} << sh;
      }
    };
    const std::size_t len = l.text.size();
    word_of(0, l.head, l.head_fold, l.head_mask);
    word_of(len > 8 ? len - 8 : 0, l.tail, l.tail_fold, l.tail_mask);
  }
  for (auto& b : buckets) b.clear();
  for (auto& t : byte_sets) t.fill(0);
  for (auto& t : nibbles) t.fill(0);
  // Eight buckets; the filter passes a position when some bucket allows its four bytes, so a
  // bucket's literals should agree on them (every cross-combination of their bytes passes, and a
  // literal shorter than four bytes lets anything through after it). Tuned for the built-in
  // literals: labels go by first letter, the street suffixes (" Street", " Ave", ...) by second
  // byte, and "mrn" joins " Road"/" Rd"/... whose bytes it cannot combine with into common text.
  auto bucket_of = [](const literal_trigger& l) -> std::size_t {
    const char c0 = l.caseless ? lower(l.text[0]) : l.text[0];
    const char c1 = l.text.size() > 1 ? l.text[1] : '\0';
    if (c0 == ' ') {
      switch (c1) {
        case 'S': case 'A': case 'D': case 'C': case 'P': return 6;
        default: return 7;
      }
    }
    if (l.text == "mrn") return 7;
    switch (c0) {
      case 'd': case 'b': return 0;
      case 'D': return 1;
      case 'm': return 2;
      case 'r': return 3;
      case 'p': return 4;
      case 'l': case 'a': return 5;
      default: return static_cast<unsigned char>(c0) % max_buckets;
    }
  };
  for (std::size_t i = 0; i < literals.size(); ++i) {
    buckets[bucket_of(literals[i])].push_back(static_cast<std::uint16_t>(i));
  }
  rows_ok = true;
  for (std::size_t b = 0; b < max_buckets; ++b) {
    literal_rows& r = rows[b];
    r = literal_rows{};
    r.value.fill(1);  // unused slots: (x | 0) & 0 is never 1
    if (buckets[b].size() > row_literals) rows_ok = false;
    for (std::size_t j = 0; j < buckets[b].size() && j < row_literals; ++j) {
      const literal_trigger& l = literals[buckets[b][j]];
      r.literal[j] = buckets[b][j];
      if (l.text.size() > 16) rows_ok = false;
      r.value[2 * j] = r.value[2 * j + 1] = 0;
      for (std::size_t i = 0; i < l.text.size() && i < 16; ++i) {
        const std::size_t q = 2 * j + i / 8, sh = 8 * (i % 8);
        r.value[q] |= std::uint64_t{static_cast<unsigned char>(l.text[i])} << sh;
        r.mask[q] |= std::uint64_t{0xff} << sh;
        if (l.caseless && alpha(l.text[i])) r.fold[q] |= std::uint64_t{0x20} << sh;
      }
    }
  }
  for (std::size_t b = 0; b < max_buckets; ++b) {
    const auto bit = static_cast<std::uint8_t>(1u << b);
    for (std::uint16_t li : buckets[b]) {
      const literal_trigger& l = literals[li];
      for (std::size_t pos = 0; pos < filter_bytes; ++pos) {
        for (int c = 0; c < 256; ++c) {
          const char ch = static_cast<char>(c);
          bool ok = pos >= l.text.size() ||  // a shorter literal: anything follows
                    (l.caseless ? lower(ch) == l.text[pos] : ch == l.text[pos]);
          if (!ok) continue;
          byte_sets[pos][static_cast<std::size_t>(c)] |= bit;
          nibbles[pos][static_cast<std::size_t>(c & 15)] |= bit;
          nibbles[pos][16 + static_cast<std::size_t>(c >> 4)] |= bit;
        }
      }
    }
  }
}

prefilter_path best_prefilter_path() {
  // GATEHOUSE_DLP_ISA=portable|avx2 caps the vector path (a CPU whose clock drops under
  // AVX-512, or comparing paths on one machine); it never picks a path the CPU lacks.
  const char* env = std::getenv("GATEHOUSE_DLP_ISA");
  const std::string_view cap = env != nullptr ? env : "";
#if defined(GH_DLP_AVX2)
  if (cpu_has_avx512() && cap != "avx2" && cap != "portable") return prefilter_path::avx512;
  if (cpu_has_avx2() && cap != "portable") return prefilter_path::avx2;
#endif
  return prefilter_path::portable;
}

bool find_triggers_on(prefilter_path path, const trigger_set& ts, std::string_view text,
                      std::vector<trigger>& out) {
  switch (path) {
    case prefilter_path::portable: find_triggers_portable(ts, text, out); return true;
#if defined(GH_DLP_AVX2)
    case prefilter_path::avx2:
      if (!cpu_has_avx2()) return false;
      run_avx2(ts, text, out);
      return true;
    case prefilter_path::avx512:
      if (!cpu_has_avx512()) return false;
      run_avx512(ts, text, out);
      return true;
#else
    default: return false;
#endif
  }
  return false;
}

void find_triggers(const trigger_set& ts, std::string_view text, std::vector<trigger>& out) {
  static const prefilter_path best = best_prefilter_path();
  (void)find_triggers_on(best, ts, text, out);
}

std::size_t pack_cells(std::span<const std::string_view> cells, char* dst, std::size_t off,
                       std::size_t room, std::uint32_t* starts) {
#if defined(GH_DLP_AVX2)
  static const bool wide = best_prefilter_path() == prefilter_path::avx512;
  if (wide) return pack_cells_avx512(cells, dst, off, room, starts);
#endif
  std::size_t count = 0;
  for (const std::string_view c : cells) {
    if (off + c.size() + 1 > room) break;
    starts[count++] = static_cast<std::uint32_t>(off);
    if (!c.empty()) std::memcpy(dst + off, c.data(), c.size());
    off += c.size();
    dst[off++] = '\0';
  }
  starts[count] = static_cast<std::uint32_t>(off);
  return count;
}

void find_triggers_portable(const trigger_set& ts, std::string_view text,
                            std::vector<trigger>& out) {
  portable_pass::run(portable_classifier(ts), ts, text, out);
}

}  // namespace gh::dlp::detail
