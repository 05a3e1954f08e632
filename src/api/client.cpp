#include "api/client.hpp"

#include <openssl/x509_vfy.h>
#include <strings.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/tls.hpp"

namespace gh::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_response_body = 16 * 1024 * 1024;

struct exchange_state {
  client_options opts;
  http::request<http::string_body> req;
  std::string error;
  http_result out;
};

template <typename Stream>
asio::awaitable<void> talk(exchange_state& x, Stream& s) {
  auto [wec, wn] = co_await http::async_write(s, x.req, use_tuple);
  if (wec) {
    x.error = "sending the request: " + wec.message();
    co_return;
  }
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(max_response_body);
  auto [rec, rn] = co_await http::async_read(s, buf, p, use_tuple);
  if (rec) {
    x.error = "reading the response: " + rec.message();
    co_return;
  }
  auto res = p.release();
  x.out.status = res.result_int();
  x.out.body = std::move(res.body());
  for (const auto& f : res) x.out.headers.emplace_back(f.name_string(), f.value());
}

asio::awaitable<void> run(exchange_state& x, asio::ssl::context* tls) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(x.opts.host, std::to_string(x.opts.port), use_tuple);
  if (rec) {
    x.error = "cannot resolve " + x.opts.host + ": " + rec.message();
    co_return;
  }
  beast::tcp_stream tcp(ex);
  tcp.expires_after(x.opts.timeout);
  auto [cec, ep] = co_await tcp.async_connect(results, use_tuple);
  if (cec) {
    x.error = "cannot connect to " + x.opts.host + ":" + std::to_string(x.opts.port) + ": " +
              cec.message();
    co_return;
  }
  if (tls == nullptr) {
    co_await talk(x, tcp);
    co_return;
  }
  asio::ssl::stream<beast::tcp_stream&> s(tcp, *tls);
  if (auto v = net::set_client_verify_host(s.native_handle(), x.opts.host); !v) {
    x.error = "tls: " + v.err();
    co_return;
  }
  auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (hec) {
    x.error = "TLS handshake with " + x.opts.host + ": " + hec.message();
    co_return;
  }
  co_await talk(x, s);
}

}  // namespace

std::string http_result::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return {};
}

result<http_result> http_request(const client_options& o, std::string_view method,
                                 std::string_view target, const std::string& authorization,
                                 std::string_view body,
                                 const std::vector<std::pair<std::string, std::string>>& extra) {
  exchange_state x;
  x.opts = o;
  x.req.method_string(method);
  x.req.target(target);
  x.req.version(11);
  std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  x.req.set(http::field::host, host + ":" + std::to_string(o.port));
  x.req.set(http::field::user_agent, "gatehouse-cli/" GATEHOUSE_VERSION);
  x.req.set(http::field::connection, "close");
  if (!authorization.empty()) x.req.set(http::field::authorization, authorization);
  for (const auto& [k, v] : extra) x.req.set(k, v);
  if (!body.empty()) {
    x.req.set(http::field::content_type, "application/json");
    x.req.body() = std::string(body);
  }
  x.req.prepare_payload();

  net::ssl_context_ptr ctx;
  if (o.tls) {
    auto c = net::make_client_context(true, o.ca_file);
    if (!c) return error{c.err()};
    ctx = *c;
    // Lets a self-signed (or leaf) certificate given as ca_file be the trust anchor itself.
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx->native_handle()),
                                X509_V_FLAG_PARTIAL_CHAIN);
  }
  asio::io_context io(1);
  asio::co_spawn(io, run(x, ctx.get()), [&x](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      x.error = std::string("internal error: ") + ex.what();
    }
  });
  io.run();
  if (!x.error.empty()) return make_error(x.error);
  return std::move(x.out);
}

}  // namespace gh::api
