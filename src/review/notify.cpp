#include "review/notify.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "core/crypto.hpp"
#include "core/log.hpp"

namespace gh::review {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_response_body = 64 * 1024;
// Slack refuses section texts over 3000 characters.
constexpr std::size_t slack_statement_chars = 2800;
}  // namespace

std::string webhook_url::redacted() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(tls ? "https://" : "http://") + h + ":" + std::to_string(port);
}

result<webhook_url> parse_webhook_url(std::string_view url) {
  webhook_url u;
  std::string_view rest;
  if (url.starts_with("https://")) {
    u.tls = true;
    u.port = 443;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    u.port = 80;
    rest = url.substr(7);
  } else {
    return make_error("webhook URL must start with http:// or https://");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (authority.find('@') != std::string_view::npos)
    return make_error("webhook URL must not carry user info (use notify.secret to sign instead)");
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error("webhook URL: missing ']'");
    u.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return make_error("webhook URL: bad port");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return make_error("webhook URL without a host");
  for (char c : u.host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '\\')
      return make_error("webhook URL: invalid host");
  if (!port_text.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || p == 0 || p > 65535)
      return make_error("webhook URL: port must be 1..65535");
    u.port = static_cast<std::uint16_t>(p);
  }
  for (char c : u.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return make_error("webhook URL: the path must be URL-encoded");
  return u;
}

std::string webhook_signature(std::string_view secret, std::string_view body) {
  auto mac = crypto::hmac_sha256(secret, body);
  return "sha256=" + crypto::hex(mac);
}

namespace {

// Slack mrkdwn treats & < > as control characters.
std::string slack_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out.push_back(c);
  }
  return out;
}

std::string slack_code(std::string_view statement) {
  std::string s(statement.substr(0, slack_statement_chars));
  // A ``` inside the statement would end the code block early.
  for (std::size_t p = 0; (p = s.find("```", p)) != std::string::npos;) s.replace(p, 3, "'''");
  std::string out = "```" + slack_escape(s);
  if (statement.size() > slack_statement_chars)
    out += "\n... (" + std::to_string(statement.size()) + " bytes in all)";
  return out + "```";
}

std::string headline(std::string_view event, const review& r) {
  std::string what = r.kind == review_kind::access ? "access to " + r.connection
                                                   : "a statement on " + r.connection;
  if (event == event_created)
    return "Review " + r.id + ": " + r.requester + " asks to run " + what + " (rule " + r.rule +
           ")";
  std::string s = "Review " + r.id + " " + std::string(to_string(r.status));
  if (!r.decided_by.empty() && r.decided_by != "gatehouse") s += " by " + r.decided_by;
  if (!r.reason.empty()) s += ": " + r.reason;
  return s;
}

json::object mrkdwn(std::string text) {
  json::object o;
  o["type"] = "mrkdwn";
  o["text"] = std::move(text);
  return o;
}

std::string slack_payload(std::string_view event, const review& r) {
  json::object root;
  root["text"] = slack_escape(headline(event, r));
  json::array blocks;
  {
    json::object b;
    b["type"] = "section";
    b["text"] = mrkdwn("*" + slack_escape(headline(event, r)) + "*");
    blocks.emplace_back(std::move(b));
  }
  {
    json::object b;
    b["type"] = "section";
    json::array fields;
    fields.emplace_back(mrkdwn("*Requester*\n" + slack_escape(r.requester)));
    fields.emplace_back(mrkdwn("*Connection*\n" + slack_escape(r.connection)));
    fields.emplace_back(mrkdwn("*Rule*\n" + slack_escape(r.rule)));
    fields.emplace_back(mrkdwn("*Status*\n" + std::string(to_string(r.status))));
    b["fields"] = std::move(fields);
    blocks.emplace_back(std::move(b));
  }
  if (!r.statement.empty()) {
    json::object b;
    b["type"] = "section";
    b["text"] = mrkdwn(slack_code(r.statement));
    blocks.emplace_back(std::move(b));
  }
  {
    json::object b;
    b["type"] = "context";
    json::array el;
    if (r.status == review_status::pending)
      el.emplace_back(mrkdwn("`gatehouse reviews approve " + r.id + "` or `reject " + r.id +
                             "`; expires " + format_time(r.expires_us)));
    else
      el.emplace_back(mrkdwn("decided " + format_time(r.decided_us)));
    b["elements"] = std::move(el);
    blocks.emplace_back(std::move(b));
  }
  root["blocks"] = std::move(blocks);
  return json::serialize(root);
}

}  // namespace

std::string webhook_payload(notify_format f, std::string_view event, const review& r) {
  if (f == notify_format::slack) return slack_payload(event, r);
  json::object root;
  root["event"] = event;
  root["review"] = to_json(r);
  return json::serialize(root);
}

struct notifier::state {
  audit::writer* audit = nullptr;
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> attempts{0};
  std::mutex mu;
  std::map<std::string, net::ssl_context_ptr> tls;  // by CA file

  result<net::ssl_context_ptr> tls_for(const std::string& ca_file) {
    std::lock_guard lk(mu);
    if (auto it = tls.find(ca_file); it != tls.end()) return it->second;
    auto ctx = net::make_client_context(true, ca_file);
    if (!ctx) return error{ctx.err()};
    tls.emplace(ca_file, *ctx);
    return *ctx;
  }
};

