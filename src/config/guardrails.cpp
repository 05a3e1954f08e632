#include "config/blocks.hpp"

namespace gh::config {

status parse_guardrails(const YAML::Node& node, const yaml_ctx& ctx, const std::string& path,
                        int line, std::vector<guard_rule_config>& out) {
  if (!node.IsNull() && !node.IsSequence())
    return yaml_error(ctx, line, path, "expected a list of rules");
  (void)out;
  return {};
}

status parse_reviews(const YAML::Node& node, const yaml_ctx& ctx, const std::string& path,
                     int line, reviews_config& out) {
  if (!node.IsNull() && !node.IsMap()) return yaml_error(ctx, line, path, "expected a mapping");
  out.present = true;
  out.line = line;
  return {};
}

}  // namespace gh::config
