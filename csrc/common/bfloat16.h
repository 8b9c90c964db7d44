// bfloat16 storage (torch.bfloat16: the upper 16 bits of a float32) and its scalar conversions, for every ISA
// and for code outside the per-ISA kernels (tests, the sanitizer driver). The kernels' vector conversions are
// in common/vec.h, built on these.
#pragma once
#include <cstdint>
#include <cstring>

namespace tf {

struct bf16 {
  uint16_t bits;
};

// Exact: bf16 is a float32 with the low 16 mantissa bits zero.
inline float bf16_to_float(bf16 v) {
  uint32_t u = static_cast<uint32_t>(v.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even (as torch's c10::BFloat16); NaN stays NaN (quiet, sign kept), overflow gives inf.
inline bf16 float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((u >> 16) | 0x40u)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<uint16_t>(u >> 16)};
}

}  // namespace tf
