#include "proto/pg/codec.hpp"

#include <cstring>

namespace gh::pg {
namespace {

// Bounds-checked cursor over a message body. Every read reports failure instead of reading past
// the end; callers turn that into a "malformed X" error.
class reader {
 public:
  explicit reader(bytes b) : b_(b) {}
  bool cstr(std::string_view& out) {
    // An empty span may have a null data(); memchr must never see it, even with length 0.
    if (left() == 0) return false;
    const void* nul = std::memchr(b_.data() + pos_, 0, b_.size() - pos_);
    if (nul == nullptr) return false;
    auto len = static_cast<const std::uint8_t*>(nul) - (b_.data() + pos_);
    out = {reinterpret_cast<const char*>(b_.data() + pos_), static_cast<size_t>(len)};
    pos_ += static_cast<size_t>(len) + 1;
    return true;
  }
  bool i8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = b_[pos_++];
    return true;
  }
  bool i16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = be16(b_.data() + pos_);
    pos_ += 2;
    return true;
  }
  bool i32(std::uint32_t& v) {
    if (left() < 4) return false;
    v = be32(b_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool skip(size_t n) {
    if (left() < n) return false;
    pos_ += n;
    return true;
  }
  bool rest(bytes& out) {
    out = b_.subspan(pos_);
    pos_ = b_.size();
    return true;
  }
  [[nodiscard]] size_t left() const { return b_.size() - pos_; }
  [[nodiscard]] bool done() const { return pos_ == b_.size(); }

 private:
  bytes b_;
  size_t pos_ = 0;
};

error malformed(std::string_view what, std::string_view why) {
  return make_error("malformed " + std::string(what) + " message: " + std::string(why));
}

}  // namespace

decode_status next_frame(bytes in, std::size_t max_body, frame& out, std::string& err,
                         std::size_t* want) {
  if (want != nullptr) *want = 0;
  if (in.size() < 5) return decode_status::need_more;
  std::uint32_t len = be32(in.data() + 1);
  if (len < 4) {
    err = "invalid message length " + std::to_string(len) + " for message type 0x" +
          [](unsigned c) {
            const char* d = "0123456789abcdef";
            return std::string{d[c >> 4], d[c & 15]};
          }(in[0]);
    return decode_status::error;
  }
  std::size_t body = len - 4;
  if (body > max_body) {
    err = "message of " + std::to_string(body) + " bytes exceeds the limit of " +
          std::to_string(max_body) + " bytes";
    return decode_status::error;
  }
  if (in.size() < 1 + static_cast<std::size_t>(len)) {
    if (want != nullptr) *want = 1 + static_cast<std::size_t>(len);
    return decode_status::need_more;
  }
  out.type = static_cast<char>(in[0]);
  out.body = in.subspan(5, body);
  out.size = 1 + static_cast<std::size_t>(len);
  return decode_status::ok;
}

const std::string* startup_packet::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return &v;
  return nullptr;
}

decode_status decode_startup(bytes in, startup_packet& out, std::string& err) {
  if (in.size() < 4) return decode_status::need_more;
  std::uint32_t len = be32(in.data());
  if (len < 8 || len > max_startup_packet) {
    err = "invalid startup packet length " + std::to_string(len);
    return decode_status::error;
  }
  if (in.size() < len) return decode_status::need_more;
  out = startup_packet{};
  out.size = len;
  std::uint32_t code = be32(in.data() + 4);
  out.protocol = code;
  if (code == ssl_request_code || code == gss_request_code) {
    if (len != 8) {
      err = "invalid length for SSL/GSS request";
      return decode_status::error;
    }
    out.what = code == ssl_request_code ? startup_packet::kind::ssl_request
                                        : startup_packet::kind::gss_request;
    return decode_status::ok;
  }
  if (code == cancel_request_code) {
    if (len != 16) {
      err = "invalid length for CancelRequest";
      return decode_status::error;
    }
    out.what = startup_packet::kind::cancel_request;
    out.cancel_pid = be32(in.data() + 8);
    out.cancel_secret = be32(in.data() + 12);
    return decode_status::ok;
  }
  if ((code >> 16) != 3) {
    err = "unsupported frontend protocol " + std::to_string(code >> 16) + "." +
          std::to_string(code & 0xffff) + ": gatehouse supports protocol 3.0";
    return decode_status::error;
  }
  out.what = startup_packet::kind::startup;
  reader r(in.subspan(8, len - 8));
  for (;;) {
    std::string_view k;
    if (!r.cstr(k)) {
      err = "startup packet is not terminated";
      return decode_status::error;
    }
    if (k.empty()) break;
    std::string_view v;
    if (!r.cstr(v)) {
      err = "startup packet has a parameter without a value";
      return decode_status::error;
    }
    if (out.params.size() >= 64) {
      err = "startup packet has too many parameters";
      return decode_status::error;
    }
    out.params.emplace_back(std::string(k), std::string(v));
  }
  if (!r.done()) {
    err = "startup packet has trailing bytes";
    return decode_status::error;
  }
  return decode_status::ok;
}

