#pragma once
// Typed gateway configuration. Loaded from YAML by load_config(); every validation error names
// file:line and the key path (e.g. "demo.yaml:12: connections[0].port: expected 1..65535").
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/guardrails.hpp"
#include "config/masking.hpp"
#include "config/secret.hpp"
#include "core/result.hpp"

namespace gh::config {

enum class client_tls { require, prefer };
enum class upstream_tls { disable, prefer, require, verify_full };
enum class conn_type { postgres, ssh };
enum class audit_sync { write, fsync };

struct endpoint {
  std::string host;  // "127.0.0.1", "::1", "localhost", "0.0.0.0"
  std::uint16_t port = 0;
  [[nodiscard]] bool empty() const { return host.empty(); }
};

struct listen_config {
  endpoint postgres;
  endpoint ssh;
  endpoint api;
};

struct tls_config {
  client_tls client = client_tls::require;
  std::string cert;  // path; empty -> generated self-signed pair in state_dir
  std::string key;
};

struct gateway_config {
  std::string state_dir = "./var";
  listen_config listen;
  tls_config tls;
  std::chrono::milliseconds idle_timeout{15 * 60 * 1000};
  std::size_t max_message_size = 16 * 1024 * 1024;  // client->gateway protocol messages
  unsigned workers = 0;                             // 0 -> number of cores
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds auth_timeout{30'000};  // client must finish startup+auth in this time
};

struct store_config {
  std::string url = "sqlite://./var/gatehouse.db";
  // The PATH of a sqlite://PATH url (absolute after load_config), or "" for other schemes.
  [[nodiscard]] std::string sqlite_path() const;
};

struct oidc_config {
  std::string issuer;
  std::string audience;
  std::string groups_claim = "groups";
};

struct user_config {
  std::string name;
  std::vector<std::string> groups;
  secret_ref api_key;          // the key itself; resolved by the identity module, never logged
  std::string api_key_sha256;  // alternative: lowercase hex SHA-256 of the key
  int line = 0;
  int api_key_line = 0;  // line of `api_key:`, for check_secrets() errors
};

struct identity_config {
  std::optional<oidc_config> oidc;
  std::vector<user_config> users;
};

// `recording:` of a connection. Terminal (ssh) sessions are recorded as asciicast v2, masked,
// chunked into state_dir/recordings and chained into the audit trail (docs/AUDIT.md). Database
// sessions are always recorded as their statement timeline in the audit trail; for them only
// `recording: true` is accepted.
struct recording_config {
  bool enabled = true;
  bool record_input = false;  // keystrokes can hold passwords; off unless policy says so
  std::size_t chunk_size = 64u << 10;  // a chunk is written and chained at this size...
  std::chrono::milliseconds chunk_interval{5000};  // ...or this long after its first event
  int line = 0;
};

struct connection_config {
  std::string name;
  conn_type type = conn_type::postgres;
  std::string host;
  std::uint16_t port = 0;
  std::string database;  // postgres only
  std::string user;
  secret_ref password;
  upstream_tls tls = upstream_tls::prefer;
  std::string tls_ca;  // CA file for verify-full; empty -> system store
  std::vector<std::string> allow_groups;
  masking_config masking;
  std::vector<guard_rule_config> guardrails;  // ordered, first match wins (postgres only)
  reviews_config reviews;
  // What a statement that does not parse gets (postgres only): deny unless configured.
  guard_action on_parse_error = guard_action::deny;
  int on_parse_error_line = 0;
  // access: review -> a session opens only after an approver says yes; the approval lets that
  // user open sessions on this connection for access_window.
  access_mode access = access_mode::direct;
  std::chrono::milliseconds access_window{60 * 60 * 1000};
  int access_line = 0;
  recording_config recording;
  int line = 0;
  int password_line = 0;  // line of `password:`, for check_secrets() errors
};

struct audit_config {
  std::chrono::milliseconds retention{0};  // 0 = keep forever
  audit_sync sync = audit_sync::write;       // write: survives kill -9; fsync: power loss too
  std::size_t segment_size = 64u << 20;      // journal segment rotation
  std::int64_t checkpoint_events = 1000;     // sign the chain head after this many events...
  std::chrono::milliseconds checkpoint_interval{10'000};  // ...or this long
};

struct config {
  std::string path;      // file it was loaded from, as given (used in error messages)
  std::string base_dir;  // absolute directory of `path`; relative paths were resolved against it
  gateway_config gateway;
  store_config store;
  identity_config identity;
  std::vector<connection_config> connections;
  audit_config audit;

  [[nodiscard]] const connection_config* find_connection(std::string_view name) const;
  [[nodiscard]] const user_config* find_user(std::string_view name) const;
};

// Parses and validates. Relative paths (state_dir, tls cert/key, sqlite path, file: secrets) are
// resolved against the directory containing the config file.
[[nodiscard]] result<config> load_config(const std::string& path);
[[nodiscard]] result<config> parse_config(const std::string& yaml_text, const std::string& path);

// Checks, without logging or returning any value, that every secret in the config can be resolved
// now (env vars set, files readable, values non-empty). Separate from parse_config() so that
// `check-config` can run on a machine without the secrets. Error: "FILE:LINE: key.path: problem".
[[nodiscard]] status check_secrets(const config& cfg);

// "host:port" / "[v6]:port". Port must be 1..65535; an unbracketed IPv6 address is an error.
[[nodiscard]] result<endpoint> parse_endpoint(std::string_view text);

// The YAML spelling of enum values ("verify-full"), for messages and `check-config` output.
[[nodiscard]] std::string_view to_string(client_tls v);
[[nodiscard]] std::string_view to_string(upstream_tls v);
[[nodiscard]] std::string_view to_string(conn_type v);

}  // namespace gh::config
