#include "proto/pg/session.hpp"

#include <openssl/rand.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/json.hpp>

#include "core/crypto.hpp"
#include "core/duration.hpp"
#include "core/log.hpp"
#include "guard/classify.hpp"
#include "review/service.hpp"
#include "net/tls.hpp"
#include "proto/pg/scram.hpp"

namespace gh::pg {

namespace asio = boost::asio;
using net::use_tuple;

namespace {

constexpr std::size_t initial_buffer = 64 * 1024;
// Upstream messages are trusted for framing but still bounded: PostgreSQL itself cannot send a
// message over 1 GB.
constexpr std::size_t max_upstream_message = std::size_t{1} << 30;

std::string random_hex(std::size_t n) {
  std::vector<unsigned char> b(n);
  if (RAND_bytes(b.data(), static_cast<int>(n)) != 1) std::abort();
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s.push_back(d[c >> 4]);
    s.push_back(d[c & 15]);
  }
  return s;
}

// Statement text as the audit trail keeps it: whole up to 16 KiB; beyond that the head, the
// size and a SHA-256 of the whole, so a bulk INSERT cannot bloat the trail yet stays provable.
std::string audit_statement_text(std::string_view sql) {
  constexpr std::size_t max_text = 16 * 1024;
  if (sql.size() <= max_text) return std::string(sql);
  std::string out(sql.substr(0, max_text));
  out += "... [truncated: " + std::to_string(sql.size()) + " bytes, sha256 " +
         crypto::sha256_hex(sql) + "]";
  return out;
}

bool is_eof(const net::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::ssl::error::stream_truncated || ec == asio::error::broken_pipe;
}


}  // namespace

session::session(server_context& ctx, server& srv, net::tcp::socket sock)
    : ctx_(ctx),
      srv_(srv),
      client_(std::move(sock)),
      client_write_mu_(client_.socket().get_executor()),
      watchdog_timer_(client_.socket().get_executor()),
      s2c_done_(client_.socket().get_executor(), clock::time_point::max()),
      id_(random_hex(8)) {
  net::error_code ec;
  auto ep = client_.socket().remote_endpoint(ec);
  if (!ec) {
    client_addr_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    client_loopback_ = net::is_loopback(ep.address());
  }
  client_.socket().set_option(net::tcp::no_delay(true), ec);
}

session::~session() = default;

audit::record session::base_record(std::string kind) const {
  audit::record r;
  r.ts_us = audit::now_us();
  r.kind = std::move(kind);
  r.session_id = id_;
  r.user = who_.user;
  r.groups = who_.groups_joined();
  r.connection = conn_ != nullptr ? conn_->name : std::string();
  r.client_addr = client_addr_;
  return r;
}

void session::close(std::string reason) {
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  if (closed_) return;
  closed_ = true;
  // A statement held for review dies with its session: nobody may approve it afterwards.
  if (!holding_review_.empty() && ctx_.reviews != nullptr)
    (void)ctx_.reviews->cancel(holding_review_, "session closed: " + close_reason_);
  watchdog_timer_.cancel();
  client_.close();
  if (upstream_) upstream_->close();
}

void session::terminate(std::string reason, std::string sqlstate) {
  auto self = shared_from_this();
  asio::co_spawn(
      client_.socket().get_executor(),
      [self, reason = std::move(reason), sqlstate = std::move(sqlstate)]() -> asio::awaitable<void> {
        if (self->closed_) co_return;
        co_await self->fail_client(sqlstate, "terminating connection: " + reason, reason);
      },
      asio::detached);
}

asio::awaitable<bool> session::write_client(std::vector<std::uint8_t>& out) {
  co_await client_write_mu_.lock();
  auto ec = co_await client_.write(asio::buffer(out));
  client_write_mu_.unlock();
  bytes_to_client_ += out.size();
  out.clear();
  co_return !ec;
}

asio::awaitable<void> session::fail_client(std::string_view sqlstate, std::string_view message,
                                           std::string reason) {
  if (close_reason_.empty()) close_reason_ = reason;
  if (!closed_) {
    std::vector<std::uint8_t> out;
    write_error(out, severity::fatal, sqlstate, message);
    // Bounded: a client that does not read cannot hold the session open.
    phase_deadline_ = std::min(phase_deadline_, clock::now() + std::chrono::seconds(5));
    co_await write_client(out);
  }
  close(std::move(reason));
}

void session::record_auth_failure(const std::string& reason) {
  auto r = base_record("auth.fail");
  r.reason = reason;
  r.outcome = "28P01";
  ctx_.audit->append_detached(std::move(r));
  log::warn("pg", "authentication failed",
            {{"session", id_}, {"user", who_.user}, {"client", client_addr_}, {"reason", reason}});
}

asio::awaitable<void> session::run() {
  auto self = shared_from_this();
  srv_.add_session(self);
  try {
    // Separate coroutines rather than awaitable operators (||): GCC 12 miscompiles member
    // coroutines combined that way (the frame's `this` is lost).
    asio::co_spawn(
        client_.socket().get_executor(),
        [self]() -> asio::awaitable<void> {
          try {
            co_await self->watchdog();
          } catch (const std::exception& e) {
            self->close(std::string("internal error in watchdog: ") + e.what());
          }
        },
        asio::detached);
    co_await serve();
  } catch (const std::exception& e) {
    // The one catch-all of a session: anything unexpected ends this session only.
    close(std::string("internal error: ") + e.what());
  }
  close(close_reason_.empty() ? "session ended" : close_reason_);
  if (cancel_registered_) ctx_.cancels.remove(gw_pid_);
  if (started_recorded_) {
    auto r = base_record("session.end");
    r.reason = close_reason_;
    r.duration_us =
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started_).count();
    boost::json::object d;
    d["bytes_from_client"] = bytes_from_client_;
    d["bytes_to_client"] = bytes_to_client_;
    d["statements"] = next_stmt_id_ - 1;
    r.detail = boost::json::serialize(d);
    ctx_.audit->append_detached(std::move(r));
  }
  log::info("pg", "session closed",
            {{"session", id_},
             {"user", who_.user},
             {"connection", conn_ != nullptr ? conn_->name : ""},
             {"reason", close_reason_}});
  srv_.remove_session(this);
}

asio::awaitable<void> session::watchdog() {
  const auto idle = ctx_.cfg->gateway.idle_timeout;
  for (;;) {
    auto now = clock::now();
    auto next = now + std::chrono::seconds(1);
    if (phase_deadline_ != clock::time_point::max()) {
      if (now >= phase_deadline_) {
        close("timed out during " + (phase_name_.empty() ? std::string("shutdown") : phase_name_));
        co_return;
      }
      next = std::min(next, phase_deadline_);
    }
    if (established_ && idle.count() > 0 && pending_.empty() && holding_review_.empty()) {
      auto idle_until = last_activity_ + idle;
      if (now >= idle_until) {
        co_await fail_client("57P05",
                             "terminating connection due to idle timeout (" +
                                 format_duration(idle) + ")",
                             "idle timeout " + format_duration(idle));
        co_return;
      }
      next = std::min(next, idle_until);
    }
    watchdog_timer_.expires_at(next);
    co_await watchdog_timer_.async_wait(use_tuple);
    if (closed_) co_return;
  }
}

