#include "common/cpu_features.h"

#include <atomic>
#include <cerrno>
#include <cctype>
#include <cstdlib>
#include <cstring>

#ifdef TF_X86_64
#include <cpuid.h>
#endif
#if defined(TF_X86_64) && defined(__linux__)
#include <sys/syscall.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#include <unistd.h>
#define TF_HAVE_FORK 1
#endif

#include "common/parallel.h"

namespace tf {
namespace {

struct Features {
  bool avx2 = false, fma = false, avx512f = false, avx512bw = false, avx512vl = false,
       avx512dq = false, avx512_bf16 = false, avx512_vnni = false, amx = false, amx_int8 = false;
};

#ifdef TF_X86_64
uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}
#endif

Features detect() {
  Features f;
#ifdef TF_X86_64
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool osxsave = c & (1u << 27);
  bool fma = c & (1u << 12);
  if (!osxsave) return f;
  uint64_t xcr0 = xgetbv0();
  bool ymm_os = (xcr0 & 0x6) == 0x6;
  bool zmm_os = (xcr0 & 0xe6) == 0xe6;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = ymm_os && (b & (1u << 5));
  f.fma = ymm_os && fma;
  f.avx512f = zmm_os && (b & (1u << 16));
  f.avx512dq = zmm_os && (b & (1u << 17));
  f.avx512bw = zmm_os && (b & (1u << 30));
  f.avx512vl = zmm_os && (b & (1u << 31));
  f.avx512_vnni = zmm_os && (c & (1u << 11));
  f.amx = d & (1u << 24);
  // AMX-INT8 with the tile state enabled by the OS (XCR0 bits 17, 18: XTILECFG, XTILEDATA)
  f.amx_int8 = f.amx && (d & (1u << 25)) && (xcr0 & 0x60000) == 0x60000;
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  f.avx512_bf16 = zmm_os && (a1 & (1u << 5));
#endif
  return f;
}

const Features& features() {
  static const Features f = detect();
  return f;
}

Isa detect_isa() {
  const auto& f = features();
  Isa best = Isa::generic;
  if (f.avx2 && f.fma) best = Isa::avx2;
  if (best == Isa::avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) best = Isa::avx512;
  // An unknown value is refused when Python imports the ops (transformers_fast/ops/_backend.py); a C++
  // caller gets the portable kernels for it rather than an ISA it did not ask for.
  const char* env = std::getenv("TRANSFORMERS_FAST_ISA");
  if (env && *env) {
    Isa cap = Isa::generic;
    parse_isa(env, cap);
    if (static_cast<int>(cap) < static_cast<int>(best)) best = cap;
  }
  return best;
}

bool equals_ignoring_case(const char* a, const char* b) {
  for (; *a && *b; ++a, ++b)
    if (std::tolower(static_cast<unsigned char>(*a)) != std::tolower(static_cast<unsigned char>(*b))) return false;
  return *a == *b;
}

std::atomic<int>& isa_cap() {
  static std::atomic<int> cap{static_cast<int>(Isa::avx512)};
  return cap;
}

}  // namespace

bool parse_isa(const char* name, Isa& isa) {
  for (Isa candidate : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (equals_ignoring_case(name, isa_name(candidate).c_str())) {
      isa = candidate;
      return true;
    }
  }
  return false;
}

Isa cpu_isa() {
  static const Isa detected = detect_isa();
  int cap = isa_cap().load(std::memory_order_relaxed);
  return static_cast<int>(detected) < cap ? detected : static_cast<Isa>(cap);
}

bool cpu_has_avx512_bf16() { return cpu_isa() == Isa::avx512 && features().avx512_bf16; }

void set_isa_cap(Isa cap) { isa_cap().store(static_cast<int>(cap)); }

namespace {
std::atomic<bool>& avx512_bf16_on() {
  static std::atomic<bool> on{true};
  return on;
}
}  // namespace

bool use_avx512_bf16() {
#if defined(TF_X86_64) && defined(TF_HAVE_AVX512_BF16)
  return cpu_has_avx512_bf16() && avx512_bf16_on().load(std::memory_order_relaxed);
#else
  return false;  // the avx512 kernels were built without them (or this is not x86-64)
#endif
}

void set_avx512_bf16(bool on) { avx512_bf16_on().store(on); }

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

bool cpu_has_avx512_vnni() { return features().avx512_vnni; }

bool cpu_has_amx_int8() {
  // Linux hands the tile data state to a process only on request (arch_prctl ARCH_REQ_XCOMP_PERM for
  // XFEATURE_XTILEDATA); without it the first tile instruction faults. Asked once.
  static const bool usable = [] {
    if (!features().amx_int8) return false;
#if defined(TF_X86_64) && defined(__linux__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
    return false;
#endif
  }();
  return usable;
}

bool passes_in_child_process(bool (*check)()) {
#if defined(TF_HAVE_FORK)
  const pid_t pid = fork();
  if (pid == 0) {
    // The child has this thread only: no pool, no OpenMP region. _exit: no destructors or atexit handlers of
    // the parent's state.
    set_num_threads(1);
    _exit(check() ? 0 : 1);
  }
  if (pid < 0) return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
#else
  (void)check;
  return false;
#endif
}

std::string cpu_feature_string() {
  const auto& f = features();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (on) s += (s.empty() ? "" : " ") + std::string(name);
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512_bf16, "avx512_bf16");
  add(f.avx512_vnni, "avx512_vnni");
  add(f.amx, "amx");
  add(f.amx_int8, "amx_int8");
  return s.empty() ? "none" : s;
}

}  // namespace tf
