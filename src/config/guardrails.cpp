// `guardrails:` and `reviews:` of a connection. Same rules as config.cpp: unknown and duplicate
// keys are errors, every error is "FILE:LINE: key.path: problem", nothing is accepted "mostly".
// `pattern:` is compiled here with the same Hyperscan flags src/guard uses, so a pattern the
// engine would refuse is a config error at load (guard::check_config() re-checks when compiling).
#include <hs.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "config/blocks.hpp"
#include "core/duration.hpp"

namespace gh::config {

namespace {

using keys = std::initializer_list<std::string_view>;

// Sorted; keep in step with src/guard/classify.cpp (guard_test checks every class it produces
// is listed here).
// clang-format off
constexpr std::array<std::string_view, 47> all_classes = {
    "alter_other",     "alter_role",       "alter_system",    "alter_table",   "analyze",
    "call",            "copy_from",        "copy_to",         "create_database",
    "create_extension", "create_function", "create_index",    "create_other",  "create_role",
    "create_schema",   "create_table",     "create_view",     "cursor",        "deallocate",
    "delete",          "do",               "drop_database",   "drop_function", "drop_index",
    "drop_other",      "drop_role",        "drop_schema",     "drop_table",    "drop_view",
    "execute",         "explain",          "grant",           "insert",        "listen",
    "lock",            "merge",            "notify",          "other",         "prepare",
    "revoke",          "select",           "set",             "show",          "transaction",
    "truncate",        "update",           "vacuum"};
// clang-format on
static_assert(std::is_sorted(all_classes.begin(), all_classes.end()));

std::string indexed(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string join(std::string_view path, std::string_view key) {
  return std::string(path) + "." + std::string(key);
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
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

template <typename List>
std::string_view closest(std::string_view word, const List& candidates) {
  std::string_view best;
  std::size_t best_d = 3;
  for (std::string_view c : candidates) {
    auto d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return word.size() > 2 ? best : std::string_view{};
}

struct item {
  std::string key;
  std::string path;
  YAML::Node value;
  int line = 0;
};

// One YAML mapping's entries after unknown/duplicate-key checks.
class mapping {
 public:
  mapping(const yaml_ctx& ctx, std::string path) : ctx_(ctx), path_(std::move(path)) {}

  [[nodiscard]] status read(const YAML::Node& n, int line, keys known) {
    line_ = line;
    if (!n.IsDefined() || n.IsNull()) return {};
    if (!n.IsMap()) return yaml_error(ctx_, line, path_, "expected a mapping");
    line_ = yaml_line(n);
    for (const auto& kv : n) {
      const YAML::Node k = kv.first;
      const YAML::Node v = kv.second;
      int kline = yaml_line(k);
      if (!k.IsScalar()) return yaml_error(ctx_, kline, path_, "keys must be plain strings");
      std::string key = k.Scalar();
      std::string kpath = join(path_, key);
      if (const item* prev = find(key)) {
        return yaml_error(ctx_, kline, kpath,
                          "duplicate key (first set on line " + std::to_string(prev->line) + ")");
      }
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string msg = "unknown key";
        if (auto best = closest(key, known); !best.empty())
          msg += " (did you mean '" + std::string(best) + "'?)";
        msg += "; expected one of: ";
        bool first = true;
        for (auto kn : known) {
          if (!first) msg += ", ";
          msg += kn;
          first = false;
        }
        return yaml_error(ctx_, kline, kpath, msg);
      }
      items_.push_back(item{key, std::move(kpath), v, kline});
    }
    return {};
  }

  [[nodiscard]] const item* find(std::string_view key) const {
    for (const auto& i : items_) {
      if (i.key == key) return &i;
    }
    return nullptr;
  }
  [[nodiscard]] int line() const { return line_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  const yaml_ctx& ctx_;
  std::string path_;
  int line_ = 0;
  std::vector<item> items_;
};

// Why Hyperscan refuses `pattern` ("" if it compiles). Flags as in guard::rule_set::compile:
// byte mode (not UTF-8), one match per pattern, empty matches allowed.
std::string pattern_problem(const std::string& pattern) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile(pattern.c_str(), HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY, HS_MODE_BLOCK, nullptr,
                 &db, &err) == HS_SUCCESS) {
    hs_free_database(db);
    return {};
  }
  std::string msg = err != nullptr && err->message != nullptr ? err->message : "cannot compile";
  if (err != nullptr) hs_free_compile_error(err);
  return msg;
}

class block_parser {
 public:
  explicit block_parser(const yaml_ctx& ctx) : ctx_(ctx) {}

  [[nodiscard]] error fail(const item& i, std::string_view problem) const {
    return yaml_error(ctx_, i.line, i.path, problem);
  }
  [[nodiscard]] error fail(int line, std::string_view path, std::string_view problem) const {
    return yaml_error(ctx_, line, path, problem);
  }

  [[nodiscard]] result<std::string> string_value(const item& i) const {
    if (!i.value.IsScalar())
      return fail(i, i.value.IsNull() ? "missing value" : "expected a string");
    return i.value.Scalar();
  }

  [[nodiscard]] result<std::string> nonempty_string(const item& i) const {
    auto s = string_value(i);
    if (!s) return s;
    if (s->empty()) return fail(i, "must not be empty");
    return s;
  }

  // A list of non-empty strings; a single scalar is a list of one. Empty is an error: an empty
  // OR matches nothing, which is never what was meant (omit the key to match anything).
  [[nodiscard]] result<std::vector<std::string>> string_list(const item& i) const {
    std::vector<std::string> out;
    if (i.value.IsScalar()) {
      if (i.value.Scalar().empty()) return fail(i, "must not be empty");
      out.push_back(i.value.Scalar());
      return out;
    }
    if (!i.value.IsSequence()) return fail(i, "expected a list of strings, e.g. [a, b]");
    if (i.value.size() == 0) return fail(i, "must not be empty (omit the key to match anything)");
    for (std::size_t n = 0; n < i.value.size(); ++n) {
      const YAML::Node& v = i.value[n];
      if (!v.IsScalar() || v.Scalar().empty())
        return fail(yaml_line(v), indexed(i.path, n), "expected a non-empty string");
      out.push_back(v.Scalar());
    }
    return out;
  }

  template <typename E>
  [[nodiscard]] result<E> enumerated(const item& i,
                                     std::initializer_list<std::pair<std::string_view, E>> opts,
                                     std::string_view value_path = {}) const {
    std::string s;
    if (!i.value.IsScalar())
      return fail(i, i.value.IsNull() ? "missing value" : "expected a string");
    s = i.value.Scalar();
    std::string names;
    for (const auto& [name, v] : opts) {
      if (s == name) return v;
      if (!names.empty()) names += " | ";
      names += name;
    }
    return fail(i.line, value_path.empty() ? std::string_view(i.path) : value_path,
                "expected one of " + names + ", got '" + s + "'");
  }

  [[nodiscard]] result<bool> boolean(const item& i) const {
    if (i.value.IsScalar()) {
      const std::string& s = i.value.Scalar();
      if (s == "true") return true;
      if (s == "false") return false;
    }
    return fail(i, "expected true or false");
  }

  [[nodiscard]] result<unsigned> integer(const item& i, unsigned lo, unsigned hi) const {
    std::string problem = "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    if (!i.value.IsScalar()) return fail(i, problem);
    const std::string& s = i.value.Scalar();
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi)
      return fail(i, problem);
    return v;
  }

  [[nodiscard]] result<std::chrono::milliseconds> duration(const item& i) const {
    auto s = string_value(i);
    if (!s) return error{s.err()};
    auto d = parse_duration(*s);
    if (!d) return fail(i, d.err());
    if (d->count() <= 0) return fail(i, "must be greater than 0");
    return d;
  }

  // Form only (never read here): env: needs a variable name, file: a path (made absolute).
  [[nodiscard]] result<secret_ref> secret(const item& i) const {
    auto s = nonempty_string(i);
    if (!s) return error{s.err()};
    std::string_view v = *s;
    if (v.starts_with("env:")) {
      std::string_view name = v.substr(4);
      bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                   std::all_of(name.begin(), name.end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '_';
                   });
      if (!valid) return fail(i, "env: needs a variable name like env:WEBHOOK_SECRET");
      return secret_ref{*s};
    }
    if (v.starts_with("file:")) {
      if (v.size() == 5) return fail(i, "file: needs a path like file:secrets/webhook");
      std::filesystem::path p(std::string(v.substr(5)));
      if (p.is_relative() && !ctx_.base_dir.empty()) p = std::filesystem::path(ctx_.base_dir) / p;
      return secret_ref{"file:" + p.lexically_normal().string()};
    }
    return secret_ref{*s};
  }

