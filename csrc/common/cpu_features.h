// Runtime CPU ISA detection; kernels are compiled once per ISA and picked with TF_ISA_CALL.
#pragma once
#include <string>

namespace tf {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

// Best ISA supported by both the CPU and the OS, capped by TRANSFORMERS_FAST_ISA
// (generic|avx2|avx512) and by set_isa_cap().
Isa cpu_isa();
void set_isa_cap(Isa cap);
std::string isa_name(Isa isa);
// Human-readable CPU features relevant to benchmarks, e.g. "avx2 fma avx512f avx512_bf16 avx512_vnni".
std::string cpu_feature_string();
// AVX-512 VNNI (vpdpbusd) on this CPU and OS; the int8 GEMM uses it when cpu_isa() is avx512.
bool cpu_has_avx512_vnni();
// AMX-INT8 (tdpbusd) usable by this process: the CPU has it, the OS enabled the tile state, and (Linux) the
// process was granted it (requested on the first call). The int8 GEMM's AMX kernel needs it.
bool cpu_has_amx_int8();

// Runs check() in a forked child process on one thread and returns whether the child returned true: code that
// was never run on this kind of CPU (the AMX kernel) proves itself there first, so that a fault (an illegal
// instruction, a bad tile configuration) ends the child and not the caller's process. POSIX only; false
// elsewhere or when the fork fails.
bool passes_in_child_process(bool (*check)());

// AVX-512-bf16 (vdpbf16ps) usable: the CPU has it and the ISA in use is AVX-512.
bool cpu_has_avx512_bf16();
// Whether the fused bfloat16 kernels (activation, layer norm, softmax, attention, relative attention) use the
// avx512_bf16 instructions (vcvtneps2bf16 to round, vdpbf16ps for dot products): cpu_has_avx512_bf16(), their
// avx512 copy was built with them (TF_HAVE_AVX512_BF16), and they were not turned off with
// set_avx512_bf16(false) (tests and benchmarks compare both). Without them bf16 is converted by integer
// shifts, as on every other ISA.
bool use_avx512_bf16();
void set_avx512_bf16(bool on);

// Parses a TRANSFORMERS_FAST_ISA value (case-insensitive); false for anything else.
bool parse_isa(const char* name, Isa& isa);

// x86-64 builds compile the kernels three times (CMakeLists.txt); other targets only the portable copy.
#if defined(__x86_64__) || defined(_M_X64)
#define TF_X86_64 1
#define TF_ISA_DECLARE(ret, name, params)  \
  namespace isa_avx512 { ret name params; } \
  namespace isa_avx2 { ret name params; }   \
  namespace isa_generic { ret name params; }

#define TF_ISA_CALL(name, ...)                                             \
  (::tf::cpu_isa() == ::tf::Isa::avx512 ? ::tf::isa_avx512::name(__VA_ARGS__) \
   : ::tf::cpu_isa() == ::tf::Isa::avx2 ? ::tf::isa_avx2::name(__VA_ARGS__)   \
                                         : ::tf::isa_generic::name(__VA_ARGS__))
#else
#define TF_ISA_DECLARE(ret, name, params) \
  namespace isa_generic { ret name params; }
#define TF_ISA_CALL(name, ...) (::tf::isa_generic::name(__VA_ARGS__))
#endif

}  // namespace tf
