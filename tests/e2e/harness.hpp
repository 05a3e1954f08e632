#pragma once
// End-to-end test harness: real PostgreSQL clusters, the gatehouse binary and real clients
// (psql, libpq) on loopback, each in its own temp dir, on ports chosen free at run time.
// Every object cleans up after itself: children are killed and reaped, temp dirs removed
// (set GATEHOUSE_E2E_KEEP=1 to keep temp dirs for a post-mortem).
//
// Failures to set up (initdb fails, a server does not come up) throw std::runtime_error with
// the relevant log attached; GoogleTest reports that as a test failure.
#include <libpq-fe.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::e2e {

using namespace std::chrono_literals;
using env_map = std::map<std::string, std::string>;

// The PostgreSQL 15 server binaries (initdb, postgres, pg_isready, psql, pgbench).
// GATEHOUSE_PG_BINDIR overrides the Debian default.
[[nodiscard]] std::filesystem::path pg_bindir();
// The gatehouse binary under test (GATEHOUSE_BIN, set by CMake).
[[nodiscard]] std::filesystem::path gatehouse_bin();
// The repository root (GATEHOUSE_SOURCE_DIR, set by CMake).
[[nodiscard]] std::filesystem::path source_dir();

// `bytes` random bytes as lowercase hex (2 * bytes characters).
[[nodiscard]] std::string random_hex(std::size_t bytes = 16);
[[nodiscard]] std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, std::string_view text);

// A directory made with mkdtemp under $TMPDIR (or /tmp), mode 0755 so an unprivileged server
// user can traverse it. Removed recursively on destruction.
class temp_dir {
 public:
  explicit temp_dir(std::string_view prefix = "gh-e2e");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  temp_dir(temp_dir&& other) noexcept;
  temp_dir& operator=(temp_dir&& other) noexcept;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(std::string_view name) const {
    return path_ / name;
  }
  // chown -R to `user` (e.g. "postgres").
  void chown_to(const std::string& user) const;

 private:
  std::filesystem::path path_;
};

// A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, close).
[[nodiscard]] std::uint16_t free_port();
// True if a TCP socket on this machine is in LISTEN state on `port` (from /proc/net/tcp{,6}).
// Makes no connection, so a server under test does not see (or audit) a probe session.
[[nodiscard]] bool port_listening(std::uint16_t port);
// True once port_listening(port), false after `timeout`.
[[nodiscard]] bool wait_port(std::uint16_t port, std::chrono::milliseconds timeout);
// True if a TCP connect to 127.0.0.1:port succeeds right now (the connection is closed again).
[[nodiscard]] bool port_open(std::uint16_t port);

struct spawn_options {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH unless it contains a '/'
  env_map env;                    // added to (and overriding) the inherited environment
  std::string user;               // run as this user (setuid after fork); empty = as we are
  std::filesystem::path cwd;      // empty = inherit
  std::filesystem::path log_dir;  // stdout/stderr go to log_dir/<name>.{out,err}
  std::string name = "child";
};