  [[nodiscard]] status rule(const YAML::Node& n, const std::string& path,
                            std::vector<guard_rule_config>& out) const {
    int line = yaml_line(n);
    if (!n.IsMap())
      return fail(line, path, "expected a mapping with name, match, action (and message)");
    mapping m(ctx_, path);
    if (auto s = m.read(n, line, {"name", "match", "action", "message"}); !s) return s;
    guard_rule_config r;
    r.path = path;
    r.line = m.line();

    const item* name = m.find("name");
    if (name == nullptr) return fail(r.line, join(path, "name"), "is required");
    auto nm = nonempty_string(*name);
    if (!nm) return error{nm.err()};
    if (has_control(*nm)) return fail(*name, "must not contain control characters");
    for (const auto& prev : out) {
      if (prev.name == *nm) {
        return fail(*name, "duplicate rule name '" + *nm + "' (first defined on line " +
                               std::to_string(prev.line) + ")");
      }
    }
    r.name = *nm;

    const item* match = m.find("match");
    if (match == nullptr) {
      return fail(r.line, join(path, "match"),
                  "is required (use `match: {}` for a rule that matches every statement)");
    }
    if (auto s = parse_match(*match, r.match); !s) return s;

    const item* action = m.find("action");
    if (action == nullptr)
      return fail(r.line, join(path, "action"), "is required (deny | review | allow)");
    auto a = enumerated<guard_action>(*action, {{"deny", guard_action::deny},
                                                {"review", guard_action::review},
                                                {"allow", guard_action::allow}});
    if (!a) return error{a.err()};
    r.action = *a;
    r.action_line = action->line;

    if (const item* msg = m.find("message")) {
      auto s = nonempty_string(*msg);
      if (!s) return error{s.err()};
      if (has_control(*s)) return fail(*msg, "must not contain control characters");
      r.message = *s;
    }
    out.push_back(std::move(r));
    return {};
  }

