// The `masking:` block of a connection. Everything the engine will need is validated here, at load:
// detector ids, actions, replacement text, and every regex (compiled with Hyperscan exactly as the
// engine compiles it), so `check-config` catches what `serve` would otherwise fail on.
#include <hs.h>

#include <algorithm>
#include <memory>

#include "config/blocks.hpp"

namespace gh::config {

namespace {

constexpr std::size_t max_replacement = 64;
constexpr std::size_t max_context_word = 64;
constexpr std::size_t max_id = 64;

struct compile_error_deleter {
  void operator()(hs_compile_error_t* e) const { hs_free_compile_error(e); }
};
struct database_deleter {
  void operator()(hs_database_t* d) const { hs_free_database(d); }
};

std::string hs_check(const std::string& pattern, unsigned flags) {
  if (pattern.find('\0') != std::string::npos) return "must not contain a NUL byte";
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  hs_error_t rc = hs_compile(pattern.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &err);
  std::unique_ptr<hs_database_t, database_deleter> db_guard(db);
  std::unique_ptr<hs_compile_error_t, compile_error_deleter> err_guard(err);
  if (rc == HS_SUCCESS) return {};
  std::string msg = err != nullptr && err->message != nullptr ? err->message : "does not compile";
  return msg;
}

std::string join(std::string_view path, std::string_view key) {
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string indexed(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

struct kv {
  std::string key;
  std::string path;
  YAML::Node value;
  int line = 0;
};

// A mapping read with unknown/duplicate-key checks, like config.cpp's sections.
struct map_reader {
  const yaml_ctx& ctx;

  [[nodiscard]] result<std::vector<kv>> read(const YAML::Node& n, const std::string& path, int line,
                                             std::initializer_list<std::string_view> known) const {
    std::vector<kv> out;
    if (!n.IsDefined() || n.IsNull()) return out;
    if (!n.IsMap()) return yaml_error(ctx, line, path, "expected a mapping");
    for (const auto& pair : n) {
      const YAML::Node k = pair.first;
      const YAML::Node v = pair.second;
      int kline = yaml_line(k);
      if (!k.IsScalar()) return yaml_error(ctx, kline, path, "keys must be plain strings");
      std::string key = k.Scalar();
      std::string kpath = join(path, key);
      for (const auto& prev : out) {
        if (prev.key == key) {
          return yaml_error(ctx, kline, kpath,
                            "duplicate key (first set on line " + std::to_string(prev.line) + ")");
        }
      }
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string all;
        for (auto name : known) {
          if (!all.empty()) all += ", ";
          all += name;
        }
        return yaml_error(ctx, kline, kpath, "unknown key; expected one of: " + all);
      }
      out.push_back(kv{std::move(key), std::move(kpath), v, kline});
    }
    return out;
  }
};

const kv* find(const std::vector<kv>& entries, std::string_view key) {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

result<std::string> scalar(const yaml_ctx& ctx, const kv& e) {
  if (!e.value.IsScalar()) return yaml_error(ctx, e.line, e.path, "expected a string");
  return e.value.Scalar();
}

result<std::vector<std::string>> string_list(const yaml_ctx& ctx, const kv& e) {
  std::vector<std::string> out;
  if (e.value.IsNull()) return out;
  if (!e.value.IsSequence()) return yaml_error(ctx, e.line, e.path, "expected a list of strings");
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    if (!item.IsScalar() || item.Scalar().empty()) {
      return yaml_error(ctx, yaml_line(item), indexed(e.path, i), "expected a non-empty string");
    }
    out.push_back(item.Scalar());
  }
  return out;
}

bool is_builtin(std::string_view id) {
  return std::find(builtin_detector_ids.begin(), builtin_detector_ids.end(), id) !=
         builtin_detector_ids.end();
}

std::string builtin_list() {
  std::string all;
  for (auto id : builtin_detector_ids) {
    if (!all.empty()) all += ", ";
    all += id;
  }
  return all;
}

bool valid_id(std::string_view s) {
  return !s.empty() && s.size() <= max_id && s[0] >= 'a' && s[0] <= 'z' &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

// Replacement text ends up inside DataRow text values, COPY text/CSV rows and JSON strings; the
// characters refused here are the ones that would change the structure of one of those.
std::string replacement_problem(std::string_view s) {
  if (s.empty()) return "must not be empty (omit it to use the detector's tag)";
  if (s.size() > max_replacement) return "longer than 64 characters";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return "must be printable ASCII";
    if (c == '\\' || c == '"' || c == '\'' || c == ',') {
      return "must not contain \\ \" ' or , (they would change COPY/CSV/JSON structure)";
    }
  }
  return {};
}

result<mask_action> parse_action_name(const yaml_ctx& ctx, const kv& e) {
  // `action: null` is a YAML null, not the string "null" (yaml-cpp cannot tell it from an empty
  // value); either means the null action, which errs on the side of masking more.
  if (e.value.IsNull()) return mask_action::null;
  auto s = scalar(ctx, e);
  if (!s) return error{s.err()};
  if (*s == "redact") return mask_action::redact;
  if (*s == "partial") return mask_action::partial;
  if (*s == "hash") return mask_action::hash;
  if (*s == "null") return mask_action::null;
  return yaml_error(ctx, e.line, e.path, "expected redact, partial, hash or null");
}

result<std::string> parse_replacement(const yaml_ctx& ctx, const kv& e) {
  auto s = scalar(ctx, e);
  if (!s) return error{s.err()};
  if (auto p = replacement_problem(*s); !p.empty()) return yaml_error(ctx, e.line, e.path, p);
  return std::move(*s);
}

// `action:` (+ optional sibling `replacement:`) inside a mapping such as a column rule.
status action_pair(const yaml_ctx& ctx, const std::vector<kv>& entries, const std::string& path,
                   int line, bool required, mask_action_config& out) {
  const kv* a = find(entries, "action");
  if (a == nullptr && required) return yaml_error(ctx, line, join(path, "action"), "is required");
  if (a != nullptr) {
    auto act = parse_action_name(ctx, *a);
    if (!act) return error{act.err()};
    out.action = *act;
    out.line = a->line;
  } else {
    out.line = line;
  }
  if (const kv* r = find(entries, "replacement")) {
    if (out.action != mask_action::redact) {
      return yaml_error(ctx, r->line, r->path, "only applies to action: redact");
    }
    auto rep = parse_replacement(ctx, *r);
    if (!rep) return error{rep.err()};
    out.replacement = std::move(*rep);
  }
  return {};
}

// A list whose items must be mappings; calls `each(item, path, line)`.
template <typename F>
status each_mapping(const yaml_ctx& ctx, const kv& e, F&& each) {
  if (e.value.IsNull()) return {};
  if (!e.value.IsSequence()) return yaml_error(ctx, e.line, e.path, "expected a list");
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    std::string ipath = indexed(e.path, i);
    int iline = yaml_line(item);
    if (!item.IsMap()) return yaml_error(ctx, iline, ipath, "expected a mapping");
    if (auto s = each(item, ipath, iline); !s) return s;
  }
  return {};
}

}  // namespace

std::string_view to_string(mask_action a) {
  switch (a) {
    case mask_action::redact: return "redact";
    case mask_action::partial: return "partial";
    case mask_action::hash: return "hash";
    case mask_action::null: return "null";
  }
  return "redact";
}

bool masking_config::uses_hash() const {
  if (action.action == mask_action::hash) return true;
  for (const auto& a : actions) {
    if (a.action.action == mask_action::hash) return true;
  }
  for (const auto& c : columns) {
    if (c.action.action == mask_action::hash) return true;
  }
  for (const auto& c : custom) {
    if (c.action && c.action->action == mask_action::hash) return true;
  }
  return false;
}

std::string check_detector_pattern(const std::string& pattern) {
  return hs_check(pattern, HS_FLAG_SOM_LEFTMOST);
}

std::string check_column_pattern(const std::string& pattern) {
  return hs_check(pattern, HS_FLAG_SINGLEMATCH);
}

status parse_masking(const YAML::Node& node, const yaml_ctx& ctx, const std::string& path,
                     int line, masking_config& out) {
  out = masking_config{};
  out.present = true;
  out.line = line;
  out.path = path;
  out.file = ctx.file;
  const map_reader reader{ctx};
  auto entries = reader.read(node, path, line,
                             {"detectors", "columns", "custom", "action", "replacement", "actions",
                              "except_groups", "mrn_pattern", "typed_columns"});
  if (!entries) return error{entries.err()};

  if (const kv* e = find(*entries, "detectors")) {
    if (e->value.IsScalar()) {
      const std::string& v = e->value.Scalar();
      if (v == "default") {
        out.default_detectors = true;
      } else if (v == "none") {
        out.default_detectors = false;
      } else {
        return yaml_error(ctx, e->line, e->path,
                          "expected default, none, or a list of detector ids");
      }
    } else {
      auto ids = string_list(ctx, *e);
      if (!ids) return error{ids.err()};
      out.default_detectors = false;
      for (std::size_t i = 0; i < ids->size(); ++i) {
        const std::string& id = (*ids)[i];
        if (!is_builtin(id)) {
          return yaml_error(ctx, yaml_line(e->value[i]), indexed(e->path, i),
                            "unknown detector '" + id + "'; built-in detectors: " +
                                builtin_list() + " (custom detectors are always enabled)");
        }
        if (std::find(out.detectors.begin(), out.detectors.end(), id) != out.detectors.end()) {
          return yaml_error(ctx, yaml_line(e->value[i]), indexed(e->path, i),
                            "detector '" + id + "' is listed twice");
        }
        out.detectors.push_back(id);
      }
    }
  }

  if (auto s = action_pair(ctx, *entries, path, line, false, out.action); !s) return s;

  if (const kv* e = find(*entries, "custom")) {
    auto s = each_mapping(ctx, *e, [&](const YAML::Node& item, const std::string& ipath,
                                       int iline) -> status {
      auto fields = reader.read(item, ipath, iline,
                                {"id", "pattern", "validator", "context", "action", "replacement"});
      if (!fields) return error{fields.err()};
      masking_custom_config c;
      c.path = ipath;
      c.line = iline;
      const kv* id = find(*fields, "id");
      if (id == nullptr) return yaml_error(ctx, iline, join(ipath, "id"), "is required");
      auto idv = scalar(ctx, *id);
      if (!idv) return error{idv.err()};
      if (!valid_id(*idv)) {
        return yaml_error(ctx, id->line, id->path,
                          "expected lowercase letters, digits and _ (starting with a letter), at "
                          "most 64 characters");
      }
      if (is_builtin(*idv)) {
        return yaml_error(ctx, id->line, id->path,
                          "'" + *idv + "' is a built-in detector; choose another id");
      }
      for (const auto& prev : out.custom) {
        if (prev.id == *idv) {
          return yaml_error(ctx, id->line, id->path,
                            "duplicate custom detector id (first defined on line " +
                                std::to_string(prev.line) + ")");
        }
      }
      c.id = std::move(*idv);
      const kv* pat = find(*fields, "pattern");
      if (pat == nullptr) return yaml_error(ctx, iline, join(ipath, "pattern"), "is required");
      auto patv = scalar(ctx, *pat);
      if (!patv) return error{patv.err()};
      if (patv->empty()) return yaml_error(ctx, pat->line, pat->path, "must not be empty");
      if (auto problem = check_detector_pattern(*patv); !problem.empty()) {
        return yaml_error(ctx, pat->line, pat->path, "invalid pattern: " + problem);
      }
      c.pattern = std::move(*patv);
      c.pattern_line = pat->line;
      if (const kv* v = find(*fields, "validator")) {
        auto vv = scalar(ctx, *v);
        if (!vv) return error{vv.err()};
        if (std::find(custom_validator_names.begin(), custom_validator_names.end(), *vv) ==
            custom_validator_names.end()) {
          return yaml_error(ctx, v->line, v->path, "expected luhn, mod97, ssn or npi");
        }
        c.validator = std::move(*vv);
      }
      if (const kv* cx = find(*fields, "context")) {
        auto words = string_list(ctx, *cx);
        if (!words) return error{words.err()};
        for (std::size_t i = 0; i < words->size(); ++i) {
          std::string w = (*words)[i];
          if (w.size() > max_context_word || w.find('\0') != std::string::npos) {
            return yaml_error(ctx, yaml_line(cx->value[i]), indexed(cx->path, i),
                              "context words are at most 64 characters");
          }
          std::transform(w.begin(), w.end(), w.begin(), [](char ch) {
            return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
          });
          c.context.push_back(std::move(w));
        }
      }
      if (find(*fields, "action") != nullptr || find(*fields, "replacement") != nullptr) {
        mask_action_config a;
        if (auto st = action_pair(ctx, *fields, ipath, iline, false, a); !st) return st;
        c.action = std::move(a);
      }
      out.custom.push_back(std::move(c));
      return {};
    });
    if (!s) return s;
  }

  if (const kv* e = find(*entries, "actions")) {
    if (!e->value.IsNull() && !e->value.IsMap()) {
      return yaml_error(ctx, e->line, e->path, "expected a mapping of detector id to action");
    }
    if (e->value.IsMap()) {
      for (const auto& pair : e->value) {
        const YAML::Node k = pair.first;
        const YAML::Node v = pair.second;
        int kline = yaml_line(k);
        if (!k.IsScalar()) return yaml_error(ctx, kline, e->path, "keys must be plain strings");
        const std::string id = k.Scalar();
        std::string kpath = join(e->path, id);
        bool custom = std::any_of(out.custom.begin(), out.custom.end(),
                                  [&](const masking_custom_config& c) { return c.id == id; });
        if (!is_builtin(id) && !custom) {
          return yaml_error(ctx, kline, kpath,
                            "unknown detector '" + id + "'; built-in detectors: " +
                                builtin_list() + ", or a custom detector id of this block");
        }
        if (is_builtin(id) && !out.default_detectors &&
            std::find(out.detectors.begin(), out.detectors.end(), id) == out.detectors.end()) {
          return yaml_error(ctx, kline, kpath,
                            "detector '" + id + "' is not enabled in detectors:");
        }
        for (const auto& prev : out.actions) {
          if (prev.detector == id) {
            return yaml_error(ctx, kline, kpath,
                              "duplicate key (first set on line " +
                                  std::to_string(prev.action.line) + ")");
          }
        }
        masking_detector_action da;
        da.detector = id;
        da.path = kpath;
        if (v.IsMap()) {
          auto fields = reader.read(v, kpath, kline, {"action", "replacement"});
          if (!fields) return error{fields.err()};
          if (auto st = action_pair(ctx, *fields, kpath, kline, true, da.action); !st) return st;
        } else {
          auto act = parse_action_name(ctx, kv{id, kpath, v, kline});
          if (!act) return error{act.err()};
          da.action.action = *act;
        }
        da.action.line = kline;
        out.actions.push_back(std::move(da));
      }
    }
  }

  if (const kv* e = find(*entries, "columns")) {
    auto s = each_mapping(ctx, *e, [&](const YAML::Node& item, const std::string& ipath,
                                       int iline) -> status {
      auto fields = reader.read(item, ipath, iline, {"match", "action", "replacement"});
      if (!fields) return error{fields.err()};
      masking_column_config c;
      c.path = ipath;
      c.line = iline;
      const kv* m = find(*fields, "match");
      if (m == nullptr) return yaml_error(ctx, iline, join(ipath, "match"), "is required");
      auto mv = scalar(ctx, *m);
      if (!mv) return error{mv.err()};
      if (mv->empty()) return yaml_error(ctx, m->line, m->path, "must not be empty");
      if (auto problem = check_column_pattern(*mv); !problem.empty()) {
        return yaml_error(ctx, m->line, m->path, "invalid pattern: " + problem);
      }
      c.match = std::move(*mv);
      c.match_line = m->line;
      if (auto st = action_pair(ctx, *fields, ipath, iline, false, c.action); !st) return st;
      out.columns.push_back(std::move(c));
      return {};
    });
    if (!s) return s;
  }

  if (const kv* e = find(*entries, "except_groups")) {
    auto g = string_list(ctx, *e);
    if (!g) return error{g.err()};
    out.except_groups = std::move(*g);
  }

  if (const kv* e = find(*entries, "mrn_pattern")) {
    auto p = scalar(ctx, *e);
    if (!p) return error{p.err()};
    if (p->empty()) return yaml_error(ctx, e->line, e->path, "must not be empty");
    if (!out.default_detectors &&
        std::find(out.detectors.begin(), out.detectors.end(), "mrn") == out.detectors.end()) {
      return yaml_error(ctx, e->line, e->path, "detector 'mrn' is not enabled in detectors:");
    }
    if (auto problem = check_detector_pattern(*p); !problem.empty()) {
      return yaml_error(ctx, e->line, e->path, "invalid pattern: " + problem);
    }
    out.mrn_pattern = std::move(*p);
    out.mrn_pattern_line = e->line;
  }

  if (const kv* e = find(*entries, "typed_columns")) {
    auto s = e->value.IsNull() ? result<std::string>(std::string("null")) : scalar(ctx, *e);
    if (!s) return error{s.err()};
    if (*s == "placeholder") {
      out.typed = typed_mask::placeholder;
    } else if (*s == "null") {
      out.typed = typed_mask::null;
    } else {
      return yaml_error(ctx, e->line, e->path, "expected placeholder or null");
    }
  }
  return {};
}

}  // namespace gh::config
