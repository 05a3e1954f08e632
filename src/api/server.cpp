#include "api/server.hpp"

#include <strings.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <functional>
#include <map>
#include <optional>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "net/stream.hpp"

namespace gh::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using request = http::request<http::string_body>;

struct server::state {
  state(asio::io_context& i, review::service& s, const identity::directory& d, audit::writer* a,
        server_options o)
      : ioc(i), svc(s), ids(d), audit(a), opts(std::move(o)) {}
  asio::io_context& ioc;
  review::service& svc;
  const identity::directory& ids;
  audit::writer* audit;
  server_options opts;
  std::unique_ptr<tcp::acceptor> acceptor;
  // Open connections' closers, by connection number. Touched only on the io_context's thread.
  std::map<std::uint64_t, std::function<void()>> conns;
  std::uint64_t next_conn = 0;
  bool stopping = false;
};

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_list_limit = 1000;

struct reply {
  http::status status = http::status::ok;
  std::string body;
  bool close = false;
  bool authenticate = false;  // add WWW-Authenticate
  std::string allow;          // for 405
};

reply json_reply(http::status s, const json::value& v) {
  reply r;
  r.status = s;
  r.body = json::serialize(v);
  return r;
}

reply error_reply(http::status s, std::string_view msg) {
  json::object o;
  o["error"] = msg;
  return json_reply(s, o);
}

// For logs and audit: a claimed user name from the network, bounded and printable.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (s.size() > 64) out += "...";
  return out;
}

std::string percent_decode(std::string_view s, bool& ok) {
  std::string out;
  ok = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      unsigned v = 0;
      if (i + 2 >= s.size()) {
        ok = false;
        return {};
      }
      auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec != std::errc{} || end != s.data() + i + 3) {
        ok = false;
        return {};
      }
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void audit_auth_failure(server::state& st, const std::string& user, const std::string& peer,
                        const std::string& why) {
  log::warn("api", "authentication failed", {{"user", user}, {"client", peer}, {"reason", why}});
  if (st.audit == nullptr) return;
  audit::record r;
  r.ts_us = audit::now_us();
  r.kind = "auth.fail";
  r.user = user;
  r.client_addr = peer;
  r.outcome = "refused";
  r.reason = why;
  r.detail = R"({"listener":"api"})";
  st.audit->append_detached(std::move(r));
}

// The principal behind the request, or nullopt (the caller answers 401, always the same way).
std::optional<identity::principal> authenticate(server::state& st, const request& req,
                                                const std::string& peer) {
  std::string_view v = req[http::field::authorization];
  std::string claimed;
  auto fail = [&](const std::string& why) -> std::optional<identity::principal> {
    audit_auth_failure(st, printable(claimed), peer, why);
    return std::nullopt;
  };
  if (v.size() < 7 || ::strncasecmp(v.data(), "Bearer ", 7) != 0)
    return fail("no Bearer credentials");
  std::string_view cred = v.substr(7);
  while (!cred.empty() && cred.front() == ' ') cred.remove_prefix(1);
  std::string_view user, key;
  std::string_view header_user = req["X-Gatehouse-User"];
  if (!header_user.empty()) {
    user = header_user;
    key = cred;
  } else {
    auto colon = cred.find(':');
    if (colon == std::string_view::npos) return fail("credentials are not <user>:<key>");
    user = cred.substr(0, colon);
    key = cred.substr(colon + 1);
  }
  claimed = std::string(user);
  if (user == review::local_admin_user) {
    if (st.opts.admin_token.empty() || !crypto::constant_time_equal(key, st.opts.admin_token))
      return fail("wrong local admin token");
    return identity::principal{
        std::string(review::local_admin_user), {}, std::string(review::local_admin_method)};
  }
  auto p = st.ids.authenticate(user, key);
  if (!p) return fail(p.err());
  return std::move(*p);
}

