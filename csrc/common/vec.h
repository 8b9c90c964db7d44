// A small fp32 SIMD vector whose width follows the ISA the translation unit is compiled for
// (kernels/*_cpu.cpp are built three times: -mavx512f..., -mavx2 -mfma, and plain).
// Math functions follow the formulas torch's own vectorized CPU kernels use, so results
// stay within a few ulp of torch.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/bfloat16.h"
#include "common/check.h"
#include "common/cpu_features.h"
#include "common/gelu_tables.h"
#include "common/tensor_view.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#ifndef TF_ISA_NS
#error "vec.h is for csrc/kernels/*_cpu.cpp, which are compiled once per ISA with TF_ISA_NS set"
#endif

// Inside the per-ISA namespace, so that the AVX-512, AVX2 and generic copies of these inline
// functions never merge at link time (one definition per ISA).
namespace tf {
namespace TF_ISA_NS {
namespace vec {

#if defined(__AVX512F__)
struct VecF {
  static constexpr int size = 16;
  __m512 v;
  VecF() = default;
  VecF(__m512 x) : v(x) {}
  explicit VecF(float x) : v(_mm512_set1_ps(x)) {}
  static VecF load(const float* p) { return _mm512_loadu_ps(p); }
  static VecF load(const float* p, int n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
  void store(float* p, int n) const { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
  static __mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  friend VecF operator+(VecF a, VecF b) { return _mm512_add_ps(a.v, b.v); }
  friend VecF operator-(VecF a, VecF b) { return _mm512_sub_ps(a.v, b.v); }
  friend VecF operator*(VecF a, VecF b) { return _mm512_mul_ps(a.v, b.v); }
  friend VecF operator/(VecF a, VecF b) { return _mm512_div_ps(a.v, b.v); }
  static VecF fmadd(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a.v, b.v, c.v); }
  static VecF max(VecF a, VecF b) { return _mm512_max_ps(a.v, b.v); }
  static VecF min(VecF a, VecF b) { return _mm512_min_ps(a.v, b.v); }
  VecF abs() const { return _mm512_abs_ps(v); }
  // Copies the sign of `sign` onto |this|.
  VecF with_sign_of(VecF sign) const {
    __m512i m = _mm512_set1_epi32(0x80000000);
    __m512i r = _mm512_or_si512(_mm512_andnot_si512(m, _mm512_castps_si512(v)),
                                _mm512_and_si512(m, _mm512_castps_si512(sign.v)));
    return _mm512_castsi512_ps(r);
  }
  float reduce_add() const { return _mm512_reduce_add_ps(v); }
  float reduce_max() const { return _mm512_reduce_max_ps(v); }
  // 2^n for integral-valued float n in the normal range (NaN n: some finite scale, the caller's result is NaN).
  static VecF pow2n(VecF n) {
    __m512i i = _mm512_cvtps_epi32(n.v);
    i = _mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23);
    return _mm512_castsi512_ps(i);
  }
  static VecF round(VecF a) { return _mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // NaN-propagating: lanes where `a` is NaN take `a`.
  // a < b ? t : f, lane-wise.
  static VecF select_lt(VecF a, VecF b, VecF t, VecF f) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ), f.v, t.v);
  }
  static bool any_lt(VecF a, VecF b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ) != 0; }
  static VecF keep_nan(VecF a, VecF r) {
    __mmask16 nan = _mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(nan, r.v, a.v);
  }
};
#elif defined(__AVX2__)
struct VecF {
  static constexpr int size = 8;
  __m256 v;
  VecF() = default;
  VecF(__m256 x) : v(x) {}
  explicit VecF(float x) : v(_mm256_set1_ps(x)) {}
  static VecF load(const float* p) { return _mm256_loadu_ps(p); }
  static VecF load(const float* p, int n) { return _mm256_maskload_ps(p, tail_mask(n)); }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
  void store(float* p, int n) const { _mm256_maskstore_ps(p, tail_mask(n), v); }
  static __m256i tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  friend VecF operator+(VecF a, VecF b) { return _mm256_add_ps(a.v, b.v); }
  friend VecF operator-(VecF a, VecF b) { return _mm256_sub_ps(a.v, b.v); }
  friend VecF operator*(VecF a, VecF b) { return _mm256_mul_ps(a.v, b.v); }
  friend VecF operator/(VecF a, VecF b) { return _mm256_div_ps(a.v, b.v); }
  static VecF fmadd(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a.v, b.v, c.v); }
  static VecF max(VecF a, VecF b) { return _mm256_max_ps(a.v, b.v); }
  static VecF min(VecF a, VecF b) { return _mm256_min_ps(a.v, b.v); }
  VecF abs() const { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
  VecF with_sign_of(VecF sign) const {
    __m256 m = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(m, v), _mm256_and_ps(m, sign.v));
  }
  float reduce_add() const {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  float reduce_max() const {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_max_ps(lo, hi);
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static VecF pow2n(VecF n) {
    __m256i i = _mm256_cvtps_epi32(n.v);
    i = _mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23);
    return _mm256_castsi256_ps(i);
  }
  static VecF round(VecF a) { return _mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static VecF select_lt(VecF a, VecF b, VecF t, VecF f) {
    return _mm256_blendv_ps(f.v, t.v, _mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ));
  }
  static bool any_lt(VecF a, VecF b) { return _mm256_movemask_ps(_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)) != 0; }
  static VecF keep_nan(VecF a, VecF r) {
    __m256 nan = _mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q);
    return _mm256_blendv_ps(r.v, a.v, nan);
  }
};
#else
struct VecF {
  static constexpr int size = 1;
  float v;
  VecF() = default;
  explicit VecF(float x) : v(x) {}
  static VecF load(const float* p) { return VecF(*p); }
  static VecF load(const float* p, int n) { return VecF(n > 0 ? *p : 0.0f); }
  void store(float* p) const { *p = v; }
  void store(float* p, int n) const {
    if (n > 0) *p = v;
  }
  friend VecF operator+(VecF a, VecF b) { return VecF(a.v + b.v); }
  friend VecF operator-(VecF a, VecF b) { return VecF(a.v - b.v); }
  friend VecF operator*(VecF a, VecF b) { return VecF(a.v * b.v); }
  friend VecF operator/(VecF a, VecF b) { return VecF(a.v / b.v); }
  static VecF fmadd(VecF a, VecF b, VecF c) { return VecF(std::fma(a.v, b.v, c.v)); }
  // Same operand order as x86 max/min: the second operand wins on NaN.
  static VecF max(VecF a, VecF b) { return VecF(a.v > b.v ? a.v : b.v); }
  static VecF min(VecF a, VecF b) { return VecF(a.v < b.v ? a.v : b.v); }
  VecF abs() const { return VecF(std::fabs(v)); }
  VecF with_sign_of(VecF sign) const { return VecF(std::copysign(v, sign.v)); }
  float reduce_add() const { return v; }
  float reduce_max() const { return v; }
  // NaN or infinite n (exp_nonpositive of a NaN or +inf difference in a softmax row with a NaN) takes
  // exponent 0: converting them to int is undefined, and the caller's polynomial is NaN then anyway.
  // (The AVX paths' vcvtps2dq gives INT_MIN for them, which is defined.)
  static VecF pow2n(VecF n) {
    int32_t e = std::fabs(n.v) <= 128.0f ? static_cast<int32_t>(n.v) : 0;
    uint32_t i = static_cast<uint32_t>(e + 127) << 23;
    float r;
    std::memcpy(&r, &i, 4);
    return VecF(r);
  }
  static VecF round(VecF a) { return VecF(std::nearbyint(a.v)); }
  static VecF select_lt(VecF a, VecF b, VecF t, VecF f) { return a.v < b.v ? t : f; }
  static bool any_lt(VecF a, VecF b) { return a.v < b.v; }
  static VecF keep_nan(VecF a, VecF r) { return std::isnan(a.v) ? a : r; }
};
#endif

