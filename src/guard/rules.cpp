#include "guard/rules.hpp"

#include <hs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <utility>

namespace gh::guard {

namespace {

char fold(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Case-insensitive glob with `*` only (iterative, linear backtracking: no blow-up).
bool glob(std::string_view pat, std::string_view s) {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pat.size() && fold(pat[p]) == fold(s[i])) {
      ++p;
      ++i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

// A `tables:` entry, split at its last dot.
struct table_pattern {
  std::string schema;  // empty: any schema
  std::string name;
};

table_pattern split_table(std::string_view s) {
  auto dot = s.rfind('.');
  if (dot == std::string_view::npos) return {{}, std::string(s)};
  return {std::string(s.substr(0, dot)), std::string(s.substr(dot + 1))};
}

bool table_matches(const table_pattern& p, const qualified_name& t) {
  if (!glob(p.name, t.name)) return false;
  // An unqualified reference could resolve to any schema on the search_path: it matches.
  return p.schema.empty() || t.schema.empty() || glob(p.schema, t.schema);
}

std::string_view copy_name(config::copy_target c) {
  return config::to_string(c);
}

std::string generated_message(std::string_view rule, action a, std::string_view cls) {
  std::string m;
  switch (a) {
    case action::deny:
      m = "refused by guardrail \"";
      break;
    case action::review:
      m = "held for review by guardrail \"";
      break;
    case action::allow:
      m = "allowed by guardrail \"";
      break;
  }
  m += rule;
  m += '"';
  if (!cls.empty()) {
    m += " (";
    m += cls;
    m += ')';
  }
  return m;
}

struct scratch_deleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};
struct database_deleter {
  void operator()(hs_database_t* d) const { hs_free_database(d); }
};

// Hyperscan scratch space is per thread: one per worker thread, grown to fit every database it
// is used with. Scratch only ever grows, so once it fits a database it always will; `fitted`
// remembers the last few databases (by serial number, never by address, which a later database
// could reuse) so the ~300 ns hs_alloc_scratch check is skipped on the hot path.
struct thread_scratch {
  std::unique_ptr<hs_scratch_t, scratch_deleter> space;
  std::array<std::uint64_t, 8> fitted{};
  std::size_t next = 0;

  // Scratch usable with `db`, or null if it cannot be had.
  hs_scratch_t* get(const hs_database_t* db, std::uint64_t serial) {
    if (space && std::find(fitted.begin(), fitted.end(), serial) != fitted.end())
      return space.get();
    hs_scratch_t* s = space.release();
    hs_error_t rc = hs_alloc_scratch(db, &s);
    space.reset(s);
    if (rc != HS_SUCCESS) return nullptr;
    fitted[next] = serial;
    next = (next + 1) % fitted.size();
    return space.get();
  }
};
thread_local thread_scratch tls_scratch;
std::atomic<std::uint64_t> next_serial{1};

int on_match(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
             unsigned int /*flags*/, void* ctx) {
  auto* hits = static_cast<std::vector<std::uint8_t>*>(ctx);
  if (id < hits->size()) (*hits)[id] = 1;
  return 0;  // keep scanning: other patterns may match too
}

}  // namespace

struct rule_set::rule {
  std::string name;
  action act = action::deny;
  std::string message;
  std::vector<std::string> statement;
  std::vector<table_pattern> tables;
  config::clause_match where = config::clause_match::any;
  config::clause_match limit = config::clause_match::any;
  std::vector<std::string> functions;
  bool has_pattern = false;
  std::vector<std::string> groups;
  std::vector<std::string> except_groups;
  std::vector<std::string_view> copy;
  // Only pattern/groups/except_groups (or nothing): can be decided on text that did not parse.
  bool raw_text_only = false;
};

struct rule_set::patterns {
  std::unique_ptr<hs_database_t, database_deleter> db;
  std::uint64_t serial = next_serial.fetch_add(1, std::memory_order_relaxed);

