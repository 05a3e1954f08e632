#pragma once
// The `masking:` block of a connection (see the masking issue). Owned by the DLP feature.
#include <string>
#include <vector>

namespace gh::config {

struct masking_config {
  bool present = false;  // the block was given
  int line = 0;
};

}  // namespace gh::config