  [[nodiscard]] status parse_match(const item& mi, guard_match& g) const {
    mapping m(ctx_, mi.path);
    if (auto s = m.read(mi.value, mi.line,
                        {"statement", "tables", "where", "limit", "functions", "pattern", "groups",
                         "except_groups", "copy"});
        !s)
      return s;
    if (const item* i = m.find("statement")) {
      auto list = string_list(*i);
      if (!list) return error{list.err()};
      for (std::size_t n = 0; n < list->size(); ++n) {
        const std::string& cls = (*list)[n];
        if (auto s = check_class(*i, n, cls); !s) return s;
      }
      g.statement = std::move(*list);
    }
    for (auto [key, out] :
         {std::pair{"tables", &g.tables}, std::pair{"functions", &g.functions},
          std::pair{"groups", &g.groups}, std::pair{"except_groups", &g.except_groups}}) {
      if (const item* i = m.find(key)) {
        auto list = string_list(*i);
        if (!list) return error{list.err()};
        *out = std::move(*list);
      }
    }
    for (auto [key, out] : {std::pair{"where", &g.where}, std::pair{"limit", &g.limit}}) {
      if (const item* i = m.find(key)) {
        auto v = enumerated<clause_match>(
            *i, {{"absent", clause_match::absent}, {"present", clause_match::present}});
        if (!v) return error{v.err()};
        *out = *v;
      }
    }
    if (const item* i = m.find("pattern")) {
      auto s = nonempty_string(*i);
      if (!s) return error{s.err()};
      if (s->find('\0') != std::string::npos) return fail(*i, "must not contain a NUL byte");
      if (auto problem = pattern_problem(*s); !problem.empty())
        return fail(*i, "invalid pattern: " + problem);
      g.pattern = *s;
      g.pattern_line = i->line;
    }
    if (const item* i = m.find("copy")) {
      auto list = string_list(*i);
      if (!list) return error{list.err()};
      for (std::size_t n = 0; n < list->size(); ++n) {
        item one{i->key, i->value.IsSequence() ? indexed(i->path, n) : i->path,
                 YAML::Node((*list)[n]), i->line};
        auto c = enumerated<copy_target>(one, {{"stdout", copy_target::std_out},
                                               {"stdin", copy_target::std_in},
                                               {"program", copy_target::program},
                                               {"file", copy_target::file}});
        if (!c) return error{c.err()};
        if (std::find(g.copy.begin(), g.copy.end(), *c) == g.copy.end()) g.copy.push_back(*c);
      }
    }
    return {};
  }

  [[nodiscard]] status check_class(const item& i, std::size_t n, const std::string& cls) const {
    std::string path = i.value.IsSequence() ? indexed(i.path, n) : i.path;
    auto classes = statement_classes();
    if (cls.ends_with('*')) {
      std::string_view prefix(cls.data(), cls.size() - 1);
      for (auto c : classes) {
        if (c.starts_with(prefix)) return {};
      }
      return fail(i.line, path, "'" + cls + "' matches no statement class");
    }
    if (std::find(classes.begin(), classes.end(), cls) != classes.end()) return {};
    std::string msg = "unknown statement class '" + cls + "'";
    if (auto best = closest(cls, classes); !best.empty())
      msg += " (did you mean '" + std::string(best) + "'?)";
    msg += "; expected one of: ";
    for (std::size_t k = 0; k < classes.size(); ++k) {
      if (k) msg += ", ";
      msg += classes[k];
    }
    msg += ", or a prefix like drop_*";
    return fail(i.line, path, msg);
  }