  // hits[i] = 1 when rule i's pattern matches `text`. Fails closed: a scan error marks every
  // pattern as matching.
  void scan(std::string_view text, std::vector<std::uint8_t>& hits) const {
    hs_scratch_t* s = tls_scratch.get(db.get(), serial);
    if (s == nullptr) {
      std::fill(hits.begin(), hits.end(), 1);
      return;
    }
    auto len = static_cast<unsigned int>(std::min<std::size_t>(text.size(), UINT32_MAX));
    if (hs_scan(db.get(), text.data(), len, 0, s, on_match, &hits) != HS_SUCCESS)
      std::fill(hits.begin(), hits.end(), 1);
  }
};

rule_set::rule_set(token, std::vector<rule> rules, std::unique_ptr<patterns> p, action ope)
    : rules_(std::move(rules)), patterns_(std::move(p)), on_parse_error_(ope) {}

rule_set::~rule_set() = default;

std::size_t rule_set::size() const {
  return rules_.size();
}

bool rule_set::may_review() const {
  if (on_parse_error_ == action::review) return true;
  return std::any_of(rules_.begin(), rules_.end(),
                     [](const rule& r) { return r.act == action::review; });
}

result<std::shared_ptr<const rule_set>> rule_set::compile(
    std::span<const config::guard_rule_config> rules, action on_parse_error,
    std::string_view config_file) {
  auto located = [&](int line, const std::string& path, const std::string& problem) {
    std::string m = config_file.empty() ? "<config>" : std::string(config_file);
    m += ':' + std::to_string(line) + ": " + path + ": " + problem;
    return make_error(std::move(m));
  };

  std::vector<rule> out;
  out.reserve(rules.size());
  std::vector<const char*> exprs;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> ids;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& rc = rules[i];
    const auto& m = rc.match;
    rule r;
    r.name = rc.name;
    r.act = rc.action;
    r.message = rc.message;
    r.statement = m.statement;
    for (const auto& t : m.tables) r.tables.push_back(split_table(t));
    r.where = m.where;
    r.limit = m.limit;
    r.functions = m.functions;
    r.groups = m.groups;
    r.except_groups = m.except_groups;
    for (auto c : m.copy) r.copy.push_back(copy_name(c));
    r.has_pattern = !m.pattern.empty();
    r.raw_text_only = m.statement.empty() && m.tables.empty() && m.functions.empty() &&
                      m.copy.empty() && m.where == config::clause_match::any &&
                      m.limit == config::clause_match::any;
    if (r.has_pattern) {
      exprs.push_back(m.pattern.c_str());
      // Bytes, not UTF-8: statement text is whatever the client sent, and Hyperscan's UTF-8 mode
      // requires valid input.
      flags.push_back(HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY);
      ids.push_back(static_cast<unsigned int>(i));
    }
    out.push_back(std::move(r));
  }

  std::unique_ptr<patterns> pats;
  if (!exprs.empty()) {
    if (hs_valid_platform() != HS_SUCCESS) {
      const auto& rc = rules[ids.front()];
      return located(rc.match.pattern_line, rc.path + ".match.pattern",
                     "pattern rules need a CPU with SSSE3 (Hyperscan)");
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned int>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) != HS_SUCCESS) {
      std::string problem = "invalid pattern: ";
      problem += err != nullptr && err->message != nullptr ? err->message : "cannot compile";
      // expression < 0: not attributable to one pattern (e.g. out of memory).
      std::size_t which =
          err != nullptr && err->expression >= 0 ? static_cast<std::size_t>(err->expression) : 0;
      if (err != nullptr) hs_free_compile_error(err);
      const auto& rc = rules[ids[std::min(which, ids.size() - 1)]];
      return located(rc.match.pattern_line, rc.path + ".match.pattern", problem);
    }
    pats = std::make_unique<patterns>();
    pats->db.reset(db);
    // Fail at load, not on the first statement, if scratch cannot be had.
    if (tls_scratch.get(db, pats->serial) == nullptr)
      return make_error("cannot allocate Hyperscan scratch space");
  }
  return std::make_shared<const rule_set>(token{}, std::move(out), std::move(pats), on_parse_error);
}

result<std::shared_ptr<const rule_set>> rule_set::compile(
    const config::connection_config& connection, std::string_view config_file) {
  return compile(connection.guardrails, connection.on_parse_error, config_file);
}

decision rule_set::decide(const rule& r, std::size_t index, std::string_view cls) const {
  decision d;
  d.act = r.act;
  d.rule = r.name;
  d.message = r.message.empty() ? generated_message(r.name, r.act, cls) : r.message;
  d.statement_index = index;
  return d;
}

