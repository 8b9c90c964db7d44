// parallel_for over rows on a small persistent pool. Work is split by index ranges only, so
// results do not depend on the thread count (every reduction stays inside one row).
#pragma once
#include <cstdint>
#include <functional>

namespace tf {

// Threads used by parallel_for; the Python layer keeps it equal to torch.get_num_threads().
void set_num_threads(int n);
int get_num_threads();

// Calls fn(begin, end) on disjoint sub-ranges of [0, n). Ranges smaller than `grain` items run
// on the calling thread. Safe to call from several threads at once (a busy pool runs inline).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace tf
