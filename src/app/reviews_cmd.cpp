// gatehouse reviews list|show|approve|reject: the approval queue, through the running gateway's
// HTTP API (gateway.listen.api). As a user: --as USER with that user's key in GATEHOUSE_API_KEY.
// Without --as: the local admin, whose token the gateway writes to state_dir/admin.token.
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "api/admin_token.hpp"
#include "api/client.hpp"
#include "api/server.hpp"
#include "app/commands.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "core/duration.hpp"
#include "review/review.hpp"

namespace gh::app {

namespace {

namespace json = boost::json;

const char* reviews_help =
    "usage: gatehouse reviews list [--status S] [--json] [--as USER] --config FILE\n"
    "       gatehouse reviews show ID [--json] [--as USER] --config FILE\n"
    "       gatehouse reviews approve ID [--reason R] [--as USER] --config FILE\n"
    "       gatehouse reviews reject ID [--reason R] [--as USER] --config FILE\n"
    "\n"
    "The approval queue of a running gateway, through its HTTP API (gateway.listen.api).\n"
    "\n"
    "list      reviews you may see; --status pending (default), approved, rejected, expired,\n"
    "          cancelled or all\n"
    "show      one review with its full (masked) statement and approvals\n"
    "approve   approve a pending review (it takes effect once min_approvals approvers agreed)\n"
    "reject    reject a pending review; the held statement fails with the reason\n"
    "\n"
    "--as USER     act as USER, authenticated by the API key in the GATEHOUSE_API_KEY\n"
    "              environment variable. Without --as: act as the local admin, with the token\n"
    "              the gateway writes to state_dir/admin.token (same machine, same user).\n"
    "--reason R    recorded with the decision and shown to the requester\n"
    "--json        print the API's JSON instead of a table\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed (the API's error is printed), 2 usage error.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "gatehouse reviews: %s\n\n%s", msg.c_str(), reviews_help);
  return 2;
}

// Text from the network shown on a terminal: control characters (escape sequences) and Unicode
// bidirectional overrides could make a statement look like another one, so they are shown
// escaped. Newlines and tabs are kept when `multiline`.
std::string safe(std::string_view s, bool multiline = false) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if ((c == '\n' || c == '\t') && multiline) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c == 0xe2 && i + 2 < s.size()) {
      auto b1 = static_cast<unsigned char>(s[i + 1]), b2 = static_cast<unsigned char>(s[i + 2]);
      bool bidi = (b1 == 0x80 && (b2 == 0x8e || b2 == 0x8f || (b2 >= 0xaa && b2 <= 0xae))) ||
                  (b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9);
      if (bidi) {
        char buf[16];
        unsigned cp = 0x2000u + ((b1 & 0x3fu) << 6) + (b2 & 0x3fu);
        std::snprintf(buf, sizeof buf, "<U+%04X>", cp);
        out += buf;
        i += 2;
      } else {
        out.push_back(static_cast<char>(c));
      }
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// One line, at most `width` bytes (not cutting a UTF-8 sequence).
std::string one_line(std::string_view s, std::size_t width) {
  std::string flat;
  bool space = false;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !flat.empty();
      continue;
    }
    if (space) flat.push_back(' ');
    space = false;
    flat.push_back(c);
  }
  flat = safe(flat);
  if (flat.size() <= width) return flat;
  std::size_t cut = width - 3;
  while (cut > 0 && (static_cast<unsigned char>(flat[cut]) & 0xc0) == 0x80) --cut;
  return flat.substr(0, cut) + "...";
}

std::string relative(std::int64_t us, std::int64_t now) {
  auto d = std::chrono::milliseconds(std::abs(now - us) / 1000 / 1000 * 1000);
  return format_duration(d);
}

std::string status_text(const review::review& r) {
  std::string s(review::to_string(r.status));
  if (r.orphaned) s += "*";
  return s;
}

void print_table(const std::vector<review::review>& rs) {
  if (rs.empty()) {
    std::puts("no reviews");
    return;
  }
  const auto now = audit::now_us();
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", "STATUS", "KIND", "REQUESTER", "CONNECTION", "RULE", "AGE", "STATEMENT"});
  bool orphans = false;
  for (const auto& r : rs) {
    orphans = orphans || r.orphaned;
    rows.push_back({r.id, status_text(r), std::string(review::to_string(r.kind)), safe(r.requester),
                    safe(r.connection), safe(r.rule), relative(r.created_us, now),
                    one_line(r.statement, 60)});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::puts(line.c_str());
  }
  if (orphans)
    std::puts(
        "* orphaned: left pending by an earlier gateway run; its session is gone, a decision "
        "is only recorded");
}

