#include "review/review.hpp"

#include <array>
#include <boost/json.hpp>
#include <ctime>

#include "core/crypto.hpp"

namespace gh::review {

namespace json = boost::json;

std::string_view to_string(review_kind k) {
  switch (k) {
    case review_kind::statement:
      return "statement";
    case review_kind::access:
      return "access";
  }
  return "?";
}

std::string_view to_string(review_status s) {
  switch (s) {
    case review_status::pending:
      return "pending";
    case review_status::approved:
      return "approved";
    case review_status::rejected:
      return "rejected";
    case review_status::expired:
      return "expired";
    case review_status::cancelled:
      return "cancelled";
  }
  return "?";
}

std::optional<review_kind> parse_kind(std::string_view s) {
  for (auto k : {review_kind::statement, review_kind::access})
    if (to_string(k) == s) return k;
  return std::nullopt;
}

std::optional<review_status> parse_status(std::string_view s) {
  for (auto v : {review_status::pending, review_status::approved, review_status::rejected,
                 review_status::expired, review_status::cancelled})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

namespace {
constexpr std::string_view base32 = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::size_t id_chars = 10;
}  // namespace

std::string new_id() {
  std::array<std::uint8_t, id_chars> bytes{};
  crypto::random_bytes(bytes);
  std::string id = "r-";
  for (auto b : bytes) id.push_back(base32[b & 31u]);
  return id;
}

bool valid_id(std::string_view id) {
  if (id.size() != 2 + id_chars || !id.starts_with("r-")) return false;
  for (char c : id.substr(2))
    if (base32.find(c) == std::string_view::npos) return false;
  return true;
}

std::string format_time(std::int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((us % 1'000'000) / 1000));
  return buf;
}

json::object to_json(const review& r) {
  json::object o;
  o["id"] = r.id;
  o["kind"] = to_string(r.kind);
  o["status"] = to_string(r.status);
  o["orphaned"] = r.orphaned;
  o["created_us"] = r.created_us;
  o["created_at"] = format_time(r.created_us);
  o["expires_us"] = r.expires_us;
  o["expires_at"] = format_time(r.expires_us);
  o["requester"] = r.requester;
  json::array groups;
  for (const auto& g : r.requester_groups) groups.emplace_back(g);
  o["requester_groups"] = std::move(groups);
  o["connection"] = r.connection;
  o["session_id"] = r.session_id;
  o["client_addr"] = r.client_addr;
  o["statement"] = r.statement;
  o["rule"] = r.rule;
  json::array approvers;
  for (const auto& g : r.approvers) approvers.emplace_back(g);
  o["approvers"] = std::move(approvers);
  o["min_approvals"] = r.min_approvals;
  o["self_approval"] = r.self_approval;
  if (r.kind == review_kind::access) o["access_window_ms"] = r.access_window.count();
  json::array approvals;
  for (const auto& a : r.approvals) {
    json::object ao;
    ao["user"] = a.user;
    ao["at_us"] = a.at_us;
    ao["at"] = format_time(a.at_us);
    approvals.emplace_back(std::move(ao));
  }
  o["approvals"] = std::move(approvals);
  o["decided_by"] = r.decided_by;
  o["reason"] = r.reason;
  o["decided_us"] = r.decided_us;
  if (r.decided_us != 0) o["decided_at"] = format_time(r.decided_us);
  return o;
}

namespace {

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

std::int64_t num(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<std::int64_t>(it->value().as_uint64());
  return 0;
}

bool flag(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_bool() && it->value().as_bool();
}

std::vector<std::string> strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().as_array())
    if (v.is_string()) out.emplace_back(v.as_string());
  return out;
}

}  // namespace

result<review> from_json(const json::value& v) {
  if (!v.is_object()) return make_error("a review must be a JSON object");
  const auto& o = v.as_object();
  review r;
  r.id = str(o, "id");
  if (r.id.empty()) return make_error("review without an id");
  auto k = parse_kind(str(o, "kind"));
  auto s = parse_status(str(o, "status"));
  if (!k || !s) return make_error("review " + r.id + ": unknown kind or status");
  r.kind = *k;
  r.status = *s;
  r.orphaned = flag(o, "orphaned");
  r.created_us = num(o, "created_us");
  r.expires_us = num(o, "expires_us");
  r.requester = str(o, "requester");
  r.requester_groups = strings(o, "requester_groups");
  r.connection = str(o, "connection");
  r.session_id = str(o, "session_id");
  r.client_addr = str(o, "client_addr");
  r.statement = str(o, "statement");
  r.rule = str(o, "rule");
  r.approvers = strings(o, "approvers");
  r.min_approvals = static_cast<int>(num(o, "min_approvals"));
  r.self_approval = flag(o, "self_approval");
  r.access_window = std::chrono::milliseconds(num(o, "access_window_ms"));
  if (auto it = o.find("approvals"); it != o.end() && it->value().is_array()) {
    for (const auto& a : it->value().as_array()) {
      if (!a.is_object()) continue;
      r.approvals.push_back({str(a.as_object(), "user"), num(a.as_object(), "at_us")});
    }
  }
  r.decided_by = str(o, "decided_by");
  r.reason = str(o, "reason");
  r.decided_us = num(o, "decided_us");
  return r;
}

}  // namespace gh::review
