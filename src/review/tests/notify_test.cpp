// Webhook notifications against a real HTTP(S) server on 127.0.0.1: the JSON and Slack payloads,
// the HMAC-SHA-256 signature header, retries with backoff after 500s, giving up (logged and
// audited as review.notify_failed, without the webhook's path), and the service notifying on
// creation and decision.
#include "review/notify.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "net/tls.hpp"
#include "review/service.hpp"
#include "review/tests/test_util.hpp"

namespace gh::review {
namespace {

using testing::audit_env;
using testing::eventually;
using testing::http_sink;
using testing::io_thread;
using namespace std::chrono_literals;

review sample() {
  review r;
  r.id = "r-abcdefghij";
  r.status = review_status::pending;
  r.created_us = 1'700'000'000'000'000;
  r.expires_us = r.created_us + 600'000'000;
  r.requester = "alice";
  r.requester_groups = {"clinicians"};
  r.connection = "clinic";
  r.session_id = "s-1";
  r.statement = "DELETE FROM patients WHERE name = '***' AND note = '<b>&```'";
  r.rule = "unbounded-write";
  r.approvers = {"dba"};
  return r;
}

notify_settings to(const http_sink& sink, std::string path = "/hook") {
  notify_settings s;
  s.webhook = "http://127.0.0.1:" + std::to_string(sink.port()) + path;
  s.first_backoff = 10ms;
  s.attempt_timeout = 5s;
  return s;
}

class webhook : public ::testing::Test {
 protected:
  void SetUp() override { audit_ = std::make_unique<audit_env>(dir_.path()); }
  void TearDown() override {
    io_.stop();
    audit_->stop();
  }
  store::testing::temp_dir dir_;
  std::unique_ptr<audit_env> audit_;
  io_thread io_;
};

TEST(webhook_url, parses_and_redacts) {
  auto u = parse_webhook_url("https://hooks.slack.com/services/T0/B0/SECRET");
  ASSERT_TRUE(u.ok()) << u.err();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.slack.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/services/T0/B0/SECRET");
  EXPECT_EQ(u->redacted(), "https://hooks.slack.com:443");
  auto v6 = parse_webhook_url("http://[::1]:8080");
  ASSERT_TRUE(v6.ok()) << v6.err();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(v6->target, "/");
  EXPECT_FALSE(parse_webhook_url("ftp://x/").ok());
  EXPECT_FALSE(parse_webhook_url("http://user:pw@x/").ok());
  EXPECT_FALSE(parse_webhook_url("http://x:0/").ok());
  EXPECT_FALSE(parse_webhook_url("http:///path").ok());
  EXPECT_FALSE(parse_webhook_url("http://x/a b").ok());
}

TEST(webhook_payload, json_carries_the_event_and_the_review) {
  auto body = webhook_payload(notify_format::json, event_created, sample());
  auto v = boost::json::parse(body).as_object();
  EXPECT_EQ(v["event"].as_string(), "review.created");
  auto r = v["review"].as_object();
  EXPECT_EQ(r["id"].as_string(), "r-abcdefghij");
  EXPECT_EQ(r["status"].as_string(), "pending");
  EXPECT_EQ(r["requester"].as_string(), "alice");
  EXPECT_EQ(r["statement"].as_string(), sample().statement);
}

TEST(webhook_payload, slack_has_text_and_blocks_with_escaped_mrkdwn) {
  auto body = webhook_payload(notify_format::slack, event_created, sample());
  auto v = boost::json::parse(body).as_object();
  ASSERT_TRUE(v["text"].is_string());
  EXPECT_NE(std::string(v["text"].as_string()).find("r-abcdefghij"), std::string::npos);
  ASSERT_TRUE(v["blocks"].is_array());
  ASSERT_GE(v["blocks"].as_array().size(), 3u);
  std::string all = body;
  EXPECT_NE(all.find("&lt;b&gt;&amp;"), std::string::npos) << all;
  EXPECT_EQ(all.find("<b>"), std::string::npos) << all;
  // The statement's own ``` cannot close the code block early.
  auto code =
      std::string(v["blocks"].as_array()[2].as_object()["text"].as_object()["text"].as_string());
  EXPECT_TRUE(code.starts_with("```")) << code;
  EXPECT_EQ(code.find("```", 3), code.size() - 3) << code;

  auto decided = sample();
  decided.status = review_status::rejected;
  decided.decided_by = "dana";
  decided.reason = "no";
  decided.decided_us = decided.created_us + 1;
  auto d = boost::json::parse(webhook_payload(notify_format::slack, event_decided, decided));
  EXPECT_NE(std::string(d.as_object()["text"].as_string()).find("rejected by dana"),
            std::string::npos);
}

TEST(webhook_signature, is_hmac_sha256_hex) {
  // RFC 4231 test case 2.
  EXPECT_EQ(webhook_signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(webhook, posts_the_signed_payload) {
  http_sink sink({200});
  notifier n(io_.io().get_executor(), audit_->writer());
  auto s = to(sink, "/hooks/abc?x=1");
  s.secret = "shared-secret";
  n.send(s, event_created, sample());
  ASSERT_TRUE(eventually([&] { return n.get_stats().delivered == 1; }));
  auto got = sink.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/hooks/abc?x=1");
  EXPECT_EQ(got[0].headers["content-type"], "application/json");
  EXPECT_EQ(got[0].headers["x-gatehouse-event"], "review.created");
  EXPECT_EQ(got[0].headers["x-gatehouse-signature"],
            webhook_signature("shared-secret", got[0].body));
  EXPECT_EQ(got[0].body, webhook_payload(notify_format::json, event_created, sample()));
  EXPECT_EQ(n.get_stats().attempts, 1u);
}

TEST_F(webhook, unsigned_without_a_secret) {
  http_sink sink({204});
  notifier n(io_.io().get_executor(), audit_->writer());
  n.send(to(sink), event_decided, sample());
  ASSERT_TRUE(eventually([&] { return n.get_stats().delivered == 1; }));
  auto got = sink.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers.count("x-gatehouse-signature"), 0u);
}

TEST_F(webhook, retries_after_server_errors) {
  http_sink sink({500, 503, 200});
  notifier n(io_.io().get_executor(), audit_->writer());
  auto s = to(sink);
  s.secret = "k";
  n.send(s, event_created, sample());
  ASSERT_TRUE(eventually([&] { return n.get_stats().delivered == 1; }));
  EXPECT_EQ(n.get_stats().attempts, 3u);
  EXPECT_EQ(n.get_stats().failed, 0u);
  auto got = sink.received();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got) {
    EXPECT_EQ(r.body, got[0].body);  // the same payload each time
    EXPECT_EQ(r.headers.at("x-gatehouse-signature"), webhook_signature("k", r.body));
  }
  EXPECT_TRUE(audit_->events("review.notify_failed").empty());
}

TEST_F(webhook, gives_up_after_max_attempts_and_audits_it_without_the_path) {
  http_sink sink({500});
  notifier n(io_.io().get_executor(), audit_->writer());
  auto s = to(sink, "/services/T0/B0/VERYSECRETTOKEN");
  s.max_attempts = 3;
  n.send(s, event_created, sample());
  ASSERT_TRUE(eventually([&] { return n.get_stats().failed == 1; }));
  EXPECT_EQ(sink.count(), 3u);
  ASSERT_TRUE(eventually([&] { return audit_->events("review.notify_failed").size() == 1; }));
  auto ev = audit_->events("review.notify_failed")[0];
  EXPECT_EQ(ev.reason, "HTTP 500");
  EXPECT_EQ(ev.connection, "clinic");
  auto d = boost::json::parse(ev.detail).as_object();
  EXPECT_EQ(d["review"].as_string(), "r-abcdefghij");
  EXPECT_EQ(d["attempts"].as_int64(), 3);
  EXPECT_EQ(d["webhook"].as_string(), "http://127.0.0.1:" + std::to_string(sink.port()));
  EXPECT_EQ(ev.detail.find("VERYSECRETTOKEN"), std::string::npos);
}

TEST_F(webhook, unreachable_server_fails_without_blocking) {
  std::uint16_t dead_port = 0;
  {
    http_sink gone({200});
    dead_port = gone.port();
  }
  notifier n(io_.io().get_executor(), audit_->writer());
  notify_settings s;
  s.webhook = "http://127.0.0.1:" + std::to_string(dead_port) + "/";
  s.max_attempts = 2;
  s.first_backoff = 5ms;
  n.send(s, event_created, sample());  // returns at once
  ASSERT_TRUE(eventually([&] { return n.get_stats().failed == 1; }));
  ASSERT_TRUE(eventually([&] { return audit_->events("review.notify_failed").size() == 1; }));
  EXPECT_NE(audit_->events("review.notify_failed")[0].reason.find("connect"), std::string::npos);
}

TEST_F(webhook, https_verifies_the_server_certificate) {
  auto pair = net::ensure_self_signed(dir_.path().string());
  ASSERT_TRUE(pair.ok()) << pair.err();
  auto server_tls = net::make_server_context(pair->first, pair->second);
  ASSERT_TRUE(server_tls.ok()) << server_tls.err();
  http_sink sink({200}, server_tls->get());
  notifier n(io_.io().get_executor(), audit_->writer());
  notify_settings s;
  s.webhook = "https://127.0.0.1:" + std::to_string(sink.port()) + "/hook";
  s.ca_file = pair->first;  // trust the self-signed certificate
  s.max_attempts = 1;
  n.send(s, event_created, sample());
  ASSERT_TRUE(eventually([&] { return n.get_stats().delivered == 1; }));
  ASSERT_EQ(sink.count(), 1u);

  // Without trusting it (system store only), the handshake fails and nothing is sent.
  notify_settings untrusted = s;
  untrusted.ca_file.clear();
  n.send(untrusted, event_created, sample());
  ASSERT_TRUE(eventually([&] { return n.get_stats().failed == 1; }));
  EXPECT_EQ(sink.count(), 1u);
  ASSERT_TRUE(eventually([&] { return audit_->events("review.notify_failed").size() == 1; }));
  EXPECT_NE(audit_->events("review.notify_failed")[0].reason.find("handshake"), std::string::npos);
}

TEST_F(webhook, the_service_notifies_on_creation_and_decision) {
  http_sink sink({200});
  service_options o;
  o.store_url = audit_->store_url();
  o.audit = audit_->writer();
  policy p;
  p.approvers = {"dba"};
  p.notify = to(sink);
  p.notify.format = notify_format::slack;
  o.policies["clinic"] = p;
  service svc(io_.io().get_executor(), std::move(o));
  ASSERT_TRUE(svc.start().ok());
  request req;
  req.requester = "alice";
  req.connection = "clinic";
  req.statement = "DELETE FROM patients";
  req.rule = "unbounded-write";
  auto r = svc.create(req);
  ASSERT_TRUE(r.ok()) << r.err();
  ASSERT_TRUE(eventually([&] { return sink.count() == 1; }));
  auto d = svc.decide(r->id, identity::principal{"dana", {"dba"}, "api_key"}, false, "no");
  ASSERT_TRUE(d.ok()) << d.err();
  ASSERT_TRUE(eventually([&] { return sink.count() == 2; }));
  auto got = sink.received();
  EXPECT_EQ(got[0].headers["x-gatehouse-event"], "review.created");
  EXPECT_EQ(got[1].headers["x-gatehouse-event"], "review.decided");
  auto body = boost::json::parse(got[1].body).as_object();
  EXPECT_NE(std::string(body["text"].as_string()).find("rejected by dana"), std::string::npos);
  svc.shutdown();
  io_.stop();
}

}  // namespace
}  // namespace gh::review