result<std::string_view> parse_query(bytes body) {
  reader r(body);
  std::string_view q;
  if (!r.cstr(q) || !r.done()) return malformed("Query", "query string is not NUL-terminated");
  return q;
}

result<parse_msg> parse_parse(bytes body) {
  reader r(body);
  parse_msg m;
  if (!r.cstr(m.name)) return malformed("Parse", "statement name");
  if (!r.cstr(m.query)) return malformed("Parse", "query string");
  if (!r.i16(m.param_types)) return malformed("Parse", "parameter type count");
  if (!r.skip(std::size_t{m.param_types} * 4) || !r.done())
    return malformed("Parse", "parameter types do not match the count");
  return m;
}

result<bind_msg> parse_bind(bytes body) {
  reader r(body);
  bind_msg m;
  if (!r.cstr(m.portal)) return malformed("Bind", "portal name");
  if (!r.cstr(m.statement)) return malformed("Bind", "statement name");
  std::uint16_t nfmt = 0;
  if (!r.i16(nfmt) || !r.skip(std::size_t{nfmt} * 2)) return malformed("Bind", "parameter formats");
  if (!r.i16(m.params)) return malformed("Bind", "parameter count");
  if (nfmt > 1 && nfmt != m.params)
    return malformed("Bind", "parameter format count does not match parameter count");
  for (std::uint16_t i = 0; i < m.params; ++i) {
    std::uint32_t len = 0;
    if (!r.i32(len)) return malformed("Bind", "parameter length");
    if (len == 0xffffffffu) continue;  // NULL
    if (len > 0x7fffffffu || !r.skip(len)) return malformed("Bind", "parameter value length");
  }
  std::uint16_t nres = 0;
  if (!r.i16(nres) || !r.skip(std::size_t{nres} * 2) || !r.done())
    return malformed("Bind", "result formats");
  return m;
}

result<execute_msg> parse_execute(bytes body) {
  reader r(body);
  execute_msg m;
  if (!r.cstr(m.portal) || !r.i32(m.max_rows) || !r.done()) return malformed("Execute", "layout");
  return m;
}

result<close_msg> parse_close(bytes body) {
  reader r(body);
  close_msg m;
  std::uint8_t w = 0;
  if (!r.i8(w) || (w != 'S' && w != 'P')) return malformed("Close/Describe", "target kind");
  m.what = static_cast<char>(w);
  if (!r.cstr(m.name) || !r.done()) return malformed("Close/Describe", "name");
  return m;
}

result<function_call_msg> parse_function_call(bytes body) {
  reader r(body);
  function_call_msg m;
  std::uint16_t nfmt = 0;
  if (!r.i32(m.oid) || !r.i16(nfmt) || !r.skip(std::size_t{nfmt} * 2))
    return malformed("FunctionCall", "header");
  if (!r.i16(m.args)) return malformed("FunctionCall", "argument count");
  for (std::uint16_t i = 0; i < m.args; ++i) {
    std::uint32_t len = 0;
    if (!r.i32(len)) return malformed("FunctionCall", "argument length");
    if (len == 0xffffffffu) continue;
    if (len > 0x7fffffffu || !r.skip(len)) return malformed("FunctionCall", "argument value");
  }
  std::uint16_t rfmt = 0;
  if (!r.i16(rfmt) || !r.done()) return malformed("FunctionCall", "result format");
  return m;
}

result<std::string_view> parse_password(bytes body) {
  reader r(body);
  std::string_view p;
  if (!r.cstr(p) || !r.done()) return malformed("PasswordMessage", "not a NUL-terminated string");
  return p;
}

