#pragma once
// The HTTP API (Boost.Beast) on gateway.listen.api: the review queue for approvers.
//
//   GET  /api/health                       no authentication
//   GET  /api/reviews[?status=S&kind=K&connection=C&requester=U&limit=N]
//   GET  /api/reviews/{id}
//   POST /api/reviews/{id}/approve         body {"reason": "..."} (optional)
//   POST /api/reviews/{id}/reject          body {"reason": "..."} (optional)
//
// Authentication: `Authorization: Bearer <user>:<api key>` (the key of identity.users), or
// `Authorization: Bearer <api key>` with `X-Gatehouse-User: <user>` for user names holding ':'.
// `Bearer local-admin:<token of state_dir/admin.token>` is the local administrator. Responses
// are JSON; errors are {"error": "..."} with 400/401/403/404/405/409/413/431/503.
//
// Plain HTTP is served only on a loopback address; start() refuses any other address unless a
// TLS context is given. One coroutine per connection, all on one io_context thread (the
// server's state needs no locks); limits: request body, header size, header and request
// deadlines, connection count. A malformed request gets 400 and its connection is closed; the
// server keeps serving everyone else.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "audit/writer.hpp"
#include "config/config.hpp"
#include "core/result.hpp"
#include "identity/identity.hpp"
#include "net/tls.hpp"
#include "review/service.hpp"

namespace gh::api {

struct server_options {
  config::endpoint listen;   // port 0: any free port (tests); see port()
  net::ssl_context_ptr tls;  // null: plain HTTP, loopback addresses only
  std::string admin_token;   // empty: no local admin
  std::size_t max_body = 64 * 1024;
  std::size_t max_header = 8 * 1024;
  // From the start of a request (or of an idle keep-alive connection) to its last header byte.
  std::chrono::milliseconds header_timeout{10'000};
  // Reading the body, deciding and writing the response.
  std::chrono::milliseconds request_timeout{30'000};
  std::size_t max_connections = 256;
};

class server {
 public:
  // `svc`, `ids` and `audit` must outlive the server and the io_context's pending work. `ioc`
  // must be run by exactly one thread.
  server(boost::asio::io_context& ioc, review::service& svc, const identity::directory& ids,
         audit::writer* audit, server_options opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and starts accepting. Errors name the address.
  [[nodiscard]] status start();
  // The bound port (after start()).
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // Stops accepting and closes every connection. Safe from any thread.
  void stop();

  struct state;

 private:
  std::shared_ptr<state> state_;
  std::uint16_t port_ = 0;
};

// True for 127.0.0.0/8, ::1, IPv4-mapped loopback and "localhost".
[[nodiscard]] bool is_loopback_host(const std::string& host);

}  // namespace gh::api
