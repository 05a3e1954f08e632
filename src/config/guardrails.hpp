#pragma once
// The `guardrails:` and `reviews:` blocks of a connection (see the guardrails issue).
#include <string>
#include <vector>

namespace gh::config {

struct guard_rule_config {
  std::string name;
  int line = 0;
};

struct reviews_config {
  bool present = false;
  int line = 0;
};

}  // namespace gh::config
