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
#include <tuple>
#include <vector>

namespace gh::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

class stream {
 public:
  explicit stream(tcp::socket s) : sock_(std::move(s)) {
    // Synchronous reads and writes below must never block the worker thread.
    error_code ec;
    sock_.non_blocking(true, ec);
  }

  [[nodiscard]] bool is_tls() const { return tls_ != nullptr; }
  tcp::socket& socket() { return sock_; }
  [[nodiscard]] SSL* native_ssl() { return tls_ ? tls_->native_handle() : nullptr; }

  asio::awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
    if (tls_) co_return co_await tls_->async_read_some(b, use_tuple);
    co_return co_await sock_.async_read_some(b, use_tuple);
  }

  // The data path's read. Asio's async_read_some first tries a speculative recv(2), which on a
  // request/response protocol finds nothing almost every time (one wasted syscall per message
  // per direction). Here, a plain TCP stream waits for readiness and then reads once. That is
  // only safe while the readiness edge cannot have been consumed behind the caller's back: the
  // reactor (edge-triggered epoll) only runs while the caller is suspended, so a caller that has
  // been suspended anywhere but here since its last read passes `may_have_missed` and gets the
  // speculative read. TLS streams always take the speculative path (OpenSSL buffers records).
  asio::awaitable<std::tuple<error_code, std::size_t>> read_ready(asio::mutable_buffer b,
                                                                  bool may_have_missed) {
    if (tls_ || may_have_missed) co_return co_await read_some(b);
    for (;;) {
      auto [wec] = co_await sock_.async_wait(tcp::socket::wait_read, use_tuple);
      if (wec) co_return std::tuple<error_code, std::size_t>{wec, 0};
      error_code ec;
      std::size_t n = sock_.read_some(b, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) continue;  // spurious
      co_return std::tuple<error_code, std::size_t>{ec, n};
    }
  }

  // Writes what the socket accepts right now, without suspending; returns how many bytes went
  // (0 for TLS, whose writes stay asynchronous). The caller finishes any rest with write().
  // On loopback and healthy networks the whole batch goes at once, and the coroutine never
  // passes through the event loop for it.
  template <typename ConstBuffers>
  std::size_t try_write(const ConstBuffers& bufs, error_code& ec) {
    ec.clear();
    if (tls_) return 0;
    std::size_t n = sock_.write_some(bufs, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
    return n;
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

// Drops the first `n` bytes of a buffer sequence held in a vector (after a partial write).
inline void consume(std::vector<asio::const_buffer>& bufs, std::size_t n) {
  std::size_t i = 0;
  while (i < bufs.size() && n >= bufs[i].size()) n -= bufs[i++].size();
  bufs.erase(bufs.begin(), bufs.begin() + static_cast<std::ptrdiff_t>(i));
  if (!bufs.empty() && n > 0) bufs.front() += n;
}

// One writer at a time on a stream shared by two coroutines of a session (same thread).
class async_mutex {
 public:
  explicit async_mutex(const asio::any_io_executor& ex) : ch_(ex, 1) {}
  asio::awaitable<void> lock() {
    co_await ch_.async_send(error_code{}, asio::as_tuple(asio::use_awaitable));
  }
  // Takes the lock if it is free, without suspending.
  [[nodiscard]] bool try_lock() { return ch_.try_send(error_code{}); }
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