// t in the lanes whose byte m[lane] is nonzero, f elsewhere (reads W bytes: bool masks).
inline VecF select_nonzero_u8(const uint8_t* m, VecF t, VecF f) {
#if defined(__AVX512F__)
  __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m)));
  return _mm512_mask_blend_ps(_mm512_test_epi32_mask(w, w), f.v, t.v);
#elif defined(__AVX2__)
  __m256i w = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(m)));
  __m256 zero = _mm256_castsi256_ps(_mm256_cmpeq_epi32(w, _mm256_setzero_si256()));
  return _mm256_blendv_ps(t.v, f.v, zero);
#else
  return m[0] ? t : f;
#endif
}

// ---- Element types: the kernels read and write float32 or bfloat16 tensors, and compute in fp32 ----
// bf16 widens exactly by a 16-bit shift (vpmovzxwd + vpslld) and narrows rounding to nearest even, NaN kept
// (as torch), by integer operations on every ISA. Where this copy is built with avx512_bf16 (the avx512 copy,
// TF_HAVE_AVX512_BF16), `bf16_hw` is the same storage narrowed by vcvtneps2bf16 (which also flushes
// subnormal results to zero), and kernels may take vdpbf16ps for it: with_dtype picks it at run time only
// where the CPU has the instructions (use_avx512_bf16()).
#if defined(__AVX512BF16__)
#define TF_BF16_HW 1
struct bf16_hw : bf16 {};
#endif

