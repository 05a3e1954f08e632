#pragma once
// Maps each connection's `reviews:` block to the review service's policy (src/review keeps no
// dependency on the config types of the guardrails block).
#include <map>
#include <string>

#include "config/config.hpp"
#include "core/result.hpp"
#include "review/policy.hpp"

namespace gh::app {

// By connection name; only connections with a `reviews:` block. Resolves webhook secrets (an
// unresolvable one is an error naming the connection, never the value).
[[nodiscard]] result<std::map<std::string, review::policy>> review_policies(
    const config::config& cfg);

}  // namespace gh::app
