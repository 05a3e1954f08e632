#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <string>

#include "app/commands.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "core/duration.hpp"
#include "store/store.hpp"

namespace gh::app {

namespace {

const char* audit_help =
    "usage: gatehouse audit export --config FILE [--since T] [--until T] [--user U]\n"
    "                              [--connection C] [--kind K]\n"
    "\n"
    "Prints audit events as JSON Lines, oldest first. T is an RFC 3339 time\n"
    "(2026-11-23T10:00:00Z), a date (2026-11-23), or a duration ago (15m, 2h, 7d).\n"
    "A statement event carries the outcome, rows and duration of its statement.\n";

// Parses a time filter into microseconds since the epoch.
result<std::int64_t> parse_time(const std::string& s) {
  if (s.empty()) return make_error("empty time");
  if (s.find('-') == std::string::npos || s.find_first_not_of("0123456789") == std::string::npos) {
    auto d = parse_duration(s);
    if (!d) return make_error("invalid time '" + s + "': " + d.err());
    return audit::now_us() - std::chrono::duration_cast<std::chrono::microseconds>(*d).count();
  }
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char z = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z);
  if (n == 3 && s.size() == 10) {
    h = mi = sec = 0;
  } else if (n < 6 || (n == 7 && z != 'Z')) {
    return make_error("invalid time '" + s + "' (expected e.g. 2026-11-23T10:00:00Z)");
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000;
}

std::string format_ts(std::int64_t us) {
  std::time_t secs = us / 1'000'000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1'000'000));
  return buf;
}

}  // namespace

int cmd_audit(const std::vector<std::string>& args) {
  auto f = parse_flags(args, {"config", "since", "until", "user", "connection", "kind"}, {}, 1);
  if (f.help || (f.positional.empty() && f.error.empty())) {
    std::fputs(audit_help, f.help ? stdout : stderr);
    return f.help ? 0 : 2;
  }
  if (!f.error.empty() || f.positional[0] != "export" || !f.values.count("config")) {
    std::fprintf(stderr, "gatehouse audit: %s\n%s",
                 !f.error.empty()              ? f.error.c_str()
                 : f.positional[0] != "export" ? ("unknown subcommand '" + f.positional[0] + "'").c_str()
                                               : "--config FILE is required",
                 audit_help);
    return 2;
  }
  auto cfg = config::load_config(f.values["config"]);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.err().c_str());
    return 2;
  }
  store::audit_filter filter;
  for (const char* k : {"since", "until"}) {
    if (!f.values.count(k)) continue;
    auto t = parse_time(f.values[k]);
    if (!t) {
      std::fprintf(stderr, "gatehouse audit export: --%s: %s\n", k, t.err().c_str());
      return 2;
    }
    (std::string(k) == "since" ? filter.since_us : filter.until_us) = *t;
  }
  filter.user = f.values["user"];
  filter.connection = f.values["connection"];
  filter.kind = f.values["kind"];
  auto st = store::open_store(cfg->store.url);
  if (!st) {
    std::fprintf(stderr, "gatehouse audit export: %s\n", st.err().c_str());
    return 1;
  }
  if (auto m = (*st)->migrate(); !m) {
    std::fprintf(stderr, "gatehouse audit export: %s\n", m.err().c_str());
    return 1;
  }
  // The journal is the record; the index may lag it by a moment while the gateway runs.
  if (auto n = audit::catch_up(**st, audit_journal_dir(*cfg)); !n) {
    std::fprintf(stderr, "gatehouse audit export: %s\n", n.err().c_str());
    return 1;
  }
  std::string line;
  auto s = (*st)->scan(filter, [&](const store::audit_record& r) {
    boost::json::object o;
    o["seq"] = r.seq;
    o["ts"] = format_ts(r.ts_us);
    o["kind"] = r.kind;
    if (!r.session_id.empty()) o["session"] = r.session_id;
    if (!r.user.empty()) o["user"] = r.user;
    if (!r.groups.empty()) {
      boost::json::array g;
      std::size_t pos = 0;
      while (pos <= r.groups.size()) {
        auto c = r.groups.find(',', pos);
        if (c == std::string::npos) c = r.groups.size();
        g.emplace_back(r.groups.substr(pos, c - pos));
        pos = c + 1;
      }
      o["groups"] = std::move(g);
    }
    if (!r.connection.empty()) o["connection"] = r.connection;
    if (!r.client_addr.empty()) o["client"] = r.client_addr;
    if (r.stmt_id != 0) o["stmt"] = r.stmt_id;
    if (r.kind == "statement") o["statement"] = r.statement;
    if (r.param_count >= 0) o["param_count"] = r.param_count;
    if (!r.outcome.empty()) o["outcome"] = r.outcome;
    if (r.rows >= 0) o["rows"] = r.rows;
    if (r.duration_us >= 0) o["duration_us"] = r.duration_us;
    if (!r.reason.empty()) o["reason"] = r.reason;
    if (!r.detail.empty()) {
      boost::system::error_code ec;
      auto v = boost::json::parse(r.detail, ec);
      if (!ec) o["detail"] = std::move(v);
    }
    line = boost::json::serialize(o);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
  });
  if (!s) {
    std::fprintf(stderr, "gatehouse audit export: %s\n", s.err().c_str());
    return 1;
  }
  return 0;
}

}  // namespace gh::app
