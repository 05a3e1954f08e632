#pragma once
// Internal to the store: the review tables of the SQLite store (migration 2 in sqlite_store.cpp).
// Free functions over the store's connection so sqlite_store.cpp only forwards to them.
#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "store/review_record.hpp"

namespace gh::store::detail {

[[nodiscard]] status create_review(sqlite3* db, const review_row& r);
[[nodiscard]] result<std::optional<review_row>> get_review(sqlite3* db, const std::string& id);
[[nodiscard]] result<std::vector<review_row>> list_reviews(sqlite3* db, const review_filter& f);
[[nodiscard]] result<bool> update_review(sqlite3* db, const review_row& r,
                                         std::string_view expected_status);

}  // namespace gh::store::detail
