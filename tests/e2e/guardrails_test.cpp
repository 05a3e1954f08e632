// End to end: guardrails and reviews through the real gateway, psql and libpq.
// Deny rules refuse a statement with 42501 naming the rule and the statement never runs (also in
// a multi-statement Query, inside a transaction, and over the extended protocol); review rules
// hold a statement until a dba approves it with `gatehouse reviews`, a rejection, the timeout or
// a cancel request ends it with an error; webhooks and the audit trail record the reviews.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

using clock = std::chrono::steady_clock;

// A tiny blocking HTTP server on 127.0.0.1 that records the body of every request and answers
// 200. One connection at a time, one request per connection (answers with Connection: close).
class hook_server {
 public:
  hook_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("hook_server: socket failed");
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("hook_server: bind/listen failed");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~hook_server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  hook_server(const hook_server&) = delete;
  hook_server& operator=(const hook_server&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::vector<std::string> bodies() const {
    std::lock_guard lk(mu_);
    return bodies_;
  }
  // Waits until some recorded body contains every one of `needles`; returns that body or "".
  [[nodiscard]] std::string wait_body(const std::vector<std::string>& needles,
                                      std::chrono::milliseconds timeout = 30s) const {
    const auto deadline = clock::now() + timeout;
    for (;;) {
      for (const auto& b : bodies()) {
        bool all = true;
        for (const auto& n : needles) all = all && contains(b, n);
        if (all) return b;
      }
      if (clock::now() >= deadline) return {};
      std::this_thread::sleep_for(100ms);
    }
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }
  void serve(int c) {
    std::string in;
    char buf[8192];
    const auto deadline = clock::now() + 10s;
    std::size_t need = std::string::npos;
    while (clock::now() < deadline && !stop_) {
      auto head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos && need == std::string::npos) {
        std::string head = in.substr(0, head_end);
        for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::size_t cl = 0;
        if (auto at = head.find("content-length:"); at != std::string::npos)
          cl = std::stoul(head.substr(at + 15));
        need = head_end + 4 + cl;
      }
      if (need != std::string::npos && in.size() >= need) break;
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
    }
    if (need == std::string::npos || in.size() < need) return;
    {
      std::lock_guard lk(mu_);
      bodies_.push_back(in.substr(in.find("\r\n\r\n") + 4));
    }
    const std::string_view ok =
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)::send(c, ok.data(), ok.size(), MSG_NOSIGNAL);
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
  std::thread thread_;
};

class Guardrails : public gateway_suite<Guardrails> {
 public:
  static std::string gateway_yaml(pg_cluster& cluster) {
    hooks_ = std::make_unique<hook_server>();
    const std::string rules =
        "    guardrails:\n"
        "      - name: no-drop\n"
        "        match: { statement: [drop_table, truncate] }\n"
        "        action: deny\n"
        "      - name: unbounded-write\n"
        "        match: { statement: [delete, update], where: absent }\n"
        "        action: review\n";
    std::string yaml = basic_gateway_config(cluster);
    yaml += rules;
    yaml += "    reviews:\n"
            "      approvers: [dba]\n"
            "      timeout: 5m\n"
            "      notify:\n"
            "        webhook: \"http://127.0.0.1:" +
            std::to_string(hooks_->port()) +
            "/hook\"\n"
            "        format: json\n";
    // Same rules, but reviews expire quickly (for the timeout test only).
    yaml += extra_connection(cluster, "quick", "app", "require",
                             rules +
                                 "    reviews:\n"
                                 "      approvers: [dba]\n"
                                 "      timeout: 3s\n");
    return yaml;
  }

 protected:
  static void TearDownTestSuite() {
    gateway_suite::TearDownTestSuite();  // the gateway first: it may still be notifying
    hooks_.reset();
  }

  // A table owned by app with rows 1..n, made directly in PostgreSQL.
  static void make_table(const std::string& name, int n) {
    cluster().sql("clinic", "CREATE TABLE " + name + " (id integer PRIMARY KEY, v text);\n" +
                                "INSERT INTO " + name + " SELECT g, 'row ' || g FROM " +
                                "generate_series(1, " + std::to_string(n) + ") g;\n" +
                                "ALTER TABLE " + name + " OWNER TO app;\n");
  }
  // SELECT count(*) directly in PostgreSQL; -1 if the table is gone.
  static int count(const std::string& name, const std::string& where = "true") {
    auto r = cluster().try_sql("clinic", "SELECT count(*) FROM " + name + " WHERE " + where);
    if (!r.ok()) return -1;
    return std::stoi(r.out);
  }

