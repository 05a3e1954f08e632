#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include "api/admin_token.hpp"
#include "api/server.hpp"
#include "app/commands.hpp"
#include "app/review_policy.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "core/crypto.hpp"
#include "dlp/dlp.hpp"
#include "record/recorder.hpp"
#include "guard/rules.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "identity/identity.hpp"
#include "net/tls.hpp"
#include "proto/pg/server.hpp"
#include "review/service.hpp"
#include "store/store.hpp"

namespace gh::app {

namespace asio = boost::asio;

namespace {

const char* serve_help =
    "usage: gatehouse serve --config FILE [--log-level debug|info|warn|error]\n"
    "\n"
    "Runs the gateway: every listener in gateway.listen, one process. Logs one line per event\n"
    "to stderr. SIGTERM or SIGINT: stop accepting, close sessions with a recorded reason,\n"
    "flush the audit trail, exit 0.\n";

const char* check_help =
    "usage: gatehouse check-config --config FILE\n"
    "\n"
    "Validates the configuration: syntax, keys, values, and that every env:/file: secret can\n"
    "be read. Exit 0 if valid, 2 naming FILE:LINE and the problem otherwise.\n";

}  // namespace

std::string audit_journal_dir(const config::config& cfg) {
  return (std::filesystem::path(cfg.gateway.state_dir) / "audit").string();
}

std::string audit_key_path(const config::config& cfg) {
  return (std::filesystem::path(cfg.gateway.state_dir) / "audit-signing.key").string();
}

namespace {

result<config::config> load_checked(const std::string& path) {
  auto cfg = config::load_config(path);
  if (!cfg) return cfg;
  if (auto s = config::check_secrets(*cfg); !s) return error{s.err()};
  return cfg;
}

}  // namespace

int cmd_version(const std::vector<std::string>& args) {
  auto f = parse_flags(args, {});
  if (f.help) {
    std::puts("usage: gatehouse version\n\nPrints the version.");
    return 0;
  }
  std::printf("gatehouse %s\n", GATEHOUSE_VERSION);
  return 0;
}

int cmd_check_config(const std::vector<std::string>& args) {
  auto f = parse_flags(args, {"config"});
  if (f.help) {
    std::fputs(check_help, stdout);
    return 0;
  }
  if (!f.error.empty() || !f.values.count("config")) {
    std::fprintf(stderr, "gatehouse check-config: %s\n%s",
                 f.error.empty() ? "--config FILE is required" : f.error.c_str(), check_help);
    return 2;
  }
  auto cfg = load_checked(f.values["config"]);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.err().c_str());
    return 2;
  }
  std::printf("%s: ok (%zu connections, %zu users)\n", f.values["config"].c_str(),
              cfg->connections.size(), cfg->identity.users.size());
  return 0;
}