asio::awaitable<void> session::serve() {
  phase_name_ = "startup and authentication";
  phase_deadline_ = clock::now() + ctx_.cfg->gateway.auth_timeout;
  if (!co_await startup()) co_return;
  phase_name_ = "upstream login";
  phase_deadline_ = clock::now() + ctx_.cfg->gateway.connect_timeout;
  if (!co_await connect_upstream()) co_return;
  phase_name_.clear();
  phase_deadline_ = clock::time_point::max();
  established_ = true;
  touch();
  auto self = shared_from_this();
  asio::co_spawn(
      client_.socket().get_executor(),
      [self]() -> asio::awaitable<void> {
        try {
          co_await self->server_to_client();
        } catch (const std::exception& e) {
          self->close(std::string("internal error: ") + e.what());
        }
        self->s2c_running_ = false;
        self->s2c_done_.cancel();
      },
      asio::detached);
  co_await client_to_server();
  close(close_reason_.empty() ? "session ended" : close_reason_);
  while (s2c_running_) co_await s2c_done_.async_wait(use_tuple);
}

asio::awaitable<bool> session::startup() {
  byte_buffer buf(1024);
  startup_packet pkt;
  bool tls_done = false;
  for (;;) {
    std::string err;
    auto st = decode_startup(buf.readable(), pkt, err);
    if (st == decode_status::need_more) {
      buf.reserve_frame(max_startup_packet);
      auto [ec, n] = co_await client_.read_some(buf.writable());
      if (ec) {
        close(is_eof(ec) ? "client disconnected during startup"
                         : "client read error during startup: " + ec.message());
        co_return false;
      }
      bytes_from_client_ += n;
      buf.commit(n);
      continue;
    }
    if (st == decode_status::error) {
      log::warn("pg", "bad startup packet", {{"client", client_addr_}, {"error", err}});
      co_await fail_client("08P01", "invalid startup packet: " + err,
                           "client sent invalid startup packet: " + err);
      co_return false;
    }
    buf.consume(pkt.size);
    using kind = startup_packet::kind;
    if (pkt.what == kind::cancel_request) {
      co_await handle_cancel(pkt);
      co_return false;
    }
    if (pkt.what == kind::gss_request) {
      std::vector<std::uint8_t> n{'N'};
      if (!co_await write_client(n)) {
        close("client write failed during startup");
        co_return false;
      }
      continue;
    }
    if (pkt.what == kind::ssl_request) {
      if (tls_done || buf.readable().size() != 0) {
        // Bytes after SSLRequest before the handshake could be injected plaintext (CVE-2021-23214).
        co_await fail_client("08P01", "unexpected data after SSLRequest",
                             "client sent data after SSLRequest");
        co_return false;
      }
      std::vector<std::uint8_t> s{'S'};
      if (!co_await write_client(s)) {
        close("client write failed during startup");
        co_return false;
      }
      auto ec = co_await client_.tls_accept(*ctx_.client_tls);
      if (ec) {
        close("TLS handshake with client failed: " + ec.message());
        log::warn("pg", "client TLS handshake failed",
                  {{"client", client_addr_}, {"error", ec.message()}});
        co_return false;
      }
      tls_done = true;
      continue;
    }
    break;  // StartupMessage
  }

  auto* user = pkt.param("user");
  auto* db = pkt.param("database");
  if (user != nullptr) who_.user = *user;
  if (!client_.is_tls()) {
    bool allowed = ctx_.cfg->gateway.tls.client == config::client_tls::prefer && client_loopback_;
    if (!allowed) {
      std::string why = ctx_.cfg->gateway.tls.client == config::client_tls::require
                            ? "plaintext connection refused (gateway.tls.client: require)"
                            : "plaintext connection from a non-loopback address refused";
      record_auth_failure(why);
      co_await fail_client("28000", "gatehouse requires an encrypted connection (sslmode=require)",
                           why);
      co_return false;
    }
  }
  if (user == nullptr || user->empty()) {
    record_auth_failure("no user name in startup packet");
    co_await fail_client("28000", "no gatehouse user name specified", "no user name");
    co_return false;
  }
  if (pkt.param("replication") != nullptr && *pkt.param("replication") != "false" &&
      *pkt.param("replication") != "0") {
    record_auth_failure("replication connections are not supported");
    co_await fail_client("0A000", "replication connections are not supported by gatehouse",
                         "replication connection refused");
    co_return false;
  }
  std::string conn_name = db != nullptr && !db->empty() ? *db : *user;

  std::vector<std::string> unsupported;
  for (const auto& [k, v] : pkt.params) {
    if (k.rfind("_pq_.", 0) == 0) {
      unsupported.push_back(k);
      continue;
    }
    if (k == "user" || k == "database" || k == "replication") continue;
    client_params_.emplace_back(k, v);
  }
  std::vector<std::uint8_t> out;
  if ((pkt.protocol & 0xffff) != 0 || !unsupported.empty())
    write_negotiate_protocol(out, 0, unsupported);

  // Ask for the API key. Cleartext is safe here: the channel is TLS, or loopback under `prefer`.
  write_auth(out, 3);
  if (!co_await write_client(out)) {
    close("client write failed during authentication");
    co_return false;
  }
  frame f;
  for (;;) {
    std::string err;
    auto st = next_frame(buf.readable(), 4096, f, err);
    if (st == decode_status::ok) break;
    if (st == decode_status::error) {
      co_await fail_client("08P01", "invalid password message: " + err,
                           "client sent invalid password message: " + err);
      co_return false;
    }
    buf.reserve_frame(4096 + 5);
    auto [ec, n] = co_await client_.read_some(buf.writable());
    if (ec) {
      record_auth_failure("client disconnected before sending a password");
      close("client disconnected during authentication");
      co_return false;
    }
    bytes_from_client_ += n;
    buf.commit(n);
  }
  if (f.type != 'p') {
    co_await fail_client("08P01", "expected a password message",
                         std::string("client sent ") + std::string(frontend_name(f.type)) +
                             " instead of a password");
    co_return false;
  }
  auto pw = parse_password(f.body);
  buf.consume(f.size);
  if (!pw) {
    co_await fail_client("08P01", pw.err(), "client sent " + pw.err());
    co_return false;
  }
  if (buf.readable().size() != 0) {
    co_await fail_client("08P01", "unexpected data after password message",
                         "client sent data before authentication completed");
    co_return false;
  }

  const std::string generic = "password authentication failed for user \"" + *user + "\"";
  auto p = ctx_.ids->authenticate(*user, *pw);
  std::string why;
  if (!p) {
    why = p.err();
  } else {
    who_ = std::move(*p);
    conn_ = ctx_.cfg->find_connection(conn_name);
    if (conn_ == nullptr) why = "no such connection \"" + conn_name + "\"";
    else if (conn_->type != config::conn_type::postgres)
      why = "connection \"" + conn_name + "\" is not a postgres connection";
    else if (!who_.in_any(conn_->allow_groups))
      why = "user's groups [" + who_.groups_joined() + "] are not in allow_groups of \"" +
            conn_name + "\"";
  }
  if (!why.empty()) {
    if (conn_ == nullptr) {
      // Keep the requested name for the audit record even if it does not exist.
    }
    auto r = base_record("auth.fail");
    if (r.connection.empty()) r.connection = conn_name;
    r.reason = why;
    r.outcome = "28P01";
    ctx_.audit->append_detached(std::move(r));
    log::warn("pg", "authentication failed",
              {{"session", id_}, {"user", *user}, {"connection", conn_name},
               {"client", client_addr_}, {"reason", why}});
    co_await fail_client("28P01", generic, "authentication failed: " + why);
    co_return false;
  }

  // Just-in-time access: the session opens only under an approved access review whose window
  // is open. Without one, a review is opened and the client is told to come back once approved.
  if (conn_->access == config::access_mode::review) {
    std::optional<review::review> grant;
    if (ctx_.reviews != nullptr) grant = ctx_.reviews->active_grant(who_.user, conn_->name);
    if (!grant) {
      std::string msg;
      std::string why;
      if (ctx_.reviews == nullptr) {
        msg = "access to connection \"" + conn_->name + "\" requires approval, but reviews are "
              "not available";
        why = "access review unavailable";
      } else {
        review::request req;
        req.kind = review::review_kind::access;
        req.requester = who_.user;
        req.requester_groups = who_.groups;
        req.connection = conn_->name;
        req.session_id = id_;
        req.client_addr = client_addr_;
        req.rule = "access";
        req.access_window = conn_->access_window;
        // One open request per user and connection is enough.
        review::filter f;
        f.status = review::review_status::pending;
        f.kind = review::review_kind::access;
        f.requester = who_.user;
        f.connection = conn_->name;
        auto open = ctx_.reviews->list(f);
        std::string id;
        if (open && !open->empty()) {
          id = open->front().id;
        } else if (auto rv = ctx_.reviews->create(req); rv) {
          id = rv->id;
        }
        if (id.empty()) {
          msg = "access to connection \"" + conn_->name + "\" requires approval, and no access "
                "review could be opened";
          why = "access review could not be opened";
        } else {
          msg = "access to connection \"" + conn_->name + "\" requires approval: access review " +
                id + " is waiting for an approver; connect again once it is approved";
          why = "access pending approval (review " + id + ")";
        }
      }
      auto r = base_record("auth.fail");
      r.reason = why;
      r.outcome = "28000";
      ctx_.audit->append_detached(std::move(r));
      co_await fail_client("28000", msg, why);
      co_return false;
    }
  }

  // The session exists only once its start is on record (fail closed).
  std::vector<audit::record> recs;
  auto r = base_record("session.start");
  r.outcome = "ok";
  boost::json::object d;
  d["auth"] = who_.method;
  d["tls"] = client_.is_tls();
  for (const auto& [k, v] : client_params_)
    if (k == "application_name") d["application_name"] = v;
  r.detail = boost::json::serialize(d);
  recs.push_back(std::move(r));
  auto err = co_await ctx_.audit->async_append(std::move(recs), asio::use_awaitable);
  if (!err.empty()) {
    co_await fail_client("58030",
                         "gatehouse cannot record this session in the audit trail; refused",
                         "audit store unavailable: " + err);
    co_return false;
  }
  started_recorded_ = true;
  if (auto g = ctx_.guards.find(conn_->name); g != ctx_.guards.end()) guard_ = g->second;
  if (auto m = ctx_.masking.find(conn_->name); m != ctx_.masking.end()) {
    mask_policy_ = m->second;
    text_only_masker_.emplace(mask_policy_->engine_ptr());
    text_masker_ = &*text_only_masker_;
    mask_exempt_ = mask_policy_->exempt(who_.groups);
    if (!mask_exempt_) masker_.emplace(mask_policy_->engine_ptr());
  } else if (ctx_.text_policy) {
    text_only_masker_.emplace(ctx_.text_policy->engine_ptr());
    text_masker_ = &*text_only_masker_;
  }
  log::info("pg", "session authenticated",
            {{"session", id_}, {"user", who_.user}, {"connection", conn_->name},
             {"client", client_addr_}, {"tls", client_.is_tls() ? "yes" : "no"}});
  co_return true;
}

