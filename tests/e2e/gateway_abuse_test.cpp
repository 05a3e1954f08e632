// End to end: hostile or broken protocol input. Garbage on the port, garbage and out-of-order
// messages inside a session, messages over gateway.max_message_size. Each closes only the
// offending connection with a clear error; sessions opened before keep working, new ones too.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

class GatewayAbuse : public gateway_suite<GatewayAbuse> {
 public:
  static std::string gateway_yaml(pg_cluster& cluster) {
    // prefer: the raw-socket tests speak the protocol in plaintext on loopback.
    std::string yaml =
        replace_once(basic_gateway_config(cluster), "client: require", "client: prefer");
    yaml = replace_once(yaml, "  idle_timeout: 15m\n",
                        "  idle_timeout: 15m\n  max_message_size: 64KB\n");
    return yaml;
  }

 protected:
  // A session that is logged in and working, to check it survives what the test does.
  static void expect_usable(PGconn* c, const std::string& value) {
    pq_result r = pq_exec(c, "SELECT '" + value + "'::text");
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c);
    EXPECT_EQ(std::string(PQgetvalue(r.get(), 0, 0)), value);
  }
  static void expect_new_sessions_work() {
    run_result r = gw_psql(gw(), "dana", keys().dana, {"-Atc", "SELECT count(*) FROM patients"});
    EXPECT_EQ(r.exit_code, 0) << r.err << "\n" << gw().log_text();
    EXPECT_EQ(r.out, "5\n");
  }
};

struct backend_message {
  char type = 0;
  std::string body;
};

// The complete backend messages at the start of `data`.
std::vector<backend_message> parse_backend(std::string_view data) {
  std::vector<backend_message> out;
  while (data.size() >= 5) {
    auto b = [&](std::size_t i) {
      return static_cast<std::uint32_t>(static_cast<unsigned char>(data[i]));
    };
    std::uint32_t len = b(1) << 24 | b(2) << 16 | b(3) << 8 | b(4);
    if (len < 4 || data.size() < 1 + static_cast<std::size_t>(len)) break;
    out.push_back({data[0], std::string(data.substr(5, len - 4))});
    data.remove_prefix(1 + len);
  }
  return out;
}

// Field code -> value of an ErrorResponse/NoticeResponse body.
std::map<char, std::string> error_fields(const std::string& body) {
  std::map<char, std::string> f;
  std::size_t i = 0;
  while (i < body.size() && body[i] != '\0') {
    char code = body[i++];
    auto end = body.find('\0', i);
    if (end == std::string::npos) break;
    f[code] = body.substr(i, end - i);
    i = end + 1;
  }
  return f;
}

// Logs in over a raw plaintext socket (tls.client: prefer, loopback): StartupMessage, the API
// key as cleartext password, then everything up to ReadyForQuery. Returns how many bytes of
// s.received() belong to the login.
std::size_t raw_login(raw_socket& s, const std::string& user, const std::string& key) {
  EXPECT_TRUE(s.send(startup_message({{"user", user}, {"database", "clinic"}})));
  s.read_some_until(9, 30s);
  auto msgs = parse_backend(s.received());
  EXPECT_FALSE(msgs.empty()) << "no answer to StartupMessage";
  if (msgs.empty()) return 0;
  EXPECT_EQ(msgs[0].type, 'R');
  EXPECT_EQ(msgs[0].body, be32(3)) << "expected AuthenticationCleartextPassword";
  EXPECT_TRUE(s.send(typed_message('p', key + std::string(1, '\0'))));
  for (int i = 0; i < 600; ++i) {
    std::size_t used = 0;
    for (const auto& m : parse_backend(s.received())) {
      used += 5 + m.body.size();
      if (m.type == 'Z') return used;
      if (m.type == 'E') {
        ADD_FAILURE() << "login failed: " << error_fields(m.body)['M'];
        return used;
      }
    }
    s.read_some_until(s.received().size() + 1, 100ms);
  }
  ADD_FAILURE() << "no ReadyForQuery after login";
  return s.received().size();
}

// After a session was cut: the single ErrorResponse it got (SQLSTATE, message).
std::pair<std::string, std::string> final_error(const raw_socket& s, std::size_t from) {
  for (const auto& m : parse_backend(std::string_view(s.received()).substr(from))) {
    if (m.type == 'E') {
      auto f = error_fields(m.body);
      return {f['C'], f['M']};
    }
  }
  return {"<none>",
          "<no ErrorResponse in " + std::to_string(s.received().size() - from) + " bytes>"};
}

std::string garbage(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string g(n, '\0');
  for (auto& c : g) c = static_cast<char>(rng() & 0xff);
  return g;
}

