#include <sqlite3.h>

#include <filesystem>

#include "store/sqlite_reviews.hpp"
#include "store/store.hpp"

namespace gh::store {
namespace {

// Schema migrations, applied in order; schema_version holds how many have run.
constexpr const char* migrations[] = {
    R"sql(
CREATE TABLE audit_events(
  seq INTEGER PRIMARY KEY,
  ts_us INTEGER NOT NULL,
  kind TEXT NOT NULL,
  session_id TEXT NOT NULL DEFAULT '',
  user_name TEXT NOT NULL DEFAULT '',
  groups TEXT NOT NULL DEFAULT '',
  connection TEXT NOT NULL DEFAULT '',
  client_addr TEXT NOT NULL DEFAULT '',
  statement TEXT NOT NULL DEFAULT '',
  stmt_id INTEGER NOT NULL DEFAULT 0,
  param_count INTEGER NOT NULL DEFAULT -1,
  outcome TEXT NOT NULL DEFAULT '',
  rows INTEGER NOT NULL DEFAULT -1,
  duration_us INTEGER NOT NULL DEFAULT -1,
  reason TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_ts ON audit_events(ts_us);
CREATE INDEX audit_events_stmt ON audit_events(session_id, stmt_id);
)sql",
    // 2: reviews (src/review). The policy a review is decided by is copied into its row.
    R"sql(
CREATE TABLE reviews(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  expires_us INTEGER NOT NULL,
  requester TEXT NOT NULL,
  requester_groups TEXT NOT NULL DEFAULT '',
  connection TEXT NOT NULL DEFAULT '',
  session_id TEXT NOT NULL DEFAULT '',
  client_addr TEXT NOT NULL DEFAULT '',
  statement TEXT NOT NULL DEFAULT '',
  rule TEXT NOT NULL DEFAULT '',
  approvers TEXT NOT NULL DEFAULT '',
  min_approvals INTEGER NOT NULL DEFAULT 1,
  self_approval INTEGER NOT NULL DEFAULT 0,
  access_window_ms INTEGER NOT NULL DEFAULT 0,
  decided_by TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  decided_us INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reviews_status ON reviews(status, created_us);
CREATE INDEX reviews_requester ON reviews(requester, connection, created_us);
CREATE TABLE review_approvals(
  review_id TEXT NOT NULL REFERENCES reviews(id),
  ordinal INTEGER NOT NULL,
  user_name TEXT NOT NULL,
  at_us INTEGER NOT NULL,
  PRIMARY KEY(review_id, ordinal)
);
)sql",
};

class stmt_guard {
 public:
  explicit stmt_guard(sqlite3_stmt* s) : s_(s) {}
  ~stmt_guard() { sqlite3_finalize(s_); }
  stmt_guard(const stmt_guard&) = delete;
  stmt_guard& operator=(const stmt_guard&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

class sqlite_store final : public store {
 public:
  sqlite_store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~sqlite_store() override {
    if (insert_ != nullptr) sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg != nullptr ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return make_error("sqlite " + path_ + ": " + m);
    }
    return {};
  }

  status migrate() override {
    if (auto s = exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"); !s)
      return s;
    if (auto s = exec("BEGIN IMMEDIATE"); !s) return s;
    int version = 0;
    {
      sqlite3_stmt* raw = nullptr;
      sqlite3_prepare_v2(db_, "SELECT version FROM schema_version", -1, &raw, nullptr);
      stmt_guard st(raw);
      if (raw != nullptr && sqlite3_step(raw) == SQLITE_ROW) version = sqlite3_column_int(raw, 0);
      else if (auto s = exec("INSERT INTO schema_version VALUES (0)"); !s) {
        (void)exec("ROLLBACK");
        return s;
      }
    }
    constexpr int latest = static_cast<int>(std::size(migrations));
    if (version > latest) {
      (void)exec("ROLLBACK");
      return make_error("store schema version " + std::to_string(version) +
                        " is newer than this gatehouse (" + std::to_string(latest) +
                        "); refusing to run an older binary against it");
    }
    for (int v = version; v < latest; ++v) {
      if (auto s = exec(migrations[v]); !s) {
        (void)exec("ROLLBACK");
        return make_error("migration " + std::to_string(v + 1) + " failed: " + s.err());
      }
    }
    std::string upd = "UPDATE schema_version SET version = " + std::to_string(latest);
    if (auto s = exec(upd.c_str()); !s) {
      (void)exec("ROLLBACK");
      return s;
    }
    return exec("COMMIT");
  }

  status append(std::span<audit_record> records) override {
    if (records.empty()) return {};
    if (insert_ == nullptr) {
      const char* sql =
          "INSERT OR IGNORE INTO audit_events(ts_us, kind, session_id, user_name, groups, "
          "connection, client_addr, statement, stmt_id, param_count, outcome, rows, "
          "duration_us, reason, detail, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
      if (sqlite3_prepare_v2(db_, sql, -1, &insert_, nullptr) != SQLITE_OK)
        return make_error("sqlite prepare: " + std::string(sqlite3_errmsg(db_)));
    }
    if (auto s = exec("BEGIN IMMEDIATE"); !s) return s;
    // Seqs handed out here are taken back unless the transaction commits (all or nothing); a seq
    // the caller brought (from the journal) is left as it was.
    std::vector<std::size_t> assigned;
    auto take_back = [&] {
      for (auto i : assigned) records[i].seq = 0;
    };
    for (std::size_t idx = 0; idx < records.size(); ++idx) {
      auto& r = records[idx];
      sqlite3_reset(insert_);
      auto text = [&](int i, const std::string& v) {
        sqlite3_bind_text(insert_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      };
      sqlite3_bind_int64(insert_, 1, r.ts_us);
      text(2, r.kind);
      text(3, r.session_id);
      text(4, r.user);
      text(5, r.groups);
      text(6, r.connection);
      text(7, r.client_addr);
      text(8, r.statement);
      sqlite3_bind_int64(insert_, 9, r.stmt_id);
      sqlite3_bind_int64(insert_, 10, r.param_count);
      text(11, r.outcome);
      sqlite3_bind_int64(insert_, 12, r.rows);
      sqlite3_bind_int64(insert_, 13, r.duration_us);
      text(14, r.reason);
      text(15, r.detail);
      if (r.seq != 0) sqlite3_bind_int64(insert_, 16, r.seq);
      else sqlite3_bind_null(insert_, 16);
      if (sqlite3_step(insert_) != SQLITE_DONE) {
        std::string m = sqlite3_errmsg(db_);
        sqlite3_reset(insert_);
        (void)exec("ROLLBACK");
        take_back();
        return make_error("sqlite insert: " + m);
      }
      if (r.seq == 0) {
        r.seq = sqlite3_last_insert_rowid(db_);
        assigned.push_back(idx);
      }
    }
    sqlite3_reset(insert_);
    if (auto s = exec("COMMIT"); !s) {
      (void)exec("ROLLBACK");
      take_back();
      return s;
    }
    return {};
  }

  status prune_through(std::int64_t seq) override {
    std::string sql = "DELETE FROM audit_events WHERE seq <= " + std::to_string(seq);
    return exec(sql.c_str());
  }

  result<std::int64_t> max_seq() override {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT COALESCE(MAX(seq), 0) FROM audit_events", -1, &raw,
                           nullptr) != SQLITE_OK)
      return make_error("sqlite prepare: " + std::string(sqlite3_errmsg(db_)));
    stmt_guard st(raw);
    if (sqlite3_step(raw) != SQLITE_ROW)
      return make_error("sqlite: " + std::string(sqlite3_errmsg(db_)));
    return static_cast<std::int64_t>(sqlite3_column_int64(raw, 0));
  }

  status scan(const audit_filter& f,
              const std::function<void(const audit_record&)>& fn) override {
    std::string sql =
        "SELECT e.seq, e.ts_us, e.kind, e.session_id, e.user_name, e.groups, e.connection, "
        "e.client_addr, e.statement, e.stmt_id, e.param_count, "
        "COALESCE(r.outcome, e.outcome), COALESCE(r.rows, e.rows), "
        "COALESCE(r.duration_us, e.duration_us), e.reason, e.detail "
        "FROM audit_events e LEFT JOIN audit_events r ON e.kind = 'statement' AND "
        "r.kind = 'statement.result' AND r.session_id = e.session_id AND r.stmt_id = e.stmt_id "
        "WHERE 1=1";
    if (f.since_us != 0) sql += " AND e.ts_us >= ?1";
    if (f.until_us != 0) sql += " AND e.ts_us < ?2";
    if (!f.user.empty()) sql += " AND e.user_name = ?3";
    if (!f.connection.empty()) sql += " AND e.connection = ?4";
    if (!f.kind.empty()) sql += " AND e.kind = ?5";
    if (!f.session_id.empty()) sql += " AND e.session_id = ?6";
    // LIKE is case-insensitive for ASCII; the needle's own % _ and \ are escaped.
    if (!f.statement.empty()) sql += " AND e.statement LIKE ?7 ESCAPE '\\'";
    // json_extract() fails on text that is not JSON (most events have an empty detail).
    if (!f.rule.empty())
      sql += " AND (CASE WHEN json_valid(e.detail) THEN json_extract(e.detail, '$.rule') END) = ?8";
    if (!f.outcome.empty())
      sql += " AND COALESCE(r.outcome, e.outcome) = ?9 AND e.kind <> 'statement.result'";
    sql += " ORDER BY e.seq";
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
      return make_error("sqlite prepare: " + std::string(sqlite3_errmsg(db_)));
    stmt_guard st(raw);
    if (f.since_us != 0) sqlite3_bind_int64(raw, 1, f.since_us);
    if (f.until_us != 0) sqlite3_bind_int64(raw, 2, f.until_us);
    if (!f.user.empty()) sqlite3_bind_text(raw, 3, f.user.c_str(), -1, SQLITE_TRANSIENT);
    if (!f.connection.empty())
      sqlite3_bind_text(raw, 4, f.connection.c_str(), -1, SQLITE_TRANSIENT);
    if (!f.kind.empty()) sqlite3_bind_text(raw, 5, f.kind.c_str(), -1, SQLITE_TRANSIENT);
    if (!f.session_id.empty())
      sqlite3_bind_text(raw, 6, f.session_id.c_str(), -1, SQLITE_TRANSIENT);
    if (!f.statement.empty()) {
      std::string like = "%";
      for (char c : f.statement) {
        if (c == '%' || c == '_' || c == '\\') like.push_back('\\');
        like.push_back(c);
      }
      like.push_back('%');
      sqlite3_bind_text(raw, 7, like.c_str(), static_cast<int>(like.size()), SQLITE_TRANSIENT);
    }
    if (!f.rule.empty()) sqlite3_bind_text(raw, 8, f.rule.c_str(), -1, SQLITE_TRANSIENT);
    if (!f.outcome.empty()) sqlite3_bind_text(raw, 9, f.outcome.c_str(), -1, SQLITE_TRANSIENT);
    audit_record r;
    auto col = [&](int i) {
      auto p = sqlite3_column_text(raw, i);
      return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
    };
    int rc = 0;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      r.seq = sqlite3_column_int64(raw, 0);
      r.ts_us = sqlite3_column_int64(raw, 1);
      r.kind = col(2);
      r.session_id = col(3);
      r.user = col(4);
      r.groups = col(5);
      r.connection = col(6);
      r.client_addr = col(7);
      r.statement = col(8);
      r.stmt_id = sqlite3_column_int64(raw, 9);
      r.param_count = sqlite3_column_int64(raw, 10);
      r.outcome = col(11);
      r.rows = sqlite3_column_int64(raw, 12);
      r.duration_us = sqlite3_column_int64(raw, 13);
      r.reason = col(14);
      r.detail = col(15);
      fn(r);
    }
    if (rc != SQLITE_DONE) return make_error("sqlite scan: " + std::string(sqlite3_errmsg(db_)));
    return {};
  }

