// parallel_for over index ranges. Work is split by index ranges only, so results do not depend on the
// thread count (every reduction stays inside one range item).
//
// Where the core is built with GCC's OpenMP, the regions run on the process's OpenMP runtime: libgomp.so.1,
// the one torch's CPU wheels load (same soname, so the process holds one copy, whichever module comes
// first). Our kernels and torch's ops then share one pool of workers: no second pool competing for the
// cores, and a worker still spinning after torch's last op takes our next region at once. Elsewhere a small
// pool of our own runs them (its workers sleep on a condition variable between regions).
#pragma once
#include <cstdint>
#include <functional>

namespace tf {

// Threads used by parallel_for; the Python layer sets it to torch.get_num_threads() before each call.
void set_num_threads(int n);
int get_num_threads();

// Which runtime runs the regions: "openmp" or "pool". use_openmp(false) switches to our pool (tests and
// benchmarks compare the two); use_openmp(true) fails where the core was built without OpenMP.
const char* parallel_backend();
void use_openmp(bool on);

// Calls fn(begin, end) on disjoint sub-ranges of [0, n). Ranges smaller than `grain` items run on the
// calling thread. Safe to call from several threads at once: while one caller's region runs, another's
// runs inline on its own thread (no oversubscription), as does a call from inside an OpenMP region.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// parallel_for on the core's own pool, never on the OpenMP runtime: for work beside torch's ops (the tokenizers),
// so that a process that has only tokenized has started no OpenMP workers, which a child it forks would wait for
// in torch's first parallel op (libgomp keeps the parent's team in its state).
void parallel_for_outside_openmp(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace tf
