#include "audit/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/crypto.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gh::audit {

namespace fs = std::filesystem;

namespace {

bool needs_escape(std::string_view v) {
  std::size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes per step (SSE2 is part of x86-64): control bytes, '"' and '\\'.
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i ctl_max = _mm_set1_epi8(0x1f);
  for (; i + 16 <= v.size(); i += 16) {
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data() + i));
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b, backslash));
    hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_min_epu8(b, ctl_max), b));
    if (_mm_movemask_epi8(hit) != 0) return true;
  }
#endif
  for (; i < v.size(); ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == '"' || c == '\\') return true;
  }
  return false;
}

// `prefix` is the literal that opens the field (`,"key":"` or `,"key":`), so each field costs
// one append for the key and one for a value without escapes (the common case).
void put_str(std::string& out, std::string_view prefix, std::string_view v) {
  out.append(prefix);
  if (!needs_escape(v)) {
    out.append(v);
    out.push_back('"');
    return;
  }
  static const char* hex = "0123456789abcdef";
  // Copy runs of bytes that need no escaping in one go.
  std::size_t run = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(v.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        out.append(esc, sizeof esc);
      }
    }
  }
  out.append(v.data() + run, v.size() - run);
  out.push_back('"');
}

void put_int(std::string& out, std::string_view prefix, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(prefix);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

std::string errno_text(int e) { return std::strerror(e); }

std::string segment_name(std::int64_t first_seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "journal-%020lld.log", static_cast<long long>(first_seq));
  return buf;
}

std::vector<fs::path> segments(const std::string& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto n = e.path().filename().string();
    if (n.rfind("journal-", 0) == 0 && n.size() > 12 && n.substr(n.size() - 4) == ".log")
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Reads a whole file; sets `err` on failure.
std::string slurp(const fs::path& p, std::string& err) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = p.string() + ": " + errno_text(errno);
    return {};
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = p.string() + ": " + errno_text(errno);
      break;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

}  // namespace

const std::string genesis_hash(64, '0');

namespace {
// The canonical form: every field, fixed order, ending with the previous hash; no hash.
void encode_canonical(const record& r, std::string_view prev, std::string& out) {
  // Field order is part of the canonical form: never reorder, only append new keys before prev.
  // One reservation for the whole line (keys, values, hash): no growth while appending.
  out.reserve(out.size() + 320 + r.kind.size() + r.session_id.size() + r.user.size() +
              r.groups.size() + r.connection.size() + r.client_addr.size() +
              r.statement.size() + r.outcome.size() + r.reason.size() + r.detail.size());
  put_int(out, "{\"seq\":", r.seq);
  put_int(out, ",\"ts_us\":", r.ts_us);
  put_str(out, ",\"kind\":\"", r.kind);
  put_str(out, ",\"session\":\"", r.session_id);
  put_str(out, ",\"user\":\"", r.user);
  put_str(out, ",\"groups\":\"", r.groups);
  put_str(out, ",\"connection\":\"", r.connection);
  put_str(out, ",\"client\":\"", r.client_addr);
  put_str(out, ",\"statement\":\"", r.statement);
  put_int(out, ",\"stmt\":", r.stmt_id);
  put_int(out, ",\"param_count\":", r.param_count);
  put_str(out, ",\"outcome\":\"", r.outcome);
  put_int(out, ",\"rows\":", r.rows);
  put_int(out, ",\"duration_us\":", r.duration_us);
  put_str(out, ",\"reason\":\"", r.reason);
  put_str(out, ",\"detail\":\"", r.detail);
  put_str(out, ",\"prev\":\"", prev);
  out.push_back('}');
}
}  // namespace

void encode_record(record& r, std::string_view prev_hash, std::string& out) {
  auto start = out.size();
  encode_canonical(r, prev_hash, out);
  r.prev_hash = std::string(prev_hash);
  r.hash = crypto::sha256_hex(std::string_view(out).substr(start));
  out.pop_back();  // the canonical form's closing brace; the line goes on with the hash
  out.append(",\"hash\":\"").append(r.hash).append("\"}\n");
}

