#pragma once
// Helpers for tests that touch a SQLite store (store_test, audit_test): a temp dir removed at scope
// exit, records built from the fields tests vary, and a second raw connection to the same file to
// play "another process" (lock holder, schema editor).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/tests/temp_dir.hpp"
#include "store/store.hpp"

namespace gh::store::testing {

// The shared temp dir, with the store's file in it.
class temp_dir : public gh::testing::temp_dir {
 public:
  temp_dir() : gh::testing::temp_dir("gh-store") {}
  [[nodiscard]] std::string db_path() const { return (path() / "audit.db").string(); }
  [[nodiscard]] std::string url() const { return "sqlite://" + db_path(); }
};

inline audit_record make_record(std::int64_t ts_us, std::string kind, std::string user = "alice",
                                std::string connection = "patients",
                                std::string session_id = "s1", std::int64_t stmt_id = 0) {
  audit_record r;
  r.ts_us = ts_us;
  r.kind = std::move(kind);
  r.user = std::move(user);
  r.connection = std::move(connection);
  r.session_id = std::move(session_id);
  r.stmt_id = stmt_id;
  return r;
}

// Every record `filter` matches, in scan order; a failed scan is a test failure.
inline std::vector<audit_record> scan_all(store& s, const audit_filter& filter = {}) {
  std::vector<audit_record> out;
  auto st = s.scan(filter, [&](const audit_record& r) { out.push_back(r); });
  EXPECT_TRUE(st.ok()) << st.err();
  return out;
}

// A plain sqlite3 connection to the store's file, outside the store interface.
class raw_connection {
 public:
  explicit raw_connection(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
      ADD_FAILURE() << "sqlite3_open " << path << ": " << sqlite3_errmsg(db_);
    }
  }
  ~raw_connection() { sqlite3_close(db_); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  // Runs `sql`; returns "" or sqlite's error message.
  std::string exec(const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) == SQLITE_OK) return {};
    std::string m = msg != nullptr ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return m.empty() ? "error" : m;
  }

  std::int64_t count(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::int64_t n = -1;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace gh::store::testing
