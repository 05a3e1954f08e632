// The review service: who may decide (approver groups, self-approval, min_approvals, deciding
// twice, rejection at once), expiry, cancel (explicit and through an Asio cancellation slot),
// waiters woken on their own executor, shutdown, reviews surviving a restart as orphaned, the
// audit events of every step, and failing closed when the audit trail cannot record.
#include "review/service.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <future>
#include <optional>

#include "review/tests/test_util.hpp"

namespace gh::review {
namespace {

namespace asio = boost::asio;
using testing::audit_env;
using testing::eventually;
using testing::io_thread;
using namespace std::chrono_literals;

identity::principal user(std::string name, std::vector<std::string> groups) {
  return identity::principal{std::move(name), std::move(groups), "api_key"};
}
const identity::principal alice = user("alice", {"clinicians"});
const identity::principal dana = user("dana", {"dba"});
const identity::principal erin = user("erin", {"dba", "oncall"});
const identity::principal mallory = user("mallory", {"outsiders"});
const identity::principal admin{"local-admin", {}, "local_admin"};

request statement_by(const identity::principal& who, std::string sql = "DELETE FROM patients") {
  request r;
  r.requester = who.user;
  r.requester_groups = who.groups;
  r.connection = "clinic";
  r.session_id = "s-42";
  r.client_addr = "127.0.0.1:50000";
  r.statement = std::move(sql);
  r.rule = "unbounded-write";
  return r;
}

policy dba_policy(int min_approvals = 1, bool self_approval = false,
                  std::chrono::milliseconds timeout = 10min) {
  policy p;
  p.approvers = {"dba"};
  p.min_approvals = min_approvals;
  p.self_approval = self_approval;
  p.timeout = timeout;
  return p;
}

class review_service : public ::testing::Test {
 protected:
  void SetUp() override { audit_ = std::make_unique<audit_env>(dir_.path()); }
  void TearDown() override {
    stop_service();
    audit_->stop();
  }

  service& start_service(policy p = dba_policy()) {
    stop_service();
    io_ = std::make_unique<io_thread>();
    service_options o;
    o.store_url = audit_->store_url();
    o.audit = audit_->writer();
    o.policies["clinic"] = std::move(p);
    svc_ = std::make_unique<service>(io_->io().get_executor(), std::move(o));
    auto s = svc_->start();
    EXPECT_TRUE(s.ok()) << s.err();
    return *svc_;
  }
  // The order `gatehouse serve` uses: wake waiters, stop the service's thread, destroy.
  void stop_service() {
    if (svc_) svc_->shutdown();
    if (io_) io_->stop();
    svc_.reset();
    io_.reset();
  }

  review create(const request& req) {
    auto r = svc_->create(req);
    EXPECT_TRUE(r.ok()) << r.err();
    return r.ok() ? *r : review{};
  }

  store::testing::temp_dir dir_;
  std::unique_ptr<audit_env> audit_;
  std::unique_ptr<io_thread> io_;
  std::unique_ptr<service> svc_;
};

// A session: its own io_context on its own thread, awaiting one review's outcome.
struct waiting_session {
  waiting_session(service& svc, std::string id) {
    asio::co_spawn(
        io,
        [this, &svc, id]() -> asio::awaitable<void> {
          auto o = co_await svc.async_wait(id, asio::use_awaitable);
          on_own_thread = io.get_executor().running_in_this_thread();
          got = std::move(o);
        },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    // No work guard: only the pending wait keeps run() going, as in a real session.
    thread = std::thread([this] { io.run(); });
  }
  ~waiting_session() {
    io.stop();
    if (thread.joinable()) thread.join();
  }
  // Waits for the coroutine to finish (run() returns once the wait completed).
  std::optional<outcome> finish() {
    if (thread.joinable()) thread.join();
    return got;
  }
  asio::io_context io{1};
  asio::cancellation_signal cancel;
  std::optional<outcome> got;
  bool on_own_thread = false;
  std::thread thread;
};

TEST_F(review_service, create_stores_audits_and_returns_the_pending_review) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  EXPECT_TRUE(valid_id(r.id)) << r.id;
  EXPECT_EQ(r.status, review_status::pending);
  EXPECT_EQ(r.requester, "alice");
  EXPECT_EQ(r.approvers, std::vector<std::string>{"dba"});
  EXPECT_GT(r.expires_us, r.created_us);
  EXPECT_FALSE(r.orphaned);

