#pragma once
// PostgreSQL wire protocol v3 codec. Sans-I/O: functions take bytes and return messages, "need
// more", or an error; they never touch sockets, never sleep, never log. Decoders validate every
// field they read and fail closed: a message that does not parse exactly is an error, never
// passed through (unlike Envoy's OutOfSync mode, a policy gateway must not forward what it could
// not read).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace gh::pg {

using bytes = std::span<const std::uint8_t>;

constexpr std::uint32_t protocol_v3 = 196608;  // 3.0
constexpr std::uint32_t ssl_request_code = 80877103;
constexpr std::uint32_t gss_request_code = 80877104;
constexpr std::uint32_t cancel_request_code = 80877102;
constexpr std::size_t max_startup_packet = 10000;  // PostgreSQL's own limit

enum class decode_status { ok, need_more, error };

[[nodiscard]] inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
[[nodiscard]] inline std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// ---- Framing ------------------------------------------------------------------------------

// One typed message: 1 type byte, int32 length (including itself), body.
struct frame {
  char type = 0;
  bytes body;              // excludes the 5-byte header
  std::size_t size = 0;    // header + body: bytes this frame occupies in the input
};

// Splits typed messages off the front of `in`. On error, `err` says why (length below 4 or above
// `max_body`). need_more means `in` holds a prefix of a valid frame; `want` then says how many
// bytes the whole frame needs (0 while the header is incomplete).
[[nodiscard]] decode_status next_frame(bytes in, std::size_t max_body, frame& out,
                                       std::string& err, std::size_t* want = nullptr);

// The untyped first packet(s) of a connection.
struct startup_packet {
  enum class kind { startup, ssl_request, gss_request, cancel_request };
  kind what = kind::startup;
  std::uint32_t protocol = 0;
  std::vector<std::pair<std::string, std::string>> params;  // startup only, in order
  std::uint32_t cancel_pid = 0;
  std::uint32_t cancel_secret = 0;
  std::size_t size = 0;  // bytes consumed

  [[nodiscard]] const std::string* param(std::string_view name) const;
};

[[nodiscard]] decode_status decode_startup(bytes in, startup_packet& out, std::string& err);

// ---- Frontend (client -> server) message bodies ---------------------------------------------

// Checks that a frontend message type is legal once the session is established and that its
// body parses. Returns an error naming the message ("malformed Bind: ...").
[[nodiscard]] status validate_frontend(const frame& f);

struct parse_msg {
  std::string_view name;
  std::string_view query;
  std::uint16_t param_types = 0;
};
struct bind_msg {
  std::string_view portal;
  std::string_view statement;
  std::uint16_t params = 0;
};
struct execute_msg {
  std::string_view portal;
  std::uint32_t max_rows = 0;
};
struct close_msg {  // also Describe
  char what = 0;    // 'S' statement or 'P' portal
  std::string_view name;
};
struct function_call_msg {
  std::uint32_t oid = 0;
  std::uint16_t args = 0;
};

[[nodiscard]] result<std::string_view> parse_query(bytes body);     // 'Q'
[[nodiscard]] result<parse_msg> parse_parse(bytes body);            // 'P'
[[nodiscard]] result<bind_msg> parse_bind(bytes body);              // 'B'
[[nodiscard]] result<execute_msg> parse_execute(bytes body);        // 'E'
[[nodiscard]] result<close_msg> parse_close(bytes body);            // 'C' and 'D'
[[nodiscard]] result<function_call_msg> parse_function_call(bytes body);  // 'F'
[[nodiscard]] result<std::string_view> parse_password(bytes body);  // 'p' (cleartext)

// ---- Backend (server -> client) message bodies ----------------------------------------------

struct error_fields {
  std::string_view severity;  // 'V' (non-localized) or 'S'
  std::string_view sqlstate;  // 'C'
  std::string_view message;   // 'M'
  std::string_view detail;    // 'D'
};
[[nodiscard]] result<error_fields> parse_error(bytes body);  // 'E' and 'N'

struct auth_msg {
  std::uint32_t code = 0;  // 0 ok, 3 cleartext, 5 md5, 10 SASL, 11 SASL continue, 12 SASL final
  bytes data;              // md5: 4-byte salt; SASL: mechanism list / server data
};
[[nodiscard]] result<auth_msg> parse_auth(bytes body);  // 'R'