http::status status_of(review::errc e) {
  switch (e) {
    case review::errc::not_found:
      return http::status::not_found;
    case review::errc::forbidden:
      return http::status::forbidden;
    case review::errc::conflict:
      return http::status::conflict;
    case review::errc::invalid:
      return http::status::bad_request;
    case review::errc::unavailable:
      return http::status::service_unavailable;
  }
  return http::status::internal_server_error;
}

reply list_reviews(server::state& st, const identity::principal& who, std::string_view query) {
  review::filter f;
  f.limit = 100;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    bool ok1 = true, ok2 = true;
    std::string k = percent_decode(pair.substr(0, eq), ok1);
    std::string v =
        eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), ok2);
    if (!ok1 || !ok2) return error_reply(http::status::bad_request, "malformed query string");
    if (k == "status") {
      if (v == "all" || v.empty()) continue;
      auto s = review::parse_status(v);
      if (!s)
        return error_reply(http::status::bad_request,
                           "status must be pending, approved, rejected, expired, cancelled or all");
      f.status = s;
    } else if (k == "kind") {
      auto kd = review::parse_kind(v);
      if (!kd) return error_reply(http::status::bad_request, "kind must be statement or access");
      f.kind = kd;
    } else if (k == "connection") {
      f.connection = v;
    } else if (k == "requester") {
      f.requester = v;
    } else if (k == "limit") {
      std::size_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || end != v.data() + v.size() || n == 0 || n > max_list_limit)
        return error_reply(http::status::bad_request,
                           "limit must be 1.." + std::to_string(max_list_limit));
      f.limit = n;
    } else {
      return error_reply(http::status::bad_request,
                         "unknown query parameter '" + printable(k) + "'");
    }
  }
  auto rs = st.svc.list(f);
  if (!rs) return error_reply(http::status::service_unavailable, "review store: " + rs.err());
  json::array arr;
  for (const auto& r : *rs)
    if (review::service::may_view(r, who)) arr.emplace_back(review::to_json(r));
  json::object o;
  o["reviews"] = std::move(arr);
  return json_reply(http::status::ok, o);
}

reply show_review(server::state& st, const identity::principal& who, const std::string& id) {
  review::errc why{};
  auto r = st.svc.get(id, &why);
  if (!r) return error_reply(status_of(why), r.err());
  if (!review::service::may_view(*r, who))
    return error_reply(http::status::forbidden,
                       who.user + " may not see review " + id +
                           ": neither its requester nor in an approver group");
  return json_reply(http::status::ok, review::to_json(*r));
}

reply decide_review(server::state& st, const identity::principal& who, const std::string& id,
                    bool approve, const request& req) {
  std::string reason;
  if (!req.body().empty()) {
    boost::system::error_code ec;
    auto v = json::parse(req.body(), ec);
    if (ec || !v.is_object())
      return error_reply(http::status::bad_request,
                         "the body must be a JSON object like {\"reason\": \"...\"}");
    const auto& o = v.as_object();
    if (auto it = o.find("reason"); it != o.end()) {
      if (!it->value().is_string())
        return error_reply(http::status::bad_request, "reason must be a string");
      reason = std::string(it->value().as_string());
    }
  }
  review::errc why{};
  auto r = st.svc.decide(id, who, approve, std::move(reason), &why);
  if (!r) return error_reply(status_of(why), r.err());
  return json_reply(http::status::ok, review::to_json(*r));
}