status validate_frontend(const frame& f) {
  switch (f.type) {
    case 'Q': {
      auto q = parse_query(f.body);
      if (!q) return error{q.err()};
      return {};
    }
    case 'P': {
      auto m = parse_parse(f.body);
      if (!m) return error{m.err()};
      return {};
    }
    case 'B': {
      auto m = parse_bind(f.body);
      if (!m) return error{m.err()};
      return {};
    }
    case 'E': {
      auto m = parse_execute(f.body);
      if (!m) return error{m.err()};
      return {};
    }
    case 'C':
    case 'D': {
      auto m = parse_close(f.body);
      if (!m) return error{m.err()};
      return {};
    }
    case 'F': {
      auto m = parse_function_call(f.body);
      if (!m) return error{m.err()};
      return {};
    }
    case 'S':
    case 'H':
    case 'X':
    case 'c':
      if (!f.body.empty()) return malformed(frontend_name(f.type), "unexpected body");
      return {};
    case 'd':  // CopyData: any bytes
      return {};
    case 'f': {  // CopyFail: error message string
      reader r(f.body);
      std::string_view s;
      if (!r.cstr(s) || !r.done()) return malformed("CopyFail", "message");
      return {};
    }
    case 'p':
      return make_error("unexpected PasswordMessage after authentication");
    default: {
      const char* d = "0123456789abcdef";
      auto c = static_cast<unsigned char>(f.type);
      return make_error(std::string("unknown frontend message type 0x") + d[c >> 4] + d[c & 15]);
    }
  }
}

result<error_fields> parse_error(bytes body) {
  reader r(body);
  error_fields e;
  for (;;) {
    std::uint8_t code = 0;
    if (!r.i8(code)) return malformed("ErrorResponse", "unterminated field list");
    if (code == 0) break;
    std::string_view v;
    if (!r.cstr(v)) return malformed("ErrorResponse", "field value");
    switch (code) {
      case 'V': e.severity = v; break;
      case 'S':
        if (e.severity.empty()) e.severity = v;
        break;
      case 'C': e.sqlstate = v; break;
      case 'M': e.message = v; break;
      case 'D': e.detail = v; break;
      default: break;
    }
  }
  if (!r.done()) return malformed("ErrorResponse", "trailing bytes");
  return e;
}

result<auth_msg> parse_auth(bytes body) {
  reader r(body);
  auth_msg m;
  if (!r.i32(m.code)) return malformed("Authentication", "code");
  r.rest(m.data);
  if (m.code == 5 && m.data.size() != 4) return malformed("AuthenticationMD5Password", "salt");
  if ((m.code == 0 || m.code == 3) && !m.data.empty())
    return malformed("Authentication", "unexpected data");
  return m;
}

result<std::pair<std::string_view, std::string_view>> parse_parameter_status(bytes body) {
  reader r(body);
  std::string_view k, v;
  if (!r.cstr(k) || !r.cstr(v) || !r.done()) return malformed("ParameterStatus", "layout");
  return std::pair{k, v};
}

result<std::pair<std::uint32_t, std::uint32_t>> parse_backend_key(bytes body) {
  reader r(body);
  std::uint32_t pid = 0, secret = 0;
  if (!r.i32(pid) || !r.i32(secret) || !r.done()) return malformed("BackendKeyData", "layout");
  return std::pair{pid, secret};
}

result<std::string_view> parse_command_complete(bytes body) {
  reader r(body);
  std::string_view tag;
  if (!r.cstr(tag) || !r.done()) return malformed("CommandComplete", "tag");
  return tag;
}

