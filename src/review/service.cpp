#include "review/service.hpp"

#include <boost/json.hpp>
#include <future>
#include <limits>

#include "core/duration.hpp"
#include "core/log.hpp"

namespace gh::review {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// An approver must be able to read the whole statement; beyond this the text is cut with a note.
constexpr std::size_t max_statement_bytes = 256 * 1024;
constexpr std::size_t max_reason_bytes = 1000;

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out.push_back(',');
    out += s;
  }
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto c = s.find(',', pos);
    if (c == std::string::npos) c = s.size();
    if (c > pos) out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

store::review_row to_row(const review& r) {
  store::review_row row;
  row.id = r.id;
  row.kind = std::string(to_string(r.kind));
  row.status = std::string(to_string(r.status));
  row.created_us = r.created_us;
  row.expires_us = r.expires_us;
  row.requester = r.requester;
  row.requester_groups = join(r.requester_groups);
  row.connection = r.connection;
  row.session_id = r.session_id;
  row.client_addr = r.client_addr;
  row.statement = r.statement;
  row.rule = r.rule;
  row.approvers = join(r.approvers);
  row.min_approvals = r.min_approvals;
  row.self_approval = r.self_approval;
  row.access_window_ms = r.access_window.count();
  for (const auto& a : r.approvals) row.approvals.push_back({a.user, a.at_us});
  row.decided_by = r.decided_by;
  row.reason = r.reason;
  row.decided_us = r.decided_us;
  return row;
}

result<review> from_row(const store::review_row& row) {
  review r;
  r.id = row.id;
  auto k = parse_kind(row.kind);
  auto s = parse_status(row.status);
  if (!k || !s) return make_error("review " + row.id + " in the store has an unknown kind/status");
  r.kind = *k;
  r.status = *s;
  r.created_us = row.created_us;
  r.expires_us = row.expires_us;
  r.requester = row.requester;
  r.requester_groups = split(row.requester_groups);
  r.connection = row.connection;
  r.session_id = row.session_id;
  r.client_addr = row.client_addr;
  r.statement = row.statement;
  r.rule = row.rule;
  r.approvers = split(row.approvers);
  r.min_approvals = static_cast<int>(row.min_approvals);
  r.self_approval = row.self_approval;
  r.access_window = std::chrono::milliseconds(row.access_window_ms);
  for (const auto& a : row.approvals) r.approvals.push_back({a.user, a.at_us});
  r.decided_by = row.decided_by;
  r.reason = row.reason;
  r.decided_us = row.decided_us;
  return r;
}

audit::record make_event(std::string_view kind, const review& r, const std::string& actor,
                         const std::string& actor_groups, const std::string& reason) {
  audit::record rec;
  rec.ts_us = audit::now_us();
  rec.kind = std::string(kind);
  rec.session_id = r.session_id;
  rec.user = actor;
  rec.groups = actor_groups;
  rec.connection = r.connection;
  rec.client_addr = r.client_addr;
  rec.statement = r.statement;
  rec.outcome = std::string(to_string(r.status));
  rec.reason = reason;
  json::object d;
  d["review"] = r.id;
  d["review_kind"] = to_string(r.kind);
  d["rule"] = r.rule;
  d["requester"] = r.requester;
  d["approvals"] = static_cast<std::int64_t>(r.approvals.size());
  d["min_approvals"] = r.min_approvals;
  if (r.orphaned) d["orphaned"] = true;
  if (kind == events::created) {
    d["approvers"] = join(r.approvers);
    d["expires_us"] = r.expires_us;
  }
  rec.detail = json::serialize(d);
  return rec;
}

result<review> refuse(errc* why, errc code, std::string msg) {
  if (why != nullptr) *why = code;
  return make_error(std::move(msg));
}

}  // namespace

service::service(asio::any_io_executor ex, service_options opts)
    : strand_(asio::make_strand(ex)),
      timer_(strand_),
      audit_(opts.audit),
      store_url_(std::move(opts.store_url)),
      notifier_(ex, opts.audit),
      policies_(std::move(opts.policies)),
      default_policy_(std::move(opts.default_policy)) {}

service::~service() {
  std::lock_guard lk(mu_);
  // Waiters still registered get nothing (their executors may be gone by now); shutdown() is
  // the way to wake them.
  pending_.clear();
}

