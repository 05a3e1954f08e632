#pragma once
// Statement classification: SQL text -> what each statement is and touches, using the real
// PostgreSQL 15 grammar (libpg_query). The rule engine (rules.hpp) decides on these facts; the
// session never guesses from substrings. See README.md for the statement model.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::guard {

// A relation as written: `public.patients` -> {"public", "patients"}; `patients` -> {"",
// "patients"}. Unquoted identifiers come lowercased (PostgreSQL folds them), quoted ones keep
// their case ("Patients"). A catalog (db.schema.t) is dropped.
struct qualified_name {
  std::string schema;
  std::string name;
  [[nodiscard]] std::string str() const { return schema.empty() ? name : schema + "." + name; }
  friend bool operator==(const qualified_name&, const qualified_name&) = default;
};

struct statement_info {
  // The statement's own class: "select", "delete", "drop_table", ... (the full list is
  // config::statement_classes(), which config validation uses too). Points at static storage.
  std::string_view cls;
  // Every class this statement executes, cls first, without duplicates: DML inside CTEs
  // (`WITH d AS (DELETE ...) SELECT` -> [select, delete]), the inner statement of EXPLAIN ANALYZE,
  // PREPARE, COPY (query), CREATE TABLE AS / SELECT INTO, DECLARE CURSOR, the elements of
  // CREATE SCHEMA. A rule's `statement:` matches any of these.
  std::vector<std::string_view> classes;
  // Relations referenced anywhere (FROM, JOIN, subqueries, CTE bodies, DML targets, COPY, DROP,
  // TRUNCATE, GRANT, DDL), in order of first appearance, without duplicates. References to CTEs
  // in scope are not tables.
  std::vector<qualified_name> tables;
  // Set when the statement executes an UPDATE or DELETE (top level or in a CTE): false if any of
  // them has no WHERE, or a WHERE that references no column (`WHERE true`, `WHERE 1=1`).
  std::optional<bool> has_where;
  // Set when the statement's own query is a SELECT (also under COPY/EXPLAIN ANALYZE/PREPARE/
  // CREATE TABLE AS/DECLARE) or a `COPY table TO` (always false): whether the top-level SELECT
  // has a LIMIT/FETCH FIRST other than LIMIT ALL/NULL.
  std::optional<bool> has_limit;
  // Functions called anywhere, lowercased, schema stripped (`pg_catalog.pg_read_file` ->
  // `pg_read_file`), without duplicates.
  std::vector<std::string> functions;
  // COPY only: "stdout" | "stdin" | "program" | "file"; empty otherwise.
  std::string_view copy_target;
  // COPY only: "text" | "csv" | "binary" (FORMAT option, or the old BINARY / CSV keywords).
  std::string_view copy_format;
  // This statement's slice of the input text (trimmed of surrounding whitespace).
  std::string_view text;
  // Byte offset of `text` in the input.
  std::size_t offset = 0;
};

struct classification {
  bool parse_ok = false;
  std::string parse_error;  // "syntax error at or near \"x\" (at character 12)"; empty if parse_ok
  std::vector<statement_info> statements;  // empty for "" or only comments/semicolons
};

// Classifying costs memory of roughly 40x the text (libpg_query's tree printed as JSON, then a
// JSON DOM), so longer texts are not classified: they get parse_ok = false and the connection's
// on_parse_error decides. Bulk loads belong in COPY FROM STDIN, whose data is not statement text.
inline constexpr std::size_t default_max_classify_bytes = 1024 * 1024;

// Never throws, never crashes on any input. Text that PostgreSQL would reject, text with a NUL
// byte, text over `max_bytes` and trees too deep to walk give parse_ok = false with a reason.
// The result's `text` views point into `sql`: keep `sql` alive while using them.
[[nodiscard]] classification classify(std::string_view sql,
                                      std::size_t max_bytes = default_max_classify_bytes);

}  // namespace gh::guard