void print_review(const review::review& r) {
  const auto now = audit::now_us();
  auto row = [](const char* k, const std::string& v) { std::printf("%-11s %s\n", k, v.c_str()); };
  row("review", r.id);
  std::string st(review::to_string(r.status));
  if (r.orphaned) st += " (orphaned: its session is gone; a decision is only recorded)";
  row("status", st);
  row("kind", std::string(review::to_string(r.kind)));
  std::string who = safe(r.requester);
  if (!r.requester_groups.empty()) {
    who += " (";
    for (std::size_t i = 0; i < r.requester_groups.size(); ++i) {
      if (i) who += ',';
      who += safe(r.requester_groups[i]);
    }
    who += ")";
  }
  row("requester", who);
  row("connection", safe(r.connection));
  if (!r.session_id.empty() || !r.client_addr.empty())
    row("session",
        safe(r.session_id) + (r.client_addr.empty() ? "" : " from " + safe(r.client_addr)));
  if (!r.rule.empty()) row("rule", safe(r.rule));
  row("created", review::format_time(r.created_us) + " (" + relative(r.created_us, now) + " ago)");
  if (r.status == review::review_status::pending)
    row("expires", review::format_time(r.expires_us) +
                       (r.expires_us > now ? " (in " + relative(r.expires_us, now) + ")" : ""));
  std::string approvers;
  for (std::size_t i = 0; i < r.approvers.size(); ++i) {
    if (i) approvers += ',';
    approvers += safe(r.approvers[i]);
  }
  approvers += " (" + std::to_string(r.min_approvals) + " approval" +
               (r.min_approvals == 1 ? "" : "s") + " needed; self-approval " +
               (r.self_approval ? "allowed" : "not allowed") + ")";
  row("approvers", approvers);
  if (r.kind == review::review_kind::access) row("window", format_duration(r.access_window));
  for (std::size_t i = 0; i < r.approvals.size(); ++i)
    row(i == 0 ? "approvals" : "",
        safe(r.approvals[i].user) + " at " + review::format_time(r.approvals[i].at_us));
  if (r.decided_us != 0)
    row("decided", (r.decided_by.empty() ? std::string() : "by " + safe(r.decided_by) + " ") +
                       "at " + review::format_time(r.decided_us));
  if (!r.reason.empty()) row("reason", safe(r.reason));
  if (!r.statement.empty()) {
    std::puts("statement");
    std::string text = safe(r.statement, true);
    std::size_t pos = 0;
    while (pos <= text.size()) {
      auto nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::printf("  %s\n", text.substr(pos, nl - pos).c_str());
      pos = nl + 1;
    }
  }
}

// The API's error message, or the body itself.
std::string api_error(const api::http_result& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (auto it = o.find("error"); it != o.end() && it->value().is_string())
      return safe(std::string(it->value().as_string()));
  }
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