status service::start() {
  if (audit_ == nullptr) return make_error("review service needs the audit writer");
  auto st = store::open_store(store_url_);
  if (!st) return error{st.err()};
  if (auto m = (*st)->migrate(); !m) return m;
  store::review_filter f;
  f.status = std::string(to_string(review_status::pending));
  auto rows = (*st)->list_reviews(f);
  if (!rows) return error{rows.err()};
  {
    std::lock_guard lk(mu_);
    store_ = std::move(*st);
    for (const auto& row : *rows) {
      entry e;
      e.live = false;
      e.expires_us = row.expires_us;
      pending_.emplace(row.id, std::move(e));
    }
    started_ = true;
  }
  if (!rows->empty())
    log::info("review", "reviews left pending by an earlier run are listed as orphaned",
              {{"count", std::to_string(rows->size())}});
  asio::post(strand_, [this] { arm(); });
  return {};
}

void service::shutdown(const std::string& reason) {
  std::lock_guard lk(mu_);
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = reason;
  std::size_t woken = 0;
  for (auto& [id, e] : pending_) {
    for (auto& [ticket, h] : e.waiters) {
      std::move(h).complete({id, review_status::cancelled, reason, std::string(system_actor)});
      ++woken;
    }
    e.waiters.clear();
  }
  if (woken > 0)
    log::info("review", "held sessions released",
              {{"waiters", std::to_string(woken)}, {"reason", reason}});
  asio::post(strand_, [this] { timer_.cancel(); });
}

std::uint64_t service::next_ticket() {
  std::lock_guard lk(mu_);
  return ++tickets_;
}

std::size_t service::waiting() const {
  std::lock_guard lk(mu_);
  std::size_t n = 0;
  for (const auto& [id, e] : pending_) n += e.waiters.size();
  return n;
}

void service::set_policies(std::map<std::string, policy> by_connection, policy fallback) {
  std::lock_guard lk(mu_);
  policies_ = std::move(by_connection);
  default_policy_ = std::move(fallback);
}

policy service::policy_for(std::string_view connection) const {
  std::lock_guard lk(mu_);
  auto it = policies_.find(std::string(connection));
  return it != policies_.end() ? it->second : default_policy_;
}

bool service::may_view(const review& r, const identity::principal& who) {
  if (who.method == local_admin_method) return true;
  if (who.user == r.requester) return true;
  return who.in_any(r.approvers);
}

void service::mark_orphaned_locked(review& r) const {
  if (r.status != review_status::pending) {
    r.orphaned = false;
    return;
  }
  auto it = pending_.find(r.id);
  r.orphaned = it == pending_.end() || !it->second.live;
}

result<std::optional<review>> service::load_locked(const std::string& id) {
  if (!store_) return make_error("the review service is not started");
  auto row = store_->get_review(id);
  if (!row) return error{row.err()};
  if (!row->has_value()) return std::optional<review>();
  auto r = from_row(**row);
  if (!r) return error{r.err()};
  mark_orphaned_locked(*r);
  return std::optional<review>(std::move(*r));
}

std::string service::record_now(audit::record rec) {
  std::vector<audit::record> recs;
  recs.push_back(std::move(rec));
  if (auto done = audit_->try_append_now(recs)) return *done;
  std::promise<std::string> p;
  auto f = p.get_future();
  audit_->async_append(std::move(recs), [&p](std::string e) { p.set_value(std::move(e)); });
  return f.get();
}

result<review> service::create(const request& req, errc* why) {
  if (req.requester.empty()) return refuse(why, errc::invalid, "a review needs a requester");
  review r;
  r.kind = req.kind;
  r.requester = req.requester;
  r.requester_groups = req.requester_groups;
  r.connection = req.connection;
  r.session_id = req.session_id;
  r.client_addr = req.client_addr;
  r.statement = req.statement;
  if (r.statement.size() > max_statement_bytes) {
    r.statement.resize(max_statement_bytes);
    r.statement += "\n-- [statement cut at " + std::to_string(max_statement_bytes) + " of " +
                   std::to_string(req.statement.size()) + " bytes]";
  }
  r.rule = req.rule;
  r.access_window = req.access_window;

  std::unique_lock lk(mu_);
  if (stopping_) return refuse(why, errc::unavailable, stop_reason_);
  if (!started_) return refuse(why, errc::unavailable, "the review service is not started");
  auto pit = policies_.find(r.connection);
  const policy& pol = pit != policies_.end() ? pit->second : default_policy_;
  if (pol.approvers.empty())
    return refuse(why, errc::invalid,
                  "connection " + r.connection + " has no reviews.approvers: nobody could approve");
  r.approvers = pol.approvers;
  r.min_approvals = std::max(1, pol.min_approvals);
  r.self_approval = pol.self_approval;
  const notify_settings notify = pol.notify;
  r.created_us = audit::now_us();
  r.expires_us =
      r.created_us + std::chrono::duration_cast<std::chrono::microseconds>(pol.timeout).count();
  r.id = new_id();

  if (auto s = store_->create_review(to_row(r)); !s)
    return refuse(why, errc::unavailable, "could not store the review: " + s.err());
  if (auto err =
          record_now(make_event(events::created, r, r.requester, join(r.requester_groups), r.rule));
      !err.empty()) {
    // Not on record, so it never existed for anyone: mark it so and refuse.
    review gone = r;
    gone.status = review_status::cancelled;
    gone.decided_by = std::string(system_actor);
    gone.reason = "the audit trail could not record the review";
    gone.decided_us = audit::now_us();
    (void)store_->update_review(to_row(gone), to_string(review_status::pending));
    log::error("review", "review refused: audit trail unavailable",
               {{"review", r.id}, {"error", err}});
    return refuse(why, errc::unavailable, "the audit trail could not record the review: " + err);
  }
  entry e;
  e.live = true;
  e.expires_us = r.expires_us;
  pending_.emplace(r.id, std::move(e));
  log::info("review", "review created",
            {{"review", r.id},
             {"kind", to_string(r.kind)},
             {"user", r.requester},
             {"connection", r.connection},
             {"rule", r.rule}});
  notifier_.send(notify, event_created, r);
  lk.unlock();
  asio::post(strand_, [this] { arm(); });
  return r;
}