asio::awaitable<void> session::handle_cancel(const startup_packet& p) {
  auto t = ctx_.cancels.find(p.cancel_pid, p.cancel_secret);
  close("cancel request");
  if (!t) {
    log::warn("pg", "cancel request with unknown key ignored", {{"client", client_addr_}});
    co_return;
  }
  auto r = base_record("cancel");
  r.session_id = t->session_id;
  r.user = t->user;
  r.connection = t->connection;
  if (auto owner = t->owner.lock()) {
    // A statement held for review is cancelled here and nothing of it ran upstream, so the
    // cancel is not forwarded: it could otherwise land on whatever the session sends next.
    // The check runs on the owner's executor, where its hold state lives.
    // `owner` (in this frame) keeps the session alive. Named values and a raw pointer capture:
    // GCC 12 can destroy temporaries of a co_await operand twice (a shared_ptr captured there
    // was released twice).
    session* o = owner.get();
    auto check = [o]() -> asio::awaitable<bool> { co_return o->cancel_hold(); };
    auto on_owner = asio::co_spawn(o->client_.socket().get_executor(), check, asio::use_awaitable);
    const bool held = co_await std::move(on_owner);
    if (held) {
      r.outcome = "review cancelled";
      ctx_.audit->append_detached(std::move(r));
      log::info("pg", "cancel request ended a held statement", {{"session", t->session_id}});
      co_return;
    }
  }
  r.outcome = "forwarded";
  ctx_.audit->append_detached(std::move(r));
  auto ex = co_await asio::this_coro::executor;
  net::tcp::resolver res(ex);
  auto [ec, eps] = co_await res.async_resolve(t->host, std::to_string(t->port), use_tuple);
  if (ec) co_return;
  net::tcp::socket s(ex);
  auto [ec2, ep] = co_await asio::async_connect(s, eps, use_tuple);
  if (ec2) co_return;
  std::vector<std::uint8_t> out;
  write_cancel_request(out, t->pid, t->secret);
  co_await asio::async_write(s, asio::buffer(out), use_tuple);
  // PostgreSQL closes the connection after a cancel; wait for that so it is processed.
  std::uint8_t b[1];
  co_await s.async_read_some(asio::buffer(b), use_tuple);
  log::info("pg", "cancel forwarded", {{"session", t->session_id}, {"user", t->user}});
}