template <typename T>
constexpr bool is_bf16 = std::is_base_of_v<bf16, T>;

#if defined(__AVX2__)
// 8 bf16 -> 8 floats, exact.
inline __m256 widen8_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const bf16* p) { return widen8_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
// 8 floats -> 8 bf16, round to nearest even, NaN kept (quiet).
inline __m128i narrow8_bf16(__m256 v) {
  __m256i u = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
  __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  r = _mm256_srli_epi32(_mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan), 16);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
#endif

#if defined(__AVX512F__)
inline __m512 widen16_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
inline __m256i narrow16_bf16(__m512 v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_or_si512(u, _mm512_set1_epi32(0x400000)));
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}
#endif

inline VecF load(const float* p) { return VecF::load(p); }
inline VecF load(const float* p, int n) { return VecF::load(p, n); }
inline void store(VecF v, float* p) { v.store(p); }
inline void store(VecF v, float* p, int n) { v.store(p, n); }

#if defined(__AVX512F__)
inline VecF load(const bf16* p) { return widen16_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline VecF load(const bf16* p, int n) { return widen16_bf16(_mm256_maskz_loadu_epi16(VecF::tail_mask(n), p)); }
inline void store(VecF v, bf16* p) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow16_bf16(v.v)); }
inline void store(VecF v, bf16* p, int n) { _mm256_mask_storeu_epi16(p, VecF::tail_mask(n), narrow16_bf16(v.v)); }
#elif defined(__AVX2__)
inline VecF load(const bf16* p) { return load8(p); }
inline VecF load(const bf16* p, int n) {
  uint16_t tmp[8] = {};
  std::memcpy(tmp, p, sizeof(uint16_t) * n);
  return widen8_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tmp)));
}
inline void store(VecF v, bf16* p) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), narrow8_bf16(v.v)); }
inline void store(VecF v, bf16* p, int n) {
  uint16_t tmp[8];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), narrow8_bf16(v.v));
  std::memcpy(p, tmp, sizeof(uint16_t) * n);
}
#else
inline VecF load(const bf16* p) { return VecF(bf16_to_float(*p)); }
inline VecF load(const bf16* p, int n) { return VecF(n > 0 ? bf16_to_float(*p) : 0.0f); }
inline void store(VecF v, bf16* p) { *p = float_to_bf16(v.v); }
inline void store(VecF v, bf16* p, int n) {
  if (n > 0) *p = float_to_bf16(v.v);
}
#endif