result<record> decode_record(std::string_view line, bool verified) {
  boost::system::error_code ec;
  // Statements hold whatever bytes the client sent, UTF-8 or not, and put_str() writes them as
  // they are; they must read back byte for byte (the hash covers them), or open() would take the
  // line for a torn tail and cut it and every event after it.
  boost::json::parse_options opt;
  opt.allow_invalid_utf8 = true;
  auto v = boost::json::parse(line, ec, {}, opt);
  if (ec || !v.is_object()) return make_error("not a JSON object");
  const auto& o = v.as_object();
  record r;
  auto str = [&](const char* k, std::string& dst) -> bool {
    auto* p = o.if_contains(k);
    if (p == nullptr || !p->is_string()) return false;
    dst = std::string(p->as_string());
    return true;
  };
  auto num = [&](const char* k, std::int64_t& dst) -> bool {
    auto* p = o.if_contains(k);
    if (p == nullptr || !p->is_int64()) return false;
    dst = p->as_int64();
    return true;
  };
  if (!num("seq", r.seq) || !num("ts_us", r.ts_us) || !str("kind", r.kind) ||
      !str("session", r.session_id) || !str("user", r.user) || !str("groups", r.groups) ||
      !str("connection", r.connection) || !str("client", r.client_addr) ||
      !str("statement", r.statement) || !num("stmt", r.stmt_id) ||
      !num("param_count", r.param_count) || !str("outcome", r.outcome) ||
      !num("rows", r.rows) || !num("duration_us", r.duration_us) || !str("reason", r.reason) ||
      !str("detail", r.detail) || !str("prev", r.prev_hash) || !str("hash", r.hash))
    return make_error("missing or mistyped field");
  if (o.size() != 18) return make_error("unexpected fields");
  if (verified) {
    std::string canon;
    canon.reserve(line.size());
    encode_canonical(r, r.prev_hash, canon);
    auto h = crypto::sha256_hex(canon);
    canon.pop_back();
    canon.append(",\"hash\":\"").append(r.hash).append("\"}");
    if (canon != line) return make_error("not in canonical form (modified)");
    if (h != r.hash) return make_error("hash does not match its content (modified)");
  }
  return r;
}

journal::~journal() {
  if (fd_ >= 0) ::close(fd_);
}