  // psql through the gateway in the background (a statement that will be held).
  static std::unique_ptr<child_process> start_psql(const temp_dir& logs, std::string_view user,
                                                   std::string_view key, const std::string& sql,
                                                   std::string_view dbname = "clinic") {
    spawn_options o;
    o.argv = {(pg_bindir() / "psql").string(),
              "-X",
              "-v",
              "ON_ERROR_STOP=1",
              conninfo(gw().port(), dbname, user, "require"),
              "-c",
              sql};
    o.env = {{"PGPASSWORD", std::string(key)}, {"PGCONNECT_TIMEOUT", "30"}};
    o.log_dir = logs.path();
    o.name = "psql-" + random_hex(4);
    return std::make_unique<child_process>(std::move(o));
  }

  // The pending review whose statement contains `needle` (polled through the CLI as the local
  // admin), or an empty object after `timeout`.
  static boost::json::object wait_pending(const std::string& needle,
                                          std::chrono::milliseconds timeout = 30s) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
      auto r = gw().cli({"reviews", "list", "--status", "pending", "--json"});
      if (r.ok()) {
        boost::system::error_code ec;
        auto v = boost::json::parse(r.out, ec);
        if (!ec && v.is_object() && v.as_object().contains("reviews") &&
            v.as_object().at("reviews").is_array()) {
          for (const auto& item : v.as_object().at("reviews").as_array())
            if (item.is_object() && contains(str(item.as_object(), "statement"), needle))
              return item.as_object();
        }
      }
      if (clock::now() >= deadline) return {};
      std::this_thread::sleep_for(200ms);
    }
  }

  // `reviews show ID --json`, parsed (empty object on failure).
  static boost::json::object show(const std::string& id) {
    auto r = gw().cli({"reviews", "show", id, "--json"});
    if (!r.ok()) return {};
    boost::system::error_code ec;
    auto v = boost::json::parse(r.out, ec);
    if (ec || !v.is_object()) return {};
    return v.as_object();
  }

  static inline std::unique_ptr<hook_server> hooks_;
};

std::string primary(const PGresult* r) {
  const char* m = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  return m != nullptr ? m : "";
}

// Every result of the query in flight on `c`, waiting at most `timeout`. `done` is false if the
// query had not finished by then (or the connection broke).
struct results {
  std::vector<pq_result> rs;
  bool done = false;
};
results wait_results(PGconn* c, std::chrono::milliseconds timeout) {
  results out;
  const auto deadline = clock::now() + timeout;
  for (;;) {
    if (PQconsumeInput(c) != 1) return out;
    while (PQisBusy(c) == 0) {
      PGresult* r = PQgetResult(c);
      if (r == nullptr) {
        out.done = true;
        return out;
      }
      out.rs.emplace_back(r);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return out;
    pollfd p{PQsocket(c), POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 200)));
  }
}

void collect_notices(void* arg, const PGresult* r) {
  static_cast<std::vector<std::string>*>(arg)->push_back(primary(r));
}

std::string review_id_in(const std::string& text) {
  std::smatch m;
  static const std::regex re("held for review (r-[a-z0-9]+)");
  if (std::regex_search(text, m, re)) return m[1];
  return {};
}

// ---- deny ----