  [[nodiscard]] status notify(const item& ni, notify_config& out) const {
    mapping m(ctx_, ni.path);
    if (!ni.value.IsMap()) return fail(ni, "expected a mapping with webhook, format, secret");
    if (auto s = m.read(ni.value, ni.line, {"webhook", "format", "secret"}); !s) return s;
    out.line = ni.line;
    const item* url = m.find("webhook");
    if (url == nullptr) return fail(m.line(), join(ni.path, "webhook"), "is required");
    auto u = nonempty_string(*url);
    if (!u) return error{u.err()};
    if (has_control(*u) || u->find(' ') != std::string::npos)
      return fail(*url, "must not contain spaces or control characters");
    if (!u->starts_with("https://") && !is_loopback_http(*u)) {
      // Review notices name the requester, the rule and the (masked) statement.
      return fail(*url, "must be an https:// URL (http:// only for localhost)");
    }
    if (u->size() <= std::string_view("https://").size() ||
        (u->starts_with("https://") && (*u)[8] == '/'))
      return fail(*url, "needs a host, e.g. https://hooks.example.com/gatehouse");
    out.webhook = *u;
    if (const item* f = m.find("format")) {
      auto v = enumerated<notify_format>(
          *f, {{"json", notify_format::json}, {"slack", notify_format::slack}});
      if (!v) return error{v.err()};
      out.format = *v;
    }
    if (const item* s = m.find("secret")) {
      auto sec = secret(*s);
      if (!sec) return error{sec.err()};
      out.secret = std::move(*sec);
      out.secret_line = s->line;
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

 private:
  const yaml_ctx& ctx_;
};

}  // namespace

std::span<const std::string_view> statement_classes() {
  return all_classes;
}

std::string_view to_string(guard_action a) {
  switch (a) {
    case guard_action::allow:
      return "allow";
    case guard_action::review:
      return "review";
    case guard_action::deny:
      return "deny";
  }
  return "deny";
}

std::string_view to_string(copy_target c) {
  switch (c) {
    case copy_target::std_out:
      return "stdout";
    case copy_target::std_in:
      return "stdin";
    case copy_target::program:
      return "program";
    case copy_target::file:
      return "file";
  }
  return "file";
}

std::string_view to_string(notify_format f) {
  return f == notify_format::slack ? "slack" : "json";
}

std::string_view to_string(access_mode m) {
  return m == access_mode::review ? "review" : "direct";
}

status parse_guardrails(const YAML::Node& node, const yaml_ctx& ctx, const std::string& path,
                        int line, std::vector<guard_rule_config>& out) {
  if (node.IsNull()) return {};
  if (!node.IsSequence()) return yaml_error(ctx, line, path, "expected a list of rules");
  block_parser p(ctx);
  for (std::size_t i = 0; i < node.size(); ++i) {
    if (auto s = p.rule(node[i], indexed(path, i), out); !s) return s;
  }
  return {};
}

status parse_reviews(const YAML::Node& node, const yaml_ctx& ctx, const std::string& path, int line,
                     reviews_config& out) {
  if (!node.IsMap()) {
    return yaml_error(ctx, line, path,
                      "expected a mapping with approvers, min_approvals, timeout, self_approval, "
                      "notify");
  }
  mapping m(ctx, path);
  if (auto s =
          m.read(node, line, {"approvers", "min_approvals", "timeout", "self_approval", "notify"});
      !s)
    return s;
  block_parser p(ctx);
  out.present = true;
  out.line = line;
  const item* approvers = m.find("approvers");
  if (approvers == nullptr) {
    return yaml_error(ctx, m.line(), path + ".approvers",
                      "is required: the groups whose members may approve, e.g. [dba]");
  }
  auto a = p.string_list(*approvers);
  if (!a) return error{a.err()};
  out.approvers = std::move(*a);
  if (const item* i = m.find("min_approvals")) {
    auto n = p.integer(*i, 1, 100);
    if (!n) return error{n.err()};
    out.min_approvals = *n;
  }
  if (const item* i = m.find("timeout")) {
    auto d = p.duration(*i);
    if (!d) return error{d.err()};
    out.timeout = *d;
  }
  if (const item* i = m.find("self_approval")) {
    auto b = p.boolean(*i);
    if (!b) return error{b.err()};
    out.self_approval = *b;
  }
  if (const item* i = m.find("notify")) {
    notify_config n;
    if (auto s = p.notify(*i, n); !s) return s;
    out.notify = std::move(n);
  }
  return {};
}

}  // namespace gh::config