int cmd_reviews(const std::vector<std::string>& args) {
  auto f = parse_flags(args, {"config", "reason", "as", "status"}, {"json"}, 2);
  if (f.help) {
    std::fputs(reviews_help, stdout);
    return 0;
  }
  if (!f.error.empty()) return usage_error(f.error);
  if (f.positional.empty()) return usage_error("which one: list, show, approve or reject?");
  const std::string sub = f.positional[0];
  const bool decide = sub == "approve" || sub == "reject";
  if (sub != "list" && sub != "show" && !decide)
    return usage_error("unknown subcommand '" + sub + "'");
  if (sub == "list" && f.positional.size() > 1) return usage_error("list takes no ID");
  if (sub != "list" && f.positional.size() < 2) return usage_error(sub + " needs a review ID");
  if (f.values.count("reason") && !decide)
    return usage_error("--reason goes with approve or reject");
  if (f.values.count("status") && sub != "list") return usage_error("--status goes with list");
  if (!f.values.count("config")) return usage_error("--config FILE is required");
  const bool as_json = f.values.count("json") != 0;

  auto cfg = config::load_config(f.values["config"]);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.err().c_str());
    return 2;
  }
  const auto& ep = cfg->gateway.listen.api;
  if (ep.empty()) {
    std::fprintf(stderr, "gatehouse reviews: %s has no gateway.listen.api; the review API is off\n",
                 cfg->path.c_str());
    return 1;
  }

  std::string auth;
  if (f.values.count("as")) {
    const char* key = std::getenv("GATEHOUSE_API_KEY");
    if (key == nullptr || *key == '\0')
      return usage_error(
          "--as " + f.values["as"] +
          " needs that user's API key in the GATEHOUSE_API_KEY environment variable");
    if (f.values["as"] == review::local_admin_user)
      return usage_error("local-admin is reserved: omit --as to act as the local admin");
    auth = "Bearer " + f.values["as"] + ":" + key;
  } else {
    auto tok = api::read_admin_token(cfg->gateway.state_dir);
    if (!tok) {
      std::fprintf(stderr, "gatehouse reviews: %s\n", tok.err().c_str());
      return 1;
    }
    auth = "Bearer " + std::string(review::local_admin_user) + ":" + *tok;
  }

  api::client_options o;
  o.host = ep.host;
  if (o.host == "0.0.0.0" || o.host == "localhost") o.host = "127.0.0.1";
  if (o.host == "::") o.host = "::1";
  // The gateway serves plain HTTP only on loopback; elsewhere TLS with its own certificate.
  o.tls = !api::is_loopback_host(ep.host);
  o.ca_file =
      !cfg->gateway.tls.cert.empty()
          ? cfg->gateway.tls.cert
          : (std::filesystem::path(cfg->gateway.state_dir) / "tls" / "gateway.crt").string();
  o.port = ep.port;

  std::string method = "GET", target, body;
  if (sub == "list") {
    std::string status = f.values.count("status") ? f.values["status"] : "pending";
    if (status != "all" && !review::parse_status(status))
      return usage_error("--status must be pending, approved, rejected, expired, cancelled or all");
    target = "/api/reviews?status=" + status + "&limit=500";
  } else {
    const std::string& id = f.positional[1];
    if (!review::valid_id(id))
      return usage_error("'" + safe(id) + "' is not a review ID (they look like r-abcdefghij)");
    target = "/api/reviews/" + id;
    if (decide) {
      method = "POST";
      target += "/" + sub;
      json::object b;
      b["reason"] = f.values.count("reason") ? f.values["reason"] : "";
      body = json::serialize(b);
    }
  }

  auto res = api::http_request(o, method, target, auth, body);
  if (!res) {
    std::fprintf(stderr,
                 "gatehouse reviews: %s (is the gateway running? gateway.listen.api = %s:%u)\n",
                 res.err().c_str(), ep.host.c_str(), static_cast<unsigned>(ep.port));
    return 1;
  }
  if (res->status < 200 || res->status > 299) {
    std::fprintf(stderr, "gatehouse reviews: %s (HTTP %u)\n", api_error(*res).c_str(), res->status);
    return 1;
  }
  if (as_json) {
    std::fputs(res->body.c_str(), stdout);
    return 0;
  }
  boost::system::error_code ec;
  auto v = json::parse(res->body, ec);
  if (ec) {
    std::fprintf(stderr, "gatehouse reviews: the API answered something that is not JSON\n");
    return 1;
  }
  if (sub == "list") {
    std::vector<review::review> rs;
    if (v.is_object() && v.as_object().contains("reviews") &&
        v.as_object().at("reviews").is_array())
      for (const auto& item : v.as_object().at("reviews").as_array())
        if (auto r = review::from_json(item)) rs.push_back(std::move(*r));
    print_table(rs);
    return 0;
  }
  auto r = review::from_json(v);
  if (!r) {
    std::fprintf(stderr, "gatehouse reviews: %s\n", r.err().c_str());
    return 1;
  }
  if (sub == "show") {
    print_review(*r);
  } else if (r->status == review::review_status::pending) {
    std::printf("%s: approval recorded (%zu of %d needed)\n", r->id.c_str(), r->approvals.size(),
                r->min_approvals);
  } else {
    std::printf("%s %s by %s\n", r->id.c_str(), std::string(review::to_string(r->status)).c_str(),
                safe(r->decided_by).c_str());
  }
  return 0;
}

}  // namespace gh::app
