// `gatehouse sessions`: recorded sessions from the audit index. A database session's recording is
// its statement timeline (text as recorded, masked; timings, outcomes, row counts; never results).
// A terminal session's recording is an asciicast v2 file in chunks under state_dir/recordings,
// each chunk vouched for by a `recording.chunk` event in the hash chain (src/record).
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.hpp"
#include "app/timefmt.hpp"
#include "audit/verify.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "record/recorder.hpp"
#include "record/trail.hpp"
#include "store/store.hpp"

namespace gh::app {

namespace {

const char* sessions_help =
    "usage: gatehouse sessions list --config FILE [--user U] [--connection C] [--since T]\n"
    "       gatehouse sessions show ID --config FILE\n"
    "       gatehouse replay ID --config FILE [--speed N] [--pubkey FILE]\n"
    "\n"
    "list    recorded sessions, newest last: who, where from, when, how long, how it ended;\n"
    "        REC says what was recorded: sql (statement timeline) or term (terminal recording)\n"
    "show    one session: its details, its terminal recording's summary, its timeline\n"
    "replay  plays a session back with its original timing divided by N (--speed 0: at once).\n"
    "        A terminal recording is checked first: the audit trail as `audit verify` does\n"
    "        (hashes, chain, checkpoint signatures by the local key or --pubkey), then each\n"
    "        chunk against the hash the trail holds for it (a modified or missing chunk is\n"
    "        refused, and so is a trail that fails verification); then its output is written\n"
    "        to stdout as it was shown (masked); pauses are capped at 5 s. Without --speed,\n"
    "        output that is not a terminal gets it all at once (--speed 0). A database session\n"
    "        prints its statement timeline.\n";

struct session_row {
  store::audit_record start;
  std::optional<store::audit_record> end;
};

result<std::unique_ptr<store::store>> open_index(const config::config& cfg) {
  auto st = store::open_store(cfg.store.url, k_reader_busy_timeout_ms);
  if (!st) return st;
  if (auto m = (*st)->migrate(); !m) return error{m.err()};
  if (auto n = audit::catch_up(**st, audit_journal_dir(cfg)); !n) return error{n.err()};
  return st;
}

std::string fmt_duration_us(std::int64_t us) {
  char buf[32];
  if (us < 0) return "-";
  if (us < 1000) std::snprintf(buf, sizeof buf, "%lldus", static_cast<long long>(us));
  else if (us < 1'000'000) std::snprintf(buf, sizeof buf, "%.1fms", static_cast<double>(us) / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(us) / 1e6);
  return buf;
}

std::string detail_field(const std::string& detail, const char* key) {
  boost::system::error_code ec;
  auto v = boost::json::parse(detail, ec);
  if (ec || !v.is_object()) return {};
  auto* p = v.as_object().if_contains(key);
  if (p == nullptr) return {};
  if (p->is_string()) return std::string(p->as_string());
  return boost::json::serialize(*p);
}

int list_sessions(store::store& st, std::map<std::string, std::string>& v) {
  store::audit_filter f;
  f.user = v["user"];
  f.connection = v["connection"];
  if (v.count("since")) {
    auto t = parse_time(v["since"]);
    if (!t) {
      std::fprintf(stderr, "gatehouse sessions: --since: %s\n", t.err().c_str());
      return 2;
    }
    f.since_us = *t;
  }
  std::vector<session_row> rows;
  std::map<std::string, std::size_t> by_id;
  std::map<std::string, bool> terminal;
  f.kind = "session.start";
  auto s = st.scan(f, [&](const store::audit_record& r) {
    by_id[r.session_id] = rows.size();
    rows.push_back({r, std::nullopt});
  });
  f.kind = "session.end";
  if (s) {
    s = st.scan(f, [&](const store::audit_record& r) {
      auto it = by_id.find(r.session_id);
      if (it != by_id.end()) rows[it->second].end = r;
    });
  }
  f.kind = std::string(record::start_kind);
  if (s) {
    s = st.scan(f, [&](const store::audit_record& r) { terminal[r.session_id] = true; });
  }
  if (!s) {
    std::fprintf(stderr, "gatehouse sessions: %s\n", s.err().c_str());
    return 1;
  }
  std::printf("%-16s  %-12s  %-12s  %-21s  %-27s  %9s  %4s  %6s  %s\n", "SESSION", "USER",
              "CONNECTION", "CLIENT", "STARTED", "DURATION", "REC", "STMTS", "ENDED");
  for (const auto& r : rows) {
    std::string stmts = r.end ? detail_field(r.end->detail, "statements") : "";
    std::printf("%-16s  %-12s  %-12s  %-21s  %-27s  %9s  %4s  %6s  %s\n",
                r.start.session_id.c_str(), r.start.user.c_str(), r.start.connection.c_str(),
                r.start.client_addr.c_str(), format_ts(r.start.ts_us).c_str(),
                r.end ? fmt_duration_us(r.end->duration_us).c_str() : "live?",
                terminal.count(r.start.session_id) ? "term" : "sql",
                stmts.empty() ? "-" : stmts.c_str(), r.end ? r.end->reason.c_str() : "");
  }
  return 0;
}

bool is_recording_event(const store::audit_record& r) { return r.kind.starts_with("recording."); }

// The terminal recording of session `id` as the hash chain describes it.
result<record::recording_info> terminal_recording(const config::config& cfg,
                                                  const std::string& id) {
  auto t = record::read_trail(audit_journal_dir(cfg), id);
  if (!t) return error{t.err()};
  auto it = t->recordings.find(id);
  if (it == t->recordings.end())
    return make_error("session " + id + " has no terminal recording in the audit trail");
  return it->second;
}

// Writes the recording's output to stdout with its timing; every chunk is checked first.
int replay_terminal(const config::config& cfg, const std::string& id, double speed,
                    const std::string& pubkey) {
  auto rec = terminal_recording(cfg, id);
  if (!rec) {
    std::fprintf(stderr, "gatehouse replay: %s\n", rec.err().c_str());
    return 1;
  }
  // The chunk hashes are only as good as the trail that holds them: the whole trail is
  // verified, signatures included, before a byte is played.
  std::string key_error;
  auto key = load_checkpoint_key(cfg, pubkey, key_error);
  if (!key_error.empty()) {
    std::fprintf(stderr, "gatehouse replay: %s\n", key_error.c_str());
    return 2;
  }
  if (key == nullptr) {
    std::fprintf(stderr, "gatehouse replay: no key to check the audit trail's signatures with "
                         "(give --pubkey FILE)\n");
    return 1;
  }
  auto rep = audit::verify_journal(audit_journal_dir(cfg), key.get());
  if (!rep.ok) {
    std::fprintf(stderr,
                 "gatehouse replay: the audit trail fails verification at seq %lld: %s; "
                 "recording %s is not played\n",
                 static_cast<long long>(rep.bad_seq), rep.problem.c_str(), id.c_str());
    return 1;
  }
  std::int64_t unsigned_chunks = 0;
  for (const auto& c : rec->chunks)
    if (c.seq > rep.last_signed_seq) ++unsigned_chunks;
  if (unsigned_chunks > 0)
    std::fprintf(stderr, "gatehouse replay: note: the last %lld chunk(s) are chained but not yet "
                         "under a signed checkpoint (one follows within seconds on a running "
                         "gateway)\n",
                 static_cast<long long>(unsigned_chunks));
  auto cast = record::load_recording(cfg.gateway.state_dir, *rec);
  if (!cast) {
    std::fprintf(stderr, "gatehouse replay: %s\n", cast.err().c_str());
    return 1;
  }
  if (rec->end_seq == 0)
    std::fprintf(stderr, "gatehouse replay: note: recording %s has not ended (a live session, or "
                         "the gateway stopped before it closed); playing what is on record\n",
                 id.c_str());
  auto s = record::play(
      *cast, speed,
      [](std::string_view data) {
        std::fwrite(data.data(), 1, data.size(), stdout);
        std::fflush(stdout);
      },
      [](std::int64_t us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); });
  if (!s) {
    std::fprintf(stderr, "gatehouse replay: %s\n", s.err().c_str());
    return 1;
  }
  return 0;
}

int show_session(const config::config& cfg, store::store& st, const std::string& id, bool replay,
                 double speed, const std::string& pubkey) {
  const char* who = replay ? "gatehouse replay" : "gatehouse sessions";
  store::audit_filter f;
  f.session_id = id;
  std::vector<store::audit_record> events;
  auto s = st.scan(f, [&](const store::audit_record& r) { events.push_back(r); });
  if (!s) {
    std::fprintf(stderr, "%s: %s\n", who, s.err().c_str());
    return 1;
  }
  if (events.empty()) {
    std::fprintf(stderr, "%s: no session %s (see `gatehouse sessions list`)\n", who, id.c_str());
    return 1;
  }
  const bool terminal = std::any_of(events.begin(), events.end(), is_recording_event);
  if (replay && terminal) return replay_terminal(cfg, id, speed, pubkey);
  const auto& first = events.front();
  std::printf("session     %s\nuser        %s (%s)\nconnection  %s\nclient      %s\nstarted     %s\n",
              id.c_str(), first.user.c_str(), first.groups.c_str(), first.connection.c_str(),
              first.client_addr.c_str(), format_ts(first.ts_us).c_str());
  if (terminal) {
    auto rec = terminal_recording(cfg, id);
    if (!rec) {
      std::printf("recording   terminal: %s\n", rec.err().c_str());
    } else {
      std::printf("recording   terminal (asciicast v2): %zu chunks, %lld bytes, %s, input %s, %s\n",
                  rec->chunks.size(), static_cast<long long>(rec->bytes()),
                  rec->duration_us >= 0 ? fmt_duration_us(rec->duration_us).c_str() : "duration -",
                  rec->input ? "recorded" : "not recorded",
                  rec->end_seq != 0 ? "ended" : "not ended");
      std::printf("            `gatehouse replay %s` plays it\n", id.c_str());
    }
  }
  std::printf("\n%12s  %-8s  %8s  %9s  %s\n", "+OFFSET", "OUTCOME", "ROWS", "DURATION", "EVENT");
  std::int64_t prev = first.ts_us;
  for (const auto& e : events) {
    // Results are folded into their statement; chunks are summarised above.
    if (e.kind == "statement.result" || e.kind == record::chunk_kind) continue;
    if (replay && speed > 0) {
      auto wait = static_cast<std::int64_t>(static_cast<double>(e.ts_us - prev) / speed);
      if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(std::min<std::int64_t>(wait, 60'000'000)));
    }
    prev = e.ts_us;
    std::string what = e.kind == "statement" ? e.statement : e.kind + (e.reason.empty() ? "" : ": " + e.reason);
    std::printf("%12s  %-8s  %8s  %9s  %s\n", fmt_duration_us(e.ts_us - first.ts_us).c_str(),
                e.outcome.empty() ? "-" : e.outcome.c_str(),
                e.rows >= 0 ? std::to_string(e.rows).c_str() : "-",
                e.kind == "statement" ? fmt_duration_us(e.duration_us).c_str() : "",
                what.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int cmd_sessions(const std::vector<std::string>& args, bool replay) {
  auto f = parse_flags(args, {"config", "user", "connection", "since", "speed", "pubkey"}, {}, 2);
  if (f.help) {
    std::fputs(sessions_help, stdout);
    return 0;
  }
  auto usage = [&](const std::string& m) {
    std::fprintf(stderr, "gatehouse %s: %s\n%s", replay ? "replay" : "sessions", m.c_str(),
                 sessions_help);
    return 2;
  };
  if (!f.error.empty()) return usage(f.error);
  if (!f.values.count("config")) return usage("--config FILE is required");
  if (!replay && f.values.count("pubkey")) return usage("--pubkey is for replay");
  std::string sub = replay ? "replay" : (f.positional.empty() ? "" : f.positional[0]);
  std::string id;
  if (replay) {
    if (f.positional.size() != 1) return usage("replay takes one session id");
    id = f.positional[0];
  } else if (sub == "show") {
    if (f.positional.size() != 2) return usage("show takes one session id");
    id = f.positional[1];
  } else if (sub != "list" || f.positional.size() != 1) {
    return usage("expected list or show ID");
  }
  double speed = 1.0;
  // A pipe or a file wants the bytes, not the pauses; --speed still asks for them explicitly.
  if (replay && !f.values.count("speed") && ::isatty(STDOUT_FILENO) == 0) speed = 0;
  if (f.values.count("speed")) {
    try {
      speed = std::stod(f.values["speed"]);
    } catch (...) {
      return usage("--speed takes a number");
    }
    if (speed < 0) return usage("--speed takes a number >= 0");
  }
  auto cfg = config::load_config(f.values["config"]);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.err().c_str());
    return 2;
  }
  auto st = open_index(*cfg);
  if (!st) {
    std::fprintf(stderr, "gatehouse sessions: %s\n", st.err().c_str());
    return 1;
  }
  if (sub == "list") return list_sessions(**st, f.values);
  return show_session(*cfg, **st, id, replay, speed,
                      f.values.count("pubkey") ? f.values["pubkey"] : std::string());
}

}  // namespace gh::app
