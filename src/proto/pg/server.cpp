#include "proto/pg/server.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "core/log.hpp"
#include "proto/pg/session.hpp"

namespace gh::pg {

namespace asio = boost::asio;

std::pair<std::uint32_t, std::uint32_t> cancel_registry::add(target t) {
  std::lock_guard lk(mu_);
  for (;;) {
    std::uint32_t v[2];
    if (RAND_bytes(reinterpret_cast<unsigned char*>(v), sizeof v) != 1) std::abort();
    // A positive, non-zero process id, as clients expect of PostgreSQL.
    std::uint32_t pid = (v[0] & 0x7fffffffu) | 1u;
    if (map_.count(pid) != 0) continue;
    map_.emplace(pid, std::pair{v[1], std::move(t)});
    return {pid, v[1]};
  }
}

void cancel_registry::remove(std::uint32_t pid) {
  std::lock_guard lk(mu_);
  map_.erase(pid);
}

std::optional<cancel_registry::target> cancel_registry::find(std::uint32_t pid,
                                                             std::uint32_t secret) const {
  std::lock_guard lk(mu_);
  auto it = map_.find(pid);
  if (it == map_.end()) return std::nullopt;
  if (CRYPTO_memcmp(&it->second.first, &secret, sizeof secret) != 0) return std::nullopt;
  return it->second.second;
}

server::server(server_context& ctx, std::vector<asio::io_context*> workers)
    : ctx_(ctx), workers_(std::move(workers)) {}

status server::start(const config::endpoint& ep) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ep.host == "localhost" ? "127.0.0.1" : ep.host, ec);
  if (ec) return make_error("listen address " + ep.host + ": " + ec.message());
  asio::ip::tcp::endpoint endpoint(addr, ep.port);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(*workers_[0]);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error("cannot listen on " + ep.host + ":" + std::to_string(ep.port) + ": " +
                      ec.message());
  asio::co_spawn(*workers_[0], accept_loop(), asio::detached);
  log::info("pg", "listening", {{"address", ep.host + ":" + std::to_string(ep.port)}});
  return {};
}

asio::awaitable<void> server::accept_loop() {
  for (;;) {
    auto& worker = *workers_[next_worker_++ % workers_.size()];
    auto [ec, sock] =
        co_await acceptor_->async_accept(worker, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
      // EMFILE and friends: log, pause briefly, keep serving the sessions we have.
      log::warn("pg", "accept failed", {{"error", ec.message()}});
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    {
      std::lock_guard lk(mu_);
      if (stopping_) continue;
    }
    ctx_.sessions_started.fetch_add(1, std::memory_order_relaxed);
    auto s = std::make_shared<session>(ctx_, *this, std::move(sock));
    asio::co_spawn(worker, [s]() { return s->run(); }, asio::detached);
  }
}

void server::add_session(const std::shared_ptr<session>& s) {
  std::lock_guard lk(mu_);
  sessions_[s.get()] = s;
}

void server::remove_session(session* s) {
  std::lock_guard lk(mu_);
  sessions_.erase(s);
}

std::size_t server::live_sessions() const {
  std::lock_guard lk(mu_);
  return sessions_.size();
}

void server::shutdown(const std::string& reason) {
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    for (auto& [p, w] : sessions_)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  if (acceptor_) {
    asio::post(acceptor_->get_executor(), [this] {
      boost::system::error_code ec;
      acceptor_->close(ec);
    });
  }
  for (auto& s : live) s->terminate(reason, "57P01");
}

}  // namespace gh::pg
