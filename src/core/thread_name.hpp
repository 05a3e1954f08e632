#pragma once
// Names the calling thread (at most 15 characters) so `top -H`, `ps -L`, perf and gdb show
// which part of gatehouse a thread is: gh-worker-N, gh-control, gh-audit, gh-audit-index.
#include <pthread.h>

#include <string>

namespace gh {

inline void name_this_thread(const std::string& name) {
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace gh