std::int64_t command_rows(std::string_view tag) {
  auto sp = tag.rfind(' ');
  if (sp == std::string_view::npos) return -1;
  std::int64_t n = 0;
  auto digits = tag.substr(sp + 1);
  if (digits.empty() || digits.size() > 18) return -1;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

status parse_row_description(bytes body, std::vector<column_info>& out) {
  out.clear();
  reader r(body);
  std::uint16_t n = 0;
  if (!r.i16(n)) return malformed("RowDescription", "column count");
  for (std::uint16_t i = 0; i < n; ++i) {
    column_info c;
    std::uint32_t table = 0, typmod = 0;
    std::uint16_t attnum = 0, typlen = 0;
    if (!r.cstr(c.name) || !r.i32(table) || !r.i16(attnum) || !r.i32(c.type_oid) ||
        !r.i16(typlen) || !r.i32(typmod) || !r.i16(c.format))
      return malformed("RowDescription", "column");
    out.push_back(c);
  }
  if (!r.done()) return malformed("RowDescription", "trailing bytes");
  return {};
}

status parse_data_row(bytes body, std::vector<std::string_view>& cells, std::vector<bool>& nulls) {
  reader r(body);
  std::uint16_t n = 0;
  if (!r.i16(n)) return malformed("DataRow", "column count");
  for (std::uint16_t i = 0; i < n; ++i) {
    std::uint32_t len = 0;
    if (!r.i32(len)) return malformed("DataRow", "value length");
    if (len == 0xffffffffu) {
      cells.emplace_back();
      nulls.push_back(true);
      continue;
    }
    bytes v;
    if (len > 0x7fffffffu || r.left() < len) return malformed("DataRow", "value");
    const auto* p = body.data() + (body.size() - r.left());
    cells.emplace_back(reinterpret_cast<const char*>(p), len);
    nulls.push_back(false);
    (void)r.skip(len);
  }
  if (!r.done()) return malformed("DataRow", "trailing bytes");
  return {};
}

result<char> parse_ready_for_query(bytes body) {
  if (body.size() != 1 || (body[0] != 'I' && body[0] != 'T' && body[0] != 'E'))
    return malformed("ReadyForQuery", "transaction status");
  return static_cast<char>(body[0]);
}

// ---- writer ---------------------------------------------------------------------------------

writer& writer::i8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}
writer& writer::i16(std::uint16_t v) {
  out_.push_back(static_cast<std::uint8_t>(v >> 8));
  out_.push_back(static_cast<std::uint8_t>(v));
  return *this;
}
writer& writer::i32(std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<std::uint8_t>(v >> s));
  return *this;
}
writer& writer::cstr(std::string_view s) {
  // A NUL inside would split the field; cut there rather than emit a malformed message.
  auto nul = s.find('\0');
  if (nul != std::string_view::npos) s = s.substr(0, nul);
  out_.insert(out_.end(), s.begin(), s.end());
  out_.push_back(0);
  return *this;
}
writer& writer::raw(bytes b) {
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}
writer& writer::raw(std::string_view s) {
  out_.insert(out_.end(), s.begin(), s.end());
  return *this;
}
message::message(std::vector<std::uint8_t>& out, char type) : out_(out), w_(out) {
  out_.push_back(static_cast<std::uint8_t>(type));
  len_pos_ = out_.size();
  out_.insert(out_.end(), 4, 0);
}

message::message(std::vector<std::uint8_t>& out) : out_(out), w_(out) {
  len_pos_ = out_.size();
  out_.insert(out_.end(), 4, 0);
}

message::~message() {
  auto len = static_cast<std::uint32_t>(out_.size() - len_pos_);
  out_[len_pos_] = static_cast<std::uint8_t>(len >> 24);
  out_[len_pos_ + 1] = static_cast<std::uint8_t>(len >> 16);
  out_[len_pos_ + 2] = static_cast<std::uint8_t>(len >> 8);
  out_[len_pos_ + 3] = static_cast<std::uint8_t>(len);
}

void write_error(std::vector<std::uint8_t>& out, severity sev, std::string_view sqlstate,
                 std::string_view text, std::string_view detail, std::string_view hint) {
  const char* s = "ERROR";
  char type = 'E';
  switch (sev) {
    case severity::error: s = "ERROR"; break;
    case severity::fatal: s = "FATAL"; break;
    case severity::notice: s = "NOTICE"; type = 'N'; break;
    case severity::warning: s = "WARNING"; type = 'N'; break;
  }
  message m(out, type);
  m.w().i8('S').cstr(s).i8('V').cstr(s).i8('C').cstr(sqlstate).i8('M').cstr(text);
  if (!detail.empty()) m.w().i8('D').cstr(detail);
  if (!hint.empty()) m.w().i8('H').cstr(hint);
  m.w().i8(0);
}

void write_notice(std::vector<std::uint8_t>& out, std::string_view text,
                  std::string_view detail) {
  write_error(out, severity::notice, "00000", text, detail);
}

void write_auth(std::vector<std::uint8_t>& out, std::uint32_t code, bytes data) {
  message m(out, 'R');
  m.w().i32(code).raw(data);
}

