#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace gh::e2e {
namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("e2e harness: " + what);
}

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), "e2e harness: " + what);
}

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

bool keep_temp_dirs() {
  return env_or("GATEHOUSE_E2E_KEEP", "") == "1";
}

// Owns a file descriptor.
class fd_guard {
 public:
  explicit fd_guard(int fd = -1) : fd_(fd) {}
  ~fd_guard() { reset(); }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct pipe_pair {
  fd_guard read;
  fd_guard write;
};

void make_pipe(pipe_pair& p) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) fail_errno("pipe2");
  p.read.reset(fds[0]);
  p.write.reset(fds[1]);
}

struct user_ids {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home;
};

user_ids lookup_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    fail("no such user: " + name);
  }
  user_ids ids;
  ids.uid = pw.pw_uid;
  ids.gid = pw.pw_gid;
  ids.home = pw.pw_dir != nullptr ? pw.pw_dir : "/";
  int n = 64;
  ids.groups.resize(static_cast<std::size_t>(n));
  if (::getgrouplist(name.c_str(), pw.pw_gid, ids.groups.data(), &n) < 0) {
    ids.groups.resize(static_cast<std::size_t>(n));
    ::getgrouplist(name.c_str(), pw.pw_gid, ids.groups.data(), &n);
  }
  ids.groups.resize(static_cast<std::size_t>(n));
  return ids;
}

// Everything the forked child needs, prepared before fork so the child only makes syscalls.
struct exec_plan {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::optional<user_ids> user;
  std::string cwd;

  exec_plan(const std::vector<std::string>& argv_in, const env_map& extra,
            const std::string& user_name, const fs::path& cwd_in) {
    if (argv_in.empty()) fail("empty argv");
    args = argv_in;
    env_map merged;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view kv(*e);
      auto eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      std::string key(kv.substr(0, eq));
      // The runner's libpq settings must not leak into clients under test.
      if (key.rfind("PG", 0) == 0) continue;
      merged[key] = std::string(kv.substr(eq + 1));
    }
    if (!user_name.empty()) {
      user = lookup_user(user_name);
      merged["HOME"] = user->home;
      merged["USER"] = user_name;
      merged["LOGNAME"] = user_name;
    }
    for (const auto& [k, v] : extra) merged[k] = v;
    for (const auto& [k, v] : merged) env.push_back(k + "=" + v);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    // An unprivileged user may not be able to enter our cwd (e.g. /root).
    cwd = !cwd_in.empty() ? cwd_in.string() : (user ? std::string("/") : std::string());
  }
};

// In the child: wire up stdio, drop privileges, exec. Reports errno through `err_fd` on failure.
[[noreturn]] void exec_child(exec_plan& plan, int in_fd, int out_fd, int err_fd, int report_fd) {
  ::setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  auto die = [&](int code) {
    int e = errno;
    (void)!::write(report_fd, &e, sizeof e);
    ::_exit(code);
  };
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) die(126);
  if (plan.user) {
    if (::setgroups(plan.user->groups.size(), plan.user->groups.data()) != 0) die(126);
    if (::setgid(plan.user->gid) != 0) die(126);
    if (::setuid(plan.user->uid) != 0) die(126);
  }
  if (!plan.cwd.empty() && ::chdir(plan.cwd.c_str()) != 0) die(126);
  ::execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
  die(127);
  ::_exit(127);  // not reached; die() exits, but the compiler cannot see that
}