asio::awaitable<bool> session::connect_upstream() {
  auto ex = co_await asio::this_coro::executor;
  const auto& c = *conn_;
  auto upstream_fail = [&](std::string detail) -> asio::awaitable<bool> {
    log::error("pg", "upstream login failed",
               {{"session", id_}, {"connection", c.name}, {"error", detail}});
    auto r = base_record("upstream.fail");
    r.reason = detail;
    ctx_.audit->append_detached(std::move(r));
    co_await fail_client("08006",
                         "gatehouse could not log in to connection \"" + c.name +
                             "\"; the gateway log has the details",
                         "upstream login failed: " + detail);
    co_return false;
  };

  net::tcp::resolver res(ex);
  auto [rec, eps] = co_await res.async_resolve(c.host, std::to_string(c.port), use_tuple);
  if (rec) co_return co_await upstream_fail("resolve " + c.host + ": " + rec.message());
  net::tcp::socket sock(ex);
  auto [cec, ep] = co_await asio::async_connect(sock, eps, use_tuple);
  if (cec)
    co_return co_await upstream_fail("connect " + c.host + ":" + std::to_string(c.port) + ": " +
                                     cec.message());
  net::error_code ignored;
  sock.set_option(net::tcp::no_delay(true), ignored);
  upstream_.emplace(std::move(sock));
  if (closed_) upstream_->close();

  byte_buffer buf(initial_buffer);
  std::vector<std::uint8_t> out;
  if (c.tls != config::upstream_tls::disable) {
    write_ssl_request(out);
    if (auto ec = co_await upstream_->write(asio::buffer(out)); ec)
      co_return co_await upstream_fail("write: " + ec.message());
    out.clear();
    std::uint8_t answer = 0;
    auto [ec, n] = co_await upstream_->read_some(asio::buffer(&answer, 1));
    if (ec) co_return co_await upstream_fail("read: " + ec.message());
    if (answer == 'S') {
      auto it = ctx_.upstream_tls.find(c.name);
      if (it == ctx_.upstream_tls.end()) co_return co_await upstream_fail("no TLS context");
      bool verify = c.tls == config::upstream_tls::verify_full;
      std::string verify_err;
      auto hec = co_await upstream_->tls_connect(*it->second, [&](SSL* ssl) {
        if (!verify) return;
        if (auto s = net::set_client_verify_host(ssl, c.host); !s) {
          verify_err = s.err();
          // Fail the handshake rather than continue without host verification.
          SSL_set_verify_result(ssl, X509_V_ERR_HOSTNAME_MISMATCH);
          SSL_set_verify(ssl, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 0; });
        }
      });
      if (!verify_err.empty()) co_return co_await upstream_fail("TLS: " + verify_err);
      if (hec) co_return co_await upstream_fail("TLS handshake: " + hec.message());
    } else if (answer == 'N') {
      if (c.tls == config::upstream_tls::require || c.tls == config::upstream_tls::verify_full)
        co_return co_await upstream_fail("server does not support TLS but tls is required");
    } else {
      co_return co_await upstream_fail("unexpected answer to SSLRequest");
    }
  }

  std::vector<std::pair<std::string, std::string>> params;
  params.emplace_back("user", c.user);
  params.emplace_back("database", c.database);
  for (const auto& kv : client_params_) params.push_back(kv);
  write_startup(out, params);
  if (auto ec = co_await upstream_->write(asio::buffer(out)); ec)
    co_return co_await upstream_fail("write: " + ec.message());
  out.clear();

  auto password = c.password.resolve();
  std::optional<scram_client> scram;
  std::vector<std::uint8_t> greeting;  // what the client gets once the upstream is ready
  write_auth(greeting, 0);
  for (;;) {
    frame f;
    std::string err;
    std::size_t want = 0;
    auto st = next_frame(buf.readable(), 1 << 20, f, err, &want);
    if (st == decode_status::error) co_return co_await upstream_fail("protocol: " + err);
    if (st == decode_status::need_more) {
      buf.reserve_frame(std::max<std::size_t>(want, 5));
      auto [ec, n] = co_await upstream_->read_some(buf.writable());
      if (ec) co_return co_await upstream_fail("read: " + ec.message());
      buf.commit(n);
      continue;
    }
    switch (f.type) {
      case 'R': {
        auto a = parse_auth(f.body);
        if (!a) co_return co_await upstream_fail(a.err());
        if (a->code != 0 && !password)
          co_return co_await upstream_fail("password " + c.password.describe() + ": " +
                                           password.err());
        if (a->code == 0) {
          // A server that skips the SCRAM proof has not shown it knows the password.
          if (scram && !scram->verified())
            co_return co_await upstream_fail("server ended SCRAM without proving its identity");
          break;
        }
        if (a->code == 3) {
          write_password(out, *password);
        } else if (a->code == 5) {
          std::array<std::uint8_t, 4> salt{};
          std::copy(a->data.begin(), a->data.end(), salt.begin());
          write_password(out, pg_md5_password(c.user, *password, salt));
        } else if (a->code == 10) {
          std::string_view mechs(reinterpret_cast<const char*>(a->data.data()), a->data.size());
          if (!server_offers(mechs, "SCRAM-SHA-256"))
            co_return co_await upstream_fail("server offers no supported SASL mechanism");
          scram.emplace(*password);
          write_sasl_initial(out, "SCRAM-SHA-256", scram->client_first_message());
        } else if (a->code == 11) {
          if (!scram) co_return co_await upstream_fail("unexpected SASLContinue");
          std::string_view data(reinterpret_cast<const char*>(a->data.data()), a->data.size());
          auto fin = scram->handle_server_first(data);
          if (!fin) co_return co_await upstream_fail(fin.err());
          write_sasl_response(out, *fin);
        } else if (a->code == 12) {
          if (!scram) co_return co_await upstream_fail("unexpected SASLFinal");
          std::string_view data(reinterpret_cast<const char*>(a->data.data()), a->data.size());
          if (auto v = scram->verify_server_final(data); !v)
            co_return co_await upstream_fail(v.err());
        } else {
          co_return co_await upstream_fail("server asked for unsupported authentication method " +
                                           std::to_string(a->code));
        }
        if (!out.empty()) {
          if (auto ec = co_await upstream_->write(asio::buffer(out)); ec)
            co_return co_await upstream_fail("write: " + ec.message());
          out.clear();
        }
        break;
      }
      case 'E': {
        auto e = parse_error(f.body);
        // Built before the co_await: GCC 12 miscompiles a ?: with temporaries inside a co_await
        // expression (seen here as e.err() running on a success, "std::get: wrong index for
        // variant"; a minimal repro frees a temporary that was never constructed).
        std::string detail =
            e ? std::string(e->sqlstate) + " " + std::string(e->message) : e.err();
        co_return co_await upstream_fail(std::move(detail));
      }
      case 'N':
        greeting.insert(greeting.end(), f.body.data() - 5, f.body.data() + f.body.size());
        break;
      case 'v':
        break;  // the server speaks an older minor protocol; nothing to pass on
      case 'S': {
        auto kv = parse_parameter_status(f.body);
        if (!kv) co_return co_await upstream_fail(kv.err());
        // The client must not learn the upstream role: report the gatehouse user instead.
        if (kv->first == "session_authorization")
          write_parameter_status(greeting, kv->first, who_.user);
        else
          greeting.insert(greeting.end(), f.body.data() - 5, f.body.data() + f.body.size());
        break;
      }
      case 'K': {
        auto k = parse_backend_key(f.body);
        if (!k) co_return co_await upstream_fail(k.err());
        upstream_pid_ = k->first;
        upstream_secret_ = k->second;
        break;
      }
      case 'Z': {
        auto z = parse_ready_for_query(f.body);
        if (!z) co_return co_await upstream_fail(z.err());
        tx_status_ = *z;
        buf.consume(f.size);
        if (buf.readable().size() != 0)
          co_return co_await upstream_fail("unexpected data after ReadyForQuery");
        auto key = ctx_.cancels.add({c.host, c.port, upstream_pid_, upstream_secret_, id_,
                                     who_.user, c.name, weak_from_this()});
        gw_pid_ = key.first;
        cancel_registered_ = true;
        write_backend_key(greeting, key.first, key.second);
        write_ready_for_query(greeting, tx_status_);
        if (!co_await write_client(greeting)) {
          close("client disconnected during upstream login");
          co_return false;
        }
        co_return true;
      }
      default:
        co_return co_await upstream_fail(std::string("unexpected ") +
                                         std::string(backend_name(f.type)) + " during login");
    }
    buf.consume(f.size);
  }
}

std::string session::audit_text(std::string_view sql) {
  auto text = audit_statement_text(sql);
  if (text_masker_ == nullptr) return text;
  // The trail never holds clear values: PHI in WHERE clauses and VALUES is masked here too.
  dlp::counts scratch;
  return text_masker_->mask_text(text, scratch);
}

std::optional<guard::decision> session::check_copy_masking(
    std::string_view sql, std::optional<guard::classification>& parsed) {
  if (!masker_) return std::nullopt;  // no masking here, or an exempt group
  // Only text that mentions COPY can be one; the parser settles it (comments, strings, case).
  static constexpr std::string_view word = "copy";
  auto it = std::search(sql.begin(), sql.end(), word.begin(), word.end(),
                        [](char a, char b) { return (a | 0x20) == b; });
  if (it == sql.end()) return std::nullopt;
  const bool column_rules = !mask_policy_->engine_ptr()->column_rules().empty();
  guard::decision d;
  d.act = config::guard_action::deny;
  d.rule = "masking";
  if (!parsed) parsed = guard::classify(sql);
  const auto& c = *parsed;
  if (!c.parse_ok) {
    // Fail closed: text gatehouse cannot read might be a COPY whose output it cannot mask.
    d.parse_error = true;
    d.message = "gatehouse could not parse this statement (" + c.parse_error +
                ") and it may be a COPY, whose output masking on connection \"" + conn_->name +
                "\" could not cover; it was not run";
    return d;
  }
  for (const auto& st : c.statements) {
    if (st.copy_target != "stdout") continue;
    if (st.copy_format == "binary") {
      d.message = "COPY ... TO STDOUT in binary format is refused on connection \"" +
                  conn_->name +
                  "\": its values cannot be masked there; use FORMAT text or csv, or SELECT";
      return d;
    }
    if (column_rules) {
      d.message = "COPY ... TO STDOUT is refused on connection \"" + conn_->name +
                  "\": its masking rules mask columns by name, and COPY output carries no "
                  "column names; use SELECT, which is masked on the wire";
      return d;
    }
  }
  return std::nullopt;
}

