#include <algorithm>

#include "app/commands.hpp"

namespace gh::app {

flags parse_flags(const std::vector<std::string>& args, const std::vector<std::string>& known,
                  const std::vector<std::string>& bool_flags, std::size_t max_positional) {
  flags f;
  auto is = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--help" || a == "-h") {
      f.help = true;
      continue;
    }
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (is(bool_flags, name)) {
        f.values[name] = has_value ? value : "true";
        continue;
      }
      if (!is(known, name)) {
        f.error = "unknown option --" + name;
        return f;
      }
      if (!has_value) {
        if (i + 1 >= args.size()) {
          f.error = "option --" + name + " needs a value";
          return f;
        }
        value = args[++i];
      }
      f.values[name] = value;
      continue;
    }
    if (f.positional.size() >= max_positional) {
      f.error = "unexpected argument '" + a + "'";
      return f;
    }
    f.positional.push_back(a);
  }
  return f;
}

}  // namespace gh::app