// int8 rows (a quantized KV cache) widen exactly to fp32; the caller applies the row's scale.
#if defined(__AVX512F__)
inline VecF load(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline VecF load(const int8_t* p, int n) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(VecF::tail_mask(n), p)));
}
#elif defined(__AVX2__)
inline VecF load(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline VecF load(const int8_t* p, int n) {
  int8_t tmp[16] = {};
  std::memcpy(tmp, p, n);
  return load(tmp);
}
#else
inline VecF load(const int8_t* p) { return VecF(static_cast<float>(*p)); }
inline VecF load(const int8_t* p, int n) { return VecF(n > 0 ? static_cast<float>(*p) : 0.0f); }
#endif

#if defined(TF_BF16_HW)
inline __m256i narrow16_bf16_hw(__m512 v) { return (__m256i)_mm512_cvtneps_pbh(v); }
inline void store(VecF v, bf16_hw* p) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow16_bf16_hw(v.v)); }
inline void store(VecF v, bf16_hw* p, int n) { _mm256_mask_storeu_epi16(p, VecF::tail_mask(n), narrow16_bf16_hw(v.v)); }
#endif

// Scalar conversions, for the tails the kernels do element by element.
inline float to_float(float x) { return x; }
inline float to_float(bf16 x) { return bf16_to_float(x); }
inline float to_float(int8_t x) { return static_cast<float>(x); }
template <typename T>
inline T from_float(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
#if defined(TF_BF16_HW)
  } else if constexpr (std::is_same_v<T, bf16_hw>) {
    __m128i h = (__m128i)_mm_cvtneps_pbh(_mm_set_ss(x));
    return bf16_hw{{static_cast<uint16_t>(_mm_extract_epi16(h, 0))}};
#endif
  } else {
    return T{float_to_bf16(x)};
  }
}

// f(T{}) with T the element type of dtype (float32 or bfloat16; the fronts have checked it).
template <typename F>
inline void with_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: f(float{}); return;
    case DType::bf16:
#if defined(TF_BF16_HW)
      if (use_avx512_bf16()) {
        f(bf16_hw{});
        return;
      }
#endif
      f(bf16{});
      return;
    default: fail("the CPU kernels take float32 or bfloat16, got ", dtype_name(dtype));
  }
}

// exp(x): Cephes range reduction x = n*ln2 + r, degree-5 polynomial (as torch's Vectorized::exp).
inline VecF exp(VecF x) {
  const VecF hi(88.3762626647949f), lo(-87.3365478515625f);
  VecF xc = VecF::min(VecF::max(x, lo), hi);
  VecF n = VecF::round(xc * VecF(1.44269504088896341f));
  VecF r = VecF::fmadd(n, VecF(-0.693359375f), xc);
  r = VecF::fmadd(n, VecF(2.12194440e-4f), r);
  VecF p(1.9875691500E-4f);
  p = VecF::fmadd(p, r, VecF(1.3981999507E-3f));
  p = VecF::fmadd(p, r, VecF(8.3334519073E-3f));
  p = VecF::fmadd(p, r, VecF(4.1665795894E-2f));
  p = VecF::fmadd(p, r, VecF(1.6666665459E-1f));
  p = VecF::fmadd(p, r, VecF(5.0000001201E-1f));
  VecF r2 = r * r;
  p = VecF::fmadd(p, r2, r + VecF(1.0f));
  // Split the scale so n = 128 (x near the top of the range) does not overflow the exponent.
  VecF half_n = VecF::round(n * VecF(0.5f));
  VecF res = p * VecF::pow2n(half_n) * VecF::pow2n(n - half_n);
  // Outside the clamped range exp is 0 below and +inf above.
  res = VecF::select_lt(x, lo, VecF(0.0f), res);
  res = VecF::select_lt(hi, x, VecF(INFINITY), res);
  return VecF::keep_nan(x, res);
}