std::optional<guard::decision> session::check_guard(std::string_view sql) {
  // Output that masking could not cover is refused before any rule is asked. The statement is
  // parsed at most once for both.
  std::optional<guard::classification> parsed;
  if (auto m = check_copy_masking(sql, parsed)) return m;
  if (!guard_) return std::nullopt;
  if (!parsed) parsed = guard::classify(sql);
  auto d = guard_->evaluate(*parsed, sql, who_.groups);
  // Without a review service a `review` rule refuses (fail closed) and says so.
  if (d.act == config::guard_action::review && ctx_.reviews == nullptr) {
    d.act = config::guard_action::deny;
    d.message = "statement requires approval under rule \"" + d.rule +
                "\"; gatehouse cannot hold statements for review on this connection yet, so it "
                "is refused";
  }
  if (d.act == config::guard_action::allow && d.rule.empty()) return std::nullopt;
  return d;
}

void session::note_guard(audit::record& r, const guard::decision& d) {
  boost::json::object o;
  o["guard"] = std::string(config::to_string(d.act));
  o["rule"] = d.rule;
  if (d.parse_error) o["parse_error"] = true;
  if (!d.message.empty()) r.reason = d.message;
  if (!d.review_id.empty()) o["review"] = d.review_id;
  r.detail = boost::json::serialize(o);
}

asio::awaitable<guard::decision> session::hold_for_review(const std::string& sql,
                                                          guard::decision d) {
  auto refuse = [&](std::string why) {
    d.act = config::guard_action::deny;
    d.message = std::move(why);
    return d;
  };
  review::request req;
  req.kind = review::review_kind::statement;
  req.requester = who_.user;
  req.requester_groups = who_.groups;
  req.connection = conn_->name;
  req.session_id = id_;
  req.client_addr = client_addr_;
  req.statement = audit_text(sql);
  req.rule = d.rule;
  auto rv = ctx_.reviews->create(req);
  if (!rv)
    co_return refuse("statement requires approval under rule \"" + d.rule +
                     "\" but no review could be opened: " + rv.err());
  const std::string id = rv->id;
  d.review_id = id;
  log::info("pg", "statement held for review",
            {{"session", id_}, {"user", who_.user}, {"review", id}, {"rule", d.rule}});
  // Held from the moment the review exists: a cancel request arriving while the notice is
  // written ends the review instead of going upstream.
  holding_review_ = id;
  std::vector<std::uint8_t> note;
  write_notice(note,
               "gatehouse: statement held for review " + id + " (rule \"" + d.rule +
                   "\"); waiting for an approver",
               "An approver runs: gatehouse reviews approve " + id);
  if (!co_await write_client(note)) {
    holding_review_.clear();
    (void)ctx_.reviews->cancel(id, "client disconnected");
    close("client disconnected while a statement was held");
    co_return refuse("client disconnected");
  }
  auto o = co_await ctx_.reviews->async_wait(id, asio::use_awaitable);
  holding_review_.clear();
  switch (o.status) {
    case review::review_status::approved:
      d.act = config::guard_action::allow;
      d.message = "approved in review " + id + " by " + o.decided_by;
      co_return d;
    case review::review_status::rejected:
      co_return refuse("statement rejected in review " + id + " by " + o.decided_by +
                       (o.reason.empty() ? std::string() : ": " + o.reason));
    case review::review_status::expired:
      co_return refuse("review " + id + " timed out without a decision; the statement was not run");
    default:
      co_return refuse("review " + id + " was cancelled" +
                       (o.reason.empty() ? std::string() : ": " + o.reason) +
                       "; the statement was not run");
  }
}

bool session::cancel_hold() {
  if (holding_review_.empty() || ctx_.reviews == nullptr) return false;
  // Refused when the review was decided a moment ago: an approved statement may be running
  // upstream, and then the cancel request must go there.
  return ctx_.reviews->cancel(holding_review_, "cancelled by the client").ok();
}

std::string session::deny_sentinel(const guard::decision& d) {
  // A statement that fails at the target while parsing, in any transaction state, naming a
  // schema nobody can guess (per-process nonce), so it can never run anything.
  auto n = next_denial_++;
  denials_[n] = d.message;
  return "SELECT \"gatehouse_" + ctx_.deny_nonce + "_" + std::to_string(n) + "\".denied()";
}

std::optional<std::string> session::take_denial(std::string_view sqlstate,
                                                std::string_view message) {
  if (sqlstate != "3F000") return std::nullopt;
  std::string tag = "\"gatehouse_" + ctx_.deny_nonce + "_";
  auto at = message.find(tag);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t n = 0;
  for (auto i = at + tag.size(); i < message.size() && message[i] >= '0' && message[i] <= '9'; ++i)
    n = n * 10 + static_cast<std::uint64_t>(message[i] - '0');
  auto it = denials_.find(n);
  if (it == denials_.end()) return std::nullopt;
  auto msg = std::move(it->second);
  denials_.erase(it);
  return msg;
}

void session::finish_statement(pending& p, std::string outcome, std::string detail) {
  auto r = base_record("statement.result");
  r.stmt_id = p.stmt_id;
  r.outcome = std::move(outcome);
  r.rows = p.rows;
  r.duration_us = audit::now_us() - p.start_us;
  r.detail = std::move(detail);
  ctx_.audit->append_lazy(std::move(r));
}

void session::defer_finish(const pending& p, std::string outcome) {
  m_finished_.emplace_back(p, std::move(outcome));
}

void session::flush_finished() {
  for (auto& [p, outcome] : m_finished_) {
    std::string detail;
    if (mask_policy_) {
      // What masking did to this statement's rows: counts per detector and column, no values.
      if (mask_exempt_) {
        detail = R"({"masking":"exempt"})";
      } else {
        for (std::size_t i = 0; i < m_ncounts_; ++i) {
          if (m_counts_[i].first != p.stmt_id || m_counts_[i].second.empty()) continue;
          // to_json() is a serialized JSON object; it goes in as it is.
          detail = R"({"masked":)" + m_counts_[i].second.to_json(*mask_policy_->engine_ptr()) + "}";
        }
      }
    }
    finish_statement(p, std::move(outcome), std::move(detail));
  }
  m_finished_.clear();
  // Counts of statements still running carry over to the next batch.
  std::size_t keep = 0;
  for (std::size_t i = 0; i < m_ncounts_; ++i) {
    bool open = false;
    for (const auto& q : pending_)
      if (q.stmt_id == m_counts_[i].first) open = true;
    if (open) {
      if (keep != i) std::swap(m_counts_[keep], m_counts_[i]);
      ++keep;
    }
  }
  for (std::size_t i = keep; i < m_ncounts_; ++i) m_counts_[i].second.clear();
  m_ncounts_ = keep;
}

dlp::counts& session::counts_for(std::int64_t stmt) {
  for (std::size_t i = 0; i < m_ncounts_; ++i)
    if (m_counts_[i].first == stmt) return m_counts_[i].second;
  if (m_ncounts_ == m_counts_.size()) m_counts_.emplace_back();
  auto& slot = m_counts_[m_ncounts_++];
  slot.first = stmt;
  slot.second.clear();
  return slot.second;
}

