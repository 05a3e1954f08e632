#pragma once
// The store: where audit events (and later reviews, recordings) live. One interface; SQLite is the
// embedded default, PostgreSQL the shared store for several gateway nodes (later issue).
// A store object is used by one thread at a time (the audit writer owns its own instance).
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/record.hpp"
#include "store/review_record.hpp"

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
  // Removes audit events with seq <= `seq` (retention; the journal prunes the same range).
  [[nodiscard]] virtual status prune_through(std::int64_t seq) = 0;
  // Highest seq stored, 0 when empty.
  [[nodiscard]] virtual result<std::int64_t> max_seq() = 0;
  // Calls `fn` for each matching record in seq order; a statement record carries the outcome,
  // rows and duration of its statement.result record when there is one.
  [[nodiscard]] virtual status scan(const audit_filter& filter,
                                    const std::function<void(const audit_record&)>& fn) = 0;

  // Reviews (src/review). create_review inserts the row and its approvals in one transaction;
  // an id that exists already is an error.
  [[nodiscard]] virtual status create_review(const review_row& r) = 0;
  [[nodiscard]] virtual result<std::optional<review_row>> get_review(const std::string& id) = 0;
  // Newest first.
  [[nodiscard]] virtual result<std::vector<review_row>> list_reviews(const review_filter& f) = 0;
  // Writes the mutable part of `r` (status, approvals, decided_by, reason, decided_us) if and only
  // if the stored status is still `expected_status` (compare-and-set, so two deciders cannot both
  // win). Returns false, changing nothing, when it was not (or the review does not exist).
  [[nodiscard]] virtual result<bool> update_review(const review_row& r,
                                                   std::string_view expected_status) = 0;
};

// Opens the store named by a URL ("sqlite://PATH"). `busy_timeout_ms` bounds how long a write
// waits for a lock before failing (fail closed instead of hanging sessions).
// `durable=false` is for a connection that only writes what can be rebuilt (the audit index,
// fed from the journal): its commits skip the disk sync.
[[nodiscard]] result<std::unique_ptr<store>> open_store(const std::string& url,
                                                        int busy_timeout_ms = 2000,
                                                        bool durable = true);

}  // namespace gh::store
