#include "record/asciicast.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>

namespace gh::record {

namespace {

bool cont(unsigned char c) { return (c & 0xC0) == 0x80; }

// For a lead byte: sequence length and the allowed range of the second byte (RFC 3629 table;
// the narrowed ranges exclude overlong forms, surrogates and code points above U+10FFFF).
struct lead_info {
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
};

lead_info lead(unsigned char c) {
  if (c < 0x80) return {1};
  if (c >= 0xC2 && c <= 0xDF) return {2};
  if (c == 0xE0) return {3, 0xA0, 0xBF};
  if (c == 0xED) return {3, 0x80, 0x9F};
  if (c >= 0xE1 && c <= 0xEF) return {3};
  if (c == 0xF0) return {4, 0x90, 0xBF};
  if (c >= 0xF1 && c <= 0xF3) return {4};
  if (c == 0xF4) return {4, 0x80, 0x8F};
  return {0};
}

// How many bytes from i match the sequence's rules (stops at the end of s).
std::size_t valid_prefix(std::string_view s, std::size_t i, const lead_info& li) {
  std::size_t k = 1;
  while (k < li.len && i + k < s.size()) {
    auto c = static_cast<unsigned char>(s[i + k]);
    bool ok = k == 1 ? (c >= li.lo && c <= li.hi) : cont(c);
    if (!ok) break;
    ++k;
  }
  return k;
}

}  // namespace

std::size_t utf8_sequence_at(std::string_view s, std::size_t i) {
  if (i >= s.size()) return 0;
  auto li = lead(static_cast<unsigned char>(s[i]));
  if (li.len <= 1) return li.len;
  return valid_prefix(s, i, li) == li.len ? li.len : 0;
}

std::size_t utf8_incomplete_tail(std::string_view s) {
  for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    std::size_t i = s.size() - back;
    auto li = lead(static_cast<unsigned char>(s[i]));
    if (li.len == 0) {
      if (cont(static_cast<unsigned char>(s[i]))) continue;  // keep looking for the lead
      return 0;
    }
    if (li.len == 1) return 0;
    // A lead byte: incomplete if everything after it fits its rules and more is needed.
    return back < li.len && valid_prefix(s, i, li) == back ? back : 0;
  }
  return 0;
}

void append_json_string(std::string_view bytes, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size();) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xF];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence_at(bytes, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for one invalid byte, then resynchronise
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
}

std::string header_line(const cast_header& h) {
  std::string out = "{\"version\":2,\"width\":" + std::to_string(h.width) +
                    ",\"height\":" + std::to_string(h.height) +
                    ",\"timestamp\":" + std::to_string(h.timestamp) + ",\"env\":{";
  bool first = true;
  for (const auto& [k, v] : h.env) {
    if (!first) out += ',';
    first = false;
    out += '"';
    append_json_string(k, out);
    out += "\":\"";
    append_json_string(v, out);
    out += '"';
  }
  out += "}}\n";
  return out;
}

void append_event(std::int64_t t_us, char code, std::string_view data, std::string& out) {
  if (t_us < 0) t_us = 0;
  char t[40];
  std::snprintf(t, sizeof t, "[%lld.%06lld,\"", static_cast<long long>(t_us / 1'000'000),
                static_cast<long long>(t_us % 1'000'000));
  out += t;
  out += code;
  out += "\",\"";
  append_json_string(data, out);
  out += "\"]\n";
}

result<cast> parse_cast(std::string_view text) {
  cast c;
  std::size_t pos = 0;
  std::int64_t line_no = 0;
  std::int64_t last_t = 0;
  auto bad = [&](const std::string& what) {
    return make_error("line " + std::to_string(line_no) + ": " + what);
  };
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec) return bad("not JSON: " + ec.message());
    if (line_no == 1) {
      auto* o = v.if_object();
      auto* ver = o ? o->if_contains("version") : nullptr;
      if (!ver || !ver->is_int64() || ver->as_int64() != 2) return bad("not an asciicast v2 header");
      if (auto* w = o->if_contains("width"); w && w->is_int64())
        c.header.width = static_cast<unsigned>(w->as_int64());
      if (auto* h = o->if_contains("height"); h && h->is_int64())
        c.header.height = static_cast<unsigned>(h->as_int64());
      if (auto* ts = o->if_contains("timestamp"); ts && ts->is_int64())
        c.header.timestamp = ts->as_int64();
      if (auto* env = o->if_contains("env"); env && env->is_object())
        for (const auto& kv : env->as_object())
          if (kv.value().is_string())
            c.header.env.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
      continue;
    }
    auto* a = v.if_array();
    if (!a || a->size() != 3 || !(*a)[0].is_number() || !(*a)[1].is_string() ||
        !(*a)[2].is_string())
      return bad("expected [time, code, data]");
    auto code = (*a)[1].as_string();
    if (code.size() != 1 || (code[0] != 'o' && code[0] != 'i' && code[0] != 'r'))
      return bad("unknown event code");
    double secs = (*a)[0].to_number<double>();
    if (!(secs >= 0)) return bad("negative time");
    auto t = static_cast<std::int64_t>(std::llround(secs * 1e6));
    if (t < last_t) return bad("time goes backwards");
    last_t = t;
    c.events.push_back({t, code[0], std::string((*a)[2].as_string())});
  }
  if (line_no == 0) return make_error("empty recording");
  return c;
}

}  // namespace gh::record