result<std::unique_ptr<journal>> journal::open(const std::string& dir, sync_mode mode,
                                               std::int64_t min_next_seq,
                                               std::size_t segment_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("audit journal " + dir + ": " + ec.message());
  std::unique_ptr<journal> j(new journal(dir, mode, segment_bytes));
  auto segs = segments(dir);
  std::int64_t last_seq = 0;
  if (!segs.empty()) {
    // Find the last good line of the newest segment; cut a torn tail.
    std::string err;
    auto data = slurp(segs.back(), err);
    if (!err.empty()) return make_error("audit journal: " + err);
    std::size_t good = 0, pos = 0;
    while (pos < data.size()) {
      auto nl = data.find('\n', pos);
      if (nl == std::string::npos) break;
      auto rec = decode_record(std::string_view(data).substr(pos, nl - pos), false);
      if (!rec) {
        // Only an unterminated last line can be a write cut short by a crash. A complete line
        // that does not parse is damage or tampering: refuse to start rather than delete the
        // events after it.
        return make_error("audit journal " + segs.back().string() + " is damaged at byte " +
                          std::to_string(pos) + " (" + rec.err() +
                          "); run `gatehouse audit verify` and restore it before serving");
      }
      last_seq = rec->seq;
      j->last_hash_ = rec->hash;
      pos = nl + 1;
      good = pos;
    }
    if (good != data.size()) {
      if (::truncate(segs.back().c_str(), static_cast<off_t>(good)) != 0)
        return make_error("audit journal: cannot cut torn tail of " + segs.back().string() +
                          ": " + errno_text(errno));
    }
    if (last_seq == 0 && segs.size() > 1) {
      // The newest segment is empty: the previous one ends the chain.
      std::string err2;
      auto prev = slurp(segs[segs.size() - 2], err2);
      auto end = prev.rfind('\n', prev.size() >= 2 ? prev.size() - 2 : 0);
      auto line = std::string_view(prev).substr(end == std::string::npos ? 0 : end + 1);
      if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
      if (auto rec = decode_record(line, false)) {
        last_seq = rec->seq;
        j->last_hash_ = rec->hash;
      }
    }
    j->fd_ = ::open(segs.back().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (j->fd_ < 0) return make_error("audit journal " + segs.back().string() + ": " + errno_text(errno));
    j->size_ = good;
  }
  j->next_seq_ = std::max(last_seq + 1, min_next_seq);
  if (j->last_hash_.empty()) j->last_hash_ = genesis_hash;
  if (j->fd_ < 0) {
    if (auto s = j->open_segment(j->next_seq_); !s) return error{s.err()};
  }
  return j;
}

status journal::open_segment(std::int64_t first_seq) {
  auto path = fs::path(dir_) / segment_name(first_seq);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("audit journal " + path.string() + ": " + errno_text(errno));
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  size_ = 0;
  // Make the new file's directory entry durable too.
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

status journal::append(std::string_view lines, std::int64_t count,
                       const std::string& new_last_hash) {
  if (lines.empty()) return {};
  if (size_ >= segment_bytes_) {
    if (auto s = open_segment(next_seq_); !s) return s;
  }
  std::size_t done = 0;
  while (done < lines.size()) {
    auto n = ::write(fd_, lines.data() + done, lines.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      // All or nothing: a half-written batch would hold events whose actions never happened.
      if (done > 0) [[maybe_unused]] auto r = ::ftruncate(fd_, static_cast<off_t>(size_));
      return make_error("audit journal write failed: " + errno_text(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (mode_ == sync_mode::fsync && ::fdatasync(fd_) != 0) {
    int e = errno;
    [[maybe_unused]] auto r = ::ftruncate(fd_, static_cast<off_t>(size_));
    return make_error("audit journal fdatasync failed: " + errno_text(e));
  }
  size_ += lines.size();
  next_seq_ += count;
  last_hash_ = new_last_hash;
  return {};
}

result<std::vector<journal::segment_info>> journal::list_segments(const std::string& dir) {
  std::vector<segment_info> out;
  for (const auto& p : segments(dir)) {
    segment_info s;
    s.path = p.string();
    s.first_seq = std::stoll(p.filename().string().substr(8, 20));
    // Only the tail: the last line is all we need (a line is far below 1 MiB).
    std::string data;
    {
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return make_error("audit journal: " + p.string() + ": " + errno_text(errno));
      struct stat stbuf {};
      ::fstat(fd, &stbuf);
      auto size = static_cast<std::size_t>(stbuf.st_size);
      auto want = std::min<std::size_t>(size, 1u << 20);
      data.resize(want);
      auto n = ::pread(fd, data.data(), want, static_cast<off_t>(size - want));
      ::close(fd);
      data.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    }
    if (!data.empty() && data.back() == '\n') {
      auto end = data.size() - 1;  // the final newline
      auto start = data.rfind('\n', end - 1);
      start = start == std::string::npos ? 0 : start + 1;
      auto rec = decode_record(std::string_view(data).substr(start, end - start), false);
      if (rec) {
        s.last_seq = rec->seq;
        s.last_ts_us = rec->ts_us;
        s.last_hash = rec->hash;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

status journal::read(const std::string& dir, std::int64_t after,
                     const std::function<void(record&&)>& fn) {
  auto segs = segments(dir);
  // Skip segments that end before `after`: a segment's name is its first seq.
  std::size_t start = 0;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    auto n = segs[i].filename().string();
    auto first = std::stoll(n.substr(8, 20));
    if (first <= after + 1) start = i;
  }
  for (std::size_t i = start; i < segs.size(); ++i) {
    std::string err;
    auto data = slurp(segs[i], err);
    if (!err.empty()) return make_error("audit journal: " + err);
    std::size_t pos = 0;
    while (pos < data.size()) {
      auto nl = data.find('\n', pos);
      if (nl == std::string::npos) break;  // torn tail being written right now
      auto rec = decode_record(std::string_view(data).substr(pos, nl - pos), false);
      if (!rec)
        return make_error("audit journal " + segs[i].string() + ": bad record at byte " +
                          std::to_string(pos) + ": " + rec.err());
      pos = nl + 1;
      if (rec->seq > after) fn(std::move(*rec));
    }
  }
  return {};
}

}  // namespace gh::audit