int cmd_serve(const std::vector<std::string>& args) {
  auto f = parse_flags(args, {"config", "log-level"});
  if (f.help) {
    std::fputs(serve_help, stdout);
    return 0;
  }
  if (!f.error.empty() || !f.values.count("config")) {
    std::fprintf(stderr, "gatehouse serve: %s\n%s",
                 f.error.empty() ? "--config FILE is required" : f.error.c_str(), serve_help);
    return 2;
  }
  if (f.values.count("log-level")) {
    const auto& l = f.values["log-level"];
    if (l == "debug") log::set_level(log::level::debug);
    else if (l == "info") log::set_level(log::level::info);
    else if (l == "warn") log::set_level(log::level::warn);
    else if (l == "error") log::set_level(log::level::error);
    else {
      std::fprintf(stderr, "gatehouse serve: --log-level must be debug, info, warn or error\n");
      return 2;
    }
  }
  auto cfg_r = load_checked(f.values["config"]);
  if (!cfg_r) {
    std::fprintf(stderr, "%s\n", cfg_r.err().c_str());
    return 2;
  }
  const config::config cfg = std::move(*cfg_r);

  auto fatal = [](const std::string& what) {
    log::error("gateway", "cannot start", {{"error", what}});
    return 1;
  };

  std::error_code fec;
  std::filesystem::create_directories(cfg.gateway.state_dir, fec);
  if (fec) return fatal("state_dir " + cfg.gateway.state_dir + ": " + fec.message());
  std::filesystem::permissions(cfg.gateway.state_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, fec);

  auto ids = identity::directory::from_config(cfg);
  if (!ids) return fatal(ids.err());

  pg::server_context ctx;
  ctx.cfg = &cfg;
  ctx.ids = &*ids;
  std::string cert = cfg.gateway.tls.cert, key = cfg.gateway.tls.key;
  if (cert.empty()) {
    auto pair = net::ensure_self_signed(cfg.gateway.state_dir);
    if (!pair) return fatal(pair.err());
    cert = pair->first;
    key = pair->second;
  }
  auto tls = net::make_server_context(cert, key);
  if (!tls) return fatal(tls.err());
  ctx.client_tls = *tls;
  for (const auto& c : cfg.connections) {
    if (c.type != config::conn_type::postgres || c.tls == config::upstream_tls::disable) continue;
    auto cc = net::make_client_context(c.tls == config::upstream_tls::verify_full, c.tls_ca);
    if (!cc) return fatal("connection " + c.name + ": " + cc.err());
    ctx.upstream_tls[c.name] = *cc;
  }

  // The gateway's own connection feeds the audit index, which the journal can rebuild.
  if (auto s = guard::check_config(cfg); !s) return fatal(s.err());
  for (const auto& c : cfg.connections) {
    if (c.type != config::conn_type::postgres || c.guardrails.empty()) continue;
    auto rs = guard::rule_set::compile(c, cfg.path);
    if (!rs) return fatal(rs.err());
    ctx.guards[c.name] = *rs;
  }
  std::optional<dlp::hash_key> mask_key;
  for (const auto& c : cfg.connections) {
    if (c.type != config::conn_type::postgres || !c.masking.present) continue;
    if (!mask_key) {
      auto k = dlp::load_or_create_key(cfg.gateway.state_dir);
      if (!k) return fatal(k.err());
      mask_key.emplace(std::move(*k));
    }
    auto pol = dlp::compile_policy(c.masking, &*mask_key);
    if (!pol) return fatal(pol.err());
    ctx.masking[c.name] = *pol;
  }
  if (auto tp = dlp::default_policy(); tp) ctx.text_policy = *tp;
  else return fatal("masking engine: " + tp.err());
  ctx.deny_nonce = crypto::random_token(12);
  for (auto& ch : ctx.deny_nonce)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) ch = 'x';

  auto st = store::open_store(cfg.store.url, 2000, false);
  if (!st) return fatal(st.err());
  if (auto m = (*st)->migrate(); !m) return fatal(m.err());
  const std::string journal_dir = audit_journal_dir(cfg);
  auto max_seq = (*st)->max_seq();
  if (!max_seq) return fatal(max_seq.err());
  auto jr = audit::journal::open(
      journal_dir,
      cfg.audit.sync == config::audit_sync::fsync ? audit::sync_mode::fsync : audit::sync_mode::write,
      *max_seq + 1, cfg.audit.segment_size);
  if (!jr) return fatal(jr.err());
  // Events the index missed (a crash between journal write and indexing) go in before serving.
  if (auto n = audit::catch_up(**st, journal_dir); !n)
    return fatal("audit index catch-up: " + n.err());
  else if (*n > 0)
    log::info("audit", "index caught up from the journal", {{"events", std::to_string(*n)}});
  auto sig = audit::signer::load_or_create(audit_key_path(cfg));
  if (!sig) return fatal(sig.err());
  log::info("audit", "checkpoints are signed", {{"key_id", (*sig)->key_id()}});
  audit::writer audit(std::move(*jr), std::move(*st), journal_dir, std::move(*sig),
                      {cfg.audit.checkpoint_events, cfg.audit.checkpoint_interval});
  audit.set_recordings_dir(record::recordings_dir(cfg.gateway.state_dir));
  if (cfg.audit.retention.count() > 0) {
    // Check a tenth as often as the retention period, between once a second and once an hour.
    auto every = std::clamp(cfg.audit.retention / 10, std::chrono::milliseconds(1000),
                            std::chrono::milliseconds(3'600'000));
    audit.set_retention(cfg.audit.retention, every);
  }
  audit.start();
  ctx.audit = &audit;

  // Reviews and the HTTP API run on their own io_context and thread (the control plane) with
  // their own store connection; sessions reach the service through ctx.reviews.
  auto policies = review_policies(cfg);
  if (!policies) return fatal(policies.err());
  asio::io_context control(1);
  auto control_guard = asio::make_work_guard(control);
  review::service_options review_opts;
  review_opts.store_url = cfg.store.url;
  review_opts.audit = &audit;
  review_opts.policies = std::move(*policies);
  review::service reviews(control.get_executor(), std::move(review_opts));
  if (auto s = reviews.start(); !s) return fatal("reviews: " + s.err());
  ctx.reviews = &reviews;
  std::unique_ptr<api::server> api_server;
  std::string admin_token;
  if (!cfg.gateway.listen.api.empty()) {
    api::server_options o;
    o.listen = cfg.gateway.listen.api;
    // Plain HTTP only on loopback; any other address is served with the gateway's certificate.
    if (!api::is_loopback_host(o.listen.host)) o.tls = ctx.client_tls;
    auto tok = api::create_admin_token(cfg.gateway.state_dir);
    if (!tok) return fatal(tok.err());
    admin_token = *tok;
    o.admin_token = std::move(*tok);
    api_server = std::make_unique<api::server>(control, reviews, *ids, &audit, std::move(o));
    if (auto s = api_server->start(); !s) return fatal(s.err());
  }

  unsigned nworkers = cfg.gateway.workers != 0 ? cfg.gateway.workers
                                               : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<asio::io_context>> ioc;
  std::vector<asio::io_context*> workers;
  for (unsigned i = 0; i < nworkers; ++i) {
    ioc.push_back(std::make_unique<asio::io_context>(1));
    workers.push_back(ioc.back().get());
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto* w : workers) guards.emplace_back(w->get_executor());

  pg::server pgs(ctx, workers);
  if (!cfg.gateway.listen.postgres.empty()) {
    if (auto s = pgs.start(cfg.gateway.listen.postgres); !s) return fatal(s.err());
  }

  {
    audit::record r;
    r.ts_us = audit::now_us();
    r.kind = "gateway.start";
    r.detail = std::string("{\"version\":\"") + GATEHOUSE_VERSION + "\",\"config\":\"" +
               cfg.path + "\"}";
    std::vector<audit::record> v{std::move(r)};
    // Wait for it: a gateway whose store cannot record must not serve.
    std::promise<std::string> done;
    auto fut = done.get_future();
    audit.async_append(std::move(v), [&done](std::string e) { done.set_value(std::move(e)); });
    auto err = fut.get();
    if (!err.empty()) return fatal("audit store: " + err);
  }

  asio::io_context main_ctx(1);
  asio::signal_set signals(main_ctx, SIGTERM, SIGINT);
  std::string stop_signal;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    stop_signal = sig == SIGTERM ? "SIGTERM" : "SIGINT";
  });

  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < workers.size(); ++i)
    threads.emplace_back([w = workers[i], i] {
      name_this_thread("gh-worker-" + std::to_string(i));
      w->run();
    });
  std::thread control_thread([&control] {
    name_this_thread("gh-control");
    control.run();
  });
  log::info("gateway", "started",
            {{"version", GATEHOUSE_VERSION}, {"workers", std::to_string(nworkers)}});
  main_ctx.run();

  log::info("gateway", "shutting down", {{"signal", stop_signal}});
  if (api_server) api_server->stop();
  // Held statements end with this reason before their sessions are closed.
  reviews.shutdown("gatehouse is shutting down");
  pgs.shutdown("gatehouse is shutting down");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pgs.live_sessions() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  guards.clear();
  for (auto* w : workers) w->stop();
  for (auto& t : threads) t.join();
  control_guard.reset();
  control.stop();
  control_thread.join();
  if (!admin_token.empty()) api::remove_admin_token(cfg.gateway.state_dir, admin_token);
  {
    audit::record r;
    r.ts_us = audit::now_us();
    r.kind = "gateway.stop";
    r.reason = "signal " + stop_signal;
    audit.append_detached(std::move(r));
  }
  audit.stop();
  auto s = audit.get_stats();
  log::info("gateway", "stopped",
            {{"audit_events", std::to_string(s.committed_events)},
             {"audit_commits", std::to_string(s.commits)},
             {"audit_failed", std::to_string(s.failed_events)}});
  return 0;
}

}  // namespace gh::app