status session::plan_columns(const frame& f) {
  // The same result shape as the last one (an application's queries repeat): the same plan.
  if (m_nplans_ > 0 && std::equal(f.body.begin(), f.body.end(), m_plan_rowdesc_.begin(),
                                  m_plan_rowdesc_.end())) {
    plan_ok_ = true;
    return {};
  }
  if (auto st = parse_row_description(f.body, m_cols_); !st) return st;
  m_descs_.clear();
  for (const auto& c : m_cols_)
    m_descs_.push_back({c.name, dlp::kind_of_pg_type(c.type_oid, c.format == 1)});
  if (m_nplans_ == m_plans_.size()) m_plans_.emplace_back();
  auto& plan = m_plans_[m_nplans_++];
  dlp::counts scratch;
  masker_->plan(m_descs_, plan, scratch);
  m_plan_rowdesc_.assign(f.body.begin(), f.body.end());
  plan_ok_ = true;
  return {};
}

status session::collect_row(const frame& f, std::size_t frame_off, std::int64_t stmt) {
  auto first = static_cast<std::uint32_t>(m_cells_.size());
  if (auto st = parse_data_row(f.body, m_cells_, m_nulls_); !st) return st;
  auto n = static_cast<std::uint32_t>(m_cells_.size()) - first;
  std::int32_t plan = -1;
  // Rows without a RowDescription in view (or not matching it) are scanned whole: fail closed.
  if (plan_ok_ && m_nplans_ > 0 && m_plans_[m_nplans_ - 1].size() == n)
    plan = static_cast<std::int32_t>(m_nplans_ - 1);
  for (std::uint32_t i = 0; i < n; ++i) {
    bool scan = !m_nulls_[first + i];
    if (plan >= 0) scan = scan && m_plans_[plan][i].mode == dlp::column_mode::scan;
    m_scan_of_cell_.push_back(scan ? static_cast<std::uint32_t>(m_scan_.size()) : UINT32_MAX);
    if (scan) m_scan_.push_back(m_cells_[first + i]);
  }
  m_rows_.push_back({frame_off, f.size, first, n, plan, stmt});
  return {};
}

void session::collect_copy(const frame& f, std::size_t frame_off, std::int64_t stmt) {
  m_copies_.push_back({frame_off, f.size, static_cast<std::uint32_t>(m_scan_.size()), stmt});
  m_scan_.emplace_back(reinterpret_cast<const char*>(f.body.data()), f.body.size());
}

void session::apply_masks(bytes in, std::vector<std::uint8_t>& rewritten, std::vector<cut>& cuts) {
  (void)in;
  if (!m_scan_.empty()) masker_->scan(m_scan_, m_findings_);
  else m_findings_.clear();
  dlp::finding_cursor cursor(m_findings_);
  // Rows and COPY lines interleave by frame offset only across result sets; findings are ordered
  // by scan index, which follows collection order, so walk both lists in collection order.
  std::size_t ri = 0, ci = 0;
  while (ri < m_rows_.size() || ci < m_copies_.size()) {
    bool take_row = ci >= m_copies_.size() ||
                    (ri < m_rows_.size() && m_rows_[ri].frame_off < m_copies_[ci].frame_off);
    if (!take_row) {
      const auto& cp = m_copies_[ci++];
      auto hits = cursor.next(cp.scan_index);
      if (hits.empty()) continue;
      auto& counts = counts_for(cp.stmt);
      m_out_.clear();
      masker_->mask_text(m_scan_[cp.scan_index], hits, m_out_, counts);
      auto off = rewritten.size();
      {
        message m(rewritten, 'd');
        m.w().raw(std::string_view(m_out_));
      }
      cuts.push_back({cp.frame_off, cp.frame_size, off, rewritten.size() - off});
      continue;
    }
    const auto& row = m_rows_[ri++];
    const std::vector<dlp::column_plan>* plan = row.plan >= 0 ? &m_plans_[row.plan] : nullptr;
    // Does anything in this row change?
    bool change = false;
    for (std::uint32_t i = 0; i < row.ncols && !change; ++i) {
      auto cell = row.first_cell + i;
      if (m_nulls_[cell]) continue;
      if (plan && (*plan)[i].mode == dlp::column_mode::whole) change = true;
      auto si = m_scan_of_cell_[cell];
      if (si != UINT32_MAX) {
        auto c = cursor;  // peek
        if (!c.next(si).empty()) change = true;
      }
    }
    if (!change) {
      for (std::uint32_t i = 0; i < row.ncols; ++i) {
        auto si = m_scan_of_cell_[row.first_cell + i];
        if (si != UINT32_MAX) (void)cursor.next(si);
      }
      continue;
    }
    auto& counts = counts_for(row.stmt);
    auto off = rewritten.size();
    {
      message m(rewritten, 'D');
      m.w().i16(static_cast<std::uint16_t>(row.ncols));
      for (std::uint32_t i = 0; i < row.ncols; ++i) {
        auto cell = row.first_cell + i;
        if (m_nulls_[cell]) {
          m.w().i32(0xffffffffu);
          continue;
        }
        auto v = m_cells_[cell];
        auto si = m_scan_of_cell_[cell];
        const dlp::column_plan* cp = plan ? &(*plan)[i] : nullptr;
        auto kind = cp ? cp->kind : dlp::value_kind::text;
        auto slot = cp ? cp->slot : dlp::counts::no_column;
        m_out_.clear();
        dlp::mask_outcome mo = dlp::mask_outcome::value;
        if (cp && cp->mode == dlp::column_mode::whole) {
          mo = masker_->mask_whole(v, *cp->rule, kind, m_out_, counts, slot);
        } else if (si != UINT32_MAX) {
          auto hits = cursor.next(si);
          if (hits.empty()) {
            m.w().i32(static_cast<std::uint32_t>(v.size())).raw(v);
            continue;
          }
          mo = masker_->mask_cell(v, hits, kind, m_out_, counts, slot);
        } else {
          m.w().i32(static_cast<std::uint32_t>(v.size())).raw(v);
          continue;
        }
        if (mo == dlp::mask_outcome::null) m.w().i32(0xffffffffu);
        else m.w().i32(static_cast<std::uint32_t>(m_out_.size())).raw(std::string_view(m_out_));
      }
    }
    cuts.push_back({row.frame_off, row.frame_size, off, rewritten.size() - off});
  }
  m_rows_.clear();
  m_copies_.clear();
  m_cells_.clear();
  m_nulls_.clear();
  m_scan_.clear();
  m_scan_of_cell_.clear();
  // The newest plan stays (first), with the RowDescription it was made from: the next result
  // set of the same shape reuses it.
  m_nplans_ = m_nplans_ > 0 ? (std::swap(m_plans_[0], m_plans_[m_nplans_ - 1]), 1) : 0;
}

void session::mask_notice(const frame& f, std::size_t frame_off,
                          std::vector<std::uint8_t>& rewritten, std::vector<cut>& cuts) {
  // PHI leaks through error and notice text ("Key (ssn)=(123-45-6789) already exists").
  std::vector<std::pair<char, std::string_view>> fields;
  std::size_t pos = 0;
  auto body = std::string_view(reinterpret_cast<const char*>(f.body.data()), f.body.size());
  while (pos < body.size() && body[pos] != 0) {
    char code = body[pos++];
    auto nul = body.find('\0', pos);
    if (nul == std::string_view::npos) return;  // malformed: left for the client to reject
    fields.emplace_back(code, body.substr(pos, nul - pos));
    pos = nul + 1;
  }
  dlp::counts scratch;
  bool changed = false;
  std::vector<std::string> masked(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    auto code = fields[i].first;
    if (code == 'M' || code == 'D' || code == 'H' || code == 'W' || code == 'q') {
      masked[i] = text_masker_->mask_text(fields[i].second, scratch);
      if (masked[i] != fields[i].second) changed = true;
    }
  }
  if (!changed) return;
  auto off = rewritten.size();
  {
    message m(rewritten, f.type);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      m.w().i8(static_cast<std::uint8_t>(fields[i].first));
      m.w().cstr(masked[i].empty() && !(fields[i].second.empty()) ? fields[i].second : masked[i]);
    }
    m.w().i8(0);
  }
  cuts.push_back({frame_off, f.size, off, rewritten.size() - off});
}

