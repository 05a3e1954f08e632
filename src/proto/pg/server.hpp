#pragma once
// The PostgreSQL listener and its sessions. One coroutine per direction per session, all of a
// session on one io_context thread (so a session never needs locks); sessions are spread over the
// worker threads round-robin.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/writer.hpp"
#include "config/config.hpp"
#include "dlp/dlp.hpp"
#include "guard/rules.hpp"
#include "identity/identity.hpp"

namespace gh::review {
class service;
}

namespace gh::pg {

class session;

// Maps the BackendKeyData the gateway hands out to the upstream's, so a CancelRequest that
// arrives on the listener reaches the right backend.
class cancel_registry {
 public:
  struct target {
    std::string host;
    std::uint16_t port = 0;
    std::uint32_t pid = 0;
    std::uint32_t secret = 0;
    std::string session_id;
    std::string user;
    std::string connection;
    std::weak_ptr<session> owner;  // to cancel a statement held for review
  };
  // Returns a fresh gateway-side key pair for `t`.
  std::pair<std::uint32_t, std::uint32_t> add(target t);
  void remove(std::uint32_t pid);
  [[nodiscard]] std::optional<target> find(std::uint32_t pid, std::uint32_t secret) const;

 private:
  mutable std::mutex mu_;
  std::map<std::uint32_t, std::pair<std::uint32_t, target>> map_;
};

struct server_context {
  const config::config* cfg = nullptr;
  const identity::directory* ids = nullptr;
  audit::writer* audit = nullptr;
  review::service* reviews = nullptr;  // held statements and access reviews (src/review)
  std::shared_ptr<boost::asio::ssl::context> client_tls;  // gateway's server-side TLS
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> upstream_tls;  // by connection
  cancel_registry cancels;
  // Guardrails per connection (absent: no rules, statements are not classified).
  std::map<std::string, std::shared_ptr<const guard::rule_set>> guards;
  // Masking policies per connection (absent: results pass unmasked).
  std::map<std::string, std::shared_ptr<const dlp::policy>> masking;
  // Built-in detectors for statement text on connections without a masking block: the audit
  // trail and review queue never hold clear PHI, whatever the connection's result policy.
  std::shared_ptr<const dlp::policy> text_policy;
  std::string deny_nonce;  // random per process; names the deny sentinel's schema
  std::atomic<std::uint64_t> sessions_started{0};
};

class server {
 public:
  server(server_context& ctx, std::vector<boost::asio::io_context*> workers);
  // Binds the listener (errors name the address) and starts accepting on workers[0].
  [[nodiscard]] status start(const config::endpoint& ep);
  // Stops accepting and closes every session with `reason`. Safe from any thread.
  void shutdown(const std::string& reason);
  [[nodiscard]] std::size_t live_sessions() const;

  void add_session(const std::shared_ptr<session>& s);
  void remove_session(session* s);

 private:
  boost::asio::awaitable<void> accept_loop();

  server_context& ctx_;
  std::vector<boost::asio::io_context*> workers_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::size_t next_worker_ = 0;
  mutable std::mutex mu_;
  std::map<session*, std::weak_ptr<session>> sessions_;
  bool stopping_ = false;
};

}  // namespace gh::pg
