#pragma once
// A small blocking HTTP/1.1 client for the gateway's own API (the `gatehouse reviews` CLI and
// tests): one request per connection, a deadline on the whole exchange, TLS with certificate and
// host name verification when asked.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace gh::api {

struct client_options {
  std::string host;  // address to connect to (IPv4/IPv6 literal or name)
  std::uint16_t port = 0;
  bool tls = false;
  // PEM trust anchors for TLS; a self-signed gateway certificate itself works here. Empty: the
  // system store.
  std::string ca_file;
  std::chrono::milliseconds timeout{30'000};
};

struct http_result {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  [[nodiscard]] std::string header(std::string_view name) const;  // case-insensitive, "" if none
};

// `authorization` is sent as the Authorization header value when not empty; `extra` are more
// headers. Errors: could not connect, TLS failure, timeout, unreadable response.
[[nodiscard]] result<http_result> http_request(
    const client_options& o, std::string_view method, std::string_view target,
    const std::string& authorization, std::string_view body = {},
    const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace gh::api
