// libFuzzer target for the config parser: any bytes as YAML. parse_config must return a config or
// an error with a reason; yaml-cpp's exceptions must never escape it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A path that does not exist: parsing resolves relative paths against it, never reads it.
  auto r = gh::config::parse_config(text, "/nonexistent/gatehouse-fuzz/gatehouse.yaml");
  if (!r.ok() && r.err().empty()) std::abort();
  return 0;
}
