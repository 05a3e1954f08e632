// The HTTP API over real sockets on 127.0.0.1: authentication (401 the same for an unknown user
// and a wrong key, audited), who may see and decide (403), unknown reviews (404), deciding twice
// (409), the local admin token, malformed and oversized requests (400/413, connection closed,
// the server keeps serving), deadlines, TLS, and refusing plain HTTP on a non-loopback address.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <filesystem>

#include "api/admin_token.hpp"
#include "api/client.hpp"
#include "api/server.hpp"
#include "review/tests/test_util.hpp"

namespace gh::api {
namespace {

namespace json = boost::json;
using review::testing::audit_env;
using review::testing::eventually;
using review::testing::io_thread;
using namespace std::chrono_literals;

const std::string alice_key = "alice-key-0123456789abcdef";
const std::string dana_key = "dana-key-0123456789abcdef";
const std::string erin_key = "erin-key-0123456789abcdef";
const std::string mallory_key = "mallory-key-0123456789abcdef";

config::config make_config() {
  config::config c;
  auto add = [&](std::string name, std::vector<std::string> groups, std::string key) {
    config::user_config u;
    u.name = std::move(name);
    u.groups = std::move(groups);
    u.api_key.spec = std::move(key);
    c.identity.users.push_back(std::move(u));
  };
  add("alice", {"clinicians"}, alice_key);
  add("dana", {"dba"}, dana_key);
  add("erin", {"dba"}, erin_key);
  add("mallory", {"outsiders"}, mallory_key);
  add("odd:name", {"dba"}, "odd-key-0123456789abcdef");
  return c;
}

std::string bearer(const std::string& user, const std::string& key) {
  return "Bearer " + user + ":" + key;
}

// Sends raw bytes, returns everything the server sends until it closes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  if (!bytes.empty()) boost::asio::write(s, boost::asio::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = s.read_some(boost::asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

class api : public ::testing::Test {
 protected:
  void SetUp() override {
    audit_ = std::make_unique<audit_env>(dir_.path());
    auto ids = identity::directory::from_config(make_config());
    ASSERT_TRUE(ids.ok()) << ids.err();
    ids_ = std::make_unique<identity::directory>(std::move(*ids));
    review::service_options o;
    o.store_url = audit_->store_url();
    o.audit = audit_->writer();
    review::policy p;
    p.approvers = {"dba"};
    o.policies["clinic"] = p;
    svc_ = std::make_unique<review::service>(svc_io_.io().get_executor(), std::move(o));
    ASSERT_TRUE(svc_->start().ok());
    auto tok = create_admin_token(dir_.path().string());
    ASSERT_TRUE(tok.ok()) << tok.err();
    admin_token_ = *tok;
  }
  void TearDown() override {
    if (server_) server_->stop();
    api_io_.stop();
    server_.reset();
    svc_->shutdown();
    svc_io_.stop();
    svc_.reset();
    audit_->stop();
  }

  void start(server_options o = {}) {
    o.listen = {"127.0.0.1", 0};
    if (o.admin_token.empty()) o.admin_token = admin_token_;
    server_ = std::make_unique<server>(api_io_.io(), *svc_, *ids_, audit_->writer(), o);
    auto s = server_->start();
    ASSERT_TRUE(s.ok()) << s.err();
    client_.host = "127.0.0.1";
    client_.port = server_->port();
    client_.timeout = 20s;
  }

  http_result call(const std::string& method, const std::string& target, const std::string& auth,
                   const std::string& body = {},
                   const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    auto r = http_request(client_, method, target, auth, body, extra);
    EXPECT_TRUE(r.ok()) << r.err();
    return r.ok() ? *r : http_result{};
  }

  std::string create_review(const std::string& requester = "alice",
                            std::vector<std::string> groups = {"clinicians"}) {
    review::request req;
    req.requester = requester;
    req.requester_groups = std::move(groups);
    req.connection = "clinic";
    req.statement = "DELETE FROM patients";
    req.rule = "unbounded-write";
    auto r = svc_->create(req);
    EXPECT_TRUE(r.ok()) << r.err();
    return r.ok() ? r->id : "";
  }

  static std::string error_of(const http_result& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error")) return "(no error field)";
    return std::string(v.as_object().at("error").as_string());
  }