TEST_F(Guardrails, drop_table_is_denied_and_the_session_continues) {
  make_table("g_drop", 3);
  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());

  auto r = pq_exec(c.get(), "DROP TABLE g_drop");
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR) << status_name(r.get());
  EXPECT_EQ(sqlstate(r.get()), "42501");
  EXPECT_EQ(primary(r.get()), "refused by guardrail \"no-drop\" (drop_table)");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(count("g_drop"), 3) << "the table must be intact";

  // The same session goes on.
  auto next = pq_exec(c.get(), "SELECT count(*) FROM g_drop");
  ASSERT_EQ(PQresultStatus(next.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(next.get(), 0, 0), "3");

  // psql sees the rule too; TRUNCATE is covered by the same rule.
  auto p = gw_psql(gw(), "alice", keys().alice, {"-c", "TRUNCATE g_drop"});
  EXPECT_NE(p.exit_code, 0) << p.out;
  EXPECT_TRUE(contains(p.err, "refused by guardrail \"no-drop\" (truncate)")) << p.err;
  EXPECT_EQ(count("g_drop"), 3);

  // The denial is on record with its rule.
  auto ev = wait_audit(gw(), [](const audit_events& e) {
    for (const auto& x : select(e, {{"kind", "statement"}, {"user", "alice"}}))
      if (contains(str(x, "statement"), "DROP TABLE g_drop") &&
          contains(str(x, "detail"), "no-drop"))
        return true;
    return false;
  });
  bool found = false;
  for (const auto& x : select(ev, {{"kind", "statement"}, {"user", "alice"}}))
    found = found || (contains(str(x, "statement"), "DROP TABLE g_drop") &&
                      contains(str(x, "detail"), "\"guard\":\"deny\""));
  EXPECT_TRUE(found) << dump(ev);
}

