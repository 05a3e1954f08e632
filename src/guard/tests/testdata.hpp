#pragma once
// Shared by the guard tests: the location of tests/testdata/guard (with or without ctest's
// GATEHOUSE_TESTDATA), file reading, and a canonical one-line rendering of a statement's facts
// that the data files' expectation lines are compared with.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "guard/classify.hpp"

namespace gh::guard::testing {

inline std::filesystem::path testdata_dir() {
  if (const char* d = std::getenv("GATEHOUSE_TESTDATA"); d != nullptr && *d != '\0') {
    return std::filesystem::path(d) / "guard";
  }
  return (std::filesystem::path(__FILE__).parent_path() / "../../../tests/testdata/guard")
      .lexically_normal();
}

inline std::vector<std::string> read_lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

inline std::string join_sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

// "select classes=delete,select tables=a,public.b where=absent limit=present functions=f
// copy=stdout format=csv" -- keys in this order, lists sorted, absent facts left out. `classes=`
// lists the classes besides cls and appears only when there are any; `format=` only when a COPY's
// format is not text.
inline std::string render(const statement_info& s) {
  std::string out(s.cls);
  std::vector<std::string> extra;
  for (std::size_t i = 1; i < s.classes.size(); ++i) extra.emplace_back(s.classes[i]);
  if (!extra.empty()) out += " classes=" + join_sorted(extra);
  std::vector<std::string> tables;
  for (const auto& t : s.tables) tables.push_back(t.str());
  if (!tables.empty()) out += " tables=" + join_sorted(tables);
  if (s.has_where) out += std::string(" where=") + (*s.has_where ? "present" : "absent");
  if (s.has_limit) out += std::string(" limit=") + (*s.has_limit ? "present" : "absent");
  if (!s.functions.empty()) out += " functions=" + join_sorted(s.functions);
  if (!s.copy_target.empty()) out += " copy=" + std::string(s.copy_target);
  if (!s.copy_format.empty() && s.copy_format != "text")
    out += " format=" + std::string(s.copy_format);
  return out;
}

// The same rendering of an expectation line as written (any key order, unsorted lists).
inline std::string normalize(const std::string& expectation) {
  std::istringstream in(expectation);
  std::string cls;
  in >> cls;
  std::string classes, tables, where, limit, functions, copy, format, word;
  while (in >> word) {
    auto eq = word.find('=');
    std::string key = word.substr(0, eq);
    std::string val = eq == std::string::npos ? "" : word.substr(eq + 1);
    auto sorted = [](const std::string& list) {
      std::vector<std::string> parts;
      std::string cur;
      std::istringstream ls(list);
      while (std::getline(ls, cur, ',')) parts.push_back(cur);
      return join_sorted(parts);
    };
    if (key == "classes")
      classes = sorted(val);
    else if (key == "tables")
      tables = sorted(val);
    else if (key == "functions")
      functions = sorted(val);
    else if (key == "where")
      where = val;
    else if (key == "limit")
      limit = val;
    else if (key == "copy")
      copy = val;
    else if (key == "format")
      format = val;
    else
      return "unknown key '" + key + "' in expectation";
  }
  std::string out = cls;
  if (!classes.empty()) out += " classes=" + classes;
  if (!tables.empty()) out += " tables=" + tables;
  if (!where.empty()) out += " where=" + where;
  if (!limit.empty()) out += " limit=" + limit;
  if (!functions.empty()) out += " functions=" + functions;
  if (!copy.empty()) out += " copy=" + copy;
  if (!format.empty()) out += " format=" + format;
  return out;
}

}  // namespace gh::guard::testing
