#include "store/sqlite_reviews.hpp"

#include <memory>

namespace gh::store::detail {
namespace {

struct finalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, finalizer>;

error sql_error(sqlite3* db, std::string_view what) {
  return make_error("sqlite " + std::string(what) + ": " + sqlite3_errmsg(db));
}

result<stmt_ptr> prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return sql_error(db, "prepare");
  }
  return stmt_ptr(raw);
}

status exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg != nullptr ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return make_error("sqlite: " + m);
  }
  return {};
}

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  auto p = sqlite3_column_text(s, i);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
}

// One transaction; rolled back unless commit() succeeded.
class transaction {
 public:
  explicit transaction(sqlite3* db) : db_(db) {}
  ~transaction() {
    if (open_) (void)exec(db_, "ROLLBACK");
  }
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  [[nodiscard]] status begin() {
    auto s = exec(db_, "BEGIN IMMEDIATE");
    open_ = s.ok();
    return s;
  }
  [[nodiscard]] status commit() {
    auto s = exec(db_, "COMMIT");
    if (s) open_ = false;
    return s;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

status write_approvals(sqlite3* db, const review_row& r) {
  auto del = prepare(db, "DELETE FROM review_approvals WHERE review_id = ?1");
  if (!del) return error{del.err()};
  bind_text(del->get(), 1, r.id);
  if (sqlite3_step(del->get()) != SQLITE_DONE) return sql_error(db, "delete approvals");
  if (r.approvals.empty()) return {};
  auto ins = prepare(db,
                     "INSERT INTO review_approvals(review_id, ordinal, user_name, at_us) "
                     "VALUES (?1, ?2, ?3, ?4)");
  if (!ins) return error{ins.err()};
  for (std::size_t i = 0; i < r.approvals.size(); ++i) {
    sqlite3_reset(ins->get());
    bind_text(ins->get(), 1, r.id);
    sqlite3_bind_int64(ins->get(), 2, static_cast<sqlite3_int64>(i));
    bind_text(ins->get(), 3, r.approvals[i].user);
    sqlite3_bind_int64(ins->get(), 4, r.approvals[i].at_us);
    if (sqlite3_step(ins->get()) != SQLITE_DONE) return sql_error(db, "insert approval");
  }
  return {};
}

constexpr const char* select_columns =
    "SELECT id, kind, status, created_us, expires_us, requester, requester_groups, connection, "
    "session_id, client_addr, statement, rule, approvers, min_approvals, self_approval, "
    "access_window_ms, decided_by, reason, decided_us FROM reviews";

review_row read_row(sqlite3_stmt* s) {
  review_row r;
  r.id = column_text(s, 0);
  r.kind = column_text(s, 1);
  r.status = column_text(s, 2);
  r.created_us = sqlite3_column_int64(s, 3);
  r.expires_us = sqlite3_column_int64(s, 4);
  r.requester = column_text(s, 5);
  r.requester_groups = column_text(s, 6);
  r.connection = column_text(s, 7);
  r.session_id = column_text(s, 8);
  r.client_addr = column_text(s, 9);
  r.statement = column_text(s, 10);
  r.rule = column_text(s, 11);
  r.approvers = column_text(s, 12);
  r.min_approvals = sqlite3_column_int64(s, 13);
  r.self_approval = sqlite3_column_int64(s, 14) != 0;
  r.access_window_ms = sqlite3_column_int64(s, 15);
  r.decided_by = column_text(s, 16);
  r.reason = column_text(s, 17);
  r.decided_us = sqlite3_column_int64(s, 18);
  return r;
}

status read_approvals(sqlite3* db, review_row& r) {
  auto st = prepare(db,
                    "SELECT user_name, at_us FROM review_approvals WHERE review_id = ?1 "
                    "ORDER BY ordinal");
  if (!st) return error{st.err()};
  bind_text(st->get(), 1, r.id);
  int rc = 0;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW)
    r.approvals.push_back({column_text(st->get(), 0), sqlite3_column_int64(st->get(), 1)});
  if (rc != SQLITE_DONE) return sql_error(db, "read approvals");
  return {};
}

}  // namespace