  auto got = svc.get(r.id);
  ASSERT_TRUE(got.ok()) << got.err();
  EXPECT_EQ(got->statement, "DELETE FROM patients");
  EXPECT_EQ(got->status, review_status::pending);
  EXPECT_FALSE(got->orphaned);

  auto ev = audit_->events("review.created");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user, "alice");
  EXPECT_EQ(ev[0].groups, "clinicians");
  EXPECT_EQ(ev[0].connection, "clinic");
  EXPECT_EQ(ev[0].session_id, "s-42");
  EXPECT_EQ(ev[0].statement, "DELETE FROM patients");
  auto detail = boost::json::parse(ev[0].detail).as_object();
  EXPECT_EQ(detail["review"].as_string(), r.id);
  EXPECT_EQ(detail["rule"].as_string(), "unbounded-write");
}

TEST_F(review_service, create_without_approvers_is_refused) {
  auto& svc = start_service();
  auto req = statement_by(alice);
  req.connection = "billing";  // no policy: nobody could approve
  errc why{};
  auto r = svc.create(req, &why);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(why, errc::invalid);
  EXPECT_TRUE(audit_->events("review.created").empty());
}

TEST_F(review_service, only_members_of_an_approver_group_may_decide) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  errc why{};
  auto m = svc.decide(r.id, mallory, true, "", &why);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(why, errc::forbidden);
  EXPECT_NE(m.err().find("approver group"), std::string::npos) << m.err();
  auto rej = svc.decide(r.id, mallory, false, "", &why);
  ASSERT_FALSE(rej.ok());
  EXPECT_EQ(why, errc::forbidden);
  EXPECT_EQ(svc.get(r.id)->status, review_status::pending);
  EXPECT_TRUE(audit_->events("review.rejected").empty());
  // The attempts are on record, with who tried.
  ASSERT_TRUE(eventually([&] { return audit_->events("review.refused").size() == 2; }));
  auto refused = audit_->events("review.refused");
  EXPECT_EQ(refused[0].user, "mallory");
  EXPECT_EQ(refused[0].outcome, "refused");
  EXPECT_NE(refused[0].reason.find("approver group"), std::string::npos) << refused[0].reason;

  auto d = svc.decide(r.id, dana, true, "ticket 42");
  ASSERT_TRUE(d.ok()) << d.err();
  EXPECT_EQ(d->status, review_status::approved);
  EXPECT_EQ(d->decided_by, "dana");
  EXPECT_EQ(d->reason, "ticket 42");
  ASSERT_EQ(d->approvals.size(), 1u);
  EXPECT_EQ(d->approvals[0].user, "dana");

  auto ev = audit_->events("review.approved");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user, "dana");
  EXPECT_EQ(ev[0].groups, "dba");
  EXPECT_EQ(ev[0].reason, "ticket 42");
  EXPECT_EQ(ev[0].outcome, "approved");
}

