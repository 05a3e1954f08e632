#include "proto/pg/scram.hpp"

#include <openssl/evp.h>

#include <atomic>
#include <climits>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/crypto.hpp"

namespace gh::pg {
namespace {

using crypto::digest256;

// PBKDF2 at PostgreSQL's 4096 iterations costs ~57M instructions (callgrind), paid for every new
// upstream session. Its output depends only on (password, salt, iterations), so the derived
// ClientKey/ServerKey are kept per process, keyed by a digest of the password (never the password
// itself). This exposes nothing new: the gateway holds the password. Bounded: cleared when full.
std::atomic<std::uint64_t> g_pbkdf2_runs{0};
std::mutex g_key_mu;
std::unordered_map<std::string, std::pair<digest256, digest256>> g_keys;
constexpr std::size_t k_key_cache_max = 256;

bool key_cache_lookup(const std::string& key, digest256& client_key, digest256& server_key) {
  std::lock_guard lk(g_key_mu);
  auto it = g_keys.find(key);
  if (it == g_keys.end()) return false;
  client_key = it->second.first;
  server_key = it->second.second;
  return true;
}

void key_cache_store(const std::string& key, const digest256& client_key,
                     const digest256& server_key) {
  std::lock_guard lk(g_key_mu);
  if (g_keys.size() >= k_key_cache_max) g_keys.clear();
  g_keys[key] = {client_key, server_key};
}

// RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII except ','.
bool printable_nonce(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

// RFC 5802 saslname: ',' and '=' must be escaped.
std::string escape_saslname(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',') {
      out.append("=2C");
    } else if (c == '=') {
      out.append("=3D");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Reads "<name>=<value>" from the front of `in` up to the next ',' (consumed) or the end.
// `more` says whether a ',' followed, so callers can insist on what comes next.
std::optional<std::string_view> read_attr(std::string_view& in, char name, bool& more) {
  if (in.size() < 2 || in[0] != name || in[1] != '=') return std::nullopt;
  auto comma = in.find(',');
  std::string_view value;
  if (comma == std::string_view::npos) {
    value = in.substr(2);
    in = {};
    more = false;
  } else {
    value = in.substr(2, comma - 2);
    in = in.substr(comma + 1);
    more = true;
  }
  return value;
}

// RFC 5802: posit-number = %x31-39 *DIGIT. Bounded before conversion so no overflow.
std::optional<std::uint32_t> parse_iterations(std::string_view s) {
  if (s.empty() || s.size() > 8 || s[0] < '1' || s[0] > '9') return std::nullopt;
  std::uint32_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return n;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Keeps a server-supplied reason readable and bounded in logs and client-facing errors.
std::string sanitize_reason(std::string_view s) {
  constexpr std::size_t k_max = 64;
  std::string out;
  for (char c : s.substr(0, k_max)) out.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  if (s.size() > k_max) out.append("...");
  return out.empty() ? "(no reason given)" : out;
}

error fail(std::string msg) {
  return make_error("SCRAM-SHA-256: " + std::move(msg));
}

result<std::string> md5_hex(std::string_view data) {
  std::array<std::uint8_t, 16> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr) != 1 ||
      len != out.size()) {
    return make_error("MD5 password authentication: MD5 is unavailable in this OpenSSL");
  }
  return crypto::hex(out);
}

}  // namespace

scram_client::scram_client(std::string password, std::string nonce, std::string username)
    : password_(std::move(password)), client_nonce_(std::move(nonce)) {
  if (client_nonce_.empty()) {
    std::array<std::uint8_t, 18> raw{};
    crypto::random_bytes(raw);
    client_nonce_ = crypto::base64_encode(raw);
  }
  // A bad caller-chosen nonce can't be reported from a constructor; remember it and refuse the
  // exchange at the first step that returns an error.
  nonce_valid_ = printable_nonce(client_nonce_);
  client_first_bare_ = "n=" + escape_saslname(username) + ",r=" + client_nonce_;
}

scram_client::~scram_client() {
  crypto::secure_wipe(password_);
}

std::string scram_client::client_first_message() {
  if (state_ == state::initial) state_ = state::first_sent;
  // gs2-header "n,,": client does not support channel binding, no authzid.
  return "n,," + client_first_bare_;
}

result<std::string> scram_client::handle_server_first(std::string_view msg) {
  if (state_ != state::first_sent) {
    state_ = state::failed;
    return fail("server-first-message out of order");
  }
  state_ = state::failed;  // until proven otherwise
  if (!nonce_valid_) return fail("invalid client nonce (must be printable ASCII without ',')");

  std::string_view in = msg;
  bool more = false;
  if (in.starts_with("m=")) return fail("server requires an unsupported SCRAM extension");
  auto nonce = read_attr(in, 'r', more);
  if (!nonce || !more) return fail("malformed server-first-message (expected r=<nonce>)");
  if (!printable_nonce(*nonce)) return fail("malformed server nonce");
  // The server must extend our nonce: otherwise a replayed or forged exchange could be fed to us.
  if (nonce->size() <= client_nonce_.size() || !nonce->starts_with(client_nonce_)) {
    return fail("server nonce does not extend the client nonce");
  }
  auto salt_b64 = read_attr(in, 's', more);
  if (!salt_b64 || !more) return fail("malformed server-first-message (expected s=<salt>)");
  auto salt = crypto::base64_decode(*salt_b64);
  if (!salt) return fail("malformed salt: " + salt.err());
  if (salt->empty()) return fail("empty salt");
  auto iter_text = read_attr(in, 'i', more);
  if (!iter_text) return fail("malformed server-first-message (expected i=<iterations>)");
  if (more || !in.empty()) return fail("malformed server-first-message (trailing data)");
  auto iterations = parse_iterations(*iter_text);
  if (!iterations) return fail("malformed iteration count");
  if (*iterations > k_scram_max_iterations) {
    return fail("iteration count " + std::to_string(*iterations) + " exceeds the limit of " +
                std::to_string(k_scram_max_iterations));
  }
  if (password_.size() > static_cast<std::size_t>(INT_MAX) ||
      salt->size() > static_cast<std::size_t>(INT_MAX)) {
    return fail("password or salt too long");
  }

  // The keys depend only on (password, salt, iterations): PBKDF2 runs once per process for each.
  std::string cache_key(reinterpret_cast<const char*>(crypto::sha256(password_).data()), 32);
  cache_key.append(reinterpret_cast<const char*>(salt->data()), salt->size());
  cache_key.append(":").append(std::to_string(*iterations));
  digest256 client_key{};
  digest256 server_key{};
  if (!key_cache_lookup(cache_key, client_key, server_key)) {
    digest256 salted{};
    g_pbkdf2_runs.fetch_add(1, std::memory_order_relaxed);
    if (PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()), salt->data(),
                          static_cast<int>(salt->size()), static_cast<int>(*iterations),
                          EVP_sha256(), static_cast<int>(salted.size()), salted.data()) != 1) {
      return fail("PBKDF2 failed");
    }
    client_key = crypto::hmac_sha256(salted, as_bytes("Client Key"));
    server_key = crypto::hmac_sha256(salted, as_bytes("Server Key"));
    crypto::secure_wipe(salted);
    key_cache_store(cache_key, client_key, server_key);
  }
  digest256 stored_key = crypto::sha256(client_key);

