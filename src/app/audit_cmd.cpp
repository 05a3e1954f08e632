#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "app/commands.hpp"
#include "app/timefmt.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "core/duration.hpp"
#include "store/store.hpp"
#include "audit/journal.hpp"
#include "audit/signer.hpp"
#include "audit/verify.hpp"
#include "core/crypto.hpp"
#include "record/trail.hpp"

namespace gh::app {

namespace {

const char* audit_help =
    "usage: gatehouse audit export --config FILE [--since T] [--until T] [--user U]\n"
    "                              [--connection C] [--kind K] [--statement TEXT]\n"
    "                              [--rule NAME] [--outcome CODE] [--format json|chain]\n"
    "                              [--out FILE]\n"
    "       gatehouse audit verify --config FILE [--pubkey FILE] [--file FILE]\n"
    "       gatehouse audit pubkey --config FILE\n"
    "\n"
    "export   prints audit events as JSON Lines, oldest first. T is an RFC 3339 time\n"
    "         (2026-11-23T10:00:00Z), a date (2026-11-23), or a duration ago (15m, 2h, 7d).\n"
    "         A statement event carries the outcome, rows and duration of its statement.\n"
    "         Search: --statement TEXT keeps events whose recorded (masked) statement text\n"
    "         contains TEXT (case-insensitive); --rule NAME those a guardrail rule NAME\n"
    "         decided (detail.rule); --outcome CODE those with that outcome: ok, a SQLSTATE\n"
    "         (42501, 22012...), refused; a statement's outcome is its result's.\n"
    "         Filters combine with AND.\n"
    "         --format chain prints the hash-chained journal lines themselves (no filters),\n"
    "         which `audit verify --file` checks offline; with --out FILE it also writes\n"
    "         FILE.sig, an Ed25519 signature over the file's SHA-256.\n"
    "verify   checks every event's hash, the chain, every checkpoint signature and that the\n"
    "         trail was not cut back; exit 0 'verified N events, K checkpoints', exit 1 naming\n"
    "         the first bad event. --pubkey pins the expected signing key (PEM).\n"
    "         Terminal recordings on disk are checked too: every chunk against the SHA-256\n"
    "         and size its recording.chunk event chained (a chunk removed by retention is\n"
    "         fine when an audit.pruned event covers its event).\n"
    "pubkey   prints the public key that verifies this gateway's checkpoints (PEM).\n";


}  // namespace

namespace {

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "gatehouse audit: %s\n%s", msg.c_str(), audit_help);
  return 2;
}