  store::testing::temp_dir dir_;
  std::unique_ptr<audit_env> audit_;
  std::unique_ptr<identity::directory> ids_;
  io_thread svc_io_;
  io_thread api_io_;
  std::unique_ptr<review::service> svc_;
  std::unique_ptr<server> server_;
  std::string admin_token_;
  client_options client_;
};

TEST_F(api, health_needs_no_credentials) {
  start();
  auto r = call("GET", "/api/health", "");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body).as_object().at("status").as_string(), "ok");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
}

TEST_F(api, bad_credentials_get_one_answer_and_are_audited) {
  start();
  auto none = call("GET", "/api/reviews", "");
  auto unknown = call("GET", "/api/reviews", bearer("nobody", dana_key));
  auto wrong = call("GET", "/api/reviews", bearer("dana", "not-the-key-0123456789"));
  auto malformed = call("GET", "/api/reviews", "Bearer " + dana_key);
  auto basic = call("GET", "/api/reviews", "Basic ZGFuYTprZXk=");
  for (const auto* r : {&none, &unknown, &wrong, &malformed, &basic}) {
    EXPECT_EQ(r->status, 401u);
    EXPECT_EQ(error_of(*r), "invalid credentials");
    EXPECT_EQ(r->body, unknown.body);
    EXPECT_NE(r->header("WWW-Authenticate").find("Bearer"), std::string::npos);
  }
  ASSERT_TRUE(eventually([&] { return audit_->events("auth.fail").size() == 5; }));
  auto ev = audit_->events("auth.fail");
  EXPECT_EQ(ev[1].user, "nobody");
  EXPECT_EQ(ev[1].reason, "unknown user");
  EXPECT_EQ(ev[2].user, "dana");
  EXPECT_EQ(ev[2].reason, "wrong API key");
  for (const auto& e : ev) {
    EXPECT_EQ(e.detail, R"({"listener":"api"})");
    EXPECT_EQ(e.reason.find(dana_key), std::string::npos);  // never the key
  }
}

TEST_F(api, list_shows_what_the_caller_may_see) {
  start();
  auto id = create_review();
  auto as_dana = call("GET", "/api/reviews?status=pending", bearer("dana", dana_key));
  ASSERT_EQ(as_dana.status, 200u) << as_dana.body;
  auto list = json::parse(as_dana.body).as_object().at("reviews").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].as_object().at("id").as_string(), id);
  EXPECT_EQ(list[0].as_object().at("statement").as_string(), "DELETE FROM patients");

  auto as_alice = call("GET", "/api/reviews", bearer("alice", alice_key));
  EXPECT_EQ(json::parse(as_alice.body).as_object().at("reviews").as_array().size(), 1u);
  auto as_mallory = call("GET", "/api/reviews", bearer("mallory", mallory_key));
  ASSERT_EQ(as_mallory.status, 200u);
  EXPECT_TRUE(json::parse(as_mallory.body).as_object().at("reviews").as_array().empty());

  auto approved = call("GET", "/api/reviews?status=approved", bearer("dana", dana_key));
  EXPECT_TRUE(json::parse(approved.body).as_object().at("reviews").as_array().empty());
  EXPECT_EQ(call("GET", "/api/reviews?status=bogus", bearer("dana", dana_key)).status, 400u);
  EXPECT_EQ(call("GET", "/api/reviews?colour=red", bearer("dana", dana_key)).status, 400u);
  EXPECT_EQ(call("GET", "/api/reviews?limit=0", bearer("dana", dana_key)).status, 400u);
}

TEST_F(api, show_is_404_for_unknown_and_403_for_strangers) {
  start();
  auto id = create_review();
  auto ok = call("GET", "/api/reviews/" + id, bearer("dana", dana_key));
  ASSERT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(json::parse(ok.body).as_object().at("status").as_string(), "pending");
  EXPECT_EQ(call("GET", "/api/reviews/r-aaaaaaaaaa", bearer("dana", dana_key)).status, 404u);
  EXPECT_EQ(call("GET", "/api/reviews/..%2f..%2fetc", bearer("dana", dana_key)).status, 404u);
  EXPECT_EQ(call("GET", "/api/reviews/" + id, bearer("mallory", mallory_key)).status, 403u);
  EXPECT_EQ(call("GET", "/api/nothing", bearer("dana", dana_key)).status, 404u);
}

