// Compiling an engine: detector selection, actions, one Hyperscan database for every detector
// pattern, one for column rules; and the policy built from a connection's `masking:` block.
#include <algorithm>
#include <array>

#include "config/masking.hpp"
#include "dlp/internal.hpp"

namespace gh::dlp {

namespace {

struct pending_pattern {
  std::string expr;
  unsigned flags = 0;
  detail::compiled_pattern meta;
  std::string where;  // for compile errors
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

detail::custom_validator validator_of(std::string_view name) {
  if (name == "luhn") return detail::custom_validator::luhn;
  if (name == "mod97") return detail::custom_validator::mod97;
  if (name == "ssn") return detail::custom_validator::ssn;
  if (name == "npi") return detail::custom_validator::npi;
  return detail::custom_validator::none;
}

result<detail::database_ptr> compile_all(const std::vector<pending_pattern>& pats) {
  if (pats.empty()) return detail::database_ptr{};
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  exprs.reserve(pats.size());
  for (std::size_t i = 0; i < pats.size(); ++i) {
    exprs.push_back(pats[i].expr.c_str());
    flags.push_back(pats[i].flags);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  hs_error_t rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                                   static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr,
                                   &db, &err);
  std::unique_ptr<hs_compile_error_t, detail::compile_error_deleter> err_guard(err);
  if (rc != HS_SUCCESS) {
    std::string msg = err != nullptr && err->message != nullptr ? err->message : "compile failed";
    if (err != nullptr && err->expression >= 0 &&
        static_cast<std::size_t>(err->expression) < pats.size()) {
      return make_error(pats[static_cast<std::size_t>(err->expression)].where +
                        ": invalid pattern: " + msg);
    }
    return make_error("masking: Hyperscan could not compile the detector set: " + msg);
  }
  return detail::database_ptr(db);
}

rule_action from_config(const config::mask_action_config& a) {
  rule_action r;
  switch (a.action) {
    case config::mask_action::redact: r.act = action::redact; break;
    case config::mask_action::partial: r.act = action::partial; break;
    case config::mask_action::hash: r.act = action::hash; break;
    case config::mask_action::null: r.act = action::null; break;
  }
  r.replacement = a.replacement;
  return r;
}

std::string where(const config::masking_config& m, int line, const std::string& path) {
  return (m.file.empty() ? std::string("<config>") : m.file) + ":" + std::to_string(line) + ": " +
         path;
}

}  // namespace

std::string_view to_string(action a) {
  switch (a) {
    case action::redact: return "redact";
    case action::partial: return "partial";
    case action::hash: return "hash";
    case action::null: return "null";
  }
  return "redact";
}

std::string_view to_string(value_kind k) {
  switch (k) {
    case value_kind::text: return "text";
    case value_kind::number: return "number";
    case value_kind::date: return "date";
    case value_kind::timestamp: return "timestamp";
    case value_kind::other: return "other";
  }
  return "other";
}

value_kind kind_of_pg_type(std::uint32_t oid, bool binary) {
  switch (oid) {
    // Binary form is the text itself.
    case 25:    // text
    case 1043:  // varchar
    case 1042:  // bpchar
    case 19:    // name
    case 18:    // "char"
    case 705:   // unknown
      return value_kind::text;
    // Text in text format; structured (or prefixed, like jsonb's version byte) in binary.
    case 114:   // json
    case 3802:  // jsonb
    case 142:   // xml
    case 1009:  // text[]
    case 1015:  // varchar[]
    case 1014:  // bpchar[]
      return binary ? value_kind::other : value_kind::text;
    case 20:    // int8
    case 21:    // int2
    case 23:    // int4
    case 26:    // oid
    case 700:   // float4
    case 701:   // float8
    case 1700:  // numeric
      return binary ? value_kind::other : value_kind::number;
    case 1082:  // date
      return binary ? value_kind::other : value_kind::date;
    case 1114:  // timestamp
    case 1184:  // timestamptz
      return binary ? value_kind::other : value_kind::timestamp;
    default: return value_kind::other;
  }
}

std::span<const std::string_view> builtin_detector_ids() { return config::builtin_detector_ids; }

const detector_info* builtin_detector(std::string_view id) {
  for (const auto& b : detail::builtins()) {
    if (b.info.id == id) return &b.info;
  }
  return nullptr;
}

engine::engine(token, std::unique_ptr<impl> p) : impl_(std::move(p)) {}
engine::~engine() = default;

std::size_t engine::detector_count() const { return impl_->detectors.size(); }
const detector_info& engine::detector(std::uint16_t index) const {
  return impl_->detectors[index];
}
std::optional<std::uint16_t> engine::find_detector(std::string_view id) const {
  for (std::size_t i = 0; i < impl_->detectors.size(); ++i) {
    if (impl_->detectors[i].id == id) return static_cast<std::uint16_t>(i);
  }
  return std::nullopt;
}
std::span<const column_rule> engine::column_rules() const { return impl_->columns; }
bool engine::typed_null() const { return impl_->typed_null; }

result<std::shared_ptr<const engine>> engine::compile(const engine_options& opts) {
  auto p = std::make_unique<impl>();
  std::vector<pending_pattern> pats;
  const auto& table = detail::builtins();

  for (const auto& id : opts.builtins) {
    if (builtin_detector(id) == nullptr) return make_error("masking: unknown detector '" + id + "'");
  }
  std::array<bool, detail::builtin_count> on{};
  p->builtin_index.fill(-1);
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& b = table[i];
    on[i] = opts.all_builtins ||
            std::find(opts.builtins.begin(), opts.builtins.end(), b.info.id) != opts.builtins.end();
    if (!on[i]) continue;
    p->builtin_index[i] = static_cast<int>(p->detectors.size());
    p->detectors.push_back(b.info);
    detail::detector_rt rt;
    rt.norm = b.norm;
    p->rt.push_back(std::move(rt));
  }
  const bool custom_mrn = !opts.mrn_pattern.empty();
  // Built-in triggers run in the prefilter; Hyperscan gets the custom patterns only.
  p->triggers = detail::builtin_triggers(on, !custom_mrn);
  const int mrn_index = p->builtin_index[static_cast<std::size_t>(detail::builtin::mrn)];
  if (custom_mrn && mrn_index >= 0) {
    detail::compiled_pattern cp;
    cp.detector = static_cast<std::uint16_t>(mrn_index);
    cp.kind = detail::check::som_whole;
    cp.som = true;
    pats.push_back({opts.mrn_pattern, HS_FLAG_SOM_LEFTMOST, cp,
                    opts.mrn_where.empty() ? "masking.mrn_pattern" : opts.mrn_where});
  }
  for (const auto& c : opts.custom) {
    if (builtin_detector(c.id) != nullptr) {
      return make_error(c.where + ": '" + c.id + "' is a built-in detector id");
    }
    auto index = static_cast<std::uint16_t>(p->detectors.size());
    detector_info info;
    info.id = c.id;
    info.tag = "[" + upper(c.id) + "]";
    info.description = "custom detector";
    info.confidence = 0.9f;
    info.builtin = false;
    p->detectors.push_back(std::move(info));
    detail::detector_rt rt;
    rt.validator = validator_of(c.validator);
    if (!c.validator.empty() && rt.validator == detail::custom_validator::none) {
      return make_error(c.where + ": unknown validator '" + c.validator + "'");
    }
    for (const auto& w : c.context) {
      std::string lw = w;
      for (char& ch : lw) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
      }
      rt.context.push_back(std::move(lw));
    }
    p->rt.push_back(std::move(rt));
    detail::compiled_pattern cp;
    cp.detector = index;
    cp.kind = detail::check::som_whole;
    cp.som = true;
    pats.push_back({c.pattern, HS_FLAG_SOM_LEFTMOST, cp,
                    c.where.empty() ? "custom detector " + c.id : c.where});
  }
  if (p->detectors.size() > UINT16_MAX) return make_error("masking: too many detectors");