reply route(server::state& st, const request& req, const std::string& peer) {
  std::string_view target = req.target();
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const auto method = req.method();
  auto method_not_allowed = [](std::string allow) {
    auto r = error_reply(http::status::method_not_allowed, "method not allowed; use " + allow);
    r.allow = std::move(allow);
    return r;
  };

  if (path == "/api/health") {
    if (method != http::verb::get) return method_not_allowed("GET");
    json::object o;
    o["status"] = "ok";
    o["version"] = GATEHOUSE_VERSION;
    return json_reply(http::status::ok, o);
  }

  // /api/reviews, /api/reviews/{id}, /api/reviews/{id}/approve|reject
  constexpr std::string_view prefix = "/api/reviews";
  if (!path.starts_with(prefix)) return error_reply(http::status::not_found, "no such endpoint");
  std::string_view rest = path.substr(prefix.size());
  std::string id;
  std::string action;
  if (!rest.empty()) {
    if (rest.front() != '/') return error_reply(http::status::not_found, "no such endpoint");
    rest.remove_prefix(1);
    auto slash = rest.find('/');
    id = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) action = std::string(rest.substr(slash + 1));
    if (id.empty() ||
        (slash != std::string_view::npos && action != "approve" && action != "reject"))
      return error_reply(http::status::not_found, "no such endpoint");
  }
  if (action.empty() && method != http::verb::get) return method_not_allowed("GET");
  if (!action.empty() && method != http::verb::post) return method_not_allowed("POST");

  auto who = authenticate(st, req, peer);
  if (!who) {
    auto r = error_reply(http::status::unauthorized, "invalid credentials");
    r.authenticate = true;
    return r;
  }
  if (id.empty()) return list_reviews(st, *who, query);
  if (!review::valid_id(id))
    return error_reply(http::status::not_found, "no such review (ids look like r-abcdefghij)");
  if (action.empty()) return show_review(st, *who, id);
  return decide_review(st, *who, id, action == "approve", req);
}

http::response<http::string_body> to_response(const reply& rep, bool keep_alive) {
  http::response<http::string_body> res{rep.status, 11};
  res.set(http::field::server, "gatehouse");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  if (rep.authenticate) res.set(http::field::www_authenticate, "Bearer realm=\"gatehouse\"");
  if (!rep.allow.empty()) res.set(http::field::allow, rep.allow);
  res.keep_alive(keep_alive && !rep.close);
  res.body() = rep.body + "\n";
  res.prepare_payload();
  return res;
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::end_of_stream).category();
}

