#pragma once
// A secret as written in config: "env:NAME", "file:PATH" or a literal. Its own header so that
// policy blocks (guardrails.hpp: the review webhook secret) can hold one too.
#include <string>

#include "core/result.hpp"

namespace gh::config {

// resolve() reads it. The resolved value is never logged; describe() gives a safe description
// ("env:NAME"). load_config() rewrites a relative file: PATH to an absolute one, so resolve() works
// from any cwd. resolve() refuses an empty value: an empty API key or password would let anyone in.
struct secret_ref {
  std::string spec;  // as written
  [[nodiscard]] result<std::string> resolve() const;
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] bool empty() const { return spec.empty(); }
};

}  // namespace gh::config
