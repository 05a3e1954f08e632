#pragma once
// TLS contexts for both sides of the gateway: the server context clients (psql, libpq) connect
// to, and client contexts for upstream connections. All policy about protocol versions, ciphers
// and certificate verification lives here so no session driver makes its own choices.
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <utility>

#include "core/result.hpp"

namespace gh::net {

using ssl_context_ptr = std::shared_ptr<boost::asio::ssl::context>;

// TLS 1.2+ with forward-secret AEAD ciphers only. Loads a PEM certificate chain (leaf first) and a
// PEM private key, and checks that the key belongs to the certificate. Errors name the file.
[[nodiscard]] result<ssl_context_ptr> make_server_context(const std::string& cert_path,
                                                          const std::string& key_path);

// Returns {cert_path, key_path} = {state_dir/tls/gateway.crt, state_dir/tls/gateway.key}. If both
// files exist they are reused as they are; otherwise a fresh EC P-256 key and a self-signed
// X.509 v3 certificate (CN=gatehouse, SAN DNS:localhost, IP:127.0.0.1, IP:::1, valid 10 years)
// are generated. state_dir/tls is created with mode 0700, the key written with mode 0600; both
// files are written to a temporary name and renamed, so a crash never leaves a half-written file.
[[nodiscard]] result<std::pair<std::string, std::string>> ensure_self_signed(
    const std::string& state_dir);

// Context for connections to upstream servers, TLS 1.2+.
// verify=false: encryption without authentication, like libpq sslmode=prefer/require.
// verify=true:  the peer chain must verify against ca_file (PEM), or the system trust store when
//               ca_file is empty; call set_client_verify_host() on each connection as well, or
//               only the chain (not the name) is checked — that is libpq's verify-ca, not
//               verify-full.
[[nodiscard]] result<ssl_context_ptr> make_client_context(bool verify, const std::string& ca_file);

// Per-connection: sets SNI (only for DNS names; RFC 6066 forbids IP literals there) and makes the
// handshake verify that the peer certificate matches `host` (DNS name, or IPv4/IPv6 literal
// against SAN IP entries). Only has effect on a context made with verify=true. Fails for an
// empty host or one with embedded NULs, because OpenSSL would then silently skip the name check.
[[nodiscard]] status set_client_verify_host(SSL* ssl, const std::string& host);

}  // namespace gh::net