// The request loop of one connection. Returns when the connection should close.
template <typename Stream>
asio::awaitable<void> serve_requests(std::shared_ptr<server::state> st, Stream& s,
                                     beast::tcp_stream& lowest, std::string peer) {
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st->opts.max_header));
    parser.body_limit(st->opts.max_body);
    lowest.expires_after(st->opts.header_timeout);
    auto [hec, hn] = co_await http::async_read_header(s, buf, parser, use_tuple);
    reply rep;
    bool keep_alive = false;
    if (!hec) {
      lowest.expires_after(st->opts.request_timeout);
      auto [bec, bn] = co_await http::async_read(s, buf, parser, use_tuple);
      hec = bec;
    }
    if (hec) {
      // Connection-level endings (peer closed, deadline, shutdown) get no answer.
      if (!is_http_error(hec) || hec == http::error::end_of_stream ||
          hec == http::error::partial_message)
        co_return;
      if (hec == http::error::body_limit) {
        rep =
            error_reply(http::status::payload_too_large,
                        "request body larger than " + std::to_string(st->opts.max_body) + " bytes");
      } else if (hec == http::error::header_limit) {
        rep = error_reply(
            http::status::request_header_fields_too_large,
            "request header larger than " + std::to_string(st->opts.max_header) + " bytes");
      } else {
        rep = error_reply(http::status::bad_request, "malformed HTTP request: " + hec.message());
      }
      rep.close = true;
      log::info("api", "bad request; closing the connection",
                {{"client", peer}, {"error", hec.message()}});
    } else {
      const auto& req = parser.get();
      keep_alive = req.keep_alive();
      rep = route(*st, req, peer);
      log::debug("api", "request",
                 {{"client", peer},
                  {"method", req.method_string()},
                  {"status", std::to_string(static_cast<unsigned>(rep.status))}});
    }
    auto res = to_response(rep, keep_alive);
    lowest.expires_after(st->opts.request_timeout);
    auto [wec, wn] = co_await http::async_write(s, res, use_tuple);
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> connection(std::shared_ptr<server::state> st, tcp::socket sock) {
  std::string peer;
  {
    boost::system::error_code ec;
    auto ep = sock.remote_endpoint(ec);
    if (!ec) peer = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  beast::tcp_stream stream(std::move(sock));
  const auto id = ++st->next_conn;
  st->conns.emplace(id, [&stream] {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  });
  struct unregister {
    server::state* s;
    std::uint64_t id;
    ~unregister() { s->conns.erase(id); }
  } guard{st.get(), id};
  try {
    if (st->opts.tls) {
      asio::ssl::stream<beast::tcp_stream&> tls(stream, *st->opts.tls);
      stream.expires_after(st->opts.header_timeout);
      auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::server, use_tuple);
      if (hec) {
        log::debug("api", "TLS handshake failed", {{"client", peer}, {"error", hec.message()}});
        co_return;
      }
      co_await serve_requests(st, tls, stream, peer);
    } else {
      co_await serve_requests(st, stream, stream, peer);
      boost::system::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  } catch (const std::exception& e) {
    log::warn("api", "connection ended by an internal error",
              {{"client", peer}, {"error", e.what()}});
  }
}

asio::awaitable<void> accept_loop(std::shared_ptr<server::state> st) {
  for (;;) {
    auto [ec, sock] = co_await st->acceptor->async_accept(use_tuple);
    if (st->stopping) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      log::warn("api", "accept failed", {{"error", ec.message()}});
      // Out of descriptors and the like: do not spin.
      asio::steady_timer t(st->ioc, std::chrono::milliseconds(100));
      auto [wec] = co_await t.async_wait(use_tuple);
      (void)wec;
      continue;
    }
    if (st->conns.size() >= st->opts.max_connections) {
      log::warn("api", "too many connections; refusing one",
                {{"limit", std::to_string(st->opts.max_connections)}});
      boost::system::error_code ignored;
      sock.close(ignored);
      continue;
    }
    asio::co_spawn(st->ioc, connection(st, std::move(sock)), asio::detached);
  }
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && net::is_loopback(a);
}

server::server(asio::io_context& ioc, review::service& svc, const identity::directory& ids,
               audit::writer* audit, server_options opts)
    : state_(std::make_shared<state>(ioc, svc, ids, audit, std::move(opts))) {}

server::~server() {
  stop();
}

status server::start() {
  const auto& ep = state_->opts.listen;
  const std::string where = ep.host + ":" + std::to_string(ep.port);
  if (!state_->opts.tls && !is_loopback_host(ep.host))
    return make_error("API listener " + where +
                      ": plain HTTP is only served on a loopback address (127.0.0.1, ::1); "
                      "this address needs TLS");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ep.host == "localhost" ? "127.0.0.1" : ep.host, ec);
  if (ec) return make_error("API listen address " + ep.host + ": " + ec.message());
  tcp::endpoint endpoint(addr, ep.port);
  auto acc = std::make_unique<tcp::acceptor>(state_->ioc);
  acc->open(endpoint.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(endpoint, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error("cannot listen on " + where + " (API): " + ec.message());
  port_ = acc->local_endpoint(ec).port();
  state_->acceptor = std::move(acc);
  asio::co_spawn(state_->ioc, accept_loop(state_), asio::detached);
  log::info("api", "listening",
            {{"address", ep.host + ":" + std::to_string(port_)},
             {"tls", state_->opts.tls ? "on" : "off"}});
  return {};
}

void server::stop() {
  asio::post(state_->ioc, [st = state_] {
    if (st->stopping) return;
    st->stopping = true;
    boost::system::error_code ec;
    if (st->acceptor) st->acceptor->close(ec);
    // Closers unregister themselves when their coroutine ends; iterate over a copy.
    auto conns = st->conns;
    for (auto& [id, close] : conns) close();
  });
}

}  // namespace gh::api