TEST_F(review_service, the_requester_may_not_approve_unless_self_approval) {
  {
    auto& svc = start_service(dba_policy(1, /*self_approval=*/false));
    auto r = create(statement_by(dana));  // dana is a dba herself
    errc why{};
    auto self = svc.decide(r.id, dana, true, "", &why);
    ASSERT_FALSE(self.ok());
    EXPECT_EQ(why, errc::forbidden);
    EXPECT_NE(self.err().find("self-approval"), std::string::npos) << self.err();
    EXPECT_EQ(svc.get(r.id)->status, review_status::pending);
    ASSERT_TRUE(eventually([&] { return audit_->events("review.refused").size() == 1; }));
    EXPECT_EQ(audit_->events("review.refused")[0].user, "dana");
    // Withdrawing one's own request is always allowed to an approver.
    auto withdraw = svc.decide(r.id, dana, false, "changed my mind");
    ASSERT_TRUE(withdraw.ok()) << withdraw.err();
    EXPECT_EQ(withdraw->status, review_status::rejected);
  }
  auto& svc = start_service(dba_policy(1, /*self_approval=*/true));
  auto r = create(statement_by(dana));
  auto self = svc.decide(r.id, dana, true, "");
  ASSERT_TRUE(self.ok()) << self.err();
  EXPECT_EQ(self->status, review_status::approved);
}

TEST_F(review_service, a_decided_review_cannot_be_decided_again) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  ASSERT_TRUE(svc.decide(r.id, dana, true, "").ok());
  errc why{};
  auto again = svc.decide(r.id, dana, true, "", &why);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(why, errc::conflict);
  auto other = svc.decide(r.id, erin, false, "too late", &why);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(why, errc::conflict);
  EXPECT_NE(other.err().find("already approved"), std::string::npos) << other.err();
  EXPECT_EQ(svc.get(r.id)->status, review_status::approved);
  EXPECT_EQ(audit_->events("review.approved").size(), 1u);
  EXPECT_TRUE(audit_->events("review.rejected").empty());
}

TEST_F(review_service, min_approvals_needs_distinct_approvers) {
  auto& svc = start_service(dba_policy(2));
  auto r = create(statement_by(alice));
  waiting_session s(svc, r.id);
  ASSERT_TRUE(eventually([&] { return svc.waiting() == 1; }));

  auto first = svc.decide(r.id, dana, true, "");
  ASSERT_TRUE(first.ok()) << first.err();
  EXPECT_EQ(first->status, review_status::pending);
  EXPECT_EQ(first->approvals.size(), 1u);
  EXPECT_EQ(svc.waiting(), 1u);  // the session still waits

  errc why{};
  auto twice = svc.decide(r.id, dana, true, "", &why);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(why, errc::conflict);
  EXPECT_NE(twice.err().find("already approved"), std::string::npos) << twice.err();

  auto second = svc.decide(r.id, erin, true, "second pair of eyes");
  ASSERT_TRUE(second.ok()) << second.err();
  EXPECT_EQ(second->status, review_status::approved);
  EXPECT_EQ(second->decided_by, "erin");
  ASSERT_EQ(second->approvals.size(), 2u);

  auto o = s.finish();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, review_status::approved);
  EXPECT_EQ(o->decided_by, "erin");

  auto partial = audit_->events("review.approval");
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_EQ(partial[0].user, "dana");
  EXPECT_EQ(partial[0].outcome, "pending");
  ASSERT_EQ(audit_->events("review.approved").size(), 1u);
}

TEST_F(review_service, one_rejection_decides_at_once) {
  auto& svc = start_service(dba_policy(3));
  auto r = create(statement_by(alice));
  ASSERT_TRUE(svc.decide(r.id, dana, true, "").ok());
  waiting_session s(svc, r.id);
  ASSERT_TRUE(eventually([&] { return svc.waiting() == 1; }));
  auto rej = svc.decide(r.id, erin, false, "no WHERE clause on patients");
  ASSERT_TRUE(rej.ok()) << rej.err();
  EXPECT_EQ(rej->status, review_status::rejected);
  auto o = s.finish();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, review_status::rejected);
  EXPECT_EQ(o->reason, "no WHERE clause on patients");
  EXPECT_EQ(o->decided_by, "erin");
  auto ev = audit_->events("review.rejected");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user, "erin");
}

