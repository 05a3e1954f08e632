#pragma once
// A byte stream that is plain TCP or TLS over TCP, decided at run time (PostgreSQL upgrades to TLS
// in-band after SSLRequest). Operations return error codes as values (as_tuple), never throw.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>

namespace gh::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

class stream {
 public:
  explicit stream(tcp::socket s) : sock_(std::move(s)) {}

  [[nodiscard]] bool is_tls() const { return tls_ != nullptr; }
  tcp::socket& socket() { return sock_; }
  [[nodiscard]] SSL* native_ssl() { return tls_ ? tls_->native_handle() : nullptr; }

  asio::awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
    if (tls_) co_return co_await tls_->async_read_some(b, use_tuple);
    co_return co_await sock_.async_read_some(b, use_tuple);
  }

  template <typename ConstBuffers>
  asio::awaitable<error_code> write(const ConstBuffers& bufs) {
    if (tls_) {
      auto [ec, n] = co_await asio::async_write(*tls_, bufs, use_tuple);
      co_return ec;
    }
    auto [ec, n] = co_await asio::async_write(sock_, bufs, use_tuple);
    co_return ec;
  }

  // Server side of the in-band upgrade.
  asio::awaitable<error_code> tls_accept(asio::ssl::context& ctx) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, ctx);
    keep_buffers();
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, use_tuple);
    co_return ec;
  }

  // Client side; `prepare` may set SNI and host verification on the SSL handle first.
  template <typename Prepare>
  asio::awaitable<error_code> tls_connect(asio::ssl::context& ctx, Prepare&& prepare) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, ctx);
    keep_buffers();
    prepare(tls_->native_handle());
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, use_tuple);
    co_return ec;
  }

  // Closes the socket at once (pending operations complete with operation_aborted). No TLS
  // close_notify: a peer we are cutting off gets no further round trip.
  void close() {
    error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
  }

 private:
  // Asio turns on SSL_MODE_RELEASE_BUFFERS, which makes OpenSSL free and reallocate its ~16 KB
  // record buffer for every record: a heap round trip per record on the data path. Keep them.
  void keep_buffers() { SSL_clear_mode(tls_->native_handle(), SSL_MODE_RELEASE_BUFFERS); }

  tcp::socket sock_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
};

// One writer at a time on a stream shared by two coroutines of a session (same thread).
class async_mutex {
 public:
  explicit async_mutex(const asio::any_io_executor& ex) : ch_(ex, 1) {}
  asio::awaitable<void> lock() {
    co_await ch_.async_send(error_code{}, asio::as_tuple(asio::use_awaitable));
  }
  void unlock() {
    ch_.try_receive([](error_code) {});
  }

 private:
  asio::experimental::channel<void(error_code)> ch_;
};

[[nodiscard]] inline bool is_loopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  return false;
}

}  // namespace gh::net
