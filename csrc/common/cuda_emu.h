// Test-only SIMT emulation: lets a plain-CUDA .cu file compile as C++ and run on the CPU, so that the
// CUDA kernels are tested where there is no GPU (transformers_fast._cuda_emu, tests/test_cuda_kernels.py).
//
// Model: a launch runs its blocks one after another; inside a block every CUDA thread is a fiber (ucontext)
// with its own stack, all on the calling OS thread. A fiber runs until it reaches a barrier, then yields to
// the next one (round robin), so that:
//   - __syncthreads() is a real barrier of the block's live threads (threads that returned no longer count);
//   - warp shuffles are warp-synchronous: every lane publishes its value, waits for all live lanes of its
//     warp, reads its partner's value and waits again (so no lane overwrites a value still being read);
//   - __shared__ arrays are per block (static storage reused by the blocks, which never overlap in time);
//     dynamic shared memory (TF_DYNAMIC_SMEM) is filled with NaN bytes (0xFF) before every block, so that a
//     read the barriers do not order after its write sees garbage, and a missing __syncthreads shows;
//   - a barrier that can never be released (divergent __syncthreads) ends the launch with an error
//     (cudaErrorLaunchFailure from cudaGetLastError) instead of hanging.
// Host memory stands for device memory: kernels get CPU pointers. Kernels keep to what is emulated here: no
// inline PTX, no tensor-core intrinsics, shuffles with the full mask on whole warps.
#pragma once
#if defined(__CUDACC__)
#error "cuda_emu.h is for host compilers only; nvcc uses the real CUDA headers"
#endif

#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/bfloat16.h"

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __shared__ static thread_local
#define TF_CUDA_EMU 1

// ---- vector types and the runtime's small API ----
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct CUstream_st;
typedef CUstream_st* cudaStream_t;
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9,
                   cudaErrorLaunchFailure = 719 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };

