#pragma once
// Policy blocks of a connection (masking, guardrails, reviews), each parsed by its own file so
// the feature that owns the block owns its parser. They share the error format of config.cpp:
// "FILE:LINE: key.path: problem".
#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "config/guardrails.hpp"
#include "config/masking.hpp"
#include "core/result.hpp"

namespace gh::config {

struct yaml_ctx {
  std::string file;      // for error messages
  std::string base_dir;  // absolute directory of the config file, for relative paths
};

[[nodiscard]] int yaml_line(const YAML::Node& n);
[[nodiscard]] error yaml_error(const yaml_ctx& ctx, int line, std::string_view path,
                               std::string_view problem);

// `node` is the value of the key; `path` its key path ("connections[0].masking"), `line` the
// key's line. Implemented in masking.cpp and guardrails.cpp.
[[nodiscard]] status parse_masking(const YAML::Node& node, const yaml_ctx& ctx,
                                   const std::string& path, int line, masking_config& out);
[[nodiscard]] status parse_guardrails(const YAML::Node& node, const yaml_ctx& ctx,
                                      const std::string& path, int line,
                                      std::vector<guard_rule_config>& out);
[[nodiscard]] status parse_reviews(const YAML::Node& node, const yaml_ctx& ctx,
                                   const std::string& path, int line, reviews_config& out);

}  // namespace gh::config