void service::add_waiter(std::string id, std::uint64_t ticket, detail::wait_handler h) {
  std::unique_lock lk(mu_);
  if (stopping_) {
    std::move(h).complete({id, review_status::cancelled, stop_reason_, std::string(system_actor)});
    return;
  }
  if (auto it = pending_.find(id); it != pending_.end()) {
    it->second.waiters.emplace_back(ticket, std::move(h));
    return;
  }
  // Not pending here: tell the waiter how it ended, or that there is no such review.
  outcome o{id, review_status::cancelled, "no such review", std::string(system_actor)};
  if (valid_id(id)) {
    auto r = load_locked(id);
    if (!r) {
      o.reason = "review store: " + r.err();
    } else if (r->has_value() && (*r)->status == review_status::pending) {
      // Pending in the store but unknown to this process (created by another one): wait too.
      entry e;
      e.expires_us = (*r)->expires_us;
      e.waiters.emplace_back(ticket, std::move(h));
      pending_.emplace(id, std::move(e));
      lk.unlock();
      asio::post(strand_, [this] { arm(); });
      return;
    } else if (r->has_value()) {
      o.status = (*r)->status;
      o.reason = (*r)->reason;
      o.decided_by = (*r)->decided_by;
    }
  }
  std::move(h).complete(std::move(o));
}