  // "biws" = base64("n,,"), the gs2 header echoed back.
  std::string client_final = "c=biws,r=";
  client_final.append(*nonce);
  std::string auth_message = client_first_bare_;
  auth_message.append(",").append(msg).append(",").append(client_final);

  digest256 client_signature = crypto::hmac_sha256(stored_key, as_bytes(auth_message));
  digest256 proof{};
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = client_key[i] ^ client_signature[i];
  server_signature_ = crypto::hmac_sha256(server_key, as_bytes(auth_message));
  crypto::secure_wipe(client_key);
  crypto::secure_wipe(stored_key);
  crypto::secure_wipe(server_key);

  client_final.append(",p=").append(crypto::base64_encode(proof));
  // The password has done its job; don't keep it around for the life of the session.
  crypto::secure_wipe(password_);
  password_.clear();
  state_ = state::final_sent;
  return client_final;
}

status scram_client::verify_server_final(std::string_view msg) {
  if (state_ != state::final_sent) {
    state_ = state::failed;
    return fail("server-final-message out of order");
  }
  state_ = state::failed;
  if (msg.starts_with("e=")) {
    return fail("server rejected authentication: " + sanitize_reason(msg.substr(2)));
  }
  std::string_view in = msg;
  bool more = false;
  auto sig_b64 = read_attr(in, 'v', more);
  if (!sig_b64) return fail("malformed server-final-message (expected v=<signature>)");
  if (more || !in.empty()) return fail("malformed server-final-message (trailing data)");
  auto sig = crypto::base64_decode(*sig_b64);
  if (!sig) return fail("malformed server signature: " + sig.err());
  if (!crypto::constant_time_equal(*sig, server_signature_)) {
    return fail(
        "server signature mismatch: the upstream server did not prove it knows the "
        "password");
  }
  state_ = state::verified;
  return {};
}

std::string pg_md5_password(std::string_view user, std::string_view password,
                            std::span<const std::uint8_t, 4> salt) {
  std::string inner_input;
  inner_input.reserve(password.size() + user.size());
  inner_input.append(password).append(user);
  auto inner = md5_hex(inner_input);
  crypto::secure_wipe(inner_input);
  if (!inner) return {};
  // md5(password + user) is itself a password equivalent for MD5 auth; wipe it as well.
  std::string outer_input = std::move(*inner);
  outer_input.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  auto outer = md5_hex(outer_input);
  crypto::secure_wipe(outer_input);
  if (!outer) return {};
  return "md5" + *outer;
}

bool server_offers(std::string_view mechanisms, std::string_view mech) {
  if (mech.empty()) return false;
  while (!mechanisms.empty()) {
    auto end = mechanisms.find('\0');
    std::string_view name = mechanisms.substr(0, end);
    if (name.empty()) return false;  // the empty name terminates the list
    if (name == mech) return true;
    if (end == std::string_view::npos) return false;
    mechanisms = mechanisms.substr(end + 1);
  }
  return false;
}

std::uint64_t scram_pbkdf2_runs() { return g_pbkdf2_runs.load(std::memory_order_relaxed); }

}  // namespace gh::pg