[[nodiscard]] result<std::pair<std::string_view, std::string_view>> parse_parameter_status(
    bytes body);  // 'S'
[[nodiscard]] result<std::pair<std::uint32_t, std::uint32_t>> parse_backend_key(bytes body);
[[nodiscard]] result<std::string_view> parse_command_complete(bytes body);  // 'C' tag
// Rows in a CommandComplete tag ("SELECT 5", "INSERT 0 3", "COPY 10"); -1 when the tag has none.
[[nodiscard]] std::int64_t command_rows(std::string_view tag);
[[nodiscard]] result<char> parse_ready_for_query(bytes body);  // 'Z': 'I', 'T' or 'E'

struct column_info {
  std::string_view name;
  std::uint32_t type_oid = 0;
  std::uint16_t format = 0;  // 0 text, 1 binary
};
// 'T': appends to `out` (cleared first); names point into `body`.
[[nodiscard]] status parse_row_description(bytes body, std::vector<column_info>& out);
// 'D': cell values as views into `body`; a NULL cell is {nullptr, 0} with `nulls[i]` set.
// `cells`/`nulls` are appended to (the caller batches many rows).
[[nodiscard]] status parse_data_row(bytes body, std::vector<std::string_view>& cells,
                                    std::vector<bool>& nulls);

// ---- Encoding ---------------------------------------------------------------------------------

// Appends fields to a byte vector.
class writer {
 public:
  explicit writer(std::vector<std::uint8_t>& out) : out_(out) {}
  writer& i8(std::uint8_t v);
  writer& i16(std::uint16_t v);
  writer& i32(std::uint32_t v);
  writer& cstr(std::string_view s);  // s plus NUL; an embedded NUL cuts s there
  writer& raw(bytes b);
  writer& raw(std::string_view s);

 private:
  std::vector<std::uint8_t>& out_;
};

// One message appended to `out`: the constructor writes the type byte (none for startup-phase
// packets) and a length placeholder, the destructor patches the length. Many messages can go
// into one vector and leave with one write.
class message {
 public:
  message(std::vector<std::uint8_t>& out, char type);
  explicit message(std::vector<std::uint8_t>& out);  // untyped (startup phase)
  ~message();
  message(const message&) = delete;
  message& operator=(const message&) = delete;
  writer& w() { return w_; }

 private:
  std::vector<std::uint8_t>& out_;
  writer w_;
  std::size_t len_pos_ = 0;
};

enum class severity { error, fatal, notice, warning };

void write_error(std::vector<std::uint8_t>& out, severity sev, std::string_view sqlstate,
                 std::string_view text, std::string_view detail = {},
                 std::string_view hint = {});
void write_notice(std::vector<std::uint8_t>& out, std::string_view text,
                  std::string_view detail = {});
void write_auth(std::vector<std::uint8_t>& out, std::uint32_t code, bytes data = {});
void write_parameter_status(std::vector<std::uint8_t>& out, std::string_view name,
                            std::string_view value);
void write_backend_key(std::vector<std::uint8_t>& out, std::uint32_t pid, std::uint32_t secret);
void write_ready_for_query(std::vector<std::uint8_t>& out, char tx_status);
void write_negotiate_protocol(std::vector<std::uint8_t>& out, std::uint32_t newest_minor,
                              const std::vector<std::string>& unsupported);

// Frontend messages the gateway sends upstream.
void write_startup(std::vector<std::uint8_t>& out,
                   const std::vector<std::pair<std::string, std::string>>& params);
void write_ssl_request(std::vector<std::uint8_t>& out);
void write_cancel_request(std::vector<std::uint8_t>& out, std::uint32_t pid, std::uint32_t secret);
void write_password(std::vector<std::uint8_t>& out, std::string_view password);
void write_sasl_initial(std::vector<std::uint8_t>& out, std::string_view mechanism,
                        std::string_view data);
void write_sasl_response(std::vector<std::uint8_t>& out, std::string_view data);
void write_query(std::vector<std::uint8_t>& out, std::string_view sql);
void write_terminate(std::vector<std::uint8_t>& out);

// Human name of a message type for errors ("Bind", "DataRow"...).
[[nodiscard]] std::string_view frontend_name(char type);
[[nodiscard]] std::string_view backend_name(char type);

}  // namespace gh::pg