// A child process in its own process group. Inherited PG* variables (PGHOST, PGPASSWORD, ...)
// are dropped so the test runner's environment cannot leak into clients; pass them in `env`.
// Destruction kills the whole process group with SIGKILL and reaps the child.
class child_process {
 public:
  explicit child_process(spawn_options options);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Sends `sig` to the child (or to its whole process group). No-op once reaped.
  void kill(int sig, bool whole_group = false);
  // Waits up to `timeout` for the child to exit. Returns its exit code (128 + signal number if
  // it was killed by a signal), or nullopt if it is still running.
  [[nodiscard]] std::optional<int> wait(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();
  [[nodiscard]] std::optional<int> exit_code() const { return exit_code_; }
  [[nodiscard]] std::string stdout_text() const;
  [[nodiscard]] std::string stderr_text() const;
  [[nodiscard]] const std::filesystem::path& stdout_path() const { return out_path_; }
  [[nodiscard]] const std::filesystem::path& stderr_path() const { return err_path_; }

 private:
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
};

struct run_result {
  int exit_code = -1;  // -1: killed because the timeout expired; 128 + N: killed by signal N
  std::string out;
  std::string err;
  [[nodiscard]] bool ok() const { return exit_code == 0; }
};

// Runs argv to completion, feeding stdin_text and capturing stdout/stderr. After `timeout` the
// process group is killed and exit_code is -1. Inherited PG* variables are dropped (see above).
[[nodiscard]] run_result run(const std::vector<std::string>& argv, const env_map& env = {},
                             std::string_view stdin_text = {},
                             std::chrono::milliseconds timeout = 60s, const std::string& user = {});

// "host=127.0.0.1 port=P dbname=D user=U sslmode=S" (values quoted as libpq wants).
[[nodiscard]] std::string conninfo(std::uint16_t port, std::string_view dbname,
                                   std::string_view user, std::string_view sslmode = "require",
                                   std::string_view host = "127.0.0.1");

// The real psql (from pg_bindir()) with -X (no psqlrc) -v ON_ERROR_STOP=1, args appended,
// e.g. psql({conninfo(...), "-Atc", "select 1"}, {{"PGPASSWORD", key}}).
// PGCONNECT_TIMEOUT defaults to 10 unless given in env.
[[nodiscard]] run_result psql(const std::vector<std::string>& args, const env_map& env = {},
                              std::string_view stdin_text = {},
                              std::chrono::milliseconds timeout = 60s);

// libpq RAII helpers.
struct pq_conn_deleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct pq_result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using pq_conn = std::unique_ptr<PGconn, pq_conn_deleter>;
using pq_result = std::unique_ptr<PGresult, pq_result_deleter>;
// PQconnectdb; never null (check PQstatus / PQerrorMessage).
[[nodiscard]] pq_conn pq_connect(const std::string& conninfo);
[[nodiscard]] pq_result pq_exec(PGconn* conn, const std::string& sql);

struct pg_cluster_options {
  std::string password;  // for roles app, app_md5, app_plain; empty = random hex
  bool seed = true;      // create roles, database clinic and the patients table
};

// A throwaway PostgreSQL 15 cluster in a temp dir owned by the `postgres` user, listening on
// 127.0.0.1:<free port> (TLS on, self-signed cert) and a unix socket in its temp dir.
// pg_hba: local trust; app_md5 -> md5; app_plain -> password; everything else scram-sha-256.
// Seeded with roles app (SCRAM), app_md5 (md5), app_plain (same password), database clinic
// owned by app with a small synthetic `patients` table all three may read and write.
class pg_cluster {
 public:
  explicit pg_cluster(pg_cluster_options options = {});
  ~pg_cluster();
  pg_cluster(const pg_cluster&) = delete;
  pg_cluster& operator=(const pg_cluster&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string host() const { return "127.0.0.1"; }
  [[nodiscard]] const std::string& password() const { return password_; }
  [[nodiscard]] std::filesystem::path ca_cert_path() const { return dir_ / "server.crt"; }
  [[nodiscard]] std::filesystem::path socket_dir() const { return dir_.path(); }
  [[nodiscard]] std::filesystem::path data_dir() const { return dir_ / "data"; }
  [[nodiscard]] std::string log_text() const;

  // Runs `text` (one or more statements) with psql as superuser over the unix socket and
  // returns stdout (-At: unaligned, tuples only). Throws on any error.
  std::string sql(std::string_view db, std::string_view text) const;
  // Same, but returns the result instead of throwing.
  [[nodiscard]] run_result try_sql(std::string_view db, std::string_view text) const;

  void start();  // (re)start on the same port; waits until pg_isready succeeds
  void stop();   // fast shutdown (SIGINT), waits; SIGKILL if it hangs
  void kill9();  // SIGKILL the postmaster and its backends, as in a crash
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t postmaster_pid() const { return server_ ? server_->pid() : -1; }

 private:
  void init_db();
  void seed();

  temp_dir dir_;
  std::string password_;
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> server_;
  int starts_ = 0;
};

struct gateway_options {
  // YAML with {{placeholders}}: {{postgres_port}}, {{api_port}}, {{ssh_port}} (free ports the
  // gateway listens on), {{state_dir}}, {{dir}} (the gateway's temp dir), plus `vars`.
  // An unknown placeholder throws.
  std::string config_yaml;
  std::map<std::string, std::string> vars;
  env_map env;  // e.g. ALICE_API_KEY, CLINIC_DB_PASSWORD
  bool wait_ready = true;
  std::chrono::milliseconds start_timeout = 120s;  // sanitizer builds start slowly
};

// A config for `cluster` with connection `clinic` (allow_groups [clinicians, dba]) and users
// alice [clinicians], dana [dba], mallory [outsiders]; keys from env ALICE_API_KEY,
// DANA_API_KEY, MALLORY_API_KEY, upstream password from CLINIC_DB_PASSWORD. tls.client: require.
[[nodiscard]] std::string basic_gateway_config(const pg_cluster& cluster,
                                               std::string_view upstream_user = "app");

// `gatehouse serve --config FILE` in its own temp dir.
class gateway {
 public:
  explicit gateway(gateway_options options);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  [[nodiscard]] std::uint16_t port() const { return postgres_port_; }
  [[nodiscard]] std::uint16_t api_port() const { return api_port_; }
  [[nodiscard]] std::uint16_t ssh_port() const { return ssh_port_; }
  [[nodiscard]] std::filesystem::path config_path() const { return dir_ / "gatehouse.yaml"; }
  [[nodiscard]] std::filesystem::path state_dir() const { return dir_ / "state"; }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_.path(); }
  [[nodiscard]] const env_map& env() const { return options_.env; }
  [[nodiscard]] std::string log_text() const;  // the gateway's stderr
  [[nodiscard]] pid_t pid() const { return process_ ? process_->pid() : -1; }

  void start();  // (re)start with the same config; waits for the postgres listener if asked
  // SIGTERM, wait up to `timeout`; returns the exit code (-1 if it had to be SIGKILLed).
  int stop(std::chrono::milliseconds timeout = 60s);
  void kill9();
  [[nodiscard]] bool running();

  // `gatehouse <args...> --config FILE` with the gateway's env (plus `env`).
  [[nodiscard]] run_result cli(const std::vector<std::string>& args, const env_map& env = {},
                               std::string_view stdin_text = {},
                               std::chrono::milliseconds timeout = 120s) const;

 private:
  gateway_options options_;
  temp_dir dir_;
  std::uint16_t postgres_port_ = 0;
  std::uint16_t api_port_ = 0;
  std::uint16_t ssh_port_ = 0;
  std::unique_ptr<child_process> process_;
  int starts_ = 0;
};

// Replaces every {{name}} in `text` from `vars`; throws on a name not in `vars`.
[[nodiscard]] std::string substitute(std::string_view text,
                                     const std::map<std::string, std::string>& vars);

}  // namespace gh::e2e
