// classify(): libpg_query's JSON parse tree, walked with Boost.JSON.
//
// The JSON output wraps a node in its type only where the C field is a generic Node*
// ({"DeleteStmt": {...}}); fields of a concrete type are bare objects (DeleteStmt.relation is a
// RangeVar without a wrapper, SelectStmt.larg is a bare SelectStmt). So the walker recognises a
// RangeVar by its `relname` field (no other raw-parse node has one) and handles the few typed
// statement/function fields by name. Whatever it does not know it walks generically, which can
// only over-report tables and functions, never hide them.
#include "guard/classify.hpp"

#include <pg_query.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

namespace gh::guard {

namespace {

namespace json = boost::json;

// JSON nesting the walker accepts (one level per node plus one per list). About 1000 nested
// expressions; deeper trees are reported as unparseable rather than risking the stack.
constexpr std::size_t max_json_depth = 2000;
// DO bodies nested inside DO bodies (`DO $$ BEGIN EXECUTE ... $$`) are analysed this deep.
constexpr int max_do_depth = 4;

struct parse_result_deleter {
  void operator()(PgQueryParseResult* r) const {
    pg_query_free_parse_result(*r);
    delete r;  // NOLINT: paired with the make_unique below via unique_ptr
  }
};

struct plpgsql_result_deleter {
  void operator()(PgQueryPlpgsqlParseResult* r) const {
    pg_query_free_plpgsql_parse_result(*r);
    delete r;  // NOLINT
  }
};

// Owns a pg_query result; the free function runs however the caller leaves.
using parse_result_ptr = std::unique_ptr<PgQueryParseResult, parse_result_deleter>;
using plpgsql_result_ptr = std::unique_ptr<PgQueryPlpgsqlParseResult, plpgsql_result_deleter>;

parse_result_ptr run_parse(const std::string& text) {
  return parse_result_ptr(
      std::make_unique<PgQueryParseResult>(pg_query_parse(text.c_str())).release());
}

plpgsql_result_ptr run_plpgsql_parse(const std::string& text) {
  return plpgsql_result_ptr(
      std::make_unique<PgQueryPlpgsqlParseResult>(pg_query_parse_plpgsql(text.c_str())).release());
}

std::string_view str_field(const json::object& o, std::string_view key) {
  if (const json::value* v = o.if_contains(key); v != nullptr && v->is_string()) {
    const json::string& s = v->get_string();
    return {s.data(), s.size()};
  }
  return {};
}

bool bool_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

const json::object* obj_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

// A list of String nodes (["pg_catalog", "pg_read_file"]) -> its parts.
std::vector<std::string_view> name_list(const json::value* v) {
  std::vector<std::string_view> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const json::value& item : v->get_array()) {
    if (!item.is_object()) continue;
    const json::object* s = obj_field(item.get_object(), "String");
    if (s == nullptr) continue;
    out.push_back(str_field(*s, "sval"));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ---- statement classes ----

std::string_view drop_class(std::string_view remove_type) {
  if (remove_type == "OBJECT_TABLE" || remove_type == "OBJECT_FOREIGN_TABLE") return "drop_table";
  if (remove_type == "OBJECT_VIEW" || remove_type == "OBJECT_MATVIEW") return "drop_view";
  if (remove_type == "OBJECT_INDEX") return "drop_index";
  if (remove_type == "OBJECT_SCHEMA") return "drop_schema";
  if (remove_type == "OBJECT_FUNCTION" || remove_type == "OBJECT_PROCEDURE" ||
      remove_type == "OBJECT_ROUTINE" || remove_type == "OBJECT_AGGREGATE")
    return "drop_function";
  return "drop_other";
}

bool is_table_object(std::string_view object_type) {
  return object_type == "OBJECT_TABLE" || object_type == "OBJECT_FOREIGN_TABLE" ||
         object_type == "OBJECT_COLUMN" || object_type == "OBJECT_TABCONSTRAINT";
}

// The class of a statement node `type` (the JSON wrapper key) with fields `o`.
std::string_view class_of(std::string_view type, const json::object& o) {
  struct entry {
    std::string_view type;
    std::string_view cls;
  };
  static constexpr std::array fixed = {
      entry{"InsertStmt", "insert"},
      entry{"UpdateStmt", "update"},
      entry{"DeleteStmt", "delete"},
      entry{"MergeStmt", "merge"},
      entry{"TruncateStmt", "truncate"},
      entry{"DropdbStmt", "drop_database"},
      entry{"DropRoleStmt", "drop_role"},
      entry{"AlterRoleStmt", "alter_role"},
      entry{"AlterRoleSetStmt", "alter_role"},
      entry{"AlterSystemStmt", "alter_system"},
      entry{"CreateStmt", "create_table"},
      entry{"CreateForeignTableStmt", "create_table"},
      entry{"IndexStmt", "create_index"},
      entry{"ViewStmt", "create_view"},
      entry{"CreateRoleStmt", "create_role"},
      entry{"CreateFunctionStmt", "create_function"},
      entry{"CreateSchemaStmt", "create_schema"},
      entry{"CreatedbStmt", "create_database"},
      entry{"CreateExtensionStmt", "create_extension"},
      entry{"CallStmt", "call"},
      entry{"DoStmt", "do"},
      entry{"VariableSetStmt", "set"},
      entry{"ConstraintsSetStmt", "set"},
      entry{"VariableShowStmt", "show"},
      entry{"TransactionStmt", "transaction"},
      entry{"ExplainStmt", "explain"},
      entry{"PrepareStmt", "prepare"},
      entry{"ExecuteStmt", "execute"},
      entry{"DeallocateStmt", "deallocate"},
      entry{"ListenStmt", "listen"},
      entry{"UnlistenStmt", "listen"},
      entry{"NotifyStmt", "notify"},
      entry{"DeclareCursorStmt", "cursor"},
      entry{"FetchStmt", "cursor"},
      entry{"ClosePortalStmt", "cursor"},
      entry{"LockStmt", "lock"},
  };
  for (const auto& e : fixed) {
    if (e.type == type) return e.cls;
  }
  if (type == "SelectStmt") return o.contains("intoClause") ? "create_table" : "select";
  if (type == "DropStmt") return drop_class(str_field(o, "removeType"));
  if (type == "GrantStmt" || type == "GrantRoleStmt")
    return bool_field(o, "is_grant") ? "grant" : "revoke";
  if (type == "CopyStmt") return bool_field(o, "is_from") ? "copy_from" : "copy_to";
  if (type == "VacuumStmt") return bool_field(o, "is_vacuumcmd") ? "vacuum" : "analyze";
  if (type == "CreateTableAsStmt")
    return str_field(o, "objtype") == "OBJECT_MATVIEW" ? "create_view" : "create_table";
  if (type == "AlterTableStmt")
    return is_table_object(str_field(o, "objtype")) ? "alter_table" : "alter_other";
  if (type == "RenameStmt") {
    std::string_view t = str_field(o, "renameType");
    if (t == "OBJECT_ROLE") return "alter_role";
    if (is_table_object(t)) {
      // Renaming a column or constraint: the relation's kind says whether it is a table.
      if (t == "OBJECT_TABLE" || t == "OBJECT_FOREIGN_TABLE") return "alter_table";
      std::string_view rel = str_field(o, "relationType");
      return rel.empty() || is_table_object(rel) ? "alter_table" : "alter_other";
    }
    return "alter_other";
  }
  if (type == "AlterObjectSchemaStmt" || type == "AlterOwnerStmt") {
    return is_table_object(str_field(o, "objectType")) ? "alter_table" : "alter_other";
  }
  if (type.starts_with("Create") || type == "DefineStmt" || type == "CompositeTypeStmt" ||
      type == "RuleStmt" || type == "ImportForeignSchemaStmt")
    return "create_other";
  if (type.starts_with("Alter") || type == "ReassignOwnedStmt" || type == "CommentStmt" ||
      type == "SecLabelStmt")
    return "alter_other";
  if (type.starts_with("Drop")) return "drop_other";
  return "other";
}

bool is_statement_type(std::string_view key) {
  return key.ends_with("Stmt") && !key.empty() && key[0] >= 'A' && key[0] <= 'Z';
}

// ---- the walker ----

struct flags {
  bool exec = true;        // this subtree runs as part of the statement (not a stored body)
  bool effective = false;  // a statement here is the statement's own query (not a subquery)
  bool in_from = false;    // a RangeVar here may name a CTE
};

class walker {
 public:
  walker(statement_info& out, int do_depth) : out_(out), do_depth_(do_depth) {}

  // `stmt` is {"XxxStmt": {...}}.
  [[nodiscard]] bool top(const json::value& stmt) {
    if (!stmt.is_object() || stmt.get_object().size() != 1) return fail();
    const auto& [key, val] = *stmt.get_object().begin();
    if (!val.is_object()) return fail();
    std::string_view type(key.data(), key.size());
    out_.cls = class_of(type, val.get_object());
    out_.classes.push_back(out_.cls);
    statement(type, val.get_object(), flags{true, true, false}, 0);
    return ok_;
  }

  [[nodiscard]] bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }

  void add_class(std::string_view cls) {
    if (std::find(out_.classes.begin(), out_.classes.end(), cls) == out_.classes.end())
      out_.classes.push_back(cls);
  }

  void add_table(std::string_view schema, std::string_view name) {
    if (name.empty()) return;
    for (const auto& t : out_.tables) {
      if (t.schema == schema && t.name == name) return;
    }
    out_.tables.push_back(qualified_name{std::string(schema), std::string(name)});
  }

  void add_function(std::string_view name) {
    if (name.empty()) return;
    std::string n = lower(name);
    if (std::find(out_.functions.begin(), out_.functions.end(), n) == out_.functions.end())
      out_.functions.push_back(std::move(n));
  }

  void note_where(bool present) { out_.has_where = out_.has_where.value_or(true) && present; }

  [[nodiscard]] bool is_cte(std::string_view name) const {
    for (const auto& scope : ctes_) {
      if (std::find(scope.begin(), scope.end(), name) != scope.end()) return true;
    }
    return false;
  }

  // Any JSON value: a wrapped node, a bare struct, a list, or a scalar.
  void walk(const json::value& v, flags f, std::size_t depth) {
    if (!ok_) return;
    if (depth > max_json_depth) {
      fail();
      return;
    }
    if (v.is_array()) {
      for (const json::value& item : v.get_array()) walk(item, f, depth + 1);
      return;
    }
    if (!v.is_object()) return;
    walk_object(v.get_object(), f, depth);
  }

  void walk_object(const json::object& o, flags f, std::size_t depth) {
    if (o.contains("relname")) {
      range_var(o, f);
      return;
    }
    for (const auto& [k, val] : o) field({k.data(), k.size()}, val, f, depth);
  }

  // One key of an object: a wrapped statement or function call, or anything else.
  void field(std::string_view key, const json::value& val, flags f, std::size_t depth) {
    if (val.is_object() && is_statement_type(key)) {
      statement(key, val.get_object(), f, depth + 1);
    } else if (val.is_object() && (key == "FuncCall" || key == "funccall")) {
      func_call(val.get_object(), f, depth + 1);
    } else {
      flags child = f;
      child.effective = false;
      if (key == "fromClause" || key == "usingClause" || key == "sourceRelation")
        child.in_from = true;
      walk(val, child, depth + 1);
    }
  }

  void range_var(const json::object& o, flags f) {
    std::string_view schema = str_field(o, "schemaname");
    std::string_view name = str_field(o, "relname");
    // Only a FROM-list name can mean a CTE; DML targets, COPY, TRUNCATE, DDL name tables.
    if (f.in_from && schema.empty() && is_cte(name)) return;
    add_table(schema, name);
  }

  void func_call(const json::object& o, flags f, std::size_t depth) {
    auto parts = name_list(o.if_contains("funcname"));
    if (!parts.empty()) add_function(parts.back());
    flags child = f;
    child.effective = false;
    child.in_from = false;
    for (const auto& [k, val] : o) {
      if (k == "funcname") continue;
      walk(val, child, depth + 1);
    }
  }

  // A statement node anywhere in the tree.
  void statement(std::string_view type, const json::object& o, flags f, std::size_t depth) {
    if (depth > max_json_depth) {
      fail();
      return;
    }
    // A SELECT below the top is a subquery unless a wrapper made it the statement's own query;
    // every other statement reached while executing runs (CTE DML, CREATE SCHEMA elements).
    if (f.exec && (f.effective || type != "SelectStmt")) {
      add_class(class_of(type, o));
      if (type == "SelectStmt" && o.contains("intoClause")) add_class("select");  // SELECT INTO
    }

    if (type == "SelectStmt") return select(o, f, depth);
    if (type == "UpdateStmt" || type == "DeleteStmt") {
      if (f.exec) note_where(where_is_bounded(o.if_contains("whereClause"), depth));
      return with_scope(o, f, depth);
    }
    if (type == "MergeStmt" && f.exec) merge_actions(o.if_contains("mergeWhenClauses"));
    if (type == "InsertStmt" || type == "MergeStmt") return with_scope(o, f, depth);
    if (type == "ExplainStmt") {
      bool analyze = explain_analyzes(o.if_contains("options"));
      return inner_query(o, "query", flags{f.exec && analyze, true, false}, depth);
    }
    if (type == "PrepareStmt" || type == "DeclareCursorStmt")
      return inner_query(o, "query", flags{f.exec, true, false}, depth);
    if (type == "CreateTableAsStmt") {
      const json::object* into = obj_field(o, "into");
      bool runs = into == nullptr || !bool_field(*into, "skipData");
      return inner_query(o, "query", flags{f.exec && runs, true, false}, depth);
    }
    if (type == "CopyStmt") return copy(o, f, depth);
    if (type == "DropStmt") return drop(o, f, depth);
    if (type == "DoStmt") return do_block(o, f);
    // Bodies stored for later: their tables and functions are reported, their classes are not.
    if (type == "ViewStmt" || type == "RuleStmt" || type == "CreateFunctionStmt") {
      flags child = f;
      child.exec = false;
      return fields(o, child, depth, {});
    }
    fields(o, f, depth, {});
  }

  using skip_list = std::initializer_list<std::string_view>;

  // Walks the fields of `o` except those in `skip`, none of them being the statement's own query.
  void fields(const json::object& o, flags f, std::size_t depth, skip_list skip) {
    flags child = f;
    child.effective = false;
    child.in_from = false;
    for (const auto& [k, val] : o) {
      std::string_view key(k.data(), k.size());
      if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
      field(key, val, child, depth);
    }
  }

  // A wrapper's inner statement (EXPLAIN, PREPARE, COPY (query), CREATE TABLE AS, DECLARE).
  void inner_query(const json::object& o, std::string_view key, flags inner, std::size_t depth) {
    if (const json::value* q = o.if_contains(key); q != nullptr && q->is_object()) {
      const json::object& qo = q->get_object();
      if (qo.size() == 1 && qo.begin()->value().is_object() &&
          is_statement_type({qo.begin()->key().data(), qo.begin()->key().size()})) {
        const auto& [k, v] = *qo.begin();
        statement({k.data(), k.size()}, v.get_object(), inner, depth + 2);
      } else {
        walk(*q, inner, depth + 1);
      }
    }
    fields(o, inner, depth, {key});
  }

  // Statements with an optional WITH: CTE bodies first, each seeing the names before it (all
  // of them when RECURSIVE), then the rest of the statement seeing every name.
  void with_scope(const json::object& o, flags f, std::size_t depth) {
    const json::object* with = obj_field(o, "withClause");
    if (with == nullptr) return fields(o, f, depth, {});
    push_ctes(*with, f, depth);
    fields(o, f, depth, {"withClause"});
    ctes_.pop_back();
  }

  // Walks the CTE bodies of `with` and leaves a scope with all its names on ctes_.
  void push_ctes(const json::object& with, flags f, std::size_t depth) {
    ctes_.emplace_back();
    const bool recursive = bool_field(with, "recursive");
    std::vector<std::pair<std::string_view, const json::value*>> ctes;
    if (const json::value* list = with.if_contains("ctes"); list != nullptr && list->is_array()) {
      for (const json::value& item : list->get_array()) {
        if (!item.is_object()) continue;
        const json::object* cte = obj_field(item.get_object(), "CommonTableExpr");
        if (cte == nullptr) continue;
        ctes.emplace_back(str_field(*cte, "ctename"), cte->if_contains("ctequery"));
      }
    }
    if (recursive) {
      for (const auto& c : ctes) ctes_.back().push_back(c.first);
    }
    flags body = f;
    body.effective = false;
    body.in_from = false;
    for (const auto& [name, query] : ctes) {
      if (query != nullptr) walk(*query, body, depth + 3);
      if (!recursive) ctes_.back().push_back(name);
    }
  }

  void select(const json::object& o, flags f, std::size_t depth) {
    if (f.effective) out_.has_limit = has_limit(o);
    const bool set_op = o.contains("larg") || o.contains("rarg");
    if (!set_op) return with_scope(o, f, depth);
    // A set operation's WITH scopes its branches, which are bare SelectStmts (typed fields) and
    // never the statement's own query.
    const json::object* with = obj_field(o, "withClause");
    if (with != nullptr) push_ctes(*with, f, depth);
    flags branch = f;
    branch.effective = false;
    branch.in_from = false;
    for (std::string_view side : {"larg", "rarg"}) {
      if (const json::object* s = obj_field(o, side))
        statement("SelectStmt", *s, branch, depth + 1);
    }
    if (with != nullptr) {
      fields(o, f, depth, {"withClause", "larg", "rarg"});
      ctes_.pop_back();
    } else {
      fields(o, f, depth, {"larg", "rarg"});
    }
  }

  // MERGE's WHEN ... THEN UPDATE/DELETE/INSERT run those commands: a rule on `delete` must see
  // them.
  void merge_actions(const json::value* clauses) {
    if (clauses == nullptr || !clauses->is_array()) return;
    for (const json::value& item : clauses->get_array()) {
      if (!item.is_object()) continue;
      const json::object* w = obj_field(item.get_object(), "MergeWhenClause");
      if (w == nullptr) continue;
      std::string_view cmd = str_field(*w, "commandType");
      if (cmd == "CMD_UPDATE") add_class("update");
      if (cmd == "CMD_DELETE") add_class("delete");
      if (cmd == "CMD_INSERT") add_class("insert");
    }
  }

  static bool has_limit(const json::object& o) {
    const json::object* count = obj_field(o, "limitCount");
    if (count == nullptr) return false;
    // LIMIT ALL and LIMIT NULL are a null constant: no limit.
    if (const json::object* c = obj_field(*count, "A_Const")) return !bool_field(*c, "isnull");
    return true;
  }

  // WHERE present and referring to something row-dependent: a column or CURRENT OF a cursor.
  bool where_is_bounded(const json::value* where, std::size_t depth) {
    if (where == nullptr || where->is_null()) return false;
    return mentions_row(*where, depth);
  }

  bool mentions_row(const json::value& v, std::size_t depth) {
    if (depth > max_json_depth) return fail();
    if (v.is_array()) {
      for (const json::value& item : v.get_array()) {
        if (mentions_row(item, depth + 1)) return true;
      }
      return false;
    }
    if (!v.is_object()) return false;
    for (const auto& [k, val] : v.get_object()) {
      if (k == "ColumnRef" || k == "CurrentOfExpr") return true;
      if (mentions_row(val, depth + 1)) return true;
    }
    return false;
  }

  static bool explain_analyzes(const json::value* options) {
    if (options == nullptr || !options->is_array()) return false;
    for (const json::value& item : options->get_array()) {
      if (!item.is_object()) continue;
      const json::object* def = obj_field(item.get_object(), "DefElem");
      if (def == nullptr || str_field(*def, "defname") != "analyze") continue;
      const json::object* arg = obj_field(*def, "arg");
      if (arg == nullptr) return true;
      // ANALYZE false/off/0 turns it off; anything else (true, on, 1, unknown) is treated as on.
      if (const json::object* s = obj_field(*arg, "String")) {
        std::string v = lower(str_field(*s, "sval"));
        if (v == "false" || v == "off" || v == "0" || v == "no") return false;
        return true;
      }
      if (const json::object* i = obj_field(*arg, "Integer")) {
        const json::value* iv = i->if_contains("ival");
        return iv != nullptr && !(iv->is_int64() && iv->get_int64() == 0);
      }
      if (const json::object* b = obj_field(*arg, "Boolean")) return bool_field(*b, "boolval");
      return true;
    }
    return false;
  }

  void copy(const json::object& o, flags f, std::size_t depth) {
    const bool from = bool_field(o, "is_from");
    std::string_view target = from ? "stdin" : "stdout";
    if (bool_field(o, "is_program")) {
      target = "program";
    } else if (!str_field(o, "filename").empty()) {
      target = "file";
    }
    // Several COPYs (in a DO body): report the one reaching furthest outside the database.
    auto rank = [](std::string_view t) {
      return t == "program" ? 3 : t == "file" ? 2 : t.empty() ? 0 : 1;
    };
    if (rank(target) > rank(out_.copy_target)) out_.copy_target = target;
    out_.copy_format = "text";
    if (const json::value* opts = o.if_contains("options"); opts != nullptr && opts->is_array()) {
      for (const auto& opt : opts->as_array()) {
        const json::object* de = opt.is_object() ? obj_field(opt.as_object(), "DefElem") : nullptr;
        if (de == nullptr || str_field(*de, "defname") != "format") continue;
        const json::value* arg = de->if_contains("arg");
        const json::object* sv =
            arg != nullptr && arg->is_object() ? obj_field(arg->as_object(), "String") : nullptr;
        std::string_view fmt = sv != nullptr ? str_field(*sv, "sval") : std::string_view();
        // PostgreSQL accepts only these (case-insensitively); anything else fails there.
        if (fmt == "binary") out_.copy_format = "binary";
        else if (fmt == "csv") out_.copy_format = "csv";
      }
    }
    if (o.contains("query")) return inner_query(o, "query", flags{f.exec, true, false}, depth);
    if (!from && f.effective) out_.has_limit = false;  // a whole table
    fields(o, f, depth, {});
  }

  void drop(const json::object& o, flags f, std::size_t depth) {
    std::string_view type = str_field(o, "removeType");
    const bool relation = type == "OBJECT_TABLE" || type == "OBJECT_FOREIGN_TABLE" ||
                          type == "OBJECT_VIEW" || type == "OBJECT_MATVIEW";
    if (relation) {
      if (const json::value* objs = o.if_contains("objects"); objs != nullptr && objs->is_array()) {
        for (const json::value& item : objs->get_array()) {
          if (!item.is_object()) continue;
          const json::object* list = obj_field(item.get_object(), "List");
          if (list == nullptr) continue;
          auto parts = name_list(list->if_contains("items"));
          if (parts.empty()) continue;
          add_table(parts.size() >= 2 ? parts[parts.size() - 2] : std::string_view{}, parts.back());
        }
      }
    }
    fields(o, f, depth, {});
  }

  // DO: the body is PL/pgSQL text. Parsing it through a wrapper function reveals the SQL it
  // runs (static statements only; EXECUTE of a built string cannot be seen).
  void do_block(const json::object& o, flags f) {
    std::string_view body;
    std::string_view language = "plpgsql";
    if (const json::value* args = o.if_contains("args"); args != nullptr && args->is_array()) {
      for (const json::value& item : args->get_array()) {
        if (!item.is_object()) continue;
        const json::object* def = obj_field(item.get_object(), "DefElem");
        if (def == nullptr) continue;
        const json::object* arg = obj_field(*def, "arg");
        const json::object* s = arg != nullptr ? obj_field(*arg, "String") : nullptr;
        if (s == nullptr) continue;
        if (str_field(*def, "defname") == "as") body = str_field(*s, "sval");
        if (str_field(*def, "defname") == "language") language = str_field(*s, "sval");
      }
    }
    if (body.empty() || lower(language) != "plpgsql" || do_depth_ >= max_do_depth) return;
    plpgsql_body(body, f);
  }

  void plpgsql_body(std::string_view body, flags f);

  // One SQL text found inside a DO body: a statement (execsql, FOR ... IN query) or an
  // expression (PL/pgSQL evaluates those as "SELECT <expr>").
  void embedded_sql(std::string_view sql, flags f);

  statement_info& out_;
  int do_depth_ = 0;
  std::vector<std::vector<std::string_view>> ctes_;
  bool ok_ = true;
};

json::parse_options tree_parse_options() {
  json::parse_options opt;
  opt.max_depth = max_json_depth + 64;
  opt.allow_invalid_utf8 = true;  // SQL_ASCII databases: bytes are bytes
  return opt;
}

void walker::plpgsql_body(std::string_view body, flags f) {
  // A dollar tag that does not occur in the body, so the body is taken literally.
  std::string tag = "$gh$";
  for (int i = 0; body.find(tag) != std::string_view::npos && i < 64; ++i)
    tag = "$gh" + std::to_string(i) + "$";
  if (body.find(tag) != std::string_view::npos) return;
  std::string fn = "CREATE FUNCTION gh_do() RETURNS void LANGUAGE plpgsql AS ";
  fn += tag;
  fn += body;
  fn += tag;
  auto r = run_plpgsql_parse(fn);
  if (r->error != nullptr || r->plpgsql_funcs == nullptr) return;
  json::monotonic_resource mr;
  std::error_code ec;
  json::value tree = json::parse(r->plpgsql_funcs, ec, &mr, tree_parse_options());
  if (ec) return;
  // Every PLpgSQL_expr's query, in order, wherever it sits.
  std::vector<std::string_view> queries;
  std::vector<std::pair<const json::value*, std::size_t>> stack{{&tree, 0}};
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    if (d > max_json_depth) return;
    if (v->is_array()) {
      const auto& a = v->get_array();
      for (auto it = a.rbegin(); it != a.rend(); ++it) stack.emplace_back(&*it, d + 1);
    } else if (v->is_object()) {
      const auto& o = v->get_object();
      if (const json::object* e = obj_field(o, "PLpgSQL_expr")) {
        queries.push_back(str_field(*e, "query"));
        continue;
      }
      for (auto it = o.end(); it != o.begin();) {
        --it;
        stack.emplace_back(&it->value(), d + 1);
      }
    }
  }
  for (std::string_view q : queries) embedded_sql(q, f);
}

void walker::embedded_sql(std::string_view sql, flags f) {
  if (sql.empty() || sql.find('\0') != std::string_view::npos) return;
  // An assignment (`x := expr`) is evaluated as "SELECT expr".
  std::string_view assigned;
  if (auto pos = sql.find(":="); pos != std::string_view::npos) assigned = sql.substr(pos + 2);
  const std::string candidates[] = {
      std::string(sql), "SELECT " + std::string(sql),
      assigned.empty() ? std::string() : "SELECT " + std::string(assigned)};
  for (const std::string& text : candidates) {
    if (text.empty()) continue;
    auto r = run_parse(text);
    if (r->error != nullptr || r->parse_tree == nullptr) continue;
    json::monotonic_resource mr;
    std::error_code ec;
    json::value tree = json::parse(r->parse_tree, ec, &mr, tree_parse_options());
    if (ec || !tree.is_object()) return;
    const json::value* stmts = tree.get_object().if_contains("stmts");
    if (stmts == nullptr || !stmts->is_array()) return;
    for (const json::value& s : stmts->get_array()) {
      if (!s.is_object()) continue;
      const json::value* stmt = s.get_object().if_contains("stmt");
      if (stmt == nullptr || !stmt->is_object() || stmt->get_object().size() != 1) continue;
      const auto& [k, v] = *stmt->get_object().begin();
      if (!v.is_object()) continue;
      walker inner(out_, do_depth_ + 1);
      // A statement in the body runs as a statement of its own: not the DO's own query.
      flags g{f.exec, false, false};
      std::string_view type(k.data(), k.size());
      if (g.exec) add_class(class_of(type, v.get_object()));
      inner.statement(type, v.get_object(), g, 0);
      if (!inner.ok()) ok_ = false;
    }
    return;
  }
}

std::string_view trim(std::string_view s, std::size_t& offset) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  while (!s.empty() && space(s.front())) {
    s.remove_prefix(1);
    ++offset;
  }
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string error_text(const PgQueryError& e) {
  std::string msg = e.message != nullptr ? e.message : "parse error";
  // PostgreSQL's cursor position: 1-based, in characters.
  if (e.cursorpos > 0) msg += " (at character " + std::to_string(e.cursorpos) + ")";
  return msg;
}

}  // namespace

