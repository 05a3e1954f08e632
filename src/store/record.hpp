#pragma once
// The persisted form of one audit event. Flat columns for what auditors search by; `detail` is a
// JSON object for the rest. Never holds credentials or parameter values.
#include <cstdint>
#include <string>

namespace gh::store {

struct audit_record {
  std::int64_t seq = 0;    // assigned by the store, strictly increasing
  std::int64_t ts_us = 0;  // wall clock, microseconds since the epoch (UTC)
  std::string kind;        // session.start, session.end, auth.ok, auth.fail, statement, ...
  std::string session_id;
  std::string user;
  std::string groups;  // comma-separated
  std::string connection;
  std::string client_addr;
  std::string statement;
  std::int64_t stmt_id = 0;      // per-session statement number; links statement and result
  std::int64_t param_count = -1;
  std::string outcome;           // "ok", or a SQLSTATE, or "refused"
  std::int64_t rows = -1;
  std::int64_t duration_us = -1;
  std::string reason;  // close reason, refusal reason, failure reason
  std::string detail;  // JSON object text, may be empty
  // Hash chain (set by the audit journal): hash = SHA-256 of the canonical line that ends with
  // "prev":"<previous event's hash>". See docs/AUDIT.md.
  std::string prev_hash;
  std::string hash;
};

struct audit_filter {
  std::int64_t since_us = 0;  // 0 = unbounded
  std::int64_t until_us = 0;
  std::string user;
  std::string connection;
  std::string kind;
  std::string session_id;
  // Search. `statement`: substring of the recorded (masked) statement text, case-insensitive
  // for ASCII letters. `rule`: the guardrail rule in the event's detail ({"rule":"..."}).
  // `outcome`: "ok", a SQLSTATE, "refused"...; for a statement event, the outcome of its
  // result (statement.result events themselves are left out: their statement carries it).
  std::string statement;
  std::string rule;
  std::string outcome;
};

}  // namespace gh::store