void write_parameter_status(std::vector<std::uint8_t>& out, std::string_view name,
                            std::string_view value) {
  message m(out, 'S');
  m.w().cstr(name).cstr(value);
}

void write_backend_key(std::vector<std::uint8_t>& out, std::uint32_t pid, std::uint32_t secret) {
  message m(out, 'K');
  m.w().i32(pid).i32(secret);
}

void write_ready_for_query(std::vector<std::uint8_t>& out, char tx_status) {
  message m(out, 'Z');
  m.w().i8(static_cast<std::uint8_t>(tx_status));
}

void write_negotiate_protocol(std::vector<std::uint8_t>& out, std::uint32_t newest_minor,
                              const std::vector<std::string>& unsupported) {
  message m(out, 'v');
  m.w().i32(newest_minor).i32(static_cast<std::uint32_t>(unsupported.size()));
  for (const auto& s : unsupported) m.w().cstr(s);
}

void write_startup(std::vector<std::uint8_t>& out,
                   const std::vector<std::pair<std::string, std::string>>& params) {
  message m(out);
  m.w().i32(protocol_v3);
  for (const auto& [k, v] : params) {
    // An empty key (or one cut empty by a NUL) would read as the list terminator and leave the
    // rest as trailing bytes: skip it rather than send a packet the server must refuse.
    if (k.empty() || k.front() == '\0') continue;
    m.w().cstr(k).cstr(v);
  }
  m.w().i8(0);
}

void write_ssl_request(std::vector<std::uint8_t>& out) {
  message m(out);
  m.w().i32(ssl_request_code);
}

void write_cancel_request(std::vector<std::uint8_t>& out, std::uint32_t pid,
                          std::uint32_t secret) {
  message m(out);
  m.w().i32(cancel_request_code).i32(pid).i32(secret);
}

void write_password(std::vector<std::uint8_t>& out, std::string_view password) {
  message m(out, 'p');
  m.w().cstr(password);
}

void write_sasl_initial(std::vector<std::uint8_t>& out, std::string_view mechanism,
                        std::string_view data) {
  message m(out, 'p');
  m.w().cstr(mechanism).i32(static_cast<std::uint32_t>(data.size())).raw(data);
}

void write_sasl_response(std::vector<std::uint8_t>& out, std::string_view data) {
  message m(out, 'p');
  m.w().raw(data);
}

void write_query(std::vector<std::uint8_t>& out, std::string_view sql) {
  message m(out, 'Q');
  m.w().cstr(sql);
}

void write_terminate(std::vector<std::uint8_t>& out) { message m(out, 'X'); }

std::string_view frontend_name(char type) {
  switch (type) {
    case 'Q': return "Query";
    case 'P': return "Parse";
    case 'B': return "Bind";
    case 'E': return "Execute";
    case 'D': return "Describe";
    case 'C': return "Close";
    case 'S': return "Sync";
    case 'H': return "Flush";
    case 'F': return "FunctionCall";
    case 'X': return "Terminate";
    case 'd': return "CopyData";
    case 'c': return "CopyDone";
    case 'f': return "CopyFail";
    case 'p': return "PasswordMessage";
    default: return "unknown";
  }
}

std::string_view backend_name(char type) {
  switch (type) {
    case 'R': return "Authentication";
    case 'K': return "BackendKeyData";
    case 'S': return "ParameterStatus";
    case 'Z': return "ReadyForQuery";
    case 'T': return "RowDescription";
    case 'D': return "DataRow";
    case 'C': return "CommandComplete";
    case 'E': return "ErrorResponse";
    case 'N': return "NoticeResponse";
    case 'A': return "NotificationResponse";
    case 'I': return "EmptyQueryResponse";
    case '1': return "ParseComplete";
    case '2': return "BindComplete";
    case '3': return "CloseComplete";
    case 'n': return "NoData";
    case 's': return "PortalSuspended";
    case 't': return "ParameterDescription";
    case 'G': return "CopyInResponse";
    case 'H': return "CopyOutResponse";
    case 'W': return "CopyBothResponse";
    case 'd': return "CopyData";
    case 'c': return "CopyDone";
    case 'V': return "FunctionCallResponse";
    case 'v': return "NegotiateProtocolVersion";
    default: return "unknown";
  }
}

}  // namespace gh::pg