namespace tf_emu {

constexpr int kWarp = 32;
constexpr size_t kStackBytes = 128 * 1024;

struct Fiber {
  ucontext_t ctx;
  std::vector<unsigned char> stack;
  uint3 tid;
  unsigned linear = 0;
  bool done = false;
};

struct WarpState {
  unsigned live = 0, arrived = 0, generation = 0;
  uint64_t slots[kWarp] = {};
};

struct Launch {
  dim3 grid, block;
  uint3 block_idx{0, 0, 0};
  std::vector<Fiber> fibers;
  std::vector<WarpState> warps;
  std::vector<unsigned char> smem;  // dynamic shared memory of the running block
  unsigned live = 0, arrived = 0, generation = 0;
  bool progress = false;
  void (*body)(void*) = nullptr;
  void* body_arg = nullptr;
  ucontext_t scheduler;
};

struct State {
  Launch* launch = nullptr;
  Fiber* fiber = nullptr;
  cudaError_t last_error = cudaSuccess;
  const char* last_error_what = "";
};

inline State& state() {
  static thread_local State s;
  return s;
}

inline void yield() {
  State& s = state();
  swapcontext(&s.fiber->ctx, &s.launch->scheduler);
}

inline void block_barrier() {
  Launch& L = *state().launch;
  unsigned gen = L.generation;
  if (++L.arrived == L.live) {
    L.arrived = 0;
    ++L.generation;
    L.progress = true;
    return;
  }
  while (L.generation == gen) yield();
}

inline WarpState& my_warp() {
  State& s = state();
  return s.launch->warps[s.fiber->linear / kWarp];
}

inline void warp_barrier() {
  WarpState& w = my_warp();
  unsigned gen = w.generation;
  if (++w.arrived == w.live) {
    w.arrived = 0;
    ++w.generation;
    state().launch->progress = true;
    return;
  }
  while (w.generation == gen) yield();
}

inline void fiber_entry() {
  State& s = state();
  Launch& L = *s.launch;
  L.body(L.body_arg);
  Fiber& f = *s.fiber;
  f.done = true;
  L.progress = true;
  // The barriers count live threads only: a thread that returns releases whoever waits for it.
  --L.live;
  if (L.arrived > 0 && L.arrived == L.live) {
    L.arrived = 0;
    ++L.generation;
  }
  WarpState& w = L.warps[f.linear / kWarp];
  --w.live;
  if (w.arrived > 0 && w.arrived == w.live) {
    w.arrived = 0;
    ++w.generation;
  }
  // returning resumes uc_link, the scheduler
}

// Runs body(arg) once per CUDA thread of every block of the launch. false: a barrier deadlocked.
inline bool run(dim3 grid, dim3 block, size_t smem_bytes, void (*body)(void*), void* arg) {
  Launch L;
  L.grid = grid;
  L.block = block;
  L.body = body;
  L.body_arg = arg;
  unsigned n = block.x * block.y * block.z;
  L.fibers.resize(n);
  L.warps.resize((n + kWarp - 1) / kWarp);
  L.smem.resize(smem_bytes);
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = L.fibers[i];
    f.stack.resize(kStackBytes);
    f.linear = i;
    f.tid = {i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
  }
  State& s = state();
  Launch* outer_launch = s.launch;
  Fiber* outer_fiber = s.fiber;
  s.launch = &L;
  bool ok = true;
  for (unsigned bz = 0; bz < grid.z && ok; ++bz)
    for (unsigned by = 0; by < grid.y && ok; ++by)
      for (unsigned bx = 0; bx < grid.x && ok; ++bx) {
        L.block_idx = {bx, by, bz};
        if (smem_bytes) std::memset(L.smem.data(), 0xFF, smem_bytes);
        L.live = n;
        L.arrived = 0;
        for (unsigned w = 0; w < L.warps.size(); ++w) {
          L.warps[w].live = std::min<unsigned>(kWarp, n - w * kWarp);
          L.warps[w].arrived = 0;
        }
        for (Fiber& f : L.fibers) {
          f.done = false;
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = f.stack.data();
          f.ctx.uc_stack.ss_size = f.stack.size();
          f.ctx.uc_link = &L.scheduler;
          makecontext(&f.ctx, fiber_entry, 0);
        }
        while (L.live > 0) {
          L.progress = false;
          for (Fiber& f : L.fibers) {
            if (f.done) continue;
            s.fiber = &f;
            swapcontext(&L.scheduler, &f.ctx);
          }
          if (!L.progress && L.live > 0) {  // everyone waits for someone who never comes
            ok = false;
            break;
          }
        }
      }
  s.launch = outer_launch;
  s.fiber = outer_fiber;
  return ok;
}

inline const uint3& thread_idx() { return state().fiber->tid; }
inline const uint3& block_idx() { return state().launch->block_idx; }
inline uint3 to_uint3(dim3 d) { return {d.x, d.y, d.z}; }
inline void* dynamic_smem() { return state().launch->smem.data(); }

template <typename T>
T shuffle(T value, int src_lane) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "shuffle of a type wider than 8 bytes");
  WarpState& w = my_warp();
  unsigned lane = state().fiber->linear % kWarp;
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  w.slots[lane] = bits;
  warp_barrier();
  T out = value;  // a lane outside the warp reads its own value (as the hardware does)
  if (src_lane >= 0 && src_lane < kWarp) std::memcpy(&out, &w.slots[src_lane], sizeof(T));
  warp_barrier();
  return out;
}

// Launch helper: TF_LAUNCH(grid, block, smem, stream, kernel)(args...).
template <typename... Params>
struct Launcher {
  void (*kernel)(Params...);
  dim3 grid, block;
  size_t smem;
  const char* name;

  template <typename... Args>
  void operator()(Args&&... args) const {
    State& s = state();
    unsigned n = block.x * block.y * block.z;
    if (n == 0 || n > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
      s.last_error = cudaErrorInvalidConfiguration;
      s.last_error_what = name;
      return;
    }
    struct Bound {
      void (*kernel)(Params...);
      std::tuple<std::decay_t<Params>...> args;
      static void call(void* p) {
        Bound& b = *static_cast<Bound*>(p);
        std::apply(b.kernel, b.args);
      }
    } bound{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
    if (!run(grid, block, smem, &Bound::call, &bound)) {
      s.last_error = cudaErrorLaunchFailure;
      s.last_error_what = name;
    }
  }
};

template <typename... Params>
Launcher<Params...> make_launcher(dim3 grid, dim3 block, size_t smem, cudaStream_t, void (*kernel)(Params...),
                                  const char* name) {
  return Launcher<Params...>{kernel, grid, block, smem, name};
}

}  // namespace tf_emu