TEST_F(review_service, the_local_admin_counts_as_every_approver_group) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  auto d = svc.decide(r.id, admin, true, "");
  ASSERT_TRUE(d.ok()) << d.err();
  EXPECT_EQ(d->status, review_status::approved);
  EXPECT_EQ(d->decided_by, "local-admin");
  auto ev = audit_->events("review.approved");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user, "local-admin");
}

TEST_F(review_service, unknown_and_malformed_ids_are_not_found) {
  auto& svc = start_service();
  errc why{};
  EXPECT_FALSE(svc.decide("r-aaaaaaaaaa", dana, true, "", &why).ok());
  EXPECT_EQ(why, errc::not_found);
  EXPECT_FALSE(svc.decide("'; DROP TABLE reviews; --", dana, true, "", &why).ok());
  EXPECT_EQ(why, errc::not_found);
  EXPECT_FALSE(svc.get("r-aaaaaaaaaa", &why).ok());
  EXPECT_EQ(why, errc::not_found);
  EXPECT_FALSE(svc.cancel("r-aaaaaaaaaa", "x", &why).ok());
  EXPECT_EQ(why, errc::not_found);
}

TEST_F(review_service, the_waiter_wakes_on_its_own_executor) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  waiting_session s(svc, r.id);
  ASSERT_TRUE(eventually([&] { return svc.waiting() == 1; }));
  auto d = svc.decide(r.id, dana, true, "ok");
  ASSERT_TRUE(d.ok()) << d.err();
  auto o = s.finish();
  ASSERT_TRUE(o.has_value()) << "the waiter never woke";
  EXPECT_TRUE(s.on_own_thread);
  EXPECT_EQ(o->id, r.id);
  EXPECT_EQ(o->status, review_status::approved);
  EXPECT_EQ(o->reason, "ok");
  EXPECT_EQ(o->decided_by, "dana");
  EXPECT_EQ(svc.waiting(), 0u);
}

TEST_F(review_service, waiting_for_a_decided_or_unknown_review_completes_at_once) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  ASSERT_TRUE(svc.decide(r.id, dana, false, "no").ok());
  waiting_session decided(svc, r.id);
  auto o = decided.finish();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, review_status::rejected);
  EXPECT_EQ(o->reason, "no");

  waiting_session unknown(svc, "r-aaaaaaaaaa");
  auto u = unknown.finish();
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->status, review_status::cancelled);
}

TEST_F(review_service, an_undecided_review_expires_and_the_waiter_learns_it) {
  auto& svc = start_service(dba_policy(1, false, 300ms));
  auto r = create(statement_by(alice));
  waiting_session s(svc, r.id);
  auto o = s.finish();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, review_status::expired);
  EXPECT_NE(o->reason.find("not decided within"), std::string::npos) << o->reason;
  EXPECT_EQ(svc.get(r.id)->status, review_status::expired);
  ASSERT_TRUE(eventually([&] { return audit_->events("review.expired").size() == 1; }));
  auto ev = audit_->events("review.expired");
  EXPECT_EQ(ev[0].outcome, "expired");

  errc why{};
  auto late = svc.decide(r.id, dana, true, "", &why);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(why, errc::conflict);
}

TEST_F(review_service, expiry_is_checked_when_deciding_too) {
  // The decision arrives after the deadline but possibly before the timer fired: refused.
  auto& svc = start_service(dba_policy(1, false, 1ms));
  auto r = create(statement_by(alice));
  std::this_thread::sleep_for(5ms);
  errc why{};
  auto late = svc.decide(r.id, dana, true, "", &why);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(why, errc::conflict);
  EXPECT_EQ(svc.get(r.id)->status, review_status::expired);
  EXPECT_TRUE(audit_->events("review.approved").empty());
}

