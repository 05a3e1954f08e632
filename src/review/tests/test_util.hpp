#pragma once
// Helpers for the review tests: an audit writer over a temp dir, a thread running an io_context,
// polling with a deadline (for things another thread finishes; never a timing assertion), and a
// tiny HTTP(S) server on 127.0.0.1 that records what it receives and answers with scripted codes.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/journal.hpp"
#include "audit/writer.hpp"
#include "store/store.hpp"
#include "store/tests/test_util.hpp"

namespace gh::review::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Polls `pred` until it holds or `limit` passes; returns the last value.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// An audit writer the way `gatehouse serve` builds it, over dir/gatehouse.db and dir/audit.
class audit_env {
 public:
  explicit audit_env(const std::filesystem::path& dir)
      : url_("sqlite://" + (dir / "gatehouse.db").string()),
        journal_dir_((dir / "audit").string()) {
    auto st = store::open_store(url_);
    EXPECT_TRUE(st.ok()) << st.err();
    auto m = (*st)->migrate();
    EXPECT_TRUE(m.ok()) << m.err();
    auto j = audit::journal::open(journal_dir_, audit::sync_mode::write, 1);
    EXPECT_TRUE(j.ok()) << j.err();
    writer_ = std::make_unique<audit::writer>(std::move(*j), std::move(*st), journal_dir_);
    writer_->start();
  }
  [[nodiscard]] audit::writer* writer() const { return writer_.get(); }
  [[nodiscard]] const std::string& store_url() const { return url_; }
  // Every event in the journal, oldest first.
  [[nodiscard]] std::vector<audit::record> events(const std::string& kind = {}) const {
    std::vector<audit::record> out;
    auto s = audit::journal::read(journal_dir_, 0, [&](audit::record&& r) {
      if (kind.empty() || r.kind == kind) out.push_back(std::move(r));
    });
    EXPECT_TRUE(s.ok()) << s.err();
    return out;
  }
  void stop() { writer_->stop(); }

 private:
  std::string url_;
  std::string journal_dir_;
  std::unique_ptr<audit::writer> writer_;
};

// An io_context run by its own thread until stop().
class io_thread {
 public:
  io_thread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~io_thread() { stop(); }
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;
  asio::io_context& io() { return io_; }
  [[nodiscard]] std::thread::id id() const { return thread_.get_id(); }
  void stop() {
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

struct received_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

// Answers each request with the next code of `codes` (the last one repeats).
class http_sink {
 public:
  explicit http_sink(std::vector<unsigned> codes = {200}, asio::ssl::context* tls = nullptr)
      : codes_(std::move(codes)),
        tls_(tls),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { run(); });
  }
  ~http_sink() {
    stop_ = true;
    boost::system::error_code ec;
    {
      // Unblock accept().
      tcp::socket s(io_);
      s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    }
    if (thread_.joinable()) thread_.join();
  }
  http_sink(const http_sink&) = delete;
  http_sink& operator=(const http_sink&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::vector<received_request> received() const {
    std::lock_guard lk(mu_);
    return got_;
  }
  [[nodiscard]] std::size_t count() const {
    std::lock_guard lk(mu_);
    return got_.size();
  }

 private:
  template <typename Stream>
  void serve(Stream& s) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(s, buf, req, ec);
    if (ec) return;
    received_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = req.body();
    unsigned code = 0;
    {
      std::lock_guard lk(mu_);
      code = codes_[std::min(got_.size(), codes_.size() - 1)];
      got_.push_back(std::move(r));
    }
    http::response<http::string_body> res{static_cast<http::status>(code), 11};
    if (code != 204) res.body() = "{}";
    res.keep_alive(false);
    res.prepare_payload();
    http::write(s, res, ec);
  }

  void run() {
    while (!stop_) {
      tcp::socket sock(io_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stop_) return;
      if (tls_ != nullptr) {
        asio::ssl::stream<tcp::socket&> s(sock, *tls_);
        s.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) serve(s);
      } else {
        serve(sock);
      }
      sock.shutdown(tcp::socket::shutdown_both, ec);
      sock.close(ec);
    }
  }

  std::vector<unsigned> codes_;
  asio::ssl::context* tls_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<received_request> got_;
  std::thread thread_;
};

}  // namespace gh::review::testing