TEST_F(GatewayAbuse, garbage_on_the_port_closes_only_that_connection) {
  pq_conn before = alice_conn();
  ASSERT_EQ(PQstatus(before.get()), CONNECTION_OK) << PQerrorMessage(before.get());
  expect_usable(before.get(), "before");

  {  // 64 KB of random bytes instead of a startup packet
    raw_socket s(gw().port());
    (void)s.send(garbage(64 * 1024, 1));  // the gateway may close before it has read it all
    EXPECT_TRUE(s.wait_closed(60s)) << "gateway kept a garbage connection open";
  }
  {  // SSLRequest, then garbage where the TLS ClientHello should be
    raw_socket s(gw().port());
    ASSERT_TRUE(s.send(be32(8) + be32(80877103)));
    EXPECT_EQ(s.read_some_until(1, 30s), "S");
    (void)s.send(garbage(64 * 1024, 2));
    EXPECT_TRUE(s.wait_closed(60s));
  }
  {  // a valid login, then 64 KB of garbage inside the session
    raw_socket s(gw().port());
    std::size_t login = raw_login(s, "dana", keys().dana);
    ASSERT_GT(login, 0u);
    (void)s.send(garbage(64 * 1024, 3));
    EXPECT_TRUE(s.wait_closed(60s));
    auto [code, msg] = final_error(s, login);
    EXPECT_EQ(code, "08P01") << msg;
    EXPECT_TRUE(contains(msg, "protocol violation")) << msg;
  }
  expect_usable(before.get(), "after garbage");
  expect_new_sessions_work();
  EXPECT_TRUE(contains(gw().log_text(), "bad startup packet")) << gw().log_text();
}

TEST_F(GatewayAbuse, malformed_and_out_of_order_messages_close_the_session_with_a_reason) {
  pq_conn before = alice_conn();
  ASSERT_EQ(PQstatus(before.get()), CONNECTION_OK) << PQerrorMessage(before.get());
  struct bad_input {
    std::string bytes, message_part;
  };
  const std::vector<bad_input> inputs{
      {typed_message('\x01', "abc"), "unknown frontend message type 0x01"},
      {typed_message('p', "again" + std::string(1, '\0')),
       "unexpected PasswordMessage after authentication"},
      {typed_message('Q', "SELECT 1"), "Query"},  // no terminating NUL
      {typed_message('S', "x"), "Sync"},          // Sync has no body
      {std::string("Q") + be32(2), "invalid message length 2"},
  };
  std::vector<std::string> sessions_seen;
  for (const auto& in : inputs) {
    raw_socket s(gw().port());
    std::size_t login = raw_login(s, "dana", keys().dana);
    ASSERT_GT(login, 0u);
    (void)s.send(in.bytes);
    EXPECT_TRUE(s.wait_closed(60s)) << in.message_part;
    auto [code, msg] = final_error(s, login);
    EXPECT_EQ(code, "08P01") << in.message_part << ": " << msg;
    EXPECT_TRUE(contains(msg, in.message_part)) << msg;
  }
  expect_usable(before.get(), "still fine");
  expect_new_sessions_work();
  // The reasons are on record, per session.
  auto ev = wait_audit(gw(), [&](const audit_events& e) {
    int n = 0;
    for (const auto& x : select(e, {{"kind", "session.end"}, {"user", "dana"}}))
      if (contains(str(x, "reason"), "client sent")) ++n;
    return n >= static_cast<int>(inputs.size());
  });
  for (const auto& in : inputs) {
    bool found = false;
    for (const auto& x : select(ev, {{"kind", "session.end"}, {"user", "dana"}}))
      found = found || (contains(str(x, "reason"), "client sent") &&
                        contains(str(x, "reason"), in.message_part));
    EXPECT_TRUE(found) << in.message_part << "\n" << dump(select(ev, {{"kind", "session.end"}}));
  }
}

TEST_F(GatewayAbuse, oversized_message_is_refused_and_others_are_unaffected) {
  pq_conn before = alice_conn();
  ASSERT_EQ(PQstatus(before.get()), CONNECTION_OK) << PQerrorMessage(before.get());

  // Just under the limit (64 KB) works.
  pq_conn c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  pq_result ok = pq_exec(c.get(), "SELECT length('" + std::string(60000, 'x') + "')");
  ASSERT_EQ(PQresultStatus(ok.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(ok.get(), 0, 0), "60000");

  // Over it: an error, and the session is closed.
  pq_result big = pq_exec(c.get(), "SELECT length('" + std::string(100000, 'x') + "')");
  EXPECT_NE(PQresultStatus(big.get()), PGRES_TUPLES_OK);
  pq_result next = pq_exec(c.get(), "SELECT 1");
  EXPECT_NE(PQresultStatus(next.get()), PGRES_TUPLES_OK);
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_BAD);

  // The exact answer, seen on a raw connection that announces 1 MB and sends only the header.
  raw_socket s(gw().port());
  std::size_t login = raw_login(s, "alice", keys().alice);
  ASSERT_GT(login, 0u);
  ASSERT_TRUE(s.send(std::string("Q") + be32(1024 * 1024 + 4) + "SELECT "));
  EXPECT_TRUE(s.wait_closed(60s));
  auto [code, msg] = final_error(s, login);
  EXPECT_EQ(code, "08P01") << msg;
  EXPECT_TRUE(contains(msg, "message of 1048576 bytes exceeds the limit of 65536 bytes")) << msg;

  expect_usable(before.get(), "unaffected");
  expect_new_sessions_work();
  auto ev = wait_audit(gw(), [](const audit_events& e) {
    int n = 0;
    for (const auto& x : select(e, {{"kind", "session.end"}, {"user", "alice"}}))
      if (contains(str(x, "reason"), "exceeds the limit of 65536 bytes")) ++n;
    return n >= 2;
  });
  int n = 0;
  for (const auto& x : select(ev, {{"kind", "session.end"}, {"user", "alice"}}))
    if (contains(str(x, "reason"), "exceeds the limit of 65536 bytes")) ++n;
  EXPECT_EQ(n, 2) << dump(select(ev, {{"kind", "session.end"}}));
}

}  // namespace
}  // namespace gh::e2e