TEST_F(api, decisions_follow_the_rules) {
  start();
  auto id = create_review();
  const std::string approve = "/api/reviews/" + id + "/approve";
  auto stranger = call("POST", approve, bearer("mallory", mallory_key), R"({"reason":"x"})");
  EXPECT_EQ(stranger.status, 403u);
  EXPECT_NE(error_of(stranger).find("approver group"), std::string::npos) << stranger.body;

  auto ok = call("POST", approve, bearer("dana", dana_key), R"({"reason":"ticket 42"})");
  ASSERT_EQ(ok.status, 200u) << ok.body;
  auto body = json::parse(ok.body).as_object();
  EXPECT_EQ(body.at("status").as_string(), "approved");
  EXPECT_EQ(body.at("decided_by").as_string(), "dana");
  EXPECT_EQ(body.at("reason").as_string(), "ticket 42");

  auto again = call("POST", approve, bearer("erin", erin_key));
  EXPECT_EQ(again.status, 409u);
  auto reject = call("POST", "/api/reviews/" + id + "/reject", bearer("erin", erin_key));
  EXPECT_EQ(reject.status, 409u);
  EXPECT_NE(error_of(reject).find("already approved"), std::string::npos) << reject.body;
  EXPECT_EQ(call("POST", "/api/reviews/r-aaaaaaaaaa/approve", bearer("dana", dana_key)).status,
            404u);

  auto ev = audit_->events("review.approved");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user, "dana");
}

TEST_F(api, self_approval_is_refused) {
  start();
  auto id = create_review("dana", {"dba"});
  auto self = call("POST", "/api/reviews/" + id + "/approve", bearer("dana", dana_key));
  EXPECT_EQ(self.status, 403u);
  EXPECT_NE(error_of(self).find("self-approval"), std::string::npos) << self.body;
}