#define threadIdx (::tf_emu::thread_idx())
#define blockIdx (::tf_emu::block_idx())
#define blockDim (::tf_emu::to_uint3(::tf_emu::state().launch->block))
#define gridDim (::tf_emu::to_uint3(::tf_emu::state().launch->grid))
#define warpSize 32

#define TF_LAUNCH(grid, block, smem, stream, ...) \
  ::tf_emu::make_launcher((grid), (block), (smem), (stream), &__VA_ARGS__, #__VA_ARGS__)
#define TF_DYNAMIC_SMEM(type, name) type* name = static_cast<type*>(::tf_emu::dynamic_smem())

inline void __syncthreads() { ::tf_emu::block_barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::tf_emu::warp_barrier(); }

template <typename T>
inline T __shfl_sync(unsigned, T v, int src_lane, int width = 32) {
  int lane = static_cast<int>(::tf_emu::state().fiber->linear % 32);
  return ::tf_emu::shuffle(v, (lane & ~(width - 1)) + (src_lane & (width - 1)));
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask, int width = 32) {
  int lane = static_cast<int>(::tf_emu::state().fiber->linear % 32);
  int src = lane ^ lane_mask;
  if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return ::tf_emu::shuffle(v, src);
}
template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  int lane = static_cast<int>(::tf_emu::state().fiber->linear % 32);
  int src = lane + static_cast<int>(delta);
  if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
  return ::tf_emu::shuffle(v, src);
}
template <typename T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  int lane = static_cast<int>(::tf_emu::state().fiber->linear % 32);
  int src = lane - static_cast<int>(delta);
  if (src < (lane & ~(width - 1))) src = lane;
  return ::tf_emu::shuffle(v, src);
}

// One OS thread runs every fiber, so a read-modify-write is atomic by construction.
template <typename T>
inline T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
inline T atomicMax(T* address, T value) {
  T old = *address;
  if (value > old) *address = value;
  return old;
}
template <typename T>
inline T atomicCAS(T* address, T compare, T value) {
  T old = *address;
  if (old == compare) *address = value;
  return old;
}

// ---- intrinsics ----
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
template <typename T>
inline T __ldg(const T* p) { return *p; }

inline cudaError_t cudaGetLastError() {
  cudaError_t e = ::tf_emu::state().last_error;
  ::tf_emu::state().last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return ::tf_emu::state().last_error; }
inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure (emulator: a barrier can never be released)";
  }
  return "unknown error";
}
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) { return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t = nullptr) {
  if (bytes) std::memset(p, value, bytes);
  return cudaSuccess;
}

// ---- half and bfloat16: storage types with round-to-nearest-even conversions ----
struct __half {
  uint16_t x;
};
struct __nv_bfloat16 {
  uint16_t x;
};
typedef __half half;

inline float __half2float(__half h) {
  uint32_t sign = static_cast<uint32_t>(h.x & 0x8000u) << 16, exp = (h.x >> 10) & 0x1f, man = h.x & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: value = man * 2^-24
    float f = std::ldexp(static_cast<float>(man), -24);
    std::memcpy(&bits, &f, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline __half __float2half(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t abs = bits & 0x7fffffffu;
  __half h;
  if (abs >= 0x7f800000u) {  // inf / NaN
    h.x = sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u);
    return h;
  }
  if (abs >= 0x477ff000u) {  // rounds to >= 65520: inf
    h.x = sign | 0x7c00u;
    return h;
  }
  if (abs < 0x38800000u) {  // below the smallest normal half: round to a multiple of 2^-24
    float a;
    std::memcpy(&a, &abs, 4);
    float q = std::nearbyint(a * 16777216.0f);  // round half to even (default rounding mode)
    h.x = sign | static_cast<uint16_t>(q);
    return h;
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // round to nearest even at bit 13
  h.x = sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
  return h;
}

// The same conversions as the CPU kernels' (common/bfloat16.h).
inline float __bfloat162float(__nv_bfloat16 b) { return tf::bf16_to_float(tf::bf16{b.x}); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16{tf::float_to_bf16(f).bits}; }