asio::awaitable<void> session::client_to_server() {
  byte_buffer buf(initial_buffer);
  const std::size_t max_body = ctx_.cfg->gateway.max_message_size;
  std::vector<audit::record> recs;
  // Client messages replaced on the way (denied statements); the rest is forwarded as is.
  struct replacement {
    std::size_t offset, size;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<replacement> replacements;
  // A statement held for review stops the walk at its message; once decided, the walk resumes
  // at that message (still in the buffer) with the decision in `decided`.
  std::optional<guard::decision> decided;
  std::optional<std::string> hold_text;
  // Set whenever this coroutine was suspended anywhere but its read (see net::stream::read_ready).
  bool missed = true;
  std::vector<asio::const_buffer> pieces;
  for (;;) {
    if (!decided) {
      auto room = buf.writable();
      auto [ec, n] = co_await client_.read_ready(room, missed);
      if (ec) {
        close(is_eof(ec) ? "client disconnected" : "client read error: " + ec.message());
        co_return;
      }
      // A full buffer may have left data in the socket: the edge is spent, read speculatively.
      missed = n == room.size();
      touch();
      bytes_from_client_ += n;
      buf.commit(n);
    }

    // Walk every complete message: validate, note statements, then forward the batch at once.
    auto in = buf.readable();
    std::size_t used = 0;
    std::size_t want = 0;
    bool terminate_seen = false;
    bool batch_synced = false;
    recs.clear();
    replacements.clear();
    std::size_t pending_before = pending_.size();
    std::optional<guard::decision> held;
    for (;;) {
      frame f;
      std::string err;
      auto st = next_frame(in.subspan(used), max_body, f, err, &want);
      if (st == decode_status::need_more) break;
      if (st == decode_status::error) {
        co_await fail_client("08P01", "protocol violation: " + err,
                             "client sent an invalid message: " + err);
        co_return;
      }
      if (auto v = validate_frontend(f); !v) {
        co_await fail_client("08P01", "protocol violation: " + v.err(),
                             "client sent " + v.err());
        co_return;
      }
      used += f.size;
      batch_synced = false;
      switch (f.type) {
        case 'Q': {
          auto q = parse_query(f.body);
          pending p{next_stmt_id_++, true, 0, audit::now_us(), {}};
          auto r = base_record("statement");
          r.stmt_id = p.stmt_id;
          r.statement = audit_text(*q);
          r.param_count = 0;
          auto d = decided ? std::exchange(decided, std::nullopt) : check_guard(*q);
          if (d && d->act == config::guard_action::review) {
            // Hold: forward what came before, then wait for a decision on this message.
            used -= f.size;
            --next_stmt_id_;
            hold_text = std::string(*q);
            held = *d;
            break;
          }
          if (d) {
            note_guard(r, *d);
            if (d->act != config::guard_action::allow) {
              std::vector<std::uint8_t> rep;
              write_query(rep, deny_sentinel(*d));
              replacements.push_back({used - f.size, f.size, std::move(rep)});
            }
          }
          recs.push_back(std::move(r));
          pending_.push_back(std::move(p));
          pending_.push_back(pending{});  // the ReadyForQuery that ends it
          batch_synced = true;
          break;
        }
        case 'P': {
          auto m = parse_parse(f.body);
          statements_[std::string(m->name)] = std::make_shared<const std::string>(m->query);
          auto d = decided ? std::exchange(decided, std::nullopt) : check_guard(m->query);
          if (d && d->act == config::guard_action::review) {
            used -= f.size;
            statements_.erase(std::string(m->name));
            hold_text = std::string(m->query);
            held = *d;
            break;
          }
          if (d && d->act != config::guard_action::allow) {
            // The statement never reaches the target: the Parse becomes one that fails there
            // (so the pipeline and the transaction state stay PostgreSQL's own), and the
            // relay turns that failure into this rule's 42501. The denial is on record now.
            auto r = base_record("statement");
            r.stmt_id = next_stmt_id_++;
            r.statement = audit_text(m->query);
            r.param_count = m->param_types;
            r.outcome = "42501";
            note_guard(r, *d);
            recs.push_back(std::move(r));
            std::vector<std::uint8_t> rep;
            {
              message pm(rep, 'P');
              pm.w().cstr(m->name).cstr(deny_sentinel(*d)).i16(0);
            }
            replacements.push_back({used - f.size, f.size, std::move(rep)});
          }
          break;
        }
        case 'B': {
          auto m = parse_bind(f.body);
          auto it = statements_.find(std::string(m->statement));
          portals_[std::string(m->portal)] =
              portal_info{it != statements_.end() ? it->second : nullptr, m->params};
          break;
        }
        case 'E': {
          auto m = parse_execute(f.body);
          auto it = portals_.find(std::string(m->portal));
          pending p{next_stmt_id_++, false, 0, audit::now_us(), {}};
          auto r = base_record("statement");
          r.stmt_id = p.stmt_id;
          if (it != portals_.end() && it->second.statement) {
            r.statement = audit_text(*it->second.statement);
            r.param_count = it->second.params;
          } else {
            r.statement = "<unknown portal \"" + std::string(m->portal) + "\">";
          }
          recs.push_back(std::move(r));
          pending_.push_back(std::move(p));
          break;
        }
        case 'C': {
          auto m = parse_close(f.body);
          if (m->what == 'S') statements_.erase(std::string(m->name));
          else portals_.erase(std::string(m->name));
          break;
        }
        case 'F': {
          auto m = parse_function_call(f.body);
          pending p{next_stmt_id_++, true, 0, audit::now_us(), {}};
          auto r = base_record("statement");
          r.stmt_id = p.stmt_id;
          r.statement = "<function call oid " + std::to_string(m->oid) + ">";
          r.param_count = m->args;
          recs.push_back(std::move(r));
          pending_.push_back(std::move(p));
          pending_.push_back(pending{});
          batch_synced = true;
          break;
        }
        case 'S':
          pending_.push_back(pending{});
          batch_synced = true;
          break;
        case 'X':
          terminate_seen = true;
          break;
        default:
          break;
      }
      if (terminate_seen || held) break;
    }

    if (!recs.empty()) {
      // Fail closed: nothing in this batch reaches the target before its events are durable.
      // (No co_await inside ?: — GCC 12 miscompiles that.)
      std::string err;
      if (auto now = ctx_.audit->try_append_now(recs)) {
        err = std::move(*now);
      } else {
        err = co_await ctx_.audit->async_append(std::move(recs), asio::use_awaitable);
        missed = true;
      }
      recs.clear();
      if (closed_) co_return;
      if (!err.empty()) {
        log::error("pg", "statement refused: audit store cannot record",
                   {{"session", id_}, {"error", err}});
        // Drop what this batch queued; none of it was sent.
        while (pending_.size() > pending_before) pending_.pop_back();
        if (pending_before == 0 && batch_synced && used == in.size()) {
          std::vector<std::uint8_t> out;
          write_error(out, severity::error, "58030",
                      "gatehouse cannot record this statement in the audit trail; it was not "
                      "executed");
          write_ready_for_query(out, tx_status_);
          buf.consume(used);
          missed = true;
          if (!co_await write_client(out)) {
            close("client write failed");
            co_return;
          }
          continue;
        }
        co_await fail_client("58030",
                             "gatehouse cannot record statements in the audit trail; closing "
                             "the session",
                             "audit store unavailable: " + err);
        co_return;
      }
    }
    if (used > 0) {
      pieces.clear();
      std::size_t pos = 0;
      for (const auto& rp : replacements) {
        pieces.emplace_back(in.data() + pos, rp.offset - pos);
        pieces.emplace_back(rp.bytes.data(), rp.bytes.size());
        pos = rp.offset + rp.size;
      }
      pieces.emplace_back(in.data() + pos, used - pos);
      // Usually the whole batch goes at once, without a trip through the event loop.
      net::error_code wec;
      std::size_t sent = upstream_->try_write(pieces, wec);
      if (!wec && sent < asio::buffer_size(pieces)) {
        net::consume(pieces, sent);
        wec = co_await upstream_->write(pieces);
        missed = true;
      }
      if (wec) {
        close(is_eof(wec) ? "upstream closed the connection"
                          : "upstream write error: " + wec.message());
        co_return;
      }
      buf.consume(used);
    }
    if (terminate_seen) {
      close("client terminated the session");
      co_return;
    }
    if (held) {
      missed = true;
      decided = co_await hold_for_review(*hold_text, *held);
      hold_text.reset();
      if (closed_) co_return;
      continue;  // walk again from the held message, without reading
    }
    buf.reserve_frame(want);
    if (want == 0 && buf.capacity() > 4 * initial_buffer && buf.readable().size() == 0)
      buf.shrink_to(initial_buffer);
  }
}

asio::awaitable<void> session::server_to_client() {
  byte_buffer buf(initial_buffer);
  std::vector<std::uint8_t> rewritten;  // replacement messages, rare
  std::vector<asio::const_buffer> pieces;
  bool missed = true;  // see client_to_server
  for (;;) {
    auto room = buf.writable();
    auto [ec, n] = co_await upstream_->read_ready(room, missed);
    missed = !ec && n == room.size();
    if (ec) {
      if (closed_) co_return;
      std::string why = is_eof(ec) ? "upstream closed the connection"
                                   : "upstream read error: " + ec.message();
      for (auto& p : pending_)
        if (p.stmt_id != 0) finish_statement(p, "08006");
      pending_.clear();
      co_await fail_client("08006", "gatehouse lost the connection to the target database",
                           why);
      co_return;
    }
    touch();
    buf.commit(n);
    auto in = buf.readable();
    std::size_t used = 0, want = 0;
    rewritten.clear();
    pieces.clear();
    std::vector<cut> cuts;  // frames replaced by bytes in `rewritten`
    for (;;) {
      frame f;
      std::string err;
      auto st = next_frame(in.subspan(used), max_upstream_message, f, err, &want);
      if (st == decode_status::need_more) break;
      if (st == decode_status::error) {
        co_await fail_client("08006", "gatehouse received an invalid message from the target",
                             "upstream sent an invalid message: " + err);
        co_return;
      }
      pending* head = nullptr;
      if (!pending_.empty() && pending_.front().stmt_id != 0) head = &pending_.front();
      switch (f.type) {
        case 'D':
          if (head != nullptr) ++head->rows;
          if (masker_) {
            if (auto ms = collect_row(f, used, head != nullptr ? head->stmt_id : 0); !ms) {
              co_await fail_client("08006", "gatehouse received an invalid message from the target",
                                   "upstream sent " + ms.err());
              co_return;
            }
          }
          break;
        case 'T':
          if (masker_) {
            if (auto ms = plan_columns(f); !ms) {
              co_await fail_client("08006", "gatehouse received an invalid message from the target",
                                   "upstream sent " + ms.err());
              co_return;
            }
          }
          break;
        case 'd':
          if (masker_) collect_copy(f, used, head != nullptr ? head->stmt_id : 0);
          break;
        case 'N':
          if (mask_policy_ && text_masker_) mask_notice(f, used, rewritten, cuts);
          break;
        case 'C':
          if (masker_) end_result_set();
          if (head != nullptr) {
            auto tag = parse_command_complete(f.body);
            if (tag) {
              auto rows = command_rows(*tag);
              if (head->simple) {
                if (rows >= 0 && tag->rfind("SELECT", 0) != 0 && tag->rfind("COPY", 0) != 0)
                  head->rows += rows;
                else if (rows >= 0 && tag->rfind("COPY", 0) == 0)
                  head->rows = rows;
              } else {
                if (rows >= 0 && tag->rfind("SELECT", 0) != 0) head->rows = rows;
                defer_finish(*head, "ok");
                pending_.pop_front();
              }
            }
          }
          break;
        case 'I':
        case 's':
          if (masker_) end_result_set();
          if (head != nullptr && !head->simple) {
            defer_finish(*head, "ok");
            pending_.pop_front();
          }
          break;
        case 'E': {
          auto e = parse_error(f.body);
          std::string code = e ? std::string(e->sqlstate) : "XX000";
          if (e && !denials_.empty()) {
            // Our deny sentinel failing upstream: the client gets the rule's refusal instead.
            if (auto msg = take_denial(e->sqlstate, e->message)) {
              auto off = rewritten.size();
              write_error(rewritten, severity::error, "42501", *msg);
              cuts.push_back({used, f.size, off, rewritten.size() - off});
              code = "42501";
            }
          }
          if (mask_policy_ && text_masker_ && (cuts.empty() || cuts.back().frame_off != used))
            mask_notice(f, used, rewritten, cuts);
          if (masker_) end_result_set();
          if (head != nullptr) {
            if (head->simple) {
              head->outcome = code;
            } else {
              defer_finish(*head, code);
              pending_.pop_front();
            }
          }
          break;
        }
        case 'Z': {
          auto z = parse_ready_for_query(f.body);
          if (z) tx_status_ = *z;
          // Everything up to the Sync this answers is over; Executes the server skipped after an
          // error never ran.
          while (!pending_.empty()) {
            auto p = std::move(pending_.front());
            pending_.pop_front();
            if (p.stmt_id == 0) break;
            if (p.simple) defer_finish(p, p.outcome.empty() ? "ok" : p.outcome);
            else defer_finish(p, "skipped");
          }
          break;
        }
        case 'S': {
          auto kv = parse_parameter_status(f.body);
          if (kv && kv->first == "session_authorization") {
            auto off = rewritten.size();
            write_parameter_status(rewritten, kv->first, who_.user);
            cuts.push_back({used, f.size, off, rewritten.size() - off});
          }
          break;
        }
        default:
          break;
      }
      used += f.size;
    }
    if (masker_) apply_masks(in, rewritten, cuts);
    flush_finished();
    if (!cuts.empty())
      std::sort(cuts.begin(), cuts.end(),
                [](const cut& a, const cut& b) { return a.frame_off < b.frame_off; });
    if (used > 0) {
      net::error_code wec;
      if (!client_write_mu_.try_lock()) {
        co_await client_write_mu_.lock();
        missed = true;
      }
      // Scatter-gather: original spans around each replaced message.
      std::size_t pos = 0;
      for (const auto& c : cuts) {
        pieces.emplace_back(in.data() + pos, c.frame_off - pos);
        pieces.emplace_back(rewritten.data() + c.rw_off, c.rw_len);
        pos = c.frame_off + c.frame_size;
      }
      pieces.emplace_back(in.data() + pos, used - pos);
      std::size_t sent = client_.try_write(pieces, wec);
      if (!wec && sent < asio::buffer_size(pieces)) {
        net::consume(pieces, sent);
        wec = co_await client_.write(pieces);
        missed = true;
      }
      client_write_mu_.unlock();
      if (wec) {
        close(is_eof(wec) ? "client disconnected" : "client write error: " + wec.message());
        co_return;
      }
      bytes_to_client_ += used;
      buf.consume(used);
    }
    buf.reserve_frame(want);
    if (want == 0 && buf.capacity() > 4 * initial_buffer && buf.readable().size() == 0)
      buf.shrink_to(initial_buffer);
  }
}

}  // namespace gh::pg