std::string read_all(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::unique_ptr<audit::verifier> load_checkpoint_key(const config::config& cfg,
                                                     const std::string& pubkey_pem_path,
                                                     std::string& error) {
  std::string pem;
  if (!pubkey_pem_path.empty()) {
    bool ok = false;
    pem = read_all(pubkey_pem_path, ok);
    if (!ok) {
      error = "cannot read " + pubkey_pem_path;
      return nullptr;
    }
  } else if (std::filesystem::exists(audit_key_path(cfg))) {
    auto s = audit::signer::load_or_create(audit_key_path(cfg));
    if (!s) {
      error = s.err();
      return nullptr;
    }
    pem = (*s)->public_pem();
  }
  if (pem.empty()) return nullptr;
  auto k = audit::verifier::from_public_pem(pem);
  if (!k) {
    error = k.err();
    return nullptr;
  }
  return std::move(*k);
}

namespace {

int cmd_pubkey(const config::config& cfg) {
  auto key_path = audit_key_path(cfg);
  if (!std::filesystem::exists(key_path)) {
    std::fprintf(stderr, "gatehouse audit pubkey: no signing key yet at %s (it is created by the "
                         "first `gatehouse serve`)\n", key_path.c_str());
    return 1;
  }
  auto s = audit::signer::load_or_create(key_path);
  if (!s) {
    std::fprintf(stderr, "gatehouse audit pubkey: %s\n", s.err().c_str());
    return 1;
  }
  std::fputs((*s)->public_pem().c_str(), stdout);
  return 0;
}

int cmd_verify(const config::config& cfg, std::map<std::string, std::string>& v) {
  std::string err;
  auto key = load_checkpoint_key(cfg, v.count("pubkey") ? v["pubkey"] : std::string(), err);
  if (!err.empty()) {
    std::fprintf(stderr, "gatehouse audit verify: %s\n", err.c_str());
    return 2;
  }
  auto rep = v.count("file") ? audit::verify_file(v["file"], key.get())
                             : audit::verify_journal(audit_journal_dir(cfg), key.get());
  if (!rep.ok) {
    std::printf("FAILED at seq %lld: %s\n", static_cast<long long>(rep.bad_seq),
                rep.problem.c_str());
    return 1;
  }
  if (key == nullptr) {
    std::printf("FAILED: no public key to check signatures with (give --pubkey FILE)\n");
    return 1;
  }
  // Recordings live beside the journal, not in an export: only a journal check covers them.
  std::int64_t recordings = 0, chunks = 0;
  if (!v.count("file")) {
    auto trail = record::read_trail(audit_journal_dir(cfg));
    if (!trail) {
      std::printf("FAILED: %s\n", trail.err().c_str());
      return 1;
    }
    if (auto p = record::check_chunks(cfg.gateway.state_dir, *trail, &chunks)) {
      std::printf("FAILED at seq %lld: %s\n", static_cast<long long>(p->seq), p->what.c_str());
      return 1;
    }
    recordings = static_cast<std::int64_t>(trail->recordings.size());
  }
  std::printf("verified %lld events, %lld checkpoints (key %s)", static_cast<long long>(rep.events),
              static_cast<long long>(rep.checkpoints), key->key_id().c_str());
  if (recordings > 0)
    std::printf(", %lld terminal recordings (%lld chunks on disk)",
                static_cast<long long>(recordings), static_cast<long long>(chunks));
  if (rep.events > rep.last_signed_seq)
    std::printf("; %lld newest events chained but not yet under a checkpoint",
                static_cast<long long>(rep.events - rep.last_signed_seq));
  std::printf("\n");
  return 0;
}

// Writes the raw journal lines (what `verify --file` checks) to `out`.
int export_chain(const config::config& cfg, std::map<std::string, std::string>& v) {
  std::FILE* out = stdout;
  std::string path;
  if (v.count("out")) {
    path = v["out"];
    out = std::fopen(path.c_str(), "wb");
    if (out == nullptr) {
      std::fprintf(stderr, "gatehouse audit export: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::string line;
  auto st = audit::journal::read(audit_journal_dir(cfg), 0, [&](audit::record&& r) {
    line.clear();
    audit::encode_record(r, r.prev_hash, line);
    std::fwrite(line.data(), 1, line.size(), out);
  });
  if (out != stdout) std::fclose(out);
  if (!st) {
    std::fprintf(stderr, "gatehouse audit export: %s\n", st.err().c_str());
    return 1;
  }
  if (!path.empty()) {
    bool ok = false;
    auto data = read_all(path, ok);
    auto s = audit::signer::load_or_create(audit_key_path(cfg));
    if (!s) {
      std::fprintf(stderr, "gatehouse audit export: %s\n", s.err().c_str());
      return 1;
    }
    auto digest = crypto::sha256_hex(data);
    std::ofstream sig(path + ".sig", std::ios::binary);
    sig << "gatehouse-export-v1 sha256=" << digest << " key_id=" << (*s)->key_id()
        << " sig=" << (*s)->sign_base64("gatehouse-export-v1\n" + digest + "\n") << "\n";
  }
  return 0;
}

}  // namespace

int cmd_audit(const std::vector<std::string>& args) {
  auto f = parse_flags(args, {"config", "since", "until", "user", "connection", "kind", "statement",
                              "rule", "outcome", "format", "out", "pubkey", "file"},
                       {}, 1);
  if (f.help) {
    std::fputs(audit_help, stdout);
    return 0;
  }
  if (!f.error.empty()) return usage_error(f.error);
  if (f.positional.empty()) return usage_error("a subcommand is required");
  const std::string sub = f.positional[0];
  if (sub != "export" && sub != "verify" && sub != "pubkey")
    return usage_error("unknown subcommand '" + sub + "'");
  if (!f.values.count("config")) return usage_error("--config FILE is required");
  auto cfg = config::load_config(f.values["config"]);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.err().c_str());
    return 2;
  }
  if (sub == "pubkey") return cmd_pubkey(*cfg);
  if (sub == "verify") return cmd_verify(*cfg, f.values);
  std::string format = f.values.count("format") ? f.values["format"] : "json";
  if (format == "chain") {
    for (const char* k :
         {"since", "until", "user", "connection", "kind", "statement", "rule", "outcome"})
      if (f.values.count(k))
        return usage_error(std::string("--format chain exports the whole trail; --") + k +
                           " does not apply");
    return export_chain(*cfg, f.values);
  }
  if (format != "json") return usage_error("--format must be json or chain");
  store::audit_filter filter;
  for (const char* k : {"since", "until"}) {
    if (!f.values.count(k)) continue;
    auto t = parse_time(f.values[k]);
    if (!t) return usage_error(std::string("--") + k + ": " + t.err());
    (std::string(k) == "since" ? filter.since_us : filter.until_us) = *t;
  }
  filter.user = f.values["user"];
  filter.connection = f.values["connection"];
  filter.kind = f.values["kind"];
  filter.statement = f.values["statement"];
  filter.rule = f.values["rule"];
  filter.outcome = f.values["outcome"];
  auto st = store::open_store(cfg->store.url, k_reader_busy_timeout_ms);
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
  std::FILE* out = stdout;
  if (f.values.count("out")) {
    out = std::fopen(f.values["out"].c_str(), "wb");
    if (out == nullptr) {
      std::fprintf(stderr, "gatehouse audit export: cannot write %s\n", f.values["out"].c_str());
      return 1;
    }
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
    std::fwrite(line.data(), 1, line.size(), out);
  });
  if (out != stdout) std::fclose(out);
  if (!s) {
    std::fprintf(stderr, "gatehouse audit export: %s\n", s.err().c_str());
    return 1;
  }
  return 0;
}

}  // namespace gh::app