classification classify(std::string_view sql, std::size_t max_bytes) {
  classification out;
  if (sql.size() > max_bytes) {
    out.parse_error = "statement text is " + std::to_string(sql.size()) +
                      " bytes, over the classification limit of " + std::to_string(max_bytes);
    return out;
  }
  if (sql.find('\0') != std::string_view::npos) {
    out.parse_error = "statement text contains a NUL byte";
    return out;
  }
  try {
    const std::string text(sql);
    auto r = run_parse(text);
    if (r->error != nullptr) {
      out.parse_error = error_text(*r->error);
      return out;
    }
    if (r->parse_tree == nullptr) {
      out.parse_error = "parser returned no tree";
      return out;
    }
    json::monotonic_resource mr;
    std::error_code ec;
    json::value tree = json::parse(r->parse_tree, ec, &mr, tree_parse_options());
    if (ec) {
      out.parse_error = "statement too complex to classify (" + ec.message() + ")";
      return out;
    }
    const json::value* stmts = tree.is_object() ? tree.get_object().if_contains("stmts") : nullptr;
    if (stmts == nullptr) {
      out.parse_ok = true;  // nothing but comments or semicolons
      return out;
    }
    if (!stmts->is_array()) {
      out.parse_error = "unexpected parse tree";
      return out;
    }
    for (const json::value& s : stmts->get_array()) {
      if (!s.is_object()) {
        out.parse_error = "unexpected parse tree";
        return out;
      }
      const json::object& so = s.get_object();
      statement_info info;
      // Offsets are bytes; a missing field is 0, a missing/0 length means "to the end".
      auto int_field = [&](std::string_view key) -> std::size_t {
        const json::value* v = so.if_contains(key);
        return v != nullptr && v->is_int64() && v->get_int64() > 0
                   ? static_cast<std::size_t>(v->get_int64())
                   : 0;
      };
      std::size_t loc = std::min(int_field("stmt_location"), sql.size());
      std::size_t len = int_field("stmt_len");
      if (len == 0 || len > sql.size() - loc) len = sql.size() - loc;
      info.offset = loc;
      info.text = trim(sql.substr(loc, len), info.offset);
      const json::value* stmt = so.if_contains("stmt");
      walker w(info, 0);
      if (stmt == nullptr || !w.top(*stmt)) {
        out.parse_error = "statement too deeply nested to classify";
        out.statements.clear();
        return out;
      }
      out.statements.push_back(std::move(info));
    }
    out.parse_ok = true;
  } catch (const std::exception& e) {
    // Allocation failure or a Boost.JSON invariant: report, never propagate into the session.
    out.parse_ok = false;
    out.statements.clear();
    out.parse_error = std::string("cannot classify statement: ") + e.what();
  }
  return out;
}

}  // namespace gh::guard
