#include "config/blocks.hpp"

namespace gh::config {

status parse_masking(const YAML::Node& node, const yaml_ctx& ctx, const std::string& path,
                     int line, masking_config& out) {
  if (!node.IsNull() && !node.IsMap()) return yaml_error(ctx, line, path, "expected a mapping");
  out.present = true;
  out.line = line;
  return {};
}

}  // namespace gh::config