// Forks and execs; returns the pid once exec succeeded, throws if it did not.
pid_t spawn(exec_plan& plan, int in_fd, int out_fd, int err_fd) {
  pipe_pair report;
  make_pipe(report);
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) exec_child(plan, in_fd, out_fd, err_fd, report.write.get());
  ::setpgid(pid, pid);  // also done in the child; whichever runs first wins the race
  report.write.reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report.read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    errno = child_errno;
    fail_errno("cannot start " + plan.args[0]);
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string sql_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string conninfo_value(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Children of `parent` according to /proc (postgres backends call setsid(), so they are not in
// the postmaster's process group).
std::vector<pid_t> child_pids(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(close_paren + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

fs::path pg_bindir() {
  return env_or("GATEHOUSE_PG_BINDIR", "/usr/lib/postgresql/15/bin");
}

fs::path gatehouse_bin() {
#ifdef GATEHOUSE_BIN
  return env_or("GATEHOUSE_E2E_BIN", GATEHOUSE_BIN);
#else
  return env_or("GATEHOUSE_E2E_BIN", "gatehouse");
#endif
}

fs::path source_dir() {
#ifdef GATEHOUSE_SOURCE_DIR
  return GATEHOUSE_SOURCE_DIR;
#else
  return fs::current_path();
#endif
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (std::size_t i = 0; i < bytes; ++i) {
    auto b = static_cast<unsigned>(rd()) & 0xffU;
    out += digits[b >> 4];
    out += digits[b & 0xfU];
  }
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot write " + path.string());
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) fail("cannot write " + path.string());
}

// ---------------------------------------------------------------------------------------------

temp_dir::temp_dir(std::string_view prefix) {
  fs::path base = env_or("TMPDIR", "/tmp");
  std::string tmpl = (base / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) fail_errno("mkdtemp " + tmpl);
  path_ = tmpl;
  if (::chmod(path_.c_str(), 0755) != 0) fail_errno("chmod " + path_.string());
}

temp_dir::~temp_dir() {
  if (path_.empty()) return;
  if (keep_temp_dirs()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty() && !keep_temp_dirs()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void temp_dir::chown_to(const std::string& user) const {
  user_ids ids = lookup_user(user);
  auto own = [&](const fs::path& p) {
    if (::lchown(p.c_str(), ids.uid, ids.gid) != 0) fail_errno("chown " + p.string());
  };
  own(path_);
  for (const auto& entry : fs::recursive_directory_iterator(path_)) own(entry.path());
}

// ---------------------------------------------------------------------------------------------

std::uint16_t free_port() {
  fd_guard s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) fail_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail_errno("bind");
  socklen_t len = sizeof addr;
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    fail_errno("getsockname");
  }
  return ntohs(addr.sin_port);
}

bool port_open(std::uint16_t port) {
  fd_guard s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) fail_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

bool port_listening(std::uint16_t port) {
  // Lines look like "  0: 0100007F:3039 00000000:0000 0A ..."; state 0A is LISTEN.
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream in(read_file(table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      auto colon = local.rfind(':');
      if (colon == std::string::npos || state != "0A") continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) return true;
    }
  }
  return false;
}

bool wait_port(std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (true) {
    if (port_listening(port)) return true;
    if (clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// ---------------------------------------------------------------------------------------------

child_process::child_process(spawn_options options) {
  exec_plan plan(options.argv, options.env, options.user, options.cwd);
  fs::path log_dir = options.log_dir.empty() ? fs::current_path() : options.log_dir;
  out_path_ = log_dir / (options.name + ".out");
  err_path_ = log_dir / (options.name + ".err");
  fd_guard in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  fd_guard out(::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  fd_guard err(::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (in.get() < 0 || out.get() < 0 || err.get() < 0)
    fail_errno("open log files in " + log_dir.string());
  pid_ = spawn(plan, in.get(), out.get(), err.get());
}

child_process::~child_process() {
  if (pid_ <= 0 || exit_code_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  reap(true);
}

bool child_process::reap(bool block) {
  if (exit_code_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    return true;
  }
  if (r < 0) {  // not our child any more (should not happen); treat as gone
    exit_code_ = -1;
    return true;
  }
  return false;
}

void child_process::kill(int sig, bool whole_group) {
  if (pid_ <= 0 || exit_code_) return;
  ::kill(whole_group ? -pid_ : pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (!reap(false)) {
    if (clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return exit_code_;
}

bool child_process::running() {
  return !reap(false);
}

std::string child_process::stdout_text() const {
  return read_file(out_path_);
}
std::string child_process::stderr_text() const {
  return read_file(err_path_);
}

// ---------------------------------------------------------------------------------------------

run_result run(const std::vector<std::string>& argv, const env_map& env,
               std::string_view stdin_text, std::chrono::milliseconds timeout,
               const std::string& user) {
  // Writing stdin to a child that has exited must be an error, not a signal that kills us.
  static const bool sigpipe_ignored = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)sigpipe_ignored;
  exec_plan plan(argv, env, user, {});
  pipe_pair in, out, err;
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);
  pid_t pid = spawn(plan, in.read.get(), out.write.get(), err.write.get());
  in.read.reset();
  out.write.reset();
  err.write.reset();
  for (int fd : {in.write.get(), out.read.get(), err.read.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  run_result result;
  std::size_t written = 0;
  if (stdin_text.empty()) in.write.reset();
  const auto deadline = clock::now() + timeout;
  bool timed_out = false;
  std::optional<int> exit_code;
  std::optional<clock::time_point> drain_until;  // after exit, a grandchild may hold the pipes
  std::array<char, 65536> buf{};

  while (!exit_code || out.read.get() >= 0 || err.read.get() >= 0) {
    std::vector<pollfd> fds;
    if (in.write.get() >= 0) fds.push_back({in.write.get(), POLLOUT, 0});
    if (out.read.get() >= 0) fds.push_back({out.read.get(), POLLIN, 0});
    if (err.read.get() >= 0) fds.push_back({err.read.get(), POLLIN, 0});
    // With every pipe closed only the exit is left to notice: poll briefly.
    int n = ::poll(fds.data(), fds.size(), fds.empty() ? 5 : 100);
    if (n < 0 && errno != EINTR) fail_errno("poll");
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in.write.get()) {
        ssize_t w = ::write(p.fd, stdin_text.data() + written, stdin_text.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_text.size()) {
          in.write.reset();
        }
        continue;
      }
      fd_guard& src = p.fd == out.read.get() ? out.read : err.read;
      std::string& dst = p.fd == out.read.get() ? result.out : result.err;
      ssize_t r = ::read(p.fd, buf.data(), buf.size());
      if (r > 0) {
        dst.append(buf.data(), static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        src.reset();
      }
    }
    const auto now = clock::now();
    if (!exit_code) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exit_code = decode_status(status);
        drain_until = now + 500ms;
      }
    }
    if (drain_until && now >= *drain_until) break;
    if (!timed_out && now >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
  }
  ::kill(-pid, SIGKILL);  // anything left in the group (usually nothing)
  if (!exit_code) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code = decode_status(status);
  }
  result.exit_code = timed_out ? -1 : *exit_code;
  return result;
}

std::string conninfo(std::uint16_t port, std::string_view dbname, std::string_view user,
                     std::string_view sslmode, std::string_view host) {
  return "host=" + conninfo_value(host) + " port=" + std::to_string(port) +
         " dbname=" + conninfo_value(dbname) + " user=" + conninfo_value(user) +
         " sslmode=" + conninfo_value(sslmode);
}

run_result psql(const std::vector<std::string>& args, const env_map& env,
                std::string_view stdin_text, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{(pg_bindir() / "psql").string(), "-X", "-v", "ON_ERROR_STOP=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  env_map e = env;
  e.try_emplace("PGCONNECT_TIMEOUT", "10");
  return run(argv, e, stdin_text, timeout);
}

pq_conn pq_connect(const std::string& conninfo) {
  pq_conn c(PQconnectdb(conninfo.c_str()));
  if (!c) fail("PQconnectdb returned null (out of memory)");
  return c;
}

pq_result pq_exec(PGconn* conn, const std::string& sql) {
  return pq_result(PQexec(conn, sql.c_str()));
}

// ---------------------------------------------------------------------------------------------

namespace {
constexpr const char* pg_user = "postgres";

constexpr std::string_view patients_sql = R"sql(
CREATE TABLE patients (
  id          integer PRIMARY KEY,
  full_name   text NOT NULL,
  ssn         text,
  dob         date,
  email       text,
  phone       text,
  card_number text,
  mrn         text,
  notes       text,
  icd10       text
);
INSERT INTO patients VALUES
  (1, 'Avery Testcase',  '123-45-6789', '1980-02-14', 'avery.testcase@example.com',  '+1-212-555-0101', '4111111111111111', 'MRN-00123456', 'Follow-up for E11.9; call +1-212-555-0101.', 'E11.9'),
  (2, 'Blake Sample',    '234-56-7890', '1975-07-01', 'blake.sample@example.com',    '+1-212-555-0102', '5555555555554444', 'MRN-00123457', 'BP check, SSN 234-56-7890 on file.',          'I10'),
  (3, 'Casey Fixture',   '345-67-8901', '1990-11-30', 'casey.fixture@example.com',   '+1-212-555-0103', '4000056655665556', 'MRN-00123458', 'Asthma review.',                              'J45.909'),
  (4, 'Devon Mockridge', '456-78-9012', '1962-05-09', 'devon.mockridge@example.com', '+1-212-555-0104', '378282246310005',  'MRN-00123459', 'Low back pain, MRN-00123459.',                'M54.5'),
  (5, 'Emery Stubbs',    '567-89-0123', '2001-09-21', 'emery.stubbs@example.com',    '+1-212-555-0105', '6011111111111117', 'MRN-00123460', 'Annual exam.',                                'Z00.00');
)sql";
}  // namespace

pg_cluster::pg_cluster(pg_cluster_options options)
    : dir_("gh-pg"), password_(options.password.empty() ? random_hex(16) : options.password) {
  init_db();
  start();
  if (options.seed) seed();
}

pg_cluster::~pg_cluster() {
  if (server_ && server_->running()) {
    server_->kill(SIGQUIT);  // immediate shutdown: the postmaster takes its backends down
    if (!server_->wait(15s)) kill9();
  }
}

void pg_cluster::init_db() {
  const fs::path dir = dir_.path();
  // A self-signed certificate for localhost / 127.0.0.1, which clients can also use as CA.
  run_result cert =
      run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-days", "30", "-subj", "/CN=localhost", "-addext",
           "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", (dir / "server.key").string(),
           "-out", (dir / "server.crt").string()},
          {}, {}, 60s);
  if (!cert.ok()) fail("openssl req failed: " + cert.err);
  fs::create_directory(dir / "logs");
  dir_.chown_to(pg_user);
  fs::permissions(dir / "server.key", fs::perms::owner_read | fs::perms::owner_write);

  run_result init =
      run({(pg_bindir() / "initdb").string(), "-D", (dir / "data").string(), "-U", "postgres", "-A",
           "trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"},
          {}, {}, 180s, pg_user);
  if (!init.ok()) fail("initdb failed (exit " + std::to_string(init.exit_code) + "): " + init.err);

  port_ = free_port();
  std::ostringstream conf;
  conf << "\n# gatehouse e2e harness\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "port = " << port_ << "\n"
       << "unix_socket_directories = " << sql_literal(dir.string()) << "\n"
       << "ssl = on\n"
       << "ssl_cert_file = " << sql_literal((dir / "server.crt").string()) << "\n"
       << "ssl_key_file = " << sql_literal((dir / "server.key").string()) << "\n"
       << "max_connections = 100\n"
       << "shared_buffers = 32MB\n"
       << "fsync = off\n"
       << "synchronous_commit = off\n"
       << "full_page_writes = off\n"
       << "log_connections = on\n"
       << "log_line_prefix = '%m [%p] %u@%d '\n";
  {
    std::ofstream out(data_dir() / "postgresql.conf", std::ios::app);
    out << conf.str();
  }
  write_file(data_dir() / "pg_hba.conf",
             "# gatehouse e2e harness\n"
             "local all all                trust\n"
             "host  all app_md5   127.0.0.1/32 md5\n"
             "host  all app_plain 127.0.0.1/32 password\n"
             "host  all all       127.0.0.1/32 scram-sha-256\n");
  dir_.chown_to(pg_user);
}

void pg_cluster::start() {
  if (server_ && server_->running()) return;
  // A restart right after kill9() can find the old shared memory still attached by a dying
  // backend; a bind race can take a freshly chosen port. Retry a few times.
  std::string last_log;
  for (int attempt = 0; attempt < 6; ++attempt) {
    ++starts_;
    spawn_options opts;
    opts.argv = {(pg_bindir() / "postgres").string(), "-D", data_dir().string()};
    opts.user = pg_user;
    opts.log_dir = dir_ / "logs";
    opts.name = "postgres-" + std::to_string(starts_);
    server_ = std::make_unique<child_process>(std::move(opts));

    const auto deadline = clock::now() + 60s;
    bool exited = false;
    while (clock::now() < deadline) {
      if (!server_->running()) {
        exited = true;
        break;
      }
      run_result ready = run({(pg_bindir() / "pg_isready").string(), "-q", "-h", "127.0.0.1", "-p",
                              std::to_string(port_), "-t", "2"},
                             {}, {}, 10s);
      if (ready.ok()) return;
      std::this_thread::sleep_for(100ms);
    }
    last_log = server_->stderr_text();
    if (!exited) {
      server_->kill(SIGKILL);
      (void)server_->wait(10s);
      break;
    }
    const bool bind_failed =
        last_log.find("could not bind") != std::string::npos ||
        last_log.find("could not create any TCP/IP sockets") != std::string::npos;
    if (bind_failed && starts_ == 1) {
      port_ = free_port();
      std::ofstream out(data_dir() / "postgresql.conf", std::ios::app);
      out << "port = " << port_ << "\n";
    }
    std::this_thread::sleep_for(500ms);
  }
  fail("postgres did not start on 127.0.0.1:" + std::to_string(port_) + "; log:\n" + last_log);
}

void pg_cluster::stop() {
  if (!server_ || !server_->running()) return;
  server_->kill(SIGINT);  // fast shutdown
  if (!server_->wait(60s)) kill9();
}

void pg_cluster::kill9() {
  if (!server_ || !server_->running()) return;
  const pid_t pm = server_->pid();
  std::vector<pid_t> backends = child_pids(pm);
  server_->kill(SIGKILL);
  for (pid_t p : backends) ::kill(p, SIGKILL);
  (void)server_->wait(30s);
  // A backend forked between the scan and the kill notices the postmaster's death and exits;
  // start() retries until its shared memory is released.
}

bool pg_cluster::running() {
  return server_ && server_->running();
}

std::string pg_cluster::log_text() const {
  return server_ ? server_->stderr_text() : std::string();
}

run_result pg_cluster::try_sql(std::string_view db, std::string_view text) const {
  return run({(pg_bindir() / "psql").string(), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h",
              dir_.path().string(), "-p", std::to_string(port_), "-U", "postgres", "-d",
              std::string(db), "-f", "-"},
             {}, text, 120s);
}

std::string pg_cluster::sql(std::string_view db, std::string_view text) const {
  run_result r = try_sql(db, text);
  if (!r.ok()) {
    fail("psql on " + std::string(db) + " failed (exit " + std::to_string(r.exit_code) +
         "): " + r.err + "\nSQL:\n" + std::string(text));
  }
  return r.out;
}

void pg_cluster::seed() {
  const std::string pw = sql_literal(password_);
  sql("postgres", "CREATE ROLE app LOGIN PASSWORD " + pw + ";\n" +
                      "SET password_encryption = 'md5';\n" + "CREATE ROLE app_md5 LOGIN PASSWORD " +
                      pw + ";\n" + "RESET password_encryption;\n" +
                      "CREATE ROLE app_plain LOGIN PASSWORD " + pw + ";\n" +
                      "CREATE DATABASE clinic OWNER app;\n");
  sql("clinic", std::string(patients_sql) +
                    "ALTER TABLE patients OWNER TO app;\n"
                    "GRANT ALL ON patients TO app, app_md5, app_plain;\n"
                    "GRANT ALL ON SCHEMA public TO app, app_md5, app_plain;\n");
}

// ---------------------------------------------------------------------------------------------

std::string substitute(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    auto open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) fail("unterminated {{ in config template");
    out.append(text.substr(pos, open - pos));
    std::string name(text.substr(open + 2, close - open - 2));
    auto it = vars.find(name);
    if (it == vars.end()) fail("unknown placeholder {{" + name + "}} in config template");
    out += it->second;
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

std::string basic_gateway_config(const pg_cluster& cluster, std::string_view upstream_user) {
  return R"yaml(gateway:
  state_dir: ./state
  listen:
    postgres: 127.0.0.1:{{postgres_port}}
    api: 127.0.0.1:{{api_port}}
  tls:
    client: require
  idle_timeout: 15m
store:
  url: sqlite://./state/gatehouse.db
identity:
  users:
    - name: alice
      groups: [clinicians]
      api_key: env:ALICE_API_KEY
    - name: dana
      groups: [dba]
      api_key: env:DANA_API_KEY
    - name: mallory
      groups: [outsiders]
      api_key: env:MALLORY_API_KEY
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: )yaml" +
         std::to_string(cluster.port()) +
         R"yaml(
    database: clinic
    user: )yaml" +
         std::string(upstream_user) +
         R"yaml(
    password: env:CLINIC_DB_PASSWORD
    tls: require
    allow_groups: [clinicians, dba]
)yaml";
}

gateway::gateway(gateway_options options) : options_(std::move(options)), dir_("gh-gw") {
  postgres_port_ = free_port();
  api_port_ = free_port();
  ssh_port_ = free_port();
  std::map<std::string, std::string> vars = options_.vars;
  vars.try_emplace("postgres_port", std::to_string(postgres_port_));
  vars.try_emplace("api_port", std::to_string(api_port_));
  vars.try_emplace("ssh_port", std::to_string(ssh_port_));
  vars.try_emplace("state_dir", state_dir().string());
  vars.try_emplace("dir", dir_.path().string());
  write_file(config_path(), substitute(options_.config_yaml, vars));
  start();
}

gateway::~gateway() {
  if (process_ && process_->running()) {
    process_->kill(SIGTERM);
    if (!process_->wait(30s)) kill9();
  }
}

void gateway::start() {
  if (process_ && process_->running()) return;
  ++starts_;
  spawn_options opts;
  opts.argv = {gatehouse_bin().string(), "serve", "--config", config_path().string()};
  opts.env = options_.env;
  opts.log_dir = dir_.path();
  opts.name = "gatehouse-" + std::to_string(starts_);
  process_ = std::make_unique<child_process>(std::move(opts));
  if (!options_.wait_ready) return;
  const auto deadline = clock::now() + options_.start_timeout;
  while (clock::now() < deadline) {
    if (port_listening(postgres_port_)) return;
    if (!process_->running()) {
      fail("gatehouse exited with " + std::to_string(process_->exit_code().value_or(-1)) +
           " before listening on 127.0.0.1:" + std::to_string(postgres_port_) + "; stderr:\n" +
           process_->stderr_text());
    }
    std::this_thread::sleep_for(50ms);
  }
  fail("gatehouse did not listen on 127.0.0.1:" + std::to_string(postgres_port_) + " within " +
       std::to_string(options_.start_timeout.count()) + " ms; stderr:\n" + process_->stderr_text());
}

int gateway::stop(std::chrono::milliseconds timeout) {
  if (!process_) return -1;
  if (!process_->running()) return process_->exit_code().value_or(-1);
  process_->kill(SIGTERM);
  if (auto code = process_->wait(timeout)) return *code;
  kill9();
  return -1;
}

void gateway::kill9() {
  if (!process_ || !process_->running()) return;
  process_->kill(SIGKILL, true);
  (void)process_->wait(30s);
}

bool gateway::running() {
  return process_ && process_->running();
}

std::string gateway::log_text() const {
  return process_ ? process_->stderr_text() : std::string();
}

run_result gateway::cli(const std::vector<std::string>& args, const env_map& env,
                        std::string_view stdin_text, std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{gatehouse_bin().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  bool has_config = false;
  for (const auto& a : args) has_config = has_config || a == "--config";
  if (!has_config) {
    argv.emplace_back("--config");
    argv.push_back(config_path().string());
  }
  env_map e = options_.env;
  for (const auto& [k, v] : env) e[k] = v;
  return run(argv, e, stdin_text, timeout);
}

}  // namespace gh::e2e