TEST_F(review_service, cancel_wakes_the_waiter_and_is_audited) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  waiting_session s(svc, r.id);
  ASSERT_TRUE(eventually([&] { return svc.waiting() == 1; }));
  auto c = svc.cancel(r.id, "client sent CancelRequest");
  ASSERT_TRUE(c.ok()) << c.err();
  EXPECT_EQ(c->status, review_status::cancelled);
  auto o = s.finish();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, review_status::cancelled);
  EXPECT_EQ(o->reason, "client sent CancelRequest");
  ASSERT_TRUE(eventually([&] { return audit_->events("review.cancelled").size() == 1; }));
  EXPECT_EQ(audit_->events("review.cancelled")[0].reason, "client sent CancelRequest");

  errc why{};
  EXPECT_FALSE(svc.decide(r.id, dana, true, "", &why).ok());
  EXPECT_EQ(why, errc::conflict);
  EXPECT_FALSE(svc.cancel(r.id, "again", &why).ok());
  EXPECT_EQ(why, errc::conflict);
}

TEST_F(review_service, cancelling_the_wait_cancels_the_review) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  waiting_session s(svc, r.id);
  ASSERT_TRUE(eventually([&] { return svc.waiting() == 1; }));
  asio::post(s.io, [&s] { s.cancel.emit(asio::cancellation_type::terminal); });
  auto o = s.finish();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, review_status::cancelled);
  EXPECT_EQ(svc.get(r.id)->status, review_status::cancelled);
  ASSERT_TRUE(eventually([&] { return audit_->events("review.cancelled").size() == 1; }));
}

TEST_F(review_service, shutdown_releases_waiters_and_keeps_the_review_pending) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  waiting_session s(svc, r.id);
  ASSERT_TRUE(eventually([&] { return svc.waiting() == 1; }));
  svc.shutdown();
  auto o = s.finish();
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->status, review_status::cancelled);
  EXPECT_EQ(o->reason, "gatehouse is shutting down");
  errc why{};
  auto late = svc.create(statement_by(alice), &why);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(why, errc::unavailable);
  EXPECT_EQ(svc.get(r.id)->status, review_status::pending);
}

TEST_F(review_service, pending_reviews_survive_a_restart_as_orphans) {
  std::string kept, short_lived;
  {
    start_service();
    kept = create(statement_by(alice)).id;
  }
  {
    start_service(dba_policy(1, false, 200ms));
    short_lived = create(statement_by(alice, "UPDATE patients SET x = 1")).id;
    stop_service();  // before it expires
  }
  auto& svc = start_service();
  auto k = svc.get(kept);
  ASSERT_TRUE(k.ok()) << k.err();
  EXPECT_EQ(k->status, review_status::pending);
  EXPECT_TRUE(k->orphaned);
  filter pending;
  pending.status = review_status::pending;
  ASSERT_TRUE(eventually([&] {
    auto l = svc.list(pending);
    return l.ok() && l->size() == 1 && (*l)[0].id == kept && (*l)[0].orphaned;
  }));
  // The one whose deadline passed while no gatehouse ran expires on its own.
  ASSERT_TRUE(eventually([&] { return svc.get(short_lived)->status == review_status::expired; }));

  // Deciding an orphan records the decision.
  auto d = svc.decide(kept, dana, true, "late but recorded");
  ASSERT_TRUE(d.ok()) << d.err();
  EXPECT_EQ(d->status, review_status::approved);
  auto ev = audit_->events("review.approved");
  ASSERT_EQ(ev.size(), 1u);
  auto detail = boost::json::parse(ev[0].detail).as_object();
  EXPECT_TRUE(detail["orphaned"].as_bool());
}

TEST_F(review_service, fails_closed_when_the_audit_trail_cannot_record) {
  auto& svc = start_service();
  auto r = create(statement_by(alice));
  audit_->stop();  // every later append fails
  errc why{};
  auto d = svc.decide(r.id, dana, true, "", &why);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(why, errc::unavailable);
  auto now = svc.get(r.id);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->status, review_status::pending);  // nothing changed
  EXPECT_TRUE(now->approvals.empty());

  auto c = svc.create(statement_by(alice), &why);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(why, errc::unavailable);
  EXPECT_NE(c.err().find("audit"), std::string::npos) << c.err();
  filter f;
  f.status = review_status::pending;
  auto l = svc.list(f);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->size(), 1u);  // only the first one
}