  // Actions: default, then per-detector overrides, then a custom detector's own action.
  for (auto& d : p->detectors) d.action = opts.default_action;
  for (const auto& [id, act] : opts.actions) {
    auto it = std::find_if(p->detectors.begin(), p->detectors.end(),
                           [&](const detector_info& d) { return d.id == id; });
    if (it == p->detectors.end()) {
      return make_error("masking: actions: detector '" + id + "' is not enabled");
    }
    it->action = act;
  }
  for (const auto& c : opts.custom) {
    if (!c.action) continue;
    for (auto& d : p->detectors) {
      if (d.id == c.id) d.action = *c.action;
    }
  }

  bool needs_key = std::any_of(p->detectors.begin(), p->detectors.end(),
                               [](const detector_info& d) { return d.action.act == action::hash; }) ||
                   std::any_of(opts.columns.begin(), opts.columns.end(),
                               [](const column_rule& r) { return r.action.act == action::hash; });
  if (needs_key && !opts.key) {
    return make_error("masking: the hash action needs the key (state_dir/dlp.key)");
  }

  auto db = compile_all(pats);
  if (!db) return error{db.err()};
  p->db = std::move(*db);
  p->patterns.reserve(pats.size());
  for (const auto& pp : pats) p->patterns.push_back(pp.meta);