  status create_review(const review_row& r) override { return detail::create_review(db_, r); }
  result<std::optional<review_row>> get_review(const std::string& id) override {
    return detail::get_review(db_, id);
  }
  result<std::vector<review_row>> list_reviews(const review_filter& f) override {
    return detail::list_reviews(db_, f);
  }
  result<bool> update_review(const review_row& r, std::string_view expected_status) override {
    return detail::update_review(db_, r, expected_status);
  }

 private:
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* insert_ = nullptr;
};

}  // namespace

result<std::unique_ptr<store>> open_store(const std::string& url, int busy_timeout_ms,
                                          bool durable) {
  constexpr std::string_view prefix = "sqlite://";
  if (url.rfind(prefix, 0) != 0) {
    if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0)
      return make_error("store " + url.substr(0, url.find(':')) +
                        ": the PostgreSQL store is not available in this build yet; use sqlite://");
    return make_error("unsupported store url (expected sqlite://PATH)");
  }
  std::string path = url.substr(prefix.size());
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string m = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error("cannot open store " + path + ": " + m);
  }
  auto s = std::make_unique<sqlite_store>(db, path);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // WAL: readers (export, verify) never block the writer. synchronous=NORMAL: a committed
  // transaction survives a crash or kill -9 of the gateway (it is in the WAL file, in the OS);
  // only a power loss can take the last commits. FULL would add an fsync to every group commit.
  if (auto st = s->exec("PRAGMA journal_mode=WAL"); !st) return error{st.err()};
  if (auto st = s->exec(durable ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=OFF"); !st)
    return error{st.err()};
  if (auto st = s->exec("PRAGMA foreign_keys=ON"); !st) return error{st.err()};
  std::unique_ptr<store> out = std::move(s);
  return out;
}

}  // namespace gh::store
