#pragma once
// The store: where audit events (and later reviews, recordings) live. One interface; SQLite is the
// embedded default, PostgreSQL the shared store for several gateway nodes (later issue).
// A store object is used by one thread at a time (the audit writer owns its own instance).
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/record.hpp"

namespace gh::store {

class store {
 public:
  virtual ~store() = default;
  // Creates or upgrades the schema. Idempotent.
  [[nodiscard]] virtual status migrate() = 0;
  // Appends all records in one transaction, all or nothing. A record with seq 0 gets the next
  // seq; a record that carries its seq (from the audit journal) keeps it, and one whose seq is
  // already stored is skipped (the journal may be replayed into the index more than once).
  [[nodiscard]] virtual status append(std::span<audit_record> records) = 0;
  // Highest seq stored, 0 when empty.
  [[nodiscard]] virtual result<std::int64_t> max_seq() = 0;
  // Calls `fn` for each matching record in seq order; a statement record carries the outcome,
  // rows and duration of its statement.result record when there is one.
  [[nodiscard]] virtual status scan(const audit_filter& filter,
                                    const std::function<void(const audit_record&)>& fn) = 0;
};

// Opens the store named by a URL ("sqlite://PATH"). `busy_timeout_ms` bounds how long a write
// waits for a lock before failing (fail closed instead of hanging sessions).
[[nodiscard]] result<std::unique_ptr<store>> open_store(const std::string& url,
                                                        int busy_timeout_ms = 2000);

}  // namespace gh::store