// exp(x) for x <= 0 or NaN (softmax after subtracting the row max): the same polynomial as exp
// without the overflow handling; NaN propagates, x < -87.34 gives 0.
inline VecF exp_nonpositive(VecF x) {
  const VecF lo(-87.3365478515625f);
  VecF xc = VecF::max(lo, x);  // max(lo, NaN) is NaN on every ISA: NaN flows through
  VecF n = VecF::round(xc * VecF(1.44269504088896341f));
  VecF r = VecF::fmadd(n, VecF(-0.693359375f), xc);
  r = VecF::fmadd(n, VecF(2.12194440e-4f), r);
  VecF p(1.9875691500E-4f);
  p = VecF::fmadd(p, r, VecF(1.3981999507E-3f));
  p = VecF::fmadd(p, r, VecF(8.3334519073E-3f));
  p = VecF::fmadd(p, r, VecF(4.1665795894E-2f));
  p = VecF::fmadd(p, r, VecF(1.6666665459E-1f));
  p = VecF::fmadd(p, r, VecF(5.0000001201E-1f));
  p = VecF::fmadd(p, r * r, r + VecF(1.0f));
  return VecF::select_lt(x, lo, VecF(0.0f), p * VecF::pow2n(n));
}

// Phi(x) = 0.5 + 0.5 erf(x / sqrt 2), the normal CDF, for x >= -3.54 (callers handle lower x).
// erf is the rational z P(z^2) / Q(z^2) of Eigen and XLA (absolute error <= 5e-7 for |z| <= 4)
// rewritten in x (the coefficient of u^k scaled by 2^-k, P also by 0.5 / sqrt 2): no z = x / sqrt 2
// and no 0.5 * erf multiply, one division and no exp, ~2.5x cheaper than an exp-based erf.
// Below z = -2.5 Phi is small and the absolute error would be a large relative one (gelu_erf_tail).
inline VecF normal_cdf_rational(VecF x) {
  VecF xc = VecF::min(VecF(5.65685424949238f), x);  // erf(4) = 1 in fp32; NaN passes (second operand)
  VecF x2 = xc * xc;
  VecF p(-1.50599506025019e-12f);
  p = VecF::fmadd(p, x2, VecF(3.06119941265020e-10f));
  p = VecF::fmadd(p, x2, VecF(-4.64265103925388e-08f));
  p = VecF::fmadd(p, x2, VecF(-2.51575617099127e-06f));
  p = VecF::fmadd(p, x2, VecF(-6.49646073515868e-05f));
  p = VecF::fmadd(p, x2, VecF(-5.22304390077821e-04f));
  p = VecF::fmadd(p, x2, VecF(-5.69080715759501e-03f));
  VecF q(-9.10379490406225e-07f);
  q = VecF::fmadd(q, x2, VecF(-2.66717569098631e-05f));
  q = VecF::fmadd(q, x2, VecF(-4.20706743595508e-04f));
  q = VecF::fmadd(q, x2, VecF(-3.68666458360234e-03f));
  q = VecF::fmadd(q, x2, VecF(-1.42647390514189e-02f));
  return VecF::fmadd(xc, p / q, VecF(0.5f));
}

// tanh(x) = sign(x) * (1 - 2 / (exp(2|x|) + 1)); below 0.0625 a short odd series keeps the
// relative error small near zero.
inline VecF tanh(VecF x) {
  VecF ax = x.abs();
  VecF e = exp(ax + ax);
  VecF big = VecF(1.0f) - VecF(2.0f) / (e + VecF(1.0f));
  VecF x2 = ax * ax;
  VecF small = ax * VecF::fmadd(x2, VecF::fmadd(x2, VecF(2.0f / 15.0f), VecF(-1.0f / 3.0f)), VecF(1.0f));
  VecF r = VecF::select_lt(ax, VecF(0.0625f), small, big);
  return VecF::keep_nan(x, r.with_sign_of(x));
}

// x Phi(x) for x < -3.54: a degree-8 polynomial in u = (x + 4.518) / 0.982, fitted (Chebyshev) on
// [-5.5, -3.54], absolute error 1.1e-8 in fp32 (relative 1.5e-5 at -3.54), about 4x cheaper than the
// exp-based erf. Below -5.5 |x Phi(x)| < 1.1e-7 and the result is x * 0 (NaN for -inf, as torch).
inline VecF gelu_erf_tail(VecF x) {
  VecF u = VecF::fmadd(x, VecF(1.01808834f), VecF(4.59948587f));
  VecF p(-2.361632141e-06f);
  p = VecF::fmadd(p, u, VecF(-1.718384738e-05f));
  p = VecF::fmadd(p, u, VecF(-5.366256664e-05f));
  p = VecF::fmadd(p, u, VecF(-1.075430628e-04f));
  p = VecF::fmadd(p, u, VecF(-1.585502760e-04f));
  p = VecF::fmadd(p, u, VecF(-1.725117327e-04f));
  p = VecF::fmadd(p, u, VecF(-1.310627558e-04f));
  p = VecF::fmadd(p, u, VecF(-6.241513620e-05f));
  p = VecF::fmadd(p, u, VecF(-1.411620360e-05f));
  return VecF::select_lt(x, VecF(-5.5f), x * VecF(0.0f), p);
}

