#include "common/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

#include "common/check.h"

namespace tf {
namespace {

// Runs task(i) for i in [0, parts), catching what a part throws; rethrown on the calling thread.
class PartErrors {
 public:
  template <class Task>
  void run(const Task& task, int i) {
    try {
      task(i);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void rethrow() {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mu_;
  std::exception_ptr error_;
};

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Runs task(i) for i in [0, parts) using the pool; the caller runs part 0.
  bool try_run(int parts, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    ensure_workers(parts - 1);
    PartErrors errors;
    std::function<void(int)> guarded = [&](int i) { errors.run(task, i); };
    {
      std::lock_guard<std::mutex> lk(mu_);
      task_ = &guarded;
      parts_ = parts;
      next_.store(1);
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    guarded(0);
    {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return pending_ == 0; });
      task_ = nullptr;
    }
    errors.rethrow();
    return true;
  }

 private:
  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) workers_.emplace_back([this] { loop(); });
  }

  void loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      for (;;) {
        int i = next_.fetch_add(1);
        if (i >= parts_) break;
        auto* task = task_;
        lk.unlock();
        (*task)(i);
        lk.lock();
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  std::mutex busy_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0;
  std::atomic<int> next_{0};
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Never destroyed: workers may outlive static destruction order. A forked child gets a fresh one (the parent's
// workers do not exist there, and its mutexes may have been held by them).
std::atomic<Pool*> g_pool{nullptr};

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p == nullptr) {
    Pool* fresh = new Pool();
    if (g_pool.compare_exchange_strong(p, fresh)) return *fresh;
    delete fresh;  // another thread made it first
  }
  return *p;
}

// Until the Python layer sets it: the OpenMP default (OMP_NUM_THREADS, else every core), as torch's.
int default_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return std::max(1u, std::thread::hardware_concurrency());
#endif
}

std::atomic<int> g_threads{default_threads()};

// After fork() the child has one thread. GCC's libgomp keeps the parent's team of workers in its state and waits
// for them at the next region: a child forked while the parent had workers of any runtime (libgomp's spin or
// sleep between regions, torch's included) hangs in its first region there. Such a child runs our regions on a
// fresh pool of its own instead (torch's own ops there need torch.set_num_threads(1), as DataLoader workers
// set; a child of a single-threaded parent keeps OpenMP).
std::atomic<bool> g_openmp_unsafe_after_fork{false};
int g_threads_at_fork = 1;

int threads_of_this_process() {
#if defined(__linux__)
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 2;  // unknown: assume workers
  char line[256];
  int threads = 2;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "Threads:", 8) == 0) {
      threads = std::atoi(line + 8);
      break;
    }
  }
  std::fclose(f);
  return threads;
#else
  return 2;
#endif
}

void before_fork() { g_threads_at_fork = threads_of_this_process(); }

void in_forked_child() {
  if (g_threads_at_fork > 1) g_openmp_unsafe_after_fork.store(true);
  g_pool.store(nullptr);  // the parent's pool is left as it is: its workers and lock holders are gone
}

const bool g_fork_handlers = [] {
#if defined(__unix__) || defined(__APPLE__)
  pthread_atfork(before_fork, nullptr, in_forked_child);
#endif
  return true;
}();

#if defined(_OPENMP)
std::atomic<bool> g_openmp{true};
std::atomic<bool> g_openmp_busy{false};

// One region at a time on the OpenMP runtime: a concurrent caller runs inline (returns false), as one
// inside an OpenMP region does, so that the process never runs more workers than the thread count.
bool try_run_openmp(int parts, const std::function<void(int)>& task) {
  if (omp_in_parallel() || g_openmp_busy.exchange(true, std::memory_order_acquire)) return false;
  PartErrors errors;
#pragma omp parallel num_threads(parts)
  {
    // The runtime may form a smaller team than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC): it still covers every part.
    const int team = omp_get_num_threads();
    for (int i = omp_get_thread_num(); i < parts; i += team) errors.run(task, i);
  }
  g_openmp_busy.store(false, std::memory_order_release);
  errors.rethrow();
  return true;
}
#endif

}  // namespace

void set_num_threads(int n) { g_threads.store(std::max(1, std::min(n, 256))); }
int get_num_threads() { return g_threads.load(); }

namespace {
bool openmp_runs_regions() {
#if defined(_OPENMP)
  return g_openmp.load(std::memory_order_relaxed) && !g_openmp_unsafe_after_fork.load(std::memory_order_relaxed);
#else
  return false;
#endif
}
}  // namespace

const char* parallel_backend() { return openmp_runs_regions() ? "openmp" : "pool"; }

void use_openmp(bool on) {
#if defined(_OPENMP)
  g_openmp.store(on);
#else
  TF_CHECK(!on, "this build of the C++ core has no OpenMP");
#endif
}

namespace {
void run_parallel(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn, bool openmp_allowed) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t parts = std::min<int64_t>(get_num_threads(), (n + grain - 1) / grain);
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  std::function<void(int)> run_part = [&](int i) {
    int64_t begin = n * i / parts, end = n * (i + 1) / parts;
    if (begin < end) fn(begin, end);
  };
#if defined(_OPENMP)
  if (openmp_allowed && openmp_runs_regions()) {
    if (!try_run_openmp(static_cast<int>(parts), run_part)) fn(0, n);
    return;
  }
#else
  (void)openmp_allowed;
#endif
  if (!pool().try_run(static_cast<int>(parts), run_part)) fn(0, n);
}
}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  run_parallel(n, grain, fn, true);
}

void parallel_for_outside_openmp(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  run_parallel(n, grain, fn, false);
}

}  // namespace tf