void service::waiter_gone(const std::string& id, std::uint64_t ticket) {
  std::unique_lock lk(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  bool found = false;
  for (const auto& w : it->second.waiters)
    if (w.first == ticket) found = true;
  if (!found) return;
  auto r = load_locked(id);
  if (!r || !r->has_value() || (*r)->status != review_status::pending) return;
  review x = std::move(**r);
  std::string actor = x.requester, groups = join(x.requester_groups);
  finish_locked(std::move(x), review_status::cancelled, std::move(actor), std::move(groups),
                "the waiting session stopped waiting");
}

void service::wake_locked(const review& r) {
  auto it = pending_.find(r.id);
  if (it == pending_.end()) return;
  for (auto& [ticket, h] : it->second.waiters)
    std::move(h).complete({r.id, r.status, r.reason, r.decided_by});
  pending_.erase(it);
}

void service::finish_locked(review r, review_status to, std::string actor, std::string actor_groups,
                            std::string reason) {
  const auto kind = to == review_status::expired ? events::expired : events::cancelled;
  r.status = to;
  r.decided_by = to == review_status::expired ? std::string(system_actor) : actor;
  r.reason = std::move(reason);
  r.decided_us = audit::now_us();
  auto cas = store_->update_review(to_row(r), to_string(review_status::pending));
  if (!cas)
    log::error("review", "could not store the end of a review",
               {{"review", r.id}, {"status", to_string(to)}, {"error", cas.err()}});
  else if (!*cas) {
    // Decided meanwhile by someone else (another node): wake the waiters with that outcome.
    if (auto now = load_locked(r.id); now && now->has_value() && (*now)->final())
      wake_locked(**now);
    return;
  }
  // Expiry and cancel only ever stop a statement, so nobody needs to wait for this record.
  audit_->append_detached(make_event(kind, r, actor, actor_groups, r.reason));
  log::info("review", to == review_status::expired ? "review expired" : "review cancelled",
            {{"review", r.id}, {"reason", r.reason}});
  const bool was_orphan = r.orphaned;
  r.orphaned = false;
  wake_locked(r);
  auto pit = policies_.find(r.connection);
  if (!was_orphan || pit != policies_.end())
    notifier_.send(pit != policies_.end() ? pit->second.notify : default_policy_.notify,
                   event_decided, r);
}

result<review> service::cancel(const std::string& id, const std::string& reason, errc* why) {
  std::lock_guard lk(mu_);
  auto r = load_locked(id);
  if (!r) return refuse(why, errc::unavailable, r.err());
  if (!r->has_value()) return refuse(why, errc::not_found, "no review " + id);
  if ((*r)->status != review_status::pending)
    return refuse(why, errc::conflict,
                  "review " + id + " is already " + std::string(to_string((*r)->status)));
  review copy = **r;
  finish_locked(copy, review_status::cancelled, copy.requester, join(copy.requester_groups),
                reason.substr(0, max_reason_bytes));
  auto after = load_locked(id);
  if (after && after->has_value()) return std::move(**after);
  return refuse(why, errc::unavailable, "review " + id + " could not be read back");
}

result<review> service::decide(const std::string& id, const identity::principal& who, bool approve,
                               std::string reason, errc* why) {
  if (!valid_id(id)) return refuse(why, errc::not_found, "no such review");
  if (reason.size() > max_reason_bytes)
    return refuse(why, errc::invalid,
                  "reason is longer than " + std::to_string(max_reason_bytes) + " bytes");
  if (who.user.empty()) return refuse(why, errc::forbidden, "no user");
  std::lock_guard lk(mu_);
  auto loaded = load_locked(id);
  if (!loaded) return refuse(why, errc::unavailable, "review store: " + loaded.err());
  if (!loaded->has_value()) return refuse(why, errc::not_found, "no review " + id);
  review r = std::move(**loaded);
  const auto now = audit::now_us();
  if (r.status == review_status::pending && now >= r.expires_us) {
    finish_locked(r, review_status::expired, std::string(system_actor), "",
                  "not decided within " + format_duration(std::chrono::milliseconds(
                                              (r.expires_us - r.created_us) / 1000)));
    return refuse(why, errc::conflict, "review " + id + " has expired");
  }
  if (r.status != review_status::pending) {
    std::string m = "review " + id + " is already " + std::string(to_string(r.status));
    if (!r.decided_by.empty()) m += " (by " + r.decided_by + ")";
    return refuse(why, errc::conflict, m);
  }
  const bool admin = who.method == local_admin_method;
  auto forbidden = [&](std::string msg) {
    auto rec = make_event(events::refused, r, who.user, who.groups_joined(), msg);
    rec.outcome = "refused";
    rec.statement.clear();  // on record with review.created already
    audit_->append_detached(std::move(rec));
    log::warn("review", "decision refused", {{"review", id}, {"user", who.user}, {"reason", msg}});
    return refuse(why, errc::forbidden, std::move(msg));
  };
  if (!admin && !who.in_any(r.approvers))
    return forbidden(who.user + " may not decide review " + id +
                     ": not a member of an approver group (" + join(r.approvers) + ")");
  if (approve && !admin && who.user == r.requester && !r.self_approval)
    return forbidden("self-approval is not allowed: " + who.user + " requested review " + id);
  for (const auto& a : r.approvals)
    if (a.user == who.user)
      return refuse(why, errc::conflict,
                    who.user + " already approved review " + id + "; it needs " +
                        std::to_string(r.min_approvals - static_cast<int>(r.approvals.size())) +
                        " more approval(s) from other approvers");

  review next = r;
  std::string_view kind;
  if (approve) {
    next.approvals.push_back({who.user, now});
    if (static_cast<int>(next.approvals.size()) >= r.min_approvals) {
      next.status = review_status::approved;
      kind = events::approved;
    } else {
      kind = events::approval;
    }
  } else {
    next.status = review_status::rejected;
    kind = events::rejected;
  }
  if (next.status != review_status::pending) {
    next.decided_by = who.user;
    next.reason = reason;
    next.decided_us = now;
    if (next.status == review_status::rejected && next.reason.empty())
      next.reason = "rejected by " + who.user;
  }
  // The store's compare-and-set decides who wins; then the audit trail must have it before it
  // takes effect. If the audit write fails, the row goes back to what it was.
  auto cas = store_->update_review(to_row(next), to_string(review_status::pending));
  if (!cas) return refuse(why, errc::unavailable, "review store: " + cas.err());
  if (!*cas) return refuse(why, errc::conflict, "review " + id + " was decided meanwhile");
  if (auto err = record_now(make_event(kind, next, who.user, who.groups_joined(), reason));
      !err.empty()) {
    auto back = store_->update_review(to_row(r), to_string(next.status));
    if (!back || !*back)
      log::error("review", "could not restore a review after the audit write failed",
                 {{"review", id}});
    log::error("review", "decision refused: audit trail unavailable",
               {{"review", id}, {"user", who.user}, {"error", err}});
    return refuse(why, errc::unavailable,
                  "the audit trail could not record the decision; nothing changed: " + err);
  }
  log::info("review", std::string(kind),
            {{"review", id}, {"user", who.user}, {"status", to_string(next.status)}});
  if (next.status != review_status::pending) {
    const bool was_orphan = next.orphaned;
    wake_locked(next);
    auto pit = policies_.find(next.connection);
    if (!was_orphan || pit != policies_.end())
      notifier_.send(pit != policies_.end() ? pit->second.notify : default_policy_.notify,
                     event_decided, next);
    next.orphaned = false;
  }
  return next;
}

result<review> service::get(const std::string& id, errc* why) {
  if (!valid_id(id)) return refuse(why, errc::not_found, "no such review");
  std::lock_guard lk(mu_);
  auto r = load_locked(id);
  if (!r) return refuse(why, errc::unavailable, "review store: " + r.err());
  if (!r->has_value()) return refuse(why, errc::not_found, "no review " + id);
  return std::move(**r);
}

result<std::vector<review>> service::list(const filter& f) {
  store::review_filter sf;
  if (f.status) sf.status = std::string(to_string(*f.status));
  if (f.kind) sf.kind = std::string(to_string(*f.kind));
  sf.requester = f.requester;
  sf.connection = f.connection;
  sf.limit = f.limit;
  std::lock_guard lk(mu_);
  if (!store_) return make_error("the review service is not started");
  auto rows = store_->list_reviews(sf);
  if (!rows) return error{rows.err()};
  std::vector<review> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    auto r = from_row(row);
    if (!r) return error{r.err()};
    mark_orphaned_locked(*r);
    out.push_back(std::move(*r));
  }
  return out;
}