#if defined(__AVX512F__)
// x * Phi(x) with Phi from a piecewise table (gelu_tables.h): adding 1.5 * 2^23 rounds x / W to the interval k
// in the low mantissa bits, which index the 32-entry coefficient tables through vpermt2ps; d = x - k W is rounded
// once. No division and no exp: 7 FMA-unit operations against the rational Phi's 15 and a division. Outside the
// fitted [kGeluTableLow, kGeluTableHigh) GELU is x * 0 below (|GELU| < 1e-7 there; NaN for -inf, as torch) and x
// above (Phi rounds to 1).
inline VecF gelu_piecewise(VecF x, const float (&table)[kGeluTableDegree + 1][kGeluTableSize]) {
  static_assert(kGeluTableSize == 32, "vpermt2ps indexes 32 entries");
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  __m512 s = _mm512_fmadd_ps(x.v, _mm512_set1_ps(1.0f / kGeluTableWidth), magic);
  __m512i k_mod_32 = _mm512_castps_si512(s);  // vpermt2ps reads the low 5 bits
  __m512 d = _mm512_fnmadd_ps(_mm512_sub_ps(s, magic), _mm512_set1_ps(kGeluTableWidth), x.v);
  auto coefficient = [&](int j) {
    return _mm512_permutex2var_ps(_mm512_load_ps(table[j]), k_mod_32, _mm512_load_ps(table[j] + 16));
  };
  __mmask16 above = _mm512_cmp_ps_mask(x.v, _mm512_set1_ps(kGeluTableHigh), _CMP_GE_OQ);
  __mmask16 below = _mm512_cmp_ps_mask(x.v, _mm512_set1_ps(kGeluTableLow), _CMP_LT_OQ);
  __m512 p = coefficient(kGeluTableDegree);
  for (int j = kGeluTableDegree - 1; j > 0; --j) p = _mm512_fmadd_ps(p, d, coefficient(j));
  p = _mm512_maskz_fmadd_ps(static_cast<__mmask16>(~below), p, d, coefficient(0));  // Phi = 0 below
  return _mm512_mask_mov_ps(_mm512_mul_ps(x.v, p), above, x.v);
}
#endif

// GELU, erf form (BERT/RoBERTa/DistilBERT/XLM).
inline VecF gelu_erf(VecF x) {
#if defined(__AVX512F__)
  return gelu_piecewise(x, kGeluTable_erf);
#else
  // x * Phi(x) with the rational Phi (no exp). Below x = -3.54 Phi is tiny and the rational's absolute
  // error would approach 1e-6, so vectors with such lanes take gelu_erf_tail there.
  const VecF tail(-3.5355339059327378f);  // z = x / sqrt 2 = -2.5
  VecF y = x * normal_cdf_rational(x);
  if (VecF::any_lt(x, tail)) y = VecF::select_lt(x, tail, gelu_erf_tail(x), y);
  return y;
#endif
}

// GELU, tanh form (GPT/GPT-2/XLNet).
inline VecF gelu_tanh(VecF x) {
#if defined(__AVX512F__)
  return gelu_piecewise(x, kGeluTable_tanh);
#else
  const VecF k(0.7978845608028654f), c(0.044715f);
  VecF inner = k * (x + c * x * x * x);
  return VecF(0.5f) * x * (VecF(1.0f) + tanh(inner));
#endif
}

}  // namespace vec
}  // namespace TF_ISA_NS
}  // namespace tf
