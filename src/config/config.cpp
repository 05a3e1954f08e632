// YAML -> typed config. Every mapping is read through read_section(), which rejects unknown and
// duplicate keys, so a typo is an error with a line number rather than a silently ignored setting.
// yaml-cpp throws; those exceptions stop at parse_config() and become "FILE:LINE: ..." errors.
#include "config/config.hpp"
#include "config/blocks.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/duration.hpp"

namespace gh::config {

namespace {

namespace fs = std::filesystem;
using keys = std::initializer_list<std::string_view>;

constexpr std::string_view sqlite_scheme = "sqlite://";
constexpr std::size_t min_message_size = 1024;
constexpr std::size_t max_message_size_limit = 1024 * 1024 * 1024;
constexpr unsigned max_workers = 256;

int line_of(const YAML::Node& n) {
  auto m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 1;  // null mark: an empty document has no position
}

// Counts the documents of a YAML stream from its events, building no nodes. yaml-cpp 0.7's
// LoadAll() loops forever on some malformed input ("  a:\n ,- d\n"), adding an empty document
// per turn until memory runs out (jbeder/yaml-cpp#1040, fixed upstream after 0.8.0 by #1319);
// found by fuzz/config_fuzz. Walking the events first and stopping at the second document
// allocates nothing per turn, and LoadAll() then only ever sees a single-document stream.
class document_counter final : public YAML::EventHandler {
 public:
  int documents = 0;
  int second_line = 1;  // where the second document's first node is, as line_of() reports it