TEST_F(Guardrails, multi_statement_query_with_a_denied_statement_runs_none_of_it) {
  make_table("g_multi", 2);
  const std::string q =
      "INSERT INTO g_multi VALUES (10, 'before'); DROP TABLE g_multi; "
      "INSERT INTO g_multi VALUES (11, 'after')";
  auto p = gw_psql(gw(), "alice", keys().alice, {"-c", q});
  EXPECT_NE(p.exit_code, 0) << p.out;
  EXPECT_TRUE(contains(p.err, "refused by guardrail \"no-drop\"")) << p.err;
  EXPECT_EQ(count("g_multi"), 2) << "no statement of the denied Query may run";

  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  auto r = pq_exec(c.get(), q);
  EXPECT_EQ(sqlstate(r.get()), "42501") << status_name(r.get());
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(count("g_multi"), 2);
  auto next = pq_exec(c.get(), "SELECT count(*) FROM g_multi");
  ASSERT_EQ(PQresultStatus(next.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(next.get(), 0, 0), "2");
}

TEST_F(Guardrails, denial_inside_a_transaction_aborts_it_like_a_postgresql_error) {
  make_table("g_tx", 2);
  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  auto begin = pq_exec(c.get(), "BEGIN");
  ASSERT_EQ(PQresultStatus(begin.get()), PGRES_COMMAND_OK);
  auto ins = pq_exec(c.get(), "INSERT INTO g_tx VALUES (20, 'in tx')");
  ASSERT_EQ(PQresultStatus(ins.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());

  auto drop = pq_exec(c.get(), "DROP TABLE g_tx");
  EXPECT_EQ(sqlstate(drop.get()), "42501") << status_name(drop.get());
  EXPECT_TRUE(contains(primary(drop.get()), "no-drop")) << primary(drop.get());
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);

  auto after = pq_exec(c.get(), "SELECT 1");
  EXPECT_EQ(PQresultStatus(after.get()), PGRES_FATAL_ERROR);
  EXPECT_EQ(sqlstate(after.get()), "25P02");

  auto rb = pq_exec(c.get(), "ROLLBACK");
  EXPECT_EQ(PQresultStatus(rb.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQcmdStatus(rb.get()), "ROLLBACK");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(count("g_tx"), 2);
  EXPECT_EQ(count("g_tx", "id = 20"), 0);

  auto ok = pq_exec(c.get(), "SELECT count(*) FROM g_tx");
  ASSERT_EQ(PQresultStatus(ok.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(ok.get(), 0, 0), "2");
}

TEST_F(Guardrails, extended_protocol_statements_are_denied_too) {
  make_table("g_ext", 2);
  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());

  pq_result prep(PQprepare(c.get(), "dropit", "DROP TABLE g_ext", 0, nullptr));
  EXPECT_EQ(PQresultStatus(prep.get()), PGRES_FATAL_ERROR) << status_name(prep.get());
  EXPECT_EQ(sqlstate(prep.get()), "42501");
  EXPECT_EQ(primary(prep.get()), "refused by guardrail \"no-drop\" (drop_table)");

  // The refused Parse left no statement behind to execute later.
  pq_result exec(PQexecPrepared(c.get(), "dropit", 0, nullptr, nullptr, nullptr, 0));
  EXPECT_EQ(PQresultStatus(exec.get()), PGRES_FATAL_ERROR) << status_name(exec.get());
  EXPECT_EQ(count("g_ext"), 2);

  pq_result trunc(
      PQexecParams(c.get(), "TRUNCATE g_ext", 0, nullptr, nullptr, nullptr, nullptr, 0));
  EXPECT_EQ(PQresultStatus(trunc.get()), PGRES_FATAL_ERROR) << status_name(trunc.get());
  EXPECT_EQ(sqlstate(trunc.get()), "42501");
  EXPECT_TRUE(contains(primary(trunc.get()), "no-drop")) << primary(trunc.get());
  EXPECT_EQ(count("g_ext"), 2);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);

  const char* v[] = {"0"};
  pq_result sel(PQexecParams(c.get(), "SELECT count(*) FROM g_ext WHERE id > $1", 1, nullptr, v,
                             nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(sel.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(sel.get(), 0, 0), "2");
}

// ---- review ----

TEST_F(Guardrails, held_delete_runs_after_a_dba_approves_it) {
  make_table("g_approve", 3);
  temp_dir logs("gh-e2e-psql");
  auto client = start_psql(logs, "alice", keys().alice, "DELETE FROM g_approve");
  auto rv = wait_pending("g_approve");
  const std::string id = str(rv, "id");
  ASSERT_FALSE(id.empty()) << "no pending review appeared\n"
                           << client->stderr_text() << gw().log_text();
  EXPECT_EQ(str(rv, "requester"), "alice");
  EXPECT_EQ(str(rv, "rule"), "unbounded-write");
  EXPECT_EQ(str(rv, "statement"), "DELETE FROM g_approve");
  EXPECT_TRUE(client->running()) << "the client waits while the statement is held";
  EXPECT_EQ(count("g_approve"), 3) << "a held statement must not have run";

  // A non-approver cannot decide.
  auto refused = gw().cli({"reviews", "approve", id, "--as", "mallory"},
                          {{"GATEHOUSE_API_KEY", keys().mallory}});
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_EQ(count("g_approve"), 3);

  auto ok = gw().cli({"reviews", "approve", id, "--reason", "ticket 42", "--as", "dana"},
                     {{"GATEHOUSE_API_KEY", keys().dana}});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, id + " approved by dana")) << ok.out;

  auto code = client->wait(60s);
  ASSERT_TRUE(code.has_value()) << "psql still waiting after the approval";
  EXPECT_EQ(*code, 0) << client->stderr_text();
  EXPECT_TRUE(contains(client->stdout_text(), "DELETE 3")) << client->stdout_text();
  EXPECT_TRUE(contains(client->stderr_text(), "gatehouse: statement held for review " + id))
      << client->stderr_text();
  EXPECT_EQ(count("g_approve"), 0);
  EXPECT_EQ(str(show(id), "status"), "approved");

  // Webhooks: one for the new review, one for the decision.
  std::string created = hooks_->wait_body({"\"review.created\"", id});
  EXPECT_FALSE(created.empty()) << "webhook bodies:\n" << testing::PrintToString(hooks_->bodies());
  EXPECT_TRUE(contains(created, "DELETE FROM g_approve")) << created;
  std::string decided = hooks_->wait_body({"\"review.decided\"", id, "\"approved\""});
  EXPECT_FALSE(decided.empty()) << "webhook bodies:\n" << testing::PrintToString(hooks_->bodies());

  // The audit trail has the review and the decision.
  auto has = [&](const audit_events& e, const std::string& kind, const std::string& user) {
    for (const auto& x : select(e, {{"kind", kind}}))
      if (contains(str(x, "detail"), id) && (user.empty() || str(x, "user") == user)) return true;
    return false;
  };
  auto ev = wait_audit(gw(), [&](const audit_events& e) {
    return has(e, "review.created", "") && has(e, "review.approved", "dana");
  });
  EXPECT_TRUE(has(ev, "review.created", "")) << dump(ev);
  EXPECT_TRUE(has(ev, "review.approved", "dana")) << dump(ev);
}

TEST_F(Guardrails, held_statement_rejected_fails_with_the_reason_and_the_session_continues) {
  make_table("g_reject", 3);
  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  std::vector<std::string> notices;
  PQsetNoticeReceiver(c.get(), collect_notices, &notices);
  ASSERT_EQ(PQsendQuery(c.get(), "DELETE FROM g_reject"), 1) << PQerrorMessage(c.get());

  auto rv = wait_pending("g_reject");
  const std::string id = str(rv, "id");
  ASSERT_FALSE(id.empty()) << gw().log_text();
  auto rej = gw().cli({"reviews", "reject", id, "--reason", "add a WHERE clause"});
  ASSERT_EQ(rej.exit_code, 0) << rej.err;
  EXPECT_TRUE(contains(rej.out, "rejected by local-admin")) << rej.out;

  auto res = wait_results(c.get(), 60s);
  ASSERT_TRUE(res.done) << "the held statement did not end after the rejection";
  ASSERT_EQ(res.rs.size(), 1u);
  EXPECT_EQ(PQresultStatus(res.rs[0].get()), PGRES_FATAL_ERROR);
  const std::string msg = primary(res.rs[0].get());
  EXPECT_TRUE(contains(msg, "statement rejected in review " + id)) << msg;
  EXPECT_TRUE(contains(msg, "add a WHERE clause")) << msg;
  ASSERT_FALSE(notices.empty());
  EXPECT_TRUE(contains(notices[0], "held for review " + id)) << notices[0];
  EXPECT_EQ(count("g_reject"), 3);
  EXPECT_EQ(str(show(id), "status"), "rejected");

  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  auto next = pq_exec(c.get(), "SELECT count(*) FROM g_reject");
  ASSERT_EQ(PQresultStatus(next.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(next.get(), 0, 0), "3");
  PQsetNoticeReceiver(
      c.get(), [](void*, const PGresult*) {}, nullptr);
}

TEST_F(Guardrails, held_statement_times_out_without_a_decision) {
  make_table("g_timeout", 3);
  // Connection `quick`: reviews expire after 3s.
  auto p = gw_psql(gw(), "alice", keys().alice, {"-c", "UPDATE g_timeout SET v = 'changed'"}, {},
                   "require", "quick", 90s);
  EXPECT_NE(p.exit_code, 0) << p.out;
  EXPECT_NE(p.exit_code, -1) << "psql did not finish";
  const std::string id = review_id_in(p.err);
  ASSERT_FALSE(id.empty()) << p.err;
  EXPECT_TRUE(contains(p.err, "review " + id + " timed out")) << p.err;
  EXPECT_EQ(count("g_timeout", "v = 'changed'"), 0);
  EXPECT_EQ(str(show(id), "status"), "expired");
}

TEST_F(Guardrails, self_approval_and_non_approvers_are_refused) {
  make_table("g_self", 3);
  temp_dir logs("gh-e2e-psql");
  // dana is a dba: an approver, but not of her own statement (self_approval: false).
  auto client = start_psql(logs, "dana", keys().dana, "DELETE FROM g_self");
  auto rv = wait_pending("g_self");
  const std::string id = str(rv, "id");
  ASSERT_FALSE(id.empty()) << client->stderr_text() << gw().log_text();
  EXPECT_EQ(str(rv, "requester"), "dana");

  auto self = gw().cli({"reviews", "approve", id, "--as", "dana"},
                       {{"GATEHOUSE_API_KEY", keys().dana}});
  EXPECT_EQ(self.exit_code, 1) << self.out;
  EXPECT_TRUE(contains(self.err, "self-approval")) << self.err;
  EXPECT_TRUE(contains(self.err, "HTTP 403")) << self.err;

  auto alice = gw().cli({"reviews", "approve", id, "--as", "alice"},
                        {{"GATEHOUSE_API_KEY", keys().alice}});
  EXPECT_EQ(alice.exit_code, 1) << alice.out;
  EXPECT_TRUE(contains(alice.err, "approver group")) << alice.err;

  EXPECT_EQ(str(show(id), "status"), "pending");
  EXPECT_TRUE(client->running());
  EXPECT_EQ(count("g_self"), 3);

  auto rej = gw().cli({"reviews", "reject", id, "--reason", "cleanup"});
  EXPECT_EQ(rej.exit_code, 0) << rej.err;
  auto code = client->wait(60s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_EQ(count("g_self"), 3);

  auto ev = wait_audit(gw(), [&](const audit_events& e) {
    for (const auto& x : select(e, {{"kind", "review.refused"}}))
      if (contains(str(x, "detail"), id)) return true;
    return false;
  });
  int refusals = 0;
  for (const auto& x : select(ev, {{"kind", "review.refused"}}))
    if (contains(str(x, "detail"), id)) ++refusals;
  EXPECT_EQ(refusals, 2) << dump(ev);
}

TEST_F(Guardrails, cancel_request_cancels_the_review) {
  make_table("g_cancel", 3);
  auto c = alice_conn();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQsendQuery(c.get(), "DELETE FROM g_cancel"), 1) << PQerrorMessage(c.get());
  auto rv = wait_pending("g_cancel");
  const std::string id = str(rv, "id");
  ASSERT_FALSE(id.empty()) << gw().log_text();

  PGcancel* cancel = PQgetCancel(c.get());
  ASSERT_NE(cancel, nullptr);
  char err[256] = {};
  EXPECT_EQ(PQcancel(cancel, err, sizeof err), 1) << err;
  PQfreeCancel(cancel);

  auto res = wait_results(c.get(), 60s);
  ASSERT_TRUE(res.done) << "the held statement did not end after the cancel request";
  ASSERT_EQ(res.rs.size(), 1u);
  EXPECT_EQ(PQresultStatus(res.rs[0].get()), PGRES_FATAL_ERROR);
  EXPECT_TRUE(contains(primary(res.rs[0].get()), "review " + id + " was cancelled"))
      << primary(res.rs[0].get());
  EXPECT_EQ(count("g_cancel"), 3);
  EXPECT_EQ(str(show(id), "status"), "cancelled");
  auto listed = gw().cli({"reviews", "list", "--status", "cancelled"});
  EXPECT_TRUE(contains(listed.out, id)) << listed.out << listed.err;

  // Like a cancelled query in PostgreSQL, the session stays usable.
  auto next = pq_exec(c.get(), "SELECT count(*) FROM g_cancel");
  ASSERT_EQ(PQresultStatus(next.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQgetvalue(next.get(), 0, 0), "3");

  // The cancel ended the review at the gateway and was not forwarded: nothing of the statement
  // ran upstream, and a forwarded cancel could land on whatever the session runs next.
  auto ev = wait_audit(gw(), [&](const audit_events& e) {
    return !select(e, {{"kind", "cancel"}, {"outcome", "review cancelled"}}).empty();
  });
  EXPECT_EQ(select(ev, {{"kind", "cancel"}, {"outcome", "review cancelled"}}).size(), 1u)
      << dump(ev);
  EXPECT_TRUE(select(ev, {{"kind", "cancel"}, {"outcome", "forwarded"}}).empty()) << dump(ev);
}

TEST_F(Guardrails, psql_ctrl_c_cancels_the_review) {
  make_table("g_sigint", 3);
  temp_dir logs("gh-e2e-psql");
  auto client = start_psql(logs, "alice", keys().alice, "UPDATE g_sigint SET v = 'changed'");
  auto rv = wait_pending("g_sigint");
  const std::string id = str(rv, "id");
  ASSERT_FALSE(id.empty()) << client->stderr_text() << gw().log_text();
  client->kill(SIGINT);  // what Ctrl-C does: psql sends a cancel request
  auto code = client->wait(60s);
  ASSERT_TRUE(code.has_value()) << "psql still waiting after Ctrl-C";
  EXPECT_NE(*code, 0);
  EXPECT_TRUE(contains(client->stderr_text(), "review " + id + " was cancelled"))
      << client->stderr_text();
  EXPECT_EQ(str(show(id), "status"), "cancelled");
  EXPECT_EQ(count("g_sigint", "v = 'changed'"), 0);
}

TEST_F(Guardrails, statements_with_a_where_clause_are_not_held) {
  make_table("g_where", 3);
  auto p = gw_psql(gw(), "alice", keys().alice, {"-c", "DELETE FROM g_where WHERE id = 1"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(contains(p.out, "DELETE 1")) << p.out;
  EXPECT_FALSE(contains(p.err, "held for review")) << p.err;
  EXPECT_EQ(count("g_where"), 2);
}

}  // namespace
}  // namespace gh::e2e