namespace {

struct delivery {
  std::shared_ptr<notifier::state> st;
  webhook_url url;
  std::string body;
  std::string signature;  // empty: unsigned
  std::string event;
  std::string review_id;
  std::string connection;
  std::string session_id;
  std::string ca_file;
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{500};
  std::chrono::milliseconds timeout{10'000};
};

template <typename Stream>
asio::awaitable<std::string> exchange(Stream& s, http::request<http::string_body>& req) {
  auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
  if (wec) co_return "write: " + wec.message();
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(max_response_body);
  auto [rec, rn] = co_await http::async_read(s, buf, p, use_tuple);
  if (rec) co_return "read: " + rec.message();
  unsigned code = p.get().result_int();
  if (code < 200 || code > 299) co_return "HTTP " + std::to_string(code);
  co_return std::string();
}

asio::awaitable<std::string> attempt(const delivery& d) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(d.url.host, std::to_string(d.url.port), use_tuple);
  if (rec) co_return "resolve: " + rec.message();
  beast::tcp_stream tcp(ex);
  tcp.expires_after(d.timeout);
  auto [cec, ep] = co_await tcp.async_connect(results, use_tuple);
  if (cec) co_return "connect: " + cec.message();

  http::request<http::string_body> req{http::verb::post, d.url.target, 11};
  std::string host =
      d.url.host.find(':') != std::string::npos ? "[" + d.url.host + "]" : d.url.host;
  if (d.url.port != (d.url.tls ? 443 : 80)) host += ":" + std::to_string(d.url.port);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "gatehouse/" GATEHOUSE_VERSION);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::connection, "close");
  req.set("X-Gatehouse-Event", d.event);
  if (!d.signature.empty()) req.set("X-Gatehouse-Signature", d.signature);
  req.body() = d.body;
  req.prepare_payload();

  if (!d.url.tls) {
    auto r = co_await exchange(tcp, req);
    beast::error_code ignored;
    tcp.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return r;
  }
  auto ctx = d.st->tls_for(d.ca_file);
  if (!ctx) co_return "tls: " + ctx.err();
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), **ctx);
  if (auto s = net::set_client_verify_host(tls.native_handle(), d.url.host); !s)
    co_return "tls: " + s.err();
  beast::get_lowest_layer(tls).expires_after(d.timeout);
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (hec) co_return "tls handshake: " + hec.message();
  auto r = co_await exchange(tls, req);
  co_return r;
}

void give_up(const delivery& d, int attempts, const std::string& err) {
  d.st->failed.fetch_add(1);
  log::error("review", "webhook notification failed; the review is unaffected",
             {{"review", d.review_id},
              {"event", d.event},
              {"webhook", d.url.redacted()},
              {"attempts", std::to_string(attempts)},
              {"error", err}});
  if (d.st->audit == nullptr) return;
  audit::record r;
  r.ts_us = audit::now_us();
  r.kind = std::string(events::notify_failed);
  r.session_id = d.session_id;
  r.connection = d.connection;
  r.outcome = "failed";
  r.reason = err;
  json::object detail;
  detail["review"] = d.review_id;
  detail["event"] = d.event;
  detail["webhook"] = d.url.redacted();
  detail["attempts"] = attempts;
  r.detail = json::serialize(detail);
  d.st->audit->append_detached(std::move(r));
}

asio::awaitable<void> deliver(std::shared_ptr<delivery> d) {
  int tries = 0;
  std::string err;
  try {
    auto ex = co_await asio::this_coro::executor;
    auto backoff = d->first_backoff;
    for (int i = 1; i <= d->max_attempts; ++i) {
      ++tries;
      d->st->attempts.fetch_add(1);
      err = co_await attempt(*d);
      if (err.empty()) {
        d->st->delivered.fetch_add(1);
        log::debug("review", "webhook delivered",
                   {{"review", d->review_id}, {"event", d->event}, {"webhook", d->url.redacted()}});
        co_return;
      }
      log::warn("review", "webhook attempt failed",
                {{"review", d->review_id},
                 {"webhook", d->url.redacted()},
                 {"attempt", std::to_string(i)},
                 {"error", err}});
      if (i < d->max_attempts) {
        asio::steady_timer t(ex, backoff);
        auto [wec] = co_await t.async_wait(use_tuple);
        (void)wec;
        backoff *= 2;
      }
    }
  } catch (const std::exception& e) {
    err = std::string("internal error: ") + e.what();
  }
  give_up(*d, tries, err);
}

}  // namespace

notifier::notifier(asio::any_io_executor ex, audit::writer* audit)
    : ex_(std::move(ex)), state_(std::make_shared<state>()) {
  state_->audit = audit;
}

notifier::~notifier() = default;

void notifier::send(const notify_settings& s, std::string_view event, const review& r) {
  if (s.webhook.empty()) return;
  auto d = std::make_shared<delivery>();
  d->st = state_;
  d->event = std::string(event);
  d->review_id = r.id;
  d->connection = r.connection;
  d->session_id = r.session_id;
  auto url = parse_webhook_url(s.webhook);
  if (!url) {
    d->url.host = "(invalid)";
    give_up(*d, 0, url.err());
    return;
  }
  d->url = std::move(*url);
  d->body = webhook_payload(s.format, event, r);
  if (!s.secret.empty()) d->signature = webhook_signature(s.secret, d->body);
  d->ca_file = s.ca_file;
  d->max_attempts = std::max(1, s.max_attempts);
  d->first_backoff = s.first_backoff;
  d->timeout = s.attempt_timeout;
  asio::co_spawn(ex_, deliver(std::move(d)), asio::detached);
}

notifier::stats notifier::get_stats() const {
  return {state_->delivered.load(), state_->failed.load(), state_->attempts.load()};
}

}  // namespace gh::review