std::optional<review> service::active_grant(std::string_view user, std::string_view connection) {
  filter f;
  f.status = review_status::approved;
  f.kind = review_kind::access;
  f.requester = std::string(user);
  f.connection = std::string(connection);
  f.limit = 20;
  auto rs = list(f);
  if (!rs) return std::nullopt;
  const auto now = audit::now_us();
  for (auto& r : *rs) {
    auto until = r.decided_us +
                 std::chrono::duration_cast<std::chrono::microseconds>(r.access_window).count();
    if (now < until) return std::move(r);
  }
  return std::nullopt;
}

void service::arm() {
  std::int64_t next = std::numeric_limits<std::int64_t>::max();
  {
    std::lock_guard lk(mu_);
    if (stopping_) {
      timer_.cancel();
      return;
    }
    for (const auto& [id, e] : pending_) next = std::min(next, e.expires_us);
  }
  if (next == std::numeric_limits<std::int64_t>::max()) {
    timer_.cancel();
    return;
  }
  using clock = std::chrono::system_clock;
  timer_.expires_at(clock::time_point(
      std::chrono::duration_cast<clock::duration>(std::chrono::microseconds(next))));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    // A wait replaced by a later arm() or stopped by shutdown: the newer wait owns the timer.
    if (ec == asio::error::operation_aborted) return;
    expire_due();
    arm();
  });
}

void service::expire_due() {
  std::lock_guard lk(mu_);
  if (stopping_ || !store_) return;
  const auto now = audit::now_us();
  std::vector<std::string> due;
  for (const auto& [id, e] : pending_)
    if (e.expires_us <= now) due.push_back(id);
  for (const auto& id : due) {
    auto r = load_locked(id);
    if (!r) {
      log::error("review", "cannot expire review", {{"review", id}, {"error", r.err()}});
      continue;
    }
    if (!r->has_value() || (*r)->status != review_status::pending) {
      // Decided elsewhere: wake whoever waits with what happened.
      if (r->has_value())
        wake_locked(**r);
      else
        pending_.erase(id);
      continue;
    }
    review x = std::move(**r);
    auto limit = std::chrono::milliseconds((x.expires_us - x.created_us) / 1000);
    finish_locked(std::move(x), review_status::expired, std::string(system_actor), "",
                  "not decided within " + format_duration(limit));
  }
}

}  // namespace gh::review