  void OnDocumentStart(const YAML::Mark&) override { ++documents; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& m) {
    if (documents == 2 && !have_second_) {
      have_second_ = true;
      second_line = m.line >= 0 ? m.line + 1 : 1;
    }
  }
  bool have_second_ = false;
};

std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string indexed(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string display_name(const std::string& file) {
  return file.empty() ? "<config>" : file;
}

error located(const std::string& file, int line, std::string_view path, std::string_view problem) {
  std::string msg = display_name(file);
  msg += ':';
  msg += std::to_string(line);
  msg += ": ";
  msg += path;
  msg += ": ";
  msg += problem;
  return make_error(std::move(msg));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool valid_connection_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_lower_hex_sha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// One key: value pair of a mapping, with the key's line (a null value's mark points past the key).
struct entry {
  std::string key;
  std::string path;  // full key path, e.g. "connections[0].port"
  YAML::Node value;
  int line = 0;
};

// The entries of one YAML mapping, after unknown/duplicate-key checks.
struct section {
  std::string path;
  int line = 0;  // where the mapping starts; used for "missing key" errors
  std::vector<entry> entries;

  [[nodiscard]] const entry* find(std::string_view key) const {
    for (const auto& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
};

class parser {
 public:
  parser(std::string file, fs::path base) : file_(std::move(file)), base_(std::move(base)) {}

  [[nodiscard]] status parse(const YAML::Node& root, config& out) {
    if (!root.IsNull() && !root.IsMap()) {
      return fail(line_of(root), "(top level)",
                  "expected a mapping with gateway, store, identity, connections, audit");
    }
    auto top = read_section(root, 1, "", {"gateway", "store", "identity", "connections", "audit"},
                            {"masking", "guardrails", "reviews", "notifications"});
    if (!top) return error{top.err()};
    if (auto s = parse_gateway(sub(*top, "gateway"), out.gateway); !s) return s;
    if (auto s = parse_store(sub(*top, "store"), out); !s) return s;
    if (auto s = parse_identity(sub(*top, "identity"), out.identity); !s) return s;
    if (auto s = parse_connections(*top, out.connections); !s) return s;
    if (auto s = parse_audit(sub(*top, "audit"), out.audit); !s) return s;
    return {};
  }

 private:
  // The value of `key` in `parent` (undefined if absent), with where to report errors about it.
  struct child {
    const entry* e = nullptr;
    std::string path;
    int line = 0;
  };

  static child sub(const section& parent, std::string_view key) {
    const entry* e = parent.find(key);
    return child{e, join(parent.path, key), e ? e->line : parent.line};
  }

  [[nodiscard]] error fail(int line, std::string_view path, std::string_view problem) const {
    return located(file_, line, path, problem);
  }
  [[nodiscard]] error fail(const entry& e, std::string_view problem) const {
    return fail(e.line, e.path, problem);
  }

  // Reads a mapping (null = empty, so `audit:` with everything commented out is fine). Keys in
  // `ignored` are reserved for features not built yet: accepted so configs written for them load.
  [[nodiscard]] result<section> read_section(const YAML::Node& n, int line, std::string path,
                                             keys known, keys ignored,
                                             bool allow_any = false) const {
    section sec;
    sec.path = std::move(path);
    sec.line = line;
    if (!n.IsDefined() || n.IsNull()) return sec;
    if (!n.IsMap())
      return fail(line, sec.path.empty() ? "(top level)" : sec.path, "expected a mapping");
    sec.line = line_of(n);
    for (const auto& kv : n) {
      // Copies, not references: yaml-cpp's iterator hands out a temporary pair.
      const YAML::Node k = kv.first;
      const YAML::Node v = kv.second;
      int kline = line_of(k);
      if (!k.IsScalar()) {
        return fail(kline, sec.path.empty() ? "(top level)" : sec.path,
                    "keys must be plain strings");
      }
      std::string key = k.Scalar();
      std::string kpath = join(sec.path, key);
      if (const entry* prev = sec.find(key)) {
        return fail(kline, kpath,
                    "duplicate key (first set on line " + std::to_string(prev->line) + ")");
      }
      bool is_known = std::find(known.begin(), known.end(), key) != known.end();
      bool is_ignored = std::find(ignored.begin(), ignored.end(), key) != ignored.end();
      if (!is_known && !is_ignored && !allow_any) {
        return fail(kline, kpath, unknown_key_message(key, known, ignored));
      }
      // Reserved keys are kept too (for duplicate detection); no parser below looks them up.
      sec.entries.push_back(entry{key, std::move(kpath), v, kline});
    }
    return sec;
  }

  static std::string unknown_key_message(std::string_view key, keys known, keys ignored) {
    std::string msg = "unknown key";
    std::string_view best;
    std::size_t best_d = 3;
    for (keys list : {known, ignored}) {
      for (auto cand : list) {
        auto d = edit_distance(key, cand);
        if (d < best_d) {
          best_d = d;
          best = cand;
        }
      }
    }
    if (!best.empty() && key.size() > 2) msg += " (did you mean '" + std::string(best) + "'?)";
    std::string all;
    for (auto k : known) {
      if (!all.empty()) all += ", ";
      all += k;
    }
    msg += "; expected one of: " + all;
    return msg;
  }

  [[nodiscard]] result<section> read_child(const child& c, keys known, keys ignored,
                                           bool allow_any = false) const {
    if (c.e == nullptr) {
      section sec;
      sec.path = c.path;
      sec.line = c.line;
      return sec;
    }
    return read_section(c.e->value, c.line, c.path, known, ignored, allow_any);
  }

  [[nodiscard]] result<std::string> string_value(const entry& e) const {
    if (!e.value.IsScalar()) {
      return fail(e, e.value.IsNull() ? "missing value" : "expected a string");
    }
    return e.value.Scalar();
  }

  [[nodiscard]] result<std::string> nonempty_string(const entry& e) const {
    auto s = string_value(e);
    if (!s) return s;
    if (s->empty()) return fail(e, "must not be empty");
    return s;
  }

  [[nodiscard]] result<std::vector<std::string>> string_list(const entry& e) const {
    std::vector<std::string> out;
    if (e.value.IsNull()) return out;  // `groups:` with nothing = no groups: the safe reading
    if (!e.value.IsSequence()) return fail(e, "expected a list of strings, e.g. [a, b]");
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node& item = e.value[i];
      if (!item.IsScalar() || item.Scalar().empty()) {
        return fail(line_of(item), indexed(e.path, i), "expected a non-empty string");
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  [[nodiscard]] result<std::uint64_t> integer(const entry& e, std::uint64_t lo, std::uint64_t hi,
                                              std::string_view what) const {
    std::string problem = "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    if (!what.empty()) problem += std::string(" (") + std::string(what) + ")";
    if (!e.value.IsScalar()) return fail(e, problem);
    const std::string& s = e.value.Scalar();
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) {
      return fail(e, problem);
    }
    return v;
  }

  [[nodiscard]] result<std::chrono::milliseconds> duration(const entry& e, bool positive) const {
    auto s = string_value(e);
    if (!s) return error{s.err()};
    auto d = parse_duration(*s);
    if (!d) return fail(e, d.err());
    if (positive && d->count() <= 0) return fail(e, "must be greater than 0");
    return d;
  }

  template <typename E>
  [[nodiscard]] result<E> enumerated(
      const entry& e, std::initializer_list<std::pair<std::string_view, E>> opts) const {
    auto s = string_value(e);
    if (!s) return error{s.err()};
    std::string names;
    for (const auto& [name, v] : opts) {
      if (*s == name) return v;
      if (!names.empty()) names += " | ";
      names += name;
    }
    return fail(e, "expected one of " + names + ", got '" + *s + "'");
  }

  [[nodiscard]] std::string resolve_path(const std::string& p) const {
    fs::path q(p);
    std::string r = (q.is_absolute() ? q : base_ / q).lexically_normal().string();
    while (r.size() > 1 && r.ends_with('/')) r.pop_back();
    return r;
  }

  [[nodiscard]] result<std::string> path_value(const entry& e) const {
    auto s = nonempty_string(e);
    if (!s) return s;
    return resolve_path(*s);
  }

  // Validates the form of a secret spec; never reads it (see check_secrets).
  [[nodiscard]] result<secret_ref> secret(const entry& e) const {
    auto s = nonempty_string(e);
    if (!s) return error{s.err()};
    std::string_view v = *s;
    if (v.starts_with("env:")) {
      if (!valid_env_name(v.substr(4))) {
        return fail(e, "env: needs a variable name like env:DB_PASSWORD");
      }
      return secret_ref{*s};
    }
    if (v.starts_with("file:")) {
      if (v.size() == 5) return fail(e, "file: needs a path like file:secrets/db_password");
      return secret_ref{"file:" + resolve_path(std::string(v.substr(5)))};
    }
    return secret_ref{*s};
  }

  [[nodiscard]] result<endpoint> endpoint_value(const entry& e) const {
    auto s = string_value(e);
    if (!s) return error{s.err()};
    auto ep = parse_endpoint(*s);
    if (!ep) return fail(e, ep.err());
    return ep;
  }

  // ---- sections ----

  [[nodiscard]] status parse_gateway(const child& c, gateway_config& g) const {
    auto sec = read_child(c,
                          {"state_dir", "listen", "tls", "idle_timeout", "max_message_size",
                           "workers", "connect_timeout", "auth_timeout"},
                          {});
    if (!sec) return error{sec.err()};

    g.state_dir = resolve_path(g.state_dir);
    if (const entry* e = sec->find("state_dir")) {
      auto p = path_value(*e);
      if (!p) return error{p.err()};
      g.state_dir = *p;
    }
    if (auto s = parse_listen(sub(*sec, "listen"), g.listen); !s) return s;
    if (auto s = parse_client_tls(sub(*sec, "tls"), g.tls); !s) return s;

    struct timeout_field {
      std::string_view key;
      std::chrono::milliseconds* out;
    };
    for (auto [key, out] : {timeout_field{"idle_timeout", &g.idle_timeout},
                            timeout_field{"connect_timeout", &g.connect_timeout},
                            timeout_field{"auth_timeout", &g.auth_timeout}}) {
      if (const entry* e = sec->find(key)) {
        auto d = duration(*e, true);
        if (!d) return error{d.err()};
        *out = *d;
      }
    }
    if (const entry* e = sec->find("max_message_size")) {
      auto n = message_size(*e);
      if (!n) return error{n.err()};
      g.max_message_size = *n;
    }
    if (const entry* e = sec->find("workers")) {
      auto n = integer(*e, 0, max_workers, "0 = one per core");
      if (!n) return error{n.err()};
      g.workers = static_cast<unsigned>(*n);
    }
    return {};
  }

  [[nodiscard]] status parse_listen(const child& c, listen_config& l) const {
    auto sec = read_child(c, {"postgres", "ssh", "api"}, {});
    if (!sec) return error{sec.err()};
    struct listener {
      std::string_view key;
      endpoint* out;
    };
    std::vector<std::pair<const entry*, const endpoint*>> seen;
    for (auto [key, out] :
         {listener{"postgres", &l.postgres}, listener{"ssh", &l.ssh}, listener{"api", &l.api}}) {
      const entry* e = sec->find(key);
      if (e == nullptr) continue;
      auto ep = endpoint_value(*e);
      if (!ep) return error{ep.err()};
      *out = *ep;
      for (const auto& [pe, pep] : seen) {
        if (pep->host == out->host && pep->port == out->port) {
          return fail(*e,
                      "same address as " + pe->path + " (line " + std::to_string(pe->line) + ")");
        }
      }
      seen.emplace_back(e, out);
    }
    if (seen.empty()) {
      return fail(sec->line, sec->path,
                  "at least one listener (postgres, ssh or api) is required, e.g. "
                  "postgres: 127.0.0.1:15432");
    }
    return {};
  }

  [[nodiscard]] status parse_client_tls(const child& c, tls_config& t) const {
    auto sec = read_child(c, {"client", "cert", "key"}, {});
    if (!sec) return error{sec.err()};
    if (const entry* e = sec->find("client")) {
      auto v = enumerated<client_tls>(
          *e, {{"require", client_tls::require}, {"prefer", client_tls::prefer}});
      if (!v) return error{v.err()};
      t.client = *v;
    }
    const entry* cert = sec->find("cert");
    const entry* key = sec->find("key");
    // A cert without its key (or the reverse) cannot be used, and silently generating a
    // self-signed pair instead would hide the mistake until clients fail verification.
    if ((cert == nullptr) != (key == nullptr)) {
      const entry* have = cert ? cert : key;
      return fail(*have, std::string("set both cert and key, or neither (missing ") +
                             (cert ? "key" : "cert") + ")");
    }
    if (cert != nullptr) {
      auto cp = path_value(*cert);
      if (!cp) return error{cp.err()};
      auto kp = path_value(*key);
      if (!kp) return error{kp.err()};
      t.cert = *cp;
      t.key = *kp;
    }
    return {};
  }

  // Bytes as an integer, or with a KB/MB/GB suffix (powers of 1024).
  [[nodiscard]] result<std::size_t> message_size(const entry& e) const {
    const std::string problem =
        "expected a size in bytes 1024..1GB, as an integer or with KB/MB/GB suffix (e.g. 16MB)";
    if (!e.value.IsScalar()) return fail(e, problem);
    std::string_view s = e.value.Scalar();
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || end == s.data()) return fail(e, problem);
    std::string_view suffix = s.substr(static_cast<std::size_t>(end - s.data()));
    while (suffix.starts_with(' ')) suffix.remove_prefix(1);
    std::uint64_t mult = 0;
    if (suffix.empty() || suffix == "B")
      mult = 1;
    else if (suffix == "KB")
      mult = 1024;
    else if (suffix == "MB")
      mult = 1024 * 1024;
    else if (suffix == "GB")
      mult = 1024 * 1024 * 1024;
    else
      return fail(e, problem);
    if (n > max_message_size_limit / mult) return fail(e, problem);
    n *= mult;
    if (n < min_message_size || n > max_message_size_limit) return fail(e, problem);
    return static_cast<std::size_t>(n);
  }

  [[nodiscard]] status parse_store(const child& c, config& out) const {
    auto sec = read_child(c, {"url"}, {});
    if (!sec) return error{sec.err()};
    const entry* e = sec->find("url");
    if (e == nullptr) {
      out.store.url = std::string(sqlite_scheme) + out.gateway.state_dir + "/gatehouse.db";
      return {};
    }
    auto url = nonempty_string(*e);
    if (!url) return error{url.err()};
    std::string_view u = *url;
    if (u.starts_with(sqlite_scheme)) {
      std::string p(u.substr(sqlite_scheme.size()));
      if (p.empty()) return fail(*e, "sqlite:// needs a path, e.g. sqlite://./var/gatehouse.db");
      // ":memory:" is SQLite's in-process database (tests); it is not a file path.
      out.store.url = std::string(sqlite_scheme) + (p == ":memory:" ? p : resolve_path(p));
      return {};
    }
    if (u.starts_with("postgres://") || u.starts_with("postgresql://")) {
      out.store.url = *url;
      return {};
    }
    return fail(*e, "expected a url starting with sqlite:// or postgres://");
  }

  [[nodiscard]] status parse_identity(const child& c, identity_config& id) const {
    auto sec = read_child(c, {"oidc", "users"}, {"saml"});
    if (!sec) return error{sec.err()};
    if (const entry* e = sec->find("oidc"); e != nullptr && !e->value.IsNull()) {
      auto o = read_section(e->value, e->line, e->path, {"issuer", "audience", "groups_claim"}, {});
      if (!o) return error{o.err()};
      oidc_config oc;
      const entry* issuer = o->find("issuer");
      if (issuer == nullptr) return fail(o->line, join(o->path, "issuer"), "is required");
      auto is = nonempty_string(*issuer);
      if (!is) return error{is.err()};
      if (!is->starts_with("https://") && !is_loopback_http(*is)) {
        // Discovery and JWKS fetched over plain HTTP could be swapped by anyone on the path.
        return fail(*issuer, "must be an https:// URL (http:// only for localhost)");
      }
      oc.issuer = *is;
      const entry* aud = o->find("audience");
      if (aud == nullptr) return fail(o->line, join(o->path, "audience"), "is required");
      auto as = nonempty_string(*aud);
      if (!as) return error{as.err()};
      oc.audience = *as;
      if (const entry* g = o->find("groups_claim")) {
        auto gs = nonempty_string(*g);
        if (!gs) return error{gs.err()};
        oc.groups_claim = *gs;
      }
      id.oidc = std::move(oc);
    }
    if (const entry* e = sec->find("users")) {
      if (auto s = parse_users(*e, id.users); !s) return s;
    }
    return {};
  }

  static bool is_loopback_http(std::string_view url) {
    for (std::string_view p : {"http://localhost", "http://127.0.0.1", "http://[::1]"}) {
      if (url.starts_with(p)) {
        auto rest = url.substr(p.size());
        if (rest.empty() || rest[0] == ':' || rest[0] == '/') return true;
      }
    }
    return false;
  }

  [[nodiscard]] status parse_users(const entry& list, std::vector<user_config>& users) const {
    if (list.value.IsNull()) return {};
    if (!list.value.IsSequence()) return fail(list, "expected a list of users");
    for (std::size_t i = 0; i < list.value.size(); ++i) {
      const YAML::Node& item = list.value[i];
      std::string path = indexed(list.path, i);
      int line = line_of(item);
      if (!item.IsMap()) return fail(line, path, "expected a mapping with name, groups, api_key");
      auto sec =
          read_section(item, line, path, {"name", "groups", "api_key", "api_key_sha256"}, {});
      if (!sec) return error{sec.err()};
      user_config u;
      u.line = sec->line;
      const entry* name = sec->find("name");
      if (name == nullptr) return fail(sec->line, join(path, "name"), "is required");
      auto n = nonempty_string(*name);
      if (!n) return error{n.err()};
      // '%' separates user and connection in an SSH login (alice%patients).
      if (has_space_or_control(*n) || n->find('%') != std::string::npos) {
        return fail(*name, "must not contain spaces, control characters or '%'");
      }
      for (const auto& prev : users) {
        if (prev.name == *n) {
          return fail(*name, "duplicate user name '" + *n + "' (first defined on line " +
                                 std::to_string(prev.line) + ")");
        }
      }
      u.name = *n;
      if (const entry* g = sec->find("groups")) {
        auto gs = string_list(*g);
        if (!gs) return error{gs.err()};
        u.groups = std::move(*gs);
      }
      const entry* key = sec->find("api_key");
      const entry* hash = sec->find("api_key_sha256");
      if (key != nullptr && hash != nullptr) {
        const entry* later = key->line > hash->line ? key : hash;
        const entry* earlier = later == key ? hash : key;
        return fail(*later, "set exactly one of api_key or api_key_sha256 (" + earlier->key +
                                " is set on line " + std::to_string(earlier->line) + ")");
      }
      if (key == nullptr && hash == nullptr) {
        return fail(sec->line, path, "one of api_key or api_key_sha256 is required");
      }
      if (key != nullptr) {
        auto s = secret(*key);
        if (!s) return error{s.err()};
        u.api_key = std::move(*s);
        u.api_key_line = key->line;
      } else {
        auto h = string_value(*hash);
        if (!h) return error{h.err()};
        if (!is_lower_hex_sha256(*h)) return fail(*hash, "expected 64 lowercase hex characters");
        u.api_key_sha256 = *h;
      }
      users.push_back(std::move(u));
    }
    return {};
  }

  [[nodiscard]] status parse_connections(const section& top,
                                         std::vector<connection_config>& conns) const {
    const entry* list = top.find("connections");
    const std::string required = "at least one connection is required";
    if (list == nullptr) return fail(top.line, "connections", required);
    if (list->value.IsNull()) return fail(*list, required);
    if (!list->value.IsSequence()) return fail(*list, "expected a list of connections");
    if (list->value.size() == 0) return fail(*list, required);
    for (std::size_t i = 0; i < list->value.size(); ++i) {
      auto c = parse_connection(list->value[i], indexed("connections", i), conns);
      if (!c) return error{c.err()};
      conns.push_back(std::move(*c));
    }
    return {};
  }

  [[nodiscard]] result<connection_config> parse_connection(
      const YAML::Node& item, const std::string& path,
      const std::vector<connection_config>& prev) const {
    int line = line_of(item);
    if (!item.IsMap()) return fail(line, path, "expected a mapping with name, type, host, ...");
    auto sec = read_section(item, line, path,
                            {"name", "type", "host", "port", "database", "user", "password", "tls",
                             "tls_ca", "allow_groups", "masking", "guardrails", "reviews",
                             "on_parse_error", "access", "access_window", "recording"},
                            {});
    if (!sec) return error{sec.err()};
    connection_config c;
    c.line = sec->line;
    auto required = [&](std::string_view key) -> result<std::string> {
      const entry* e = sec->find(key);
      if (e == nullptr) return fail(sec->line, join(path, key), "is required");
      return nonempty_string(*e);
    };

    auto name = required("name");
    if (!name) return error{name.err()};
    const entry* name_e = sec->find("name");
    if (!valid_connection_name(*name)) {
      return fail(*name_e, "'" + *name + "' must match [A-Za-z0-9_.-]+");
    }
    for (const auto& p : prev) {
      if (p.name == *name) {
        return fail(*name_e, "duplicate connection name '" + *name + "' (first defined on line " +
                                 std::to_string(p.line) + ")");
      }
    }
    c.name = *name;

    const entry* type_e = sec->find("type");
    if (type_e == nullptr)
      return fail(sec->line, join(path, "type"), "is required (postgres | ssh)");
    auto type = enumerated<conn_type>(*type_e,
                                      {{"postgres", conn_type::postgres}, {"ssh", conn_type::ssh}});
    if (!type) return error{type.err()};
    c.type = *type;
    const bool pg = c.type == conn_type::postgres;

    auto host = required("host");
    if (!host) return error{host.err()};
    if (has_space_or_control(*host)) return fail(*sec->find("host"), "must not contain spaces");
    c.host = *host;

    c.port = pg ? 5432 : 22;
    if (const entry* e = sec->find("port")) {
      auto p = integer(*e, 1, 65535, "");
      if (!p) return error{p.err()};
      c.port = static_cast<std::uint16_t>(*p);
    }

    // Postgres-only keys on an ssh connection would be silently meaningless; say so instead.
    for (std::string_view key : {"database", "tls", "tls_ca"}) {
      if (const entry* e = sec->find(key); e != nullptr && !pg) {
        return fail(*e, "only valid for type postgres");
      }
    }
    if (pg) {
      auto db = required("database");
      if (!db) return error{db.err()};
      c.database = *db;
    }

    auto user = required("user");
    if (!user) return error{user.err()};
    c.user = *user;

    if (const entry* e = sec->find("password")) {
      auto s = secret(*e);
      if (!s) return error{s.err()};
      c.password = std::move(*s);
      c.password_line = e->line;
    }

    if (const entry* e = sec->find("tls")) {
      auto t = enumerated<upstream_tls>(*e, {{"disable", upstream_tls::disable},
                                             {"prefer", upstream_tls::prefer},
                                             {"require", upstream_tls::require},
                                             {"verify-full", upstream_tls::verify_full}});
      if (!t) return error{t.err()};
      c.tls = *t;
    }
    if (const entry* e = sec->find("tls_ca")) {
      if (c.tls == upstream_tls::disable) return fail(*e, "has no effect with tls: disable");
      auto p = path_value(*e);
      if (!p) return error{p.err()};
      c.tls_ca = *p;
    }

    if (const entry* e = sec->find("allow_groups")) {
      auto g = string_list(*e);
      if (!g) return error{g.err()};
      c.allow_groups = std::move(*g);
    }
    const yaml_ctx ctx{display_name(file_), base_.string()};
    if (const entry* e = sec->find("masking"))
      if (auto s = parse_masking(e->value, ctx, e->path, e->line, c.masking); !s) return error{s.err()};
    if (const entry* e = sec->find("guardrails"))
      if (auto s = parse_guardrails(e->value, ctx, e->path, e->line, c.guardrails); !s)
        return error{s.err()};
    if (const entry* e = sec->find("reviews"))
      if (auto s = parse_reviews(e->value, ctx, e->path, e->line, c.reviews); !s)
        return error{s.err()};
    if (auto s = parse_guard_settings(*sec, c); !s) return error{s.err()};
    if (const entry* e = sec->find("recording"))
      if (auto s = parse_recording(*e, c); !s) return error{s.err()};
    return c;
  }

  // `recording: true|false` or a mapping. Only terminal sessions have settings: a database
  // session's recording is its statement timeline, which the audit trail always keeps.
  [[nodiscard]] status parse_recording(const entry& e, connection_config& c) const {
    recording_config& r = c.recording;
    r.line = e.line;
    const bool pg = c.type == conn_type::postgres;
    const std::string pg_only =
        "only `recording: true` is valid for type postgres (database sessions are recorded as "
        "their statement timeline in the audit trail); settings apply to type ssh";
    if (e.value.IsScalar()) {
      auto b = enumerated<bool>(e, {{"true", true}, {"false", false}});
      if (!b) return error{b.err()};
      if (pg && !*b) return fail(e, pg_only);
      r.enabled = *b;
      return {};
    }
    if (pg) return fail(e, pg_only);
    auto sec = read_section(e.value, e.line, e.path,
                            {"enabled", "record_input", "chunk_size", "chunk_interval"}, {});
    if (!sec) return error{sec.err()};
    for (auto [key, out] : {std::pair<std::string_view, bool*>{"enabled", &r.enabled},
                            std::pair<std::string_view, bool*>{"record_input", &r.record_input}}) {
      if (const entry* k = sec->find(key)) {
        auto b = enumerated<bool>(*k, {{"true", true}, {"false", false}});
        if (!b) return error{b.err()};
        *out = *b;
      }
    }
    if (const entry* k = sec->find("chunk_size")) {
      // Small chunks cost an fsync and an audit event each; huge ones hold more unchained data.
      auto n = message_size(*k);
      if (!n) return error{n.err()};
      if (*n > (64u << 20)) return fail(*k, "expected a size 1KB..64MB");
      r.chunk_size = *n;
    }
    if (const entry* k = sec->find("chunk_interval")) {
      auto d = duration(*k, true);
      if (!d) return error{d.err()};
      r.chunk_interval = *d;
    }
    return {};
  }

  // on_parse_error, access, access_window, and the checks that tie guardrails and reviews
  // together: anything that can end in a review needs someone who may approve it.
  [[nodiscard]] status parse_guard_settings(const section& sec, connection_config& c) const {
    const bool pg = c.type == conn_type::postgres;
    for (std::string_view key : {"guardrails", "on_parse_error"}) {
      if (const entry* e = sec.find(key); e != nullptr && !pg) {
        return fail(*e, "only valid for type postgres (SQL statement rules)");
      }
    }
    if (const entry* e = sec.find("on_parse_error")) {
      auto a = enumerated<guard_action>(*e, {{"deny", guard_action::deny},
                                             {"review", guard_action::review},
                                             {"allow", guard_action::allow}});
      if (!a) return error{a.err()};
      c.on_parse_error = *a;
      c.on_parse_error_line = e->line;
    }
    if (const entry* e = sec.find("access")) {
      auto a = enumerated<access_mode>(*e, {{"direct", access_mode::direct},
                                            {"review", access_mode::review}});
      if (!a) return error{a.err()};
      c.access = *a;
      c.access_line = e->line;
    }
    if (const entry* e = sec.find("access_window")) {
      if (c.access != access_mode::review) return fail(*e, "only valid with access: review");
      auto d = duration(*e, true);
      if (!d) return error{d.err()};
      c.access_window = *d;
    }
    if (c.reviews.present && !c.reviews.approvers.empty()) return {};
    const std::string need = "needs reviews.approvers on this connection (who may approve)";
    if (const entry* e = sec.find("access"); e != nullptr && c.access == access_mode::review)
      return fail(*e, "access: review " + need);
    if (const entry* e = sec.find("on_parse_error");
        e != nullptr && c.on_parse_error == guard_action::review)
      return fail(*e, "on_parse_error: review " + need);
    for (const auto& r : c.guardrails) {
      if (r.action == guard_action::review)
        return fail(r.action_line, r.path + ".action", "review " + need);
    }
    return {};
  }

  [[nodiscard]] status parse_audit(const child& c, audit_config& a) const {
    auto sec = read_child(c,
                          {"retention", "sync", "segment_size", "checkpoint_events",
                           "checkpoint_interval"},
                          {"recording"});
    if (!sec) return error{sec.err()};
    if (const entry* e = sec->find("retention")) {
      auto d = duration(*e, false);
      if (!d) return error{d.err()};
      a.retention = *d;
    }
    if (const entry* e = sec->find("sync")) {
      auto s = enumerated<audit_sync>(*e, {{"write", audit_sync::write}, {"fsync", audit_sync::fsync}});
      if (!s) return error{s.err()};
      a.sync = *s;
    }
    if (const entry* e = sec->find("segment_size")) {
      auto n = message_size(*e);
      if (!n) return error{n.err()};
      a.segment_size = *n;
    }
    if (const entry* e = sec->find("checkpoint_events")) {
      auto n = integer(*e, 1, 100'000'000, "events between signed checkpoints");
      if (!n) return error{n.err()};
      a.checkpoint_events = *n;
    }
    if (const entry* e = sec->find("checkpoint_interval")) {
      auto d = duration(*e, true);
      if (!d) return error{d.err()};
      a.checkpoint_interval = *d;
    }
    return {};
  }

  std::string file_;
  fs::path base_;
};

fs::path base_dir_of(const std::string& path) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (path.empty()) return cwd;
  fs::path p(path);
  if (p.is_relative()) p = cwd / p;
  return p.lexically_normal().parent_path();
}

}  // namespace

int yaml_line(const YAML::Node& n) { return line_of(n); }

error yaml_error(const yaml_ctx& ctx, int line, std::string_view path, std::string_view problem) {
  return located(ctx.file, line, path, problem);
}


std::string store_config::sqlite_path() const {
  std::string_view u = url;
  if (!u.starts_with(sqlite_scheme)) return {};
  return std::string(u.substr(sqlite_scheme.size()));
}

const connection_config* config::find_connection(std::string_view name) const {
  for (const auto& c : connections) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const user_config* config::find_user(std::string_view name) const {
  for (const auto& u : identity.users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

result<config> parse_config(const std::string& yaml_text, const std::string& path) {
  config cfg;
  cfg.path = path;
  cfg.base_dir = base_dir_of(path).string();
  try {
    {
      std::istringstream in(yaml_text);
      YAML::Parser events(in);
      document_counter counter;
      while (counter.documents < 2 && events.HandleNextDocument(counter)) {
      }
      if (counter.documents > 1) {
        return located(path, counter.second_line, "(top level)",
                       "only one YAML document is allowed (found a second one)");
      }
    }
    std::vector<YAML::Node> docs = YAML::LoadAll(yaml_text);
    if (docs.size() > 1) {
      return located(path, line_of(docs[1]), "(top level)",
                     "only one YAML document is allowed (found a second one)");
    }
    YAML::Node root = docs.empty() ? YAML::Node(YAML::NodeType::Null) : docs[0];
    parser p(path, cfg.base_dir);
    if (auto s = p.parse(root, cfg); !s) return error{s.err()};
  } catch (const YAML::Exception& e) {
    int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
    return make_error(display_name(path) + ":" + std::to_string(line) +
                      ": YAML syntax error: " + e.msg);
  }
  return cfg;
}

result<config> load_config(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return make_error(path + ": is a directory, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(path + ": cannot read config file");
  return parse_config(text.str(), path);
}

status check_secrets(const config& cfg) {
  for (std::size_t i = 0; i < cfg.connections.size(); ++i) {
    const auto& c = cfg.connections[i];
    if (c.password.empty()) continue;
    // The value is read and dropped at once; only the error (which never holds it) leaves here.
    if (auto r = c.password.resolve(); !r) {
      return located(cfg.path, c.password_line, indexed("connections", i) + ".password", r.err());
    }
  }
  for (std::size_t i = 0; i < cfg.identity.users.size(); ++i) {
    const auto& u = cfg.identity.users[i];
    if (u.api_key.empty()) continue;
    if (auto r = u.api_key.resolve(); !r) {
      return located(cfg.path, u.api_key_line, indexed("identity.users", i) + ".api_key", r.err());
    }
  }
  for (std::size_t i = 0; i < cfg.connections.size(); ++i) {
    const auto& n = cfg.connections[i].reviews.notify;
    if (!n || n->secret.empty()) continue;
    if (auto r = n->secret.resolve(); !r) {
      return located(cfg.path, n->secret_line,
                     indexed("connections", i) + ".reviews.notify.secret", r.err());
    }
  }
  return {};
}

}  // namespace gh::config