namespace {

bool any_group(const std::vector<std::string>& wanted, std::span<const std::string> have) {
  for (const auto& g : have) {
    if (std::find(wanted.begin(), wanted.end(), g) != wanted.end()) return true;
  }
  return false;
}

bool clause_ok(config::clause_match want, const std::optional<bool>& present) {
  switch (want) {
    case config::clause_match::any:
      return true;
    case config::clause_match::absent:
      return present.has_value() && !*present;
    case config::clause_match::present:
      return present.has_value() && *present;
  }
  return false;
}

}  // namespace

decision rule_set::evaluate_statement(const statement_info& s, std::size_t index,
                                      std::span<const std::string> groups) const {
  std::vector<std::uint8_t> hits;  // pattern results, computed on first need
  bool scanned = false;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const rule& r = rules_[i];
    if (!r.groups.empty() && !any_group(r.groups, groups)) continue;
    if (!r.except_groups.empty() && any_group(r.except_groups, groups)) continue;
    if (!r.statement.empty()) {
      bool hit = std::any_of(s.classes.begin(), s.classes.end(), [&](std::string_view c) {
        return std::any_of(r.statement.begin(), r.statement.end(),
                           [&](const std::string& p) { return glob(p, c); });
      });
      if (!hit) continue;
    }
    if (!r.tables.empty()) {
      bool hit = std::any_of(s.tables.begin(), s.tables.end(), [&](const qualified_name& t) {
        return std::any_of(r.tables.begin(), r.tables.end(),
                           [&](const table_pattern& p) { return table_matches(p, t); });
      });
      if (!hit) continue;
    }
    if (!clause_ok(r.where, s.has_where) || !clause_ok(r.limit, s.has_limit)) continue;
    if (!r.functions.empty()) {
      bool hit = std::any_of(s.functions.begin(), s.functions.end(), [&](const std::string& f) {
        return std::any_of(r.functions.begin(), r.functions.end(),
                           [&](const std::string& p) { return glob(p, f); });
      });
      if (!hit) continue;
    }
    if (!r.copy.empty() && std::find(r.copy.begin(), r.copy.end(), s.copy_target) == r.copy.end())
      continue;
    if (r.has_pattern) {
      if (!scanned) {
        hits.assign(rules_.size(), 0);
        patterns_->scan(s.text, hits);
        scanned = true;
      }
      if (hits[i] == 0) continue;
    }
    return decide(r, index, s.cls);
  }
  decision d;
  d.statement_index = index;
  return d;
}

decision rule_set::evaluate(const classification& c, std::string_view raw_text,
                            std::span<const std::string> groups) const {
  if (!c.parse_ok) {
    decision d;
    d.act = on_parse_error_;
    d.rule = "on_parse_error";
    d.parse_error = true;
    std::string why = c.parse_error.empty() ? "unknown error" : c.parse_error;
    switch (on_parse_error_) {
      case action::deny:
        d.message = "statement refused: it could not be parsed (" + why + ")";
        break;
      case action::review:
        d.message = "statement held for review: it could not be parsed (" + why + ")";
        break;
      case action::allow:
        d.message = "statement allowed although it could not be parsed (" + why + ")";
        break;
    }
    // Rules that need no parse tree still apply; the stricter outcome wins.
    std::vector<std::uint8_t> hits;
    bool scanned = false;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      const rule& r = rules_[i];
      if (!r.raw_text_only) continue;
      if (!r.groups.empty() && !any_group(r.groups, groups)) continue;
      if (!r.except_groups.empty() && any_group(r.except_groups, groups)) continue;
      if (r.has_pattern) {
        if (!scanned) {
          hits.assign(rules_.size(), 0);
          patterns_->scan(raw_text, hits);
          scanned = true;
        }
        if (hits[i] == 0) continue;
      }
      if (r.act > d.act) {
        decision rd = decide(r, 0, {});
        rd.parse_error = true;
        return rd;
      }
      break;  // first match wins; it was not stricter than on_parse_error
    }
    return d;
  }
  decision best;
  bool have = false;
  for (std::size_t i = 0; i < c.statements.size(); ++i) {
    decision d = evaluate_statement(c.statements[i], i, groups);
    if (!have || d.act > best.act) {
      best = std::move(d);
      have = true;
      if (best.act == action::deny) break;  // nothing is stricter
    }
  }
  return best;
}

status check_config(const config::config& cfg) {
  for (const auto& c : cfg.connections) {
    if (c.type != config::conn_type::postgres) continue;
    auto r = rule_set::compile(c, cfg.path);
    if (!r) return error{r.err()};
  }
  return {};
}

}  // namespace gh::guard