TEST_F(review_service, access_grants_last_for_their_window) {
  auto& svc = start_service();
  auto req = statement_by(alice, "");
  req.kind = review_kind::access;
  req.access_window = 1h;
  auto r = create(req);
  EXPECT_FALSE(svc.active_grant("alice", "clinic").has_value());
  ASSERT_TRUE(svc.decide(r.id, dana, true, "on call").ok());
  auto g = svc.active_grant("alice", "clinic");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->id, r.id);
  EXPECT_FALSE(svc.active_grant("alice", "billing").has_value());
  EXPECT_FALSE(svc.active_grant("mallory", "clinic").has_value());

  auto brief = statement_by(alice, "");
  brief.kind = review_kind::access;
  brief.access_window = 1ms;
  auto b = create(brief);
  ASSERT_TRUE(svc.decide(b.id, dana, true, "").ok());
  std::this_thread::sleep_for(5ms);
  auto still = svc.active_grant("alice", "clinic");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->id, r.id);  // the expired window does not count; the hour-long one does
}

TEST_F(review_service, visibility_is_requester_approvers_and_admin) {
  start_service();
  auto r = create(statement_by(alice));
  EXPECT_TRUE(service::may_view(r, alice));
  EXPECT_TRUE(service::may_view(r, dana));
  EXPECT_TRUE(service::may_view(r, admin));
  EXPECT_FALSE(service::may_view(r, mallory));
}

TEST(review_model, ids_have_the_documented_shape) {
  for (int i = 0; i < 100; ++i) {
    auto id = new_id();
    EXPECT_TRUE(valid_id(id)) << id;
  }
  EXPECT_NE(new_id(), new_id());
  EXPECT_FALSE(valid_id("r-ABCDEFGHIJ"));
  EXPECT_FALSE(valid_id("r-abc"));
  EXPECT_FALSE(valid_id("x-abcdefghij"));
  EXPECT_FALSE(valid_id("r-abcdefghi1"));  // 1 is not base32
}

TEST(review_model, json_round_trips) {
  review r;
  r.id = "r-abcdefghij";
  r.kind = review_kind::access;
  r.status = review_status::approved;
  r.created_us = 1'700'000'000'000'000;
  r.expires_us = r.created_us + 600'000'000;
  r.requester = "alice";
  r.requester_groups = {"clinicians", "staff"};
  r.connection = "clinic";
  r.statement = "SELECT \"name\" FROM patients -- ü";
  r.rule = "full-export";
  r.approvers = {"dba"};
  r.min_approvals = 2;
  r.access_window = std::chrono::milliseconds(3'600'000);
  r.approvals = {{"dana", r.created_us + 1}, {"erin", r.created_us + 2}};
  r.decided_by = "erin";
  r.reason = "ok";
  r.decided_us = r.created_us + 2;
  auto back = from_json(to_json(r));
  ASSERT_TRUE(back.ok()) << back.err();
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->kind, r.kind);
  EXPECT_EQ(back->status, r.status);
  EXPECT_EQ(back->created_us, r.created_us);
  EXPECT_EQ(back->requester_groups, r.requester_groups);
  EXPECT_EQ(back->statement, r.statement);
  EXPECT_EQ(back->access_window, r.access_window);
  ASSERT_EQ(back->approvals.size(), 2u);
  EXPECT_EQ(back->approvals[1].user, "erin");
  EXPECT_EQ(back->decided_us, r.decided_us);
  EXPECT_EQ(to_json(r)["created_at"].as_string(), "2023-11-14T22:13:20.000Z");
}

}  // namespace
}  // namespace gh::review
