#include "gateway_common.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

// Boost.JSON compiled into the test binary, header-only (as src/core/json.cpp does for gatehouse).
#include <boost/json/src.hpp>

namespace gh::e2e {

namespace {
using clock = std::chrono::steady_clock;

std::string conninfo_quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}
}  // namespace

env_map gateway_env(const pg_cluster& cluster, const api_keys& keys) {
  return {{"ALICE_API_KEY", keys.alice},
          {"DANA_API_KEY", keys.dana},
          {"MALLORY_API_KEY", keys.mallory},
          {"CLINIC_DB_PASSWORD", cluster.password()}};
}

std::string replace_once(std::string text, std::string_view from, std::string_view to) {
  auto pos = text.find(from);
  if (pos == std::string::npos)
    throw std::runtime_error("replace_once: '" + std::string(from) + "' not in config template");
  text.replace(pos, from.size(), to);
  return text;
}

std::string extra_connection(const pg_cluster& cluster, std::string_view name,
                             std::string_view upstream_user, std::string_view tls,
                             std::string_view extra, std::string_view host,
                             std::string_view password) {
  std::string s;
  s += "  - name: " + std::string(name) + "\n";
  s += "    type: postgres\n";
  s += "    host: " + std::string(host) + "\n";
  s += "    port: " + std::to_string(cluster.port()) + "\n";
  s += "    database: clinic\n";
  s += "    user: " + std::string(upstream_user) + "\n";
  s += "    password: " + std::string(password) + "\n";
  s += "    tls: " + std::string(tls) + "\n";
  s += "    allow_groups: [clinicians, dba]\n";
  s += std::string(extra);
  return s;
}

std::unique_ptr<gateway> start_gateway(const pg_cluster& cluster, const api_keys& keys,
                                       std::string yaml) {
  gateway_options o;
  o.config_yaml = std::move(yaml);
  o.env = gateway_env(cluster, keys);
  return std::make_unique<gateway>(std::move(o));
}

std::string gw_conninfo(const gateway& gw, std::string_view user, std::string_view key,
                        std::string_view sslmode, std::string_view dbname) {
  return conninfo(gw.port(), dbname, user, sslmode) + " password=" + conninfo_quote(key) +
         " connect_timeout=30";
}

std::string direct_conninfo(const pg_cluster& cluster, std::string_view role) {
  return conninfo(cluster.port(), "clinic", role, "require") +
         " password=" + conninfo_quote(cluster.password()) + " connect_timeout=30";
}

run_result gw_psql(const gateway& gw, std::string_view user, std::string_view key,
                   const std::vector<std::string>& args, std::string_view stdin_text,
                   std::string_view sslmode, std::string_view dbname,
                   std::chrono::milliseconds timeout) {
  std::vector<std::string> a{conninfo(gw.port(), dbname, user, sslmode)};
  a.insert(a.end(), args.begin(), args.end());
  return psql(a, {{"PGPASSWORD", std::string(key)}, {"PGCONNECT_TIMEOUT", "30"}}, stdin_text,
              timeout);
}

pq_conn pq_connect_verbose(const std::string& info, std::chrono::milliseconds timeout) {
  pq_conn c(PQconnectStart(info.c_str()));
  if (!c) throw std::runtime_error("PQconnectStart returned null");
  PQsetErrorVerbosity(c.get(), PQERRORS_VERBOSE);
  if (PQstatus(c.get()) == CONNECTION_BAD) return c;
  const auto deadline = clock::now() + timeout;
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    pollfd p{PQsocket(c.get()), static_cast<short>(st == PGRES_POLLING_READING ? POLLIN : POLLOUT),
             0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) throw std::runtime_error("pq_connect_verbose: timed out");
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) throw std::runtime_error("pq_connect_verbose: poll failed");
    st = PQconnectPoll(c.get());
  }
  return c;
}

std::string sqlstate(const PGresult* r) {
  if (r == nullptr) return {};
  const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return s != nullptr ? s : "";
}

std::string status_name(const PGresult* r) {
  return r == nullptr ? "null" : PQresStatus(PQresultStatus(r));
}

// ---------------------------------------------------------------------------------------------

std::string audit_export_text(const gateway& gw) {
  run_result r = gw.cli({"audit", "export"});
  if (!r.ok())
    throw std::runtime_error("audit export failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err);
  return r.out;
}

audit_events audit_export(const gateway& gw, const std::vector<std::string>& args) {
  std::vector<std::string> a{"audit", "export"};
  a.insert(a.end(), args.begin(), args.end());
  run_result r = gw.cli(a);
  if (!r.ok())
    throw std::runtime_error("audit export failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err);
  audit_events out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) throw std::runtime_error("audit export: not a JSON object: " + line);
    out.push_back(std::move(v.as_object()));
  }
  return out;
}

audit_events wait_audit(const gateway& gw, const std::function<bool(const audit_events&)>& pred,
                        const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  for (;;) {
    audit_events ev = audit_export(gw, args);
    if (pred(ev) || clock::now() >= deadline) return ev;
    std::this_thread::sleep_for(200ms);
  }
}

std::string str(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (it->value().is_string()) return std::string(it->value().as_string());
  return boost::json::serialize(it->value());
}

std::int64_t num(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return -1;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<std::int64_t>(it->value().as_uint64());
  return -1;
}

audit_events select(const audit_events& events,
                    const std::vector<std::pair<std::string, std::string>>& match) {
  audit_events out;
  for (const auto& e : events) {
    bool ok = true;
    for (const auto& [k, v] : match) ok = ok && str(e, k) == v;
    if (ok) out.push_back(e);
  }
  return out;
}

std::string dump(const audit_events& events) {
  std::string s;
  for (const auto& e : events) s += boost::json::serialize(e) + "\n";
  return s;
}

// ---------------------------------------------------------------------------------------------

raw_socket::raw_socket(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

raw_socket::~raw_socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_socket::send(std::string_view bytes) {
  std::size_t off = 0;
  const auto deadline = clock::now() + 30s;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      // The peer is not reading; keep draining what it sends so neither side blocks forever.
      if (clock::now() >= deadline) return false;
      (void)read_some_until(received_.size() + 1, 50ms);
      if (closed_) return false;
      continue;
    }
    return false;  // EPIPE / ECONNRESET: the gateway closed the connection
  }
  return true;
}

std::string raw_socket::read_some_until(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  char buf[65536];
  while (!closed_ && received_.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got > 0) {
      received_.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
      closed_ = true;
    }
  }
  return received_;
}

bool raw_socket::wait_closed(std::chrono::milliseconds timeout) {
  (void)read_some_until(static_cast<std::size_t>(-1), timeout);
  return closed_;
}

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>((v >> 24) & 0xff);
  s[1] = static_cast<char>((v >> 16) & 0xff);
  s[2] = static_cast<char>((v >> 8) & 0xff);
  s[3] = static_cast<char>(v & 0xff);
  return s;
}

std::string startup_message(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string body = be32(196608);  // protocol 3.0
  for (const auto& [k, v] : params) {
    body += k;
    body.push_back('\0');
    body += v;
    body.push_back('\0');
  }
  body.push_back('\0');
  return be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

std::string typed_message(char type, std::string_view body) {
  return std::string(1, type) + be32(static_cast<std::uint32_t>(body.size() + 4)) +
         std::string(body);
}

long vm_hwm_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

bool reset_vm_hwm(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace gh::e2e
