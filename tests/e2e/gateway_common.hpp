#pragma once
// Shared helpers for the gateway end-to-end tests (tests/e2e/gateway_*_test.cpp): a PostgreSQL
// cluster with a gatehouse in front of it, clients that log in through it, the audit export as
// parsed JSON, raw sockets for protocol abuse, and comparisons against PostgreSQL direct.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"

namespace gh::e2e {

// API keys of the users in basic_gateway_config().
struct api_keys {
  std::string alice = "ak-alice-" + random_hex(16);
  std::string dana = "ak-dana-" + random_hex(16);
  std::string mallory = "ak-mallory-" + random_hex(16);
};

// The environment basic_gateway_config() reads: the three API keys and CLINIC_DB_PASSWORD.
[[nodiscard]] env_map gateway_env(const pg_cluster& cluster, const api_keys& keys);

// Replaces the first occurrence of `from` (which must exist) with `to`.
[[nodiscard]] std::string replace_once(std::string text, std::string_view from,
                                       std::string_view to);

// One more `connections:` entry for basic_gateway_config() (append it to the YAML), pointing at
// `cluster` with the given upstream user and tls mode; `extra` is added as-is (indented lines).
[[nodiscard]] std::string extra_connection(const pg_cluster& cluster, std::string_view name,
                                           std::string_view upstream_user, std::string_view tls,
                                           std::string_view extra = {},
                                           std::string_view host = "127.0.0.1",
                                           std::string_view password = "env:CLINIC_DB_PASSWORD");

// A gateway for `cluster` with `yaml` (a basic_gateway_config() variant) and gateway_env().
[[nodiscard]] std::unique_ptr<gateway> start_gateway(const pg_cluster& cluster,
                                                     const api_keys& keys, std::string yaml);

// libpq conninfo for a gatehouse user through `gw`, with the password included.
[[nodiscard]] std::string gw_conninfo(const gateway& gw, std::string_view user,
                                      std::string_view key, std::string_view sslmode = "require",
                                      std::string_view dbname = "clinic");
// libpq conninfo for an upstream role directly on `cluster` (TLS required).
[[nodiscard]] std::string direct_conninfo(const pg_cluster& cluster, std::string_view role = "app");

// psql through the gateway as `user` with `key`; args appended after the conninfo.
[[nodiscard]] run_result gw_psql(const gateway& gw, std::string_view user, std::string_view key,
                                 const std::vector<std::string>& args,
                                 std::string_view stdin_text = {},
                                 std::string_view sslmode = "require",
                                 std::string_view dbname = "clinic",
                                 std::chrono::milliseconds timeout = 120s);

// A libpq connection that reports errors with PQERRORS_VERBOSE from the very first message, so a
// refused login's text carries its SQLSTATE ("FATAL:  28P01: password authentication ...").
// Never null; check PQstatus.
[[nodiscard]] pq_conn pq_connect_verbose(const std::string& conninfo,
                                         std::chrono::milliseconds timeout = 60s);

// The SQLSTATE of a result ("" if none).
[[nodiscard]] std::string sqlstate(const PGresult* r);
[[nodiscard]] std::string status_name(const PGresult* r);

// ---- audit export ----
using audit_events = std::vector<boost::json::object>;

// `gatehouse audit export` with extra arguments (e.g. {"--user", "alice"}), parsed line by line.
// Throws if the command fails or a line is not a JSON object.
[[nodiscard]] audit_events audit_export(const gateway& gw,
                                        const std::vector<std::string>& args = {});
// The raw stdout of `gatehouse audit export` (for "never appears" checks).
[[nodiscard]] std::string audit_export_text(const gateway& gw);
// Polls the export until `pred` holds (results of a statement are recorded shortly after it
// completes). Returns the last export; the caller asserts on it, so a timeout shows up as a
// failed expectation with the events at hand.
[[nodiscard]] audit_events wait_audit(const gateway& gw,
                                      const std::function<bool(const audit_events&)>& pred,
                                      const std::vector<std::string>& args = {},
                                      std::chrono::milliseconds timeout = 60s);

// A string field ("" if absent), an integer field (-1 if absent).
[[nodiscard]] std::string str(const boost::json::object& o, std::string_view key);
[[nodiscard]] std::int64_t num(const boost::json::object& o, std::string_view key);
// Events matching all of the (key, value) string pairs.
[[nodiscard]] audit_events select(const audit_events& events,
                                  const std::vector<std::pair<std::string, std::string>>& match);
[[nodiscard]] std::string dump(const audit_events& events);

// ---- raw sockets ----
// A plain TCP connection to 127.0.0.1:port for protocol abuse.
class raw_socket {
 public:
  explicit raw_socket(std::uint16_t port);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  // Writes everything it can; false if the peer closed or reset first.
  bool send(std::string_view bytes);
  // Reads until `n` bytes are buffered in total, EOF/reset, or timeout. Returns what was read.
  std::string read_some_until(std::size_t n, std::chrono::milliseconds timeout);
  // Reads until the peer closes (EOF or reset); true if it did within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);
  [[nodiscard]] const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  std::string received_;
  bool closed_ = false;
};

// Big-endian framing helpers for hand-made protocol messages.
[[nodiscard]] std::string be32(std::uint32_t v);
[[nodiscard]] std::string startup_message(
    const std::vector<std::pair<std::string, std::string>>& params);
[[nodiscard]] std::string typed_message(char type, std::string_view body);

// VmHWM (peak resident set) of a process in KiB, from /proc/<pid>/status; -1 if unreadable.
[[nodiscard]] long vm_hwm_kib(pid_t pid);
// Resets the peak RSS counter (writes 5 to /proc/<pid>/clear_refs); false if not supported.
bool reset_vm_hwm(pid_t pid);

// True if `haystack` contains `needle`.
[[nodiscard]] inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// One PostgreSQL cluster, one set of API keys and one gatehouse in front of it for a whole test
// suite (they take seconds to start): `class Suite : public gateway_suite<Suite>`. A suite may
// hide the public `static std::string gateway_yaml(pg_cluster&)` to prepare the cluster (tables,
// pgbench -i) and return its own config; the default is basic_gateway_config(). If any of it
// fails, every test of the suite fails with the reason.
template <typename Suite>
class gateway_suite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = std::make_unique<pg_cluster>();
      keys_ = std::make_unique<api_keys>();
      gw_ = start_gateway(*cluster_, *keys_, Suite::gateway_yaml(*cluster_));
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    gw_.reset();
    cluster_.reset();
    keys_.reset();
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  // Public: the suites hide it, and SetUpTestSuite() calls theirs.
 public:
  static std::string gateway_yaml(pg_cluster& cluster) { return basic_gateway_config(cluster); }

 protected:
  static pg_cluster& cluster() { return *cluster_; }
  static gateway& gw() { return *gw_; }
  static const api_keys& keys() { return *keys_; }
  static run_result alice_psql(const std::vector<std::string>& args, std::string_view in = {}) {
    return gw_psql(gw(), "alice", keys().alice, args, in);
  }
  static pq_conn alice_conn() { return pq_connect(gw_conninfo(gw(), "alice", keys().alice)); }
  static pq_conn direct_conn() { return pq_connect(direct_conninfo(cluster())); }

  static inline std::unique_ptr<pg_cluster> cluster_;
  static inline std::unique_ptr<api_keys> keys_;
  static inline std::unique_ptr<gateway> gw_;
  static inline std::string setup_error_;
};

}  // namespace gh::e2e