  if (!opts.columns.empty()) {
    std::vector<pending_pattern> cols;
    for (const auto& r : opts.columns) {
      cols.push_back({r.match, HS_FLAG_SINGLEMATCH, {}, r.where.empty() ? "column rule" : r.where});
    }
    auto cdb = compile_all(cols);
    if (!cdb) return error{cdb.err()};
    p->column_db = std::move(*cdb);
  }
  p->columns = opts.columns;
  p->typed_null = opts.typed_null;
  p->key = opts.key;
  return std::shared_ptr<const engine>(std::make_shared<engine>(token{}, std::move(p)));
}

policy::policy(std::shared_ptr<const engine> e, std::vector<std::string> except_groups)
    : engine_(std::move(e)), except_groups_(std::move(except_groups)) {}

bool policy::exempt(std::span<const std::string> groups) const {
  for (const auto& g : groups) {
    if (std::find(except_groups_.begin(), except_groups_.end(), g) != except_groups_.end())
      return true;
  }
  return false;
}

result<std::shared_ptr<const policy>> compile_policy(const config::masking_config& m,
                                                     const hash_key* key) {
  engine_options o;
  o.all_builtins = m.default_detectors;
  o.builtins = m.detectors;
  o.default_action = from_config(m.action);
  for (const auto& a : m.actions) o.actions.emplace_back(a.detector, from_config(a.action));
  for (const auto& c : m.custom) {
    custom_detector_spec s;
    s.id = c.id;
    s.pattern = c.pattern;
    s.validator = c.validator;
    s.context = c.context;
    if (c.action) s.action = from_config(*c.action);
    s.where = where(m, c.pattern_line, c.path + ".pattern");
    o.custom.push_back(std::move(s));
  }
  for (const auto& c : m.columns) {
    column_rule r;
    r.match = c.match;
    r.action = from_config(c.action);
    r.where = where(m, c.match_line, c.path + ".match");
    o.columns.push_back(std::move(r));
  }
  o.mrn_pattern = m.mrn_pattern;
  o.mrn_where = where(m, m.mrn_pattern_line, m.path + ".mrn_pattern");
  o.typed_null = m.typed == config::typed_mask::null;
  if (key != nullptr) o.key = *key;
  if (m.uses_hash() && key == nullptr) {
    return make_error(where(m, m.line, m.path) +
                      ": the hash action needs the key file dlp.key in gateway.state_dir");
  }
  auto e = engine::compile(o);
  if (!e) return error{e.err()};
  return std::shared_ptr<const policy>(std::make_shared<policy>(std::move(*e), m.except_groups));
}

result<std::shared_ptr<const policy>> default_policy() {
  auto e = engine::compile(engine_options{});
  if (!e) return error{e.err()};
  return std::shared_ptr<const policy>(
      std::make_shared<policy>(std::move(*e), std::vector<std::string>{}));
}

}  // namespace gh::dlp