status create_review(sqlite3* db, const review_row& r) {
  transaction tx(db);
  if (auto s = tx.begin(); !s) return s;
  auto st = prepare(db,
                    "INSERT INTO reviews(id, kind, status, created_us, expires_us, requester, "
                    "requester_groups, connection, session_id, client_addr, statement, rule, "
                    "approvers, min_approvals, self_approval, access_window_ms, decided_by, "
                    "reason, decided_us) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
                    "?15,?16,?17,?18,?19)");
  if (!st) return error{st.err()};
  auto* s = st->get();
  bind_text(s, 1, r.id);
  bind_text(s, 2, r.kind);
  bind_text(s, 3, r.status);
  sqlite3_bind_int64(s, 4, r.created_us);
  sqlite3_bind_int64(s, 5, r.expires_us);
  bind_text(s, 6, r.requester);
  bind_text(s, 7, r.requester_groups);
  bind_text(s, 8, r.connection);
  bind_text(s, 9, r.session_id);
  bind_text(s, 10, r.client_addr);
  bind_text(s, 11, r.statement);
  bind_text(s, 12, r.rule);
  bind_text(s, 13, r.approvers);
  sqlite3_bind_int64(s, 14, r.min_approvals);
  sqlite3_bind_int64(s, 15, r.self_approval ? 1 : 0);
  sqlite3_bind_int64(s, 16, r.access_window_ms);
  bind_text(s, 17, r.decided_by);
  bind_text(s, 18, r.reason);
  sqlite3_bind_int64(s, 19, r.decided_us);
  if (sqlite3_step(s) != SQLITE_DONE) return sql_error(db, "insert review " + r.id);
  if (auto w = write_approvals(db, r); !w) return w;
  return tx.commit();
}

result<std::optional<review_row>> get_review(sqlite3* db, const std::string& id) {
  auto st = prepare(db, std::string(select_columns) + " WHERE id = ?1");
  if (!st) return error{st.err()};
  bind_text(st->get(), 1, id);
  int rc = sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::optional<review_row>();
  if (rc != SQLITE_ROW) return sql_error(db, "get review");
  auto r = read_row(st->get());
  st = stmt_ptr();
  if (auto a = read_approvals(db, r); !a) return error{a.err()};
  return std::optional<review_row>(std::move(r));
}

result<std::vector<review_row>> list_reviews(sqlite3* db, const review_filter& f) {
  std::string sql = std::string(select_columns) + " WHERE 1=1";
  if (!f.status.empty()) sql += " AND status = ?1";
  if (!f.kind.empty()) sql += " AND kind = ?2";
  if (!f.requester.empty()) sql += " AND requester = ?3";
  if (!f.connection.empty()) sql += " AND connection = ?4";
  sql += " ORDER BY created_us DESC, id";
  if (f.limit != 0) sql += " LIMIT " + std::to_string(f.limit);
  auto st = prepare(db, sql);
  if (!st) return error{st.err()};
  if (!f.status.empty()) bind_text(st->get(), 1, f.status);
  if (!f.kind.empty()) bind_text(st->get(), 2, f.kind);
  if (!f.requester.empty()) bind_text(st->get(), 3, f.requester);
  if (!f.connection.empty()) bind_text(st->get(), 4, f.connection);
  std::vector<review_row> out;
  int rc = 0;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) out.push_back(read_row(st->get()));
  if (rc != SQLITE_DONE) return sql_error(db, "list reviews");
  st = stmt_ptr();
  for (auto& r : out)
    if (auto a = read_approvals(db, r); !a) return error{a.err()};
  return out;
}

result<bool> update_review(sqlite3* db, const review_row& r, std::string_view expected_status) {
  transaction tx(db);
  if (auto s = tx.begin(); !s) return error{s.err()};
  auto st = prepare(db,
                    "UPDATE reviews SET status = ?1, decided_by = ?2, reason = ?3, "
                    "decided_us = ?4 WHERE id = ?5 AND status = ?6");
  if (!st) return error{st.err()};
  auto* s = st->get();
  bind_text(s, 1, r.status);
  bind_text(s, 2, r.decided_by);
  bind_text(s, 3, r.reason);
  sqlite3_bind_int64(s, 4, r.decided_us);
  bind_text(s, 5, r.id);
  bind_text(s, 6, expected_status);
  if (sqlite3_step(s) != SQLITE_DONE) return sql_error(db, "update review " + r.id);
  if (sqlite3_changes(db) == 0) return false;
  if (auto w = write_approvals(db, r); !w) return error{w.err()};
  if (auto c = tx.commit(); !c) return error{c.err()};
  return true;
}

}  // namespace gh::store::detail