TEST_F(api, rejection_with_reason) {
  start();
  auto id = create_review();
  auto r = call("POST", "/api/reviews/" + id + "/reject", bearer("erin", erin_key),
                R"({"reason":"use a WHERE clause"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(r.body).as_object().at("status").as_string(), "rejected");
  EXPECT_EQ(audit_->events("review.rejected").at(0).reason, "use a WHERE clause");
}

TEST_F(api, the_user_can_come_in_a_header) {
  start();
  auto id = create_review();
  auto r = call("GET", "/api/reviews/" + id, "Bearer odd-key-0123456789abcdef", {},
                {{"X-Gatehouse-User", "odd:name"}});
  EXPECT_EQ(r.status, 200u) << r.body;
}

TEST_F(api, local_admin_token) {
  start();
  auto id = create_review();
  auto wrong =
      call("POST", "/api/reviews/" + id + "/approve", bearer("local-admin", "not-the-token"));
  EXPECT_EQ(wrong.status, 401u);
  auto tok = read_admin_token(dir_.path().string());
  ASSERT_TRUE(tok.ok()) << tok.err();
  auto ok = call("POST", "/api/reviews/" + id + "/approve", bearer("local-admin", *tok));
  ASSERT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(json::parse(ok.body).as_object().at("decided_by").as_string(), "local-admin");
  EXPECT_EQ(audit_->events("review.approved").at(0).user, "local-admin");
  auto perms = std::filesystem::status(admin_token_path(dir_.path().string())).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(api, bad_bodies_and_methods) {
  start();
  auto id = create_review();
  const std::string approve = "/api/reviews/" + id + "/approve";
  EXPECT_EQ(call("POST", approve, bearer("dana", dana_key), "{not json").status, 400u);
  EXPECT_EQ(call("POST", approve, bearer("dana", dana_key), R"(["reason"])").status, 400u);
  EXPECT_EQ(call("POST", approve, bearer("dana", dana_key), R"({"reason":42})").status, 400u);
  auto get = call("GET", approve, bearer("dana", dana_key));
  EXPECT_EQ(get.status, 405u);
  EXPECT_EQ(get.header("Allow"), "POST");
  EXPECT_EQ(call("DELETE", "/api/reviews/" + id, bearer("dana", dana_key)).status, 405u);
  EXPECT_EQ(svc_->get(id)->status, review::review_status::pending);
}

TEST_F(api, oversized_body_is_413_and_the_server_goes_on) {
  start();
  auto id = create_review();
  std::string big = R"({"reason":")" + std::string(70 * 1024, 'x') + R"("})";
  auto r = http_request(client_, "POST", "/api/reviews/" + id + "/approve",
                        bearer("dana", dana_key), big);
  // The server answers 413 as soon as it sees Content-Length; the client may or may not have
  // finished sending by then.
  if (r.ok()) {
    EXPECT_EQ(r->status, 413u);
  }
  EXPECT_EQ(svc_->get(id)->status, review::review_status::pending);
  auto raw = raw_exchange(server_->port(), "POST /api/reviews/" + id +
                                               "/approve HTTP/1.1\r\nHost: x\r\n"
                                               "Content-Length: 1000000\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw;
  EXPECT_EQ(call("GET", "/api/health", "").status, 200u);
}

TEST_F(api, malformed_request_is_400_and_closes_the_connection) {
  start();
  auto raw = raw_exchange(server_->port(), "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 400")) << raw;
  EXPECT_NE(raw.find("Connection: close"), std::string::npos) << raw;
  auto header_bomb = raw_exchange(server_->port(), "GET /api/health HTTP/1.1\r\nX-Big: " +
                                                       std::string(16 * 1024, 'a') + "\r\n\r\n");
  EXPECT_TRUE(header_bomb.starts_with("HTTP/1.1 431")) << header_bomb.substr(0, 100);
  EXPECT_EQ(call("GET", "/api/health", "").status, 200u);
}

TEST_F(api, a_silent_client_is_cut_off_at_the_header_deadline) {
  server_options o;
  o.header_timeout = 200ms;
  start(o);
  auto raw = raw_exchange(server_->port(), "GET /api/heal");  // never finishes
  EXPECT_EQ(raw, "");                                         // closed without an answer
  EXPECT_EQ(call("GET", "/api/health", "").status, 200u);
}

TEST_F(api, keep_alive_serves_several_requests_on_one_connection) {
  start();
  const std::string req = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n";
  auto raw =
      raw_exchange(server_->port(),
                   req + req + "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t n = 0;
  for (std::size_t p = 0; (p = raw.find("HTTP/1.1 200", p)) != std::string::npos; ++p) ++n;
  EXPECT_EQ(n, 3u) << raw;
}

TEST_F(api, plain_http_is_refused_off_loopback) {
  server_options o;
  o.listen = {"0.0.0.0", 0};
  server s(api_io_.io(), *svc_, *ids_, audit_->writer(), o);
  auto st = s.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.err().find("loopback"), std::string::npos) << st.err();
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("10.1.2.3"));
}

TEST_F(api, serves_tls_when_given_a_context) {
  auto pair = net::ensure_self_signed(dir_.path().string());
  ASSERT_TRUE(pair.ok()) << pair.err();
  auto tls = net::make_server_context(pair->first, pair->second);
  ASSERT_TRUE(tls.ok()) << tls.err();
  server_options o;
  o.tls = *tls;
  start(o);
  client_.tls = true;
  client_.ca_file = pair->first;
  auto id = create_review();
  auto r = call("POST", "/api/reviews/" + id + "/approve", bearer("dana", dana_key));
  EXPECT_EQ(r.status, 200u) << r.body;
  // Plain HTTP to a TLS listener gets nothing useful.
  client_options plain = client_;
  plain.tls = false;
  plain.timeout = 5s;
  auto p = http_request(plain, "GET", "/api/health", "");
  EXPECT_TRUE(!p.ok() || p->status != 200u);
}

TEST_F(api, stop_closes_open_connections) {
  start();
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  boost::asio::write(
      s, boost::asio::buffer(std::string("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")));
  char buf[4096];
  boost::system::error_code ec;
  auto n = s.read_some(boost::asio::buffer(buf), ec);  // the first answer; connection kept open
  ASSERT_FALSE(ec);
  EXPECT_TRUE(std::string(buf, n).starts_with("HTTP/1.1 200"));
  server_->stop();
  std::string rest;
  for (;;) {
    auto m = s.read_some(boost::asio::buffer(buf), ec);
    rest.append(buf, m);
    if (ec) break;
  }
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
      << ec.message();
}

}  // namespace
}  // namespace gh::api
