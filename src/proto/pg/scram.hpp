#pragma once
// Client side of PostgreSQL password authentication towards the upstream server: SCRAM-SHA-256
// (RFC 5802 / RFC 7677, as PostgreSQL uses it) and the legacy MD5 scheme. Sans-I/O like the
// codec: the session driver moves the strings in and out of SASL messages.
//
// Limitation: no SASLprep (RFC 4013). PostgreSQL prepares the password when it is valid UTF-8
// and prep succeeds, and otherwise uses the raw bytes. For ASCII passwords prep either returns
// the password unchanged or fails on a control character (then PostgreSQL uses the raw bytes
// too), so sending the raw password is exact for every ASCII password. Non-ASCII passwords that
// NFKC normalization or the space/"mapped to nothing" tables would change (e.g. U+00A0, fullwidth
// forms, soft hyphen) will fail to authenticate; store such credentials in normalized form.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace gh::pg {

inline constexpr std::string_view k_scram_sha_256 = "SCRAM-SHA-256";

// Iteration counts above this are refused: each iteration costs an HMAC, and a hostile or
// misconfigured upstream could otherwise pin a gateway core for minutes per login.
inline constexpr std::uint32_t k_scram_max_iterations = 10'000'000;

// One SCRAM-SHA-256 exchange without channel binding (gs2 header "n,,"), in order:
//   client_first_message() -> handle_server_first() -> verify_server_final().
// Any failure or out-of-order call poisons the object; start a new one for a new attempt.
// Authentication of the *server* is only established once verify_server_final() succeeded:
// a session driver must treat AuthenticationOk before that as a protocol violation.
// How many times this process ran PBKDF2 for SCRAM (the derived keys are cached per
// password, salt and iteration count); for tests and diagnostics.
[[nodiscard]] std::uint64_t scram_pbkdf2_runs();

class scram_client {
 public:
  // nonce: printable ASCII without ','; empty -> 18 random bytes, base64 (what libpq sends).
  //        A caller-chosen nonce exists for test vectors only.
  // username: sent in client-first as n=<username>. PostgreSQL ignores it (the startup packet
  //        names the user) and libpq sends it empty, so leave it empty except for RFC vectors.
  explicit scram_client(std::string password, std::string nonce = {}, std::string username = {});
  ~scram_client();
  scram_client(const scram_client&) = delete;
  scram_client& operator=(const scram_client&) = delete;
  scram_client(scram_client&&) noexcept = default;
  scram_client& operator=(scram_client&&) noexcept = default;

  // "n,,n=<username>,r=<nonce>", the payload of SASLInitialResponse.
  [[nodiscard]] std::string client_first_message();
  // Validates the server-first-message (AuthenticationSASLContinue payload) and returns the
  // client-final-message (SASLResponse payload).
  [[nodiscard]] result<std::string> handle_server_first(std::string_view msg);
  // Checks the server's signature in the server-final-message (AuthenticationSASLFinal payload);
  // "e=<reason>" becomes an error carrying the reason.
  [[nodiscard]] status verify_server_final(std::string_view msg);
  // True once the server proved knowledge of the password.
  [[nodiscard]] bool verified() const { return state_ == state::verified; }

 private:
  enum class state { initial, first_sent, final_sent, verified, failed };

  std::string password_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::array<std::uint8_t, 32> server_signature_{};
  state state_ = state::initial;
  bool nonce_valid_ = true;
};

// PostgreSQL's MD5 password response: "md5" + md5hex(md5hex(password + user) + salt).
// Returns an empty string only when MD5 is unavailable (OpenSSL in FIPS-only mode); sending that
// fails authentication at the server, so a caller that ignores the case still fails closed.
[[nodiscard]] std::string pg_md5_password(std::string_view user, std::string_view password,
                                          std::span<const std::uint8_t, 4> salt);

// Whether the AuthenticationSASL mechanism list (NUL-terminated names, ended by an empty name)
// contains exactly `mech`. "SCRAM-SHA-256-PLUS" does not count as "SCRAM-SHA-256".
[[nodiscard]] bool server_offers(std::string_view mechanisms, std::string_view mech);

}  // namespace gh::pg
