#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/gemm_int8.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

constexpr int64_t kGroupBytes = kInt8Panel * kInt8Group;  // one packed group: 16 columns x 4 k
// Rows per register block (every kernel) and rows per task: a task's weight columns are read from
// DRAM once and then from cache for each block of its rows.
constexpr int kBlockRows = 6;
constexpr int64_t kTaskRows = 32 * kBlockRows;
// Up to this many rows run as one register block (VNNI: fewer panels per block), so that the weight is
// streamed from DRAM once while all rows' products run; in blocks of 6, the first block's stream (37 GB/s at
// the VNNI peak, more than one core gets) was followed by the others' from cache (1x8 BERT-base GEMMs 5.5 ms).
constexpr int kMaxBlockRows = 12;
// Software prefetch distance in each panel stream of the AVX2 kernel (few rows stream the weight from DRAM; as in
// gemm_small). The VNNI blocks (3-4 panel streams at up to 8 rows) leave it to the hardware prefetcher: AMD Zen4,
// int8 weights from DRAM, 1-4 rows 15-17 -> 17-21 GB/s; 8 rows and more unchanged.
constexpr int64_t kPrefetchBytes = 4096;
// AMX blocks: up to 32 rows (two A tiles) x 2 panels (two B tiles), k in steps of 64 (16 groups).
constexpr int kAmxBlockRows = 32, kAmxPanels = 2;
constexpr int64_t kAmxGroups = 16;

}  // namespace
#include "kernels/gemm_int8_amx.h"
namespace {

// ---- activation quantization: one row --------------------------------------------------------------------

struct RowQuant {
  float scale;   // (hi - lo) / 255; NaN when the row holds a NaN or an infinity
  int32_t zero;  // the u8 value of x = 0
};

// x [k] -> q [kp]: u8 = clamp(round_half_even(x * 255 / (hi - lo)) + zero, 0, 255) with lo = min(x, 0),
// hi = max(x, 0), zero = round_half_even(-lo * 255 / (hi - lo)), stored as u8 or, where Q is int16, as int16
// (the same value); the padding k..kp holds 0 (its weights are 0). A row of zeros: scale 0, zero 0, q 0.
template <typename Q>
RowQuant quantize_row(const float* x, int64_t k, int64_t kp, Q* q) {
  float lo = 0.0f, hi = 0.0f;
  bool bad = false;
  int64_t j = 0;
#if defined(__AVX512F__)
  {
    __m512 vlo = _mm512_setzero_ps(), vhi = _mm512_setzero_ps();  // the masked tail loads 0: in range anyway
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    __mmask16 nonfinite = 0;
    for (; j < k; j += 16) {
      const __mmask16 live = k - j >= 16 ? static_cast<__mmask16>(0xffff) : VecF::tail_mask(static_cast<int>(k - j));
      const __m512 v = _mm512_maskz_loadu_ps(live, x + j);
      nonfinite |= _mm512_cmp_ps_mask(_mm512_abs_ps(v), big, _CMP_NLE_UQ);
      vlo = _mm512_min_ps(vlo, v);
      vhi = _mm512_max_ps(vhi, v);
    }
    lo = _mm512_reduce_min_ps(vlo);
    hi = _mm512_reduce_max_ps(vhi);
    bad = nonfinite != 0;
  }
#elif defined(__AVX2__)
  {
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
    const __m256 big = _mm256_set1_ps(FLT_MAX), sign = _mm256_set1_ps(-0.0f);
    int nonfinite = 0;
    for (; j + 8 <= k; j += 8) {
      const __m256 v = _mm256_loadu_ps(x + j);
      nonfinite |= _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), big, _CMP_NLE_UQ));
      vlo = _mm256_min_ps(vlo, v);
      vhi = _mm256_max_ps(vhi, v);
    }
    lo = -VecF(_mm256_sub_ps(_mm256_setzero_ps(), vlo)).reduce_max();
    hi = VecF(vhi).reduce_max();
    bad = nonfinite != 0;
  }
#endif
  for (; j < k; ++j) {
    const float v = x[j];
    if (!(std::fabs(v) <= FLT_MAX)) bad = true;
    else lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (bad) {
    std::fill(q, q + kp, static_cast<Q>(0));
    return {std::numeric_limits<float>::quiet_NaN(), 0};
  }
  const float range = hi - lo;  // finite: both ends are finite and lo <= 0 <= hi (an overflow would be inf)
  if (!(range > 0.0f) || !(range <= FLT_MAX)) {
    std::fill(q, q + kp, static_cast<Q>(0));
    return {range > 0.0f ? std::numeric_limits<float>::quiet_NaN() : 0.0f, 0};
  }
  const float inv = 255.0f / range;
  // nearbyint and vcvtps2dq round half to even (the default rounding mode), as torch.round.
  const int32_t zero = static_cast<int32_t>(std::min(255.0f, std::max(0.0f, std::nearbyint(-lo * inv))));
  j = 0;
#if defined(__AVX512F__)
  {
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i lo8 = _mm512_setzero_si512(), hi8 = _mm512_set1_epi32(255), zp = _mm512_set1_epi32(zero);
    for (; j < k; j += 16) {
      const __mmask16 live = k - j >= 16 ? static_cast<__mmask16>(0xffff) : VecF::tail_mask(static_cast<int>(k - j));
      __m512i i = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(live, x + j), vinv));
      i = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(i, zp), lo8), hi8);
      if constexpr (sizeof(Q) == 1) _mm512_mask_cvtepi32_storeu_epi8(q + j, live, i);
      else _mm512_mask_cvtepi32_storeu_epi16(q + j, live, i);
    }
  }
#elif defined(__AVX2__)
  {
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i lo8 = _mm256_setzero_si256(), hi8 = _mm256_set1_epi32(255), zp = _mm256_set1_epi32(zero);
    for (; j + 8 <= k; j += 8) {
      __m256i i = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vinv));
      i = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(i, zp), lo8), hi8);
      __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));  // 0..255
      if constexpr (sizeof(Q) == 1) _mm_storel_epi64(reinterpret_cast<__m128i*>(q + j), _mm_packus_epi16(w16, w16));
      else _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), w16);
    }
  }
#endif
  for (; j < k; ++j) {
    const float r = std::nearbyint(x[j] * inv);  // |x * inv| <= 255 (1 + 2^-22): no overflow
    q[j] = static_cast<Q>(std::min(255, std::max(0, static_cast<int32_t>(r) + zero)));
  }
  std::fill(q + k, q + kp, static_cast<Q>(0));
  return {range / 255.0f, zero};
}

// ---- the epilogue: int32 sums of one row and <= 16 columns -> out ------------------------------------------

// out[c] = act(float(sums[c] - zero colsum[c]) * (scale * sw[c]) + bias[c]) for c < cols.
void epilogue(const int32_t* sums, const int32_t* colsum, RowQuant rq, const float* sw, const float* bias,
              float* out, int cols, GemmAct act) {
  alignas(64) float f[kInt8Panel];
#if defined(__AVX512F__)
  const __m512i zp = _mm512_set1_epi32(rq.zero);
  _mm512_store_ps(f, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_loadu_si512(sums),
                                                         _mm512_mullo_epi32(_mm512_loadu_si512(colsum), zp))));
#elif defined(__AVX2__)
  const __m256i zp = _mm256_set1_epi32(rq.zero);
  for (int h = 0; h < 2; ++h) {
    __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + 8 * h));
    __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colsum + 8 * h));
    _mm256_store_ps(f + 8 * h, _mm256_cvtepi32_ps(_mm256_sub_epi32(s, _mm256_mullo_epi32(c, zp))));
  }
#else
  for (int c = 0; c < kInt8Panel; ++c) f[c] = static_cast<float>(sums[c] - colsum[c] * rq.zero);
#endif
  const VecF vsx(rq.scale);
  for (int c = 0; c < cols; c += VecF::size) {
    const int cnt = std::min(VecF::size, cols - c);
    const bool full = cnt == VecF::size;
    VecF s = full ? VecF::load(sw + c) : VecF::load(sw + c, cnt);
    VecF y = VecF::load(f + c) * (vsx * s);
    if (bias) y = y + (full ? VecF::load(bias + c) : VecF::load(bias + c, cnt));
    if (act == GemmAct::gelu_erf) y = vec::gelu_erf(y);
    else if (act == GemmAct::gelu_tanh) y = vec::gelu_tanh(y);
    if (full) y.store(out + c);
    else y.store(out + c, cnt);
  }
}

// ---- inner kernels: rows x panels -> int32 sums [rows][panels * 16] ------------------------------------------
// Each takes the rows' quantized activations (row stride ldx elements), the first of its panels (panel_bytes
// apart) and the group count, and writes exact int32 sums of the u8 values (the zero point's zero * colsum
// included; the epilogue takes it off).

// AVX-512 VNNI blocks: rows x panels <= 24 accumulators.
constexpr int vnni_panels(int rows) { return rows <= 6 ? 4 : rows <= 8 ? 3 : 2; }

using BlockFn = void (*)(const void* xq, int64_t ldx, const int8_t* w, int64_t panel_bytes, int64_t groups,
                         int32_t* sums);

#if defined(__AVX512F__)
// AVX-512 VNNI: rows x panels <= 24 accumulators, + the panels' weights + 1 broadcast of the 32 zmm registers:
// 6 x 4, 8 x 3, 12 x 2.
constexpr int kMaxPanels = 4;

// acc += the dot products of 4 u8 of a with 4 s8 of b per int32 lane (vpdpbusd, AVX-512 VNNI). Inline assembly
// rather than _mm512_dpbusd_epi32 under a target attribute: GCC 12 then kept every accumulator of the block
// in memory (two stores and moves per vpdpbusd); and this file needs no VNNI compiler flag, so that GCC never
// emits VNNI elsewhere in it. Run only where the CPU has VNNI (gemm_int8_kernel() == 2).
inline __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

template <int R, int P>
void vnni_block(const void* xq_, int64_t ldx, const int8_t* w,
                                                      int64_t panel_bytes, int64_t groups, int32_t* sums) {
  const uint8_t* xq = static_cast<const uint8_t*>(xq_);
  __m512i acc[R][P];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < P; ++c) acc[r][c] = _mm512_setzero_si512();
  const int8_t* p = w;
  for (int64_t g = 0; g < groups; ++g, p += kGroupBytes) {
    __m512i b[P];
    for (int c = 0; c < P; ++c) b[c] = _mm512_loadu_si512(p + c * panel_bytes);
    for (int r = 0; r < R; ++r) {
      int32_t a4;
      std::memcpy(&a4, xq + r * ldx + 4 * g, 4);
      const __m512i a = _mm512_set1_epi32(a4);
      for (int c = 0; c < P; ++c) acc[r][c] = dpbusd(acc[r][c], a, b[c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < P; ++c) _mm512_storeu_si512(sums + (r * P + c) * kInt8Panel, acc[r][c]);
}
#else
constexpr int kMaxPanels = 1;
#endif

#if defined(__AVX2__)
// int16 kernel (AVX2, and AVX-512 without VNNI): one panel as two halves of 8 columns; per half and row two
// accumulators of 4 columns x 2 partial sums (vpmaddwd adds pairs of k), combined at the end.
// 6 rows: 12 accumulators + 2 weights + 1 broadcast of the 16 ymm registers.
template <int R>
void madd_half(const int16_t* xq, int64_t ldx, const int8_t* w, int64_t groups, int32_t* sums, int64_t sum_stride) {
  __m256i acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const int8_t* p = w;
  for (int64_t g = 0; g < groups; ++g, p += kGroupBytes) {
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes), _MM_HINT_T0);
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
    for (int r = 0; r < R; ++r) {
      int64_t a4;
      std::memcpy(&a4, xq + r * ldx + 4 * g, 8);
      const __m256i a = _mm256_set1_epi64x(a4);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(a, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(a, b1));
    }
  }
  for (int r = 0; r < R; ++r) {
    // [c0 c0 c1 c1 | c2 c2 c3 c3] and the same for c4..c7: pair sums, then 64-bit lanes back in order.
    __m256i h = _mm256_hadd_epi32(acc[r][0], acc[r][1]);  // [c0 c1 c4 c5 | c2 c3 c6 c7]
    h = _mm256_permute4x64_epi64(h, 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + r * sum_stride), h);
  }
}

template <int R>
void madd_block(const void* xq, int64_t ldx, const int8_t* w, int64_t, int64_t groups, int32_t* sums) {
  const int16_t* x16 = static_cast<const int16_t*>(xq);
  madd_half<R>(x16, ldx, w, groups, sums, kInt8Panel);
  madd_half<R>(x16, ldx, w + kGroupBytes / 2, groups, sums + kInt8Panel / 2, kInt8Panel);
}
#endif

// Portable kernel: one panel, scalar int32 sums.
template <int R>
void scalar_block(const void* xq_, int64_t ldx, const int8_t* w, int64_t, int64_t groups, int32_t* sums) {
  const uint8_t* xq = static_cast<const uint8_t*>(xq_);
  for (int r = 0; r < R; ++r) {
    int32_t acc[kInt8Panel] = {};
    const uint8_t* xr = xq + r * ldx;
    for (int64_t g = 0; g < groups; ++g) {
      const int8_t* p = w + g * kGroupBytes;
      for (int c = 0; c < kInt8Panel; ++c)
        for (int t = 0; t < kInt8Group; ++t)
          acc[c] += static_cast<int32_t>(xr[4 * g + t]) * static_cast<int32_t>(p[4 * c + t]);
    }
    std::memcpy(sums + r * kInt8Panel, acc, sizeof(acc));
  }
}

// fns[r - 1][p - 1]: the kernel for r rows and p panels of the chosen kind (nullptr: none that size).
struct Kernels {
  BlockFn fns[kMaxBlockRows][kMaxPanels];
  bool wide;  // int16 activations
  bool vnni;
};

template <int R, int P>
BlockFn pick(int kernel) {
#if defined(__AVX512F__)
  if (kernel == 2) {
    if constexpr (P <= vnni_panels(R)) return &vnni_block<R, P>;
    return nullptr;
  }
#endif
  if constexpr (R > kBlockRows || P > 1) {
    return nullptr;
  } else {
#if defined(__AVX2__)
    if (kernel == 1) return &madd_block<R>;
#endif
    (void)kernel;
    return &scalar_block<R>;
  }
}

template <int R, int... Ps>
void fill_row(Kernels& k, int kernel, std::integer_sequence<int, Ps...>) {
  ((k.fns[R - 1][Ps] = pick<R, Ps + 1>(kernel)), ...);
}

template <int... Rs>
Kernels make_kernels(int kernel, std::integer_sequence<int, Rs...>) {
  Kernels k{};
  (fill_row<Rs + 1>(k, kernel, std::make_integer_sequence<int, kMaxPanels>{}), ...);
  k.wide = kernel == 1;
  k.vnni = kernel == 2;
  return k;
}

const Kernels& kernels(int kernel) {
  static const Kernels table[3] = {make_kernels(0, std::make_integer_sequence<int, kMaxBlockRows>{}),
                                   make_kernels(1, std::make_integer_sequence<int, kMaxBlockRows>{}),
                                   make_kernels(2, std::make_integer_sequence<int, kMaxBlockRows>{})};
  return table[kernel];
}

}  // namespace

void gemm_int8_pack_cpu(const int8_t* w, int64_t stride_n, int64_t stride_k, int8_t* packed, int32_t* colsum,
                        int64_t n, int64_t k) {
  const int64_t panels = int8_panels(n), groups = int8_groups(k);
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int8_t* dst = packed + p * groups * kGroupBytes;
      std::memset(dst, 0, static_cast<size_t>(groups * kGroupBytes));
      for (int64_t c = 0; c < kInt8Panel; ++c) {
        const int64_t row = p * kInt8Panel + c;
        int32_t sum = 0;
        if (row < n) {
          const int8_t* src = w + row * stride_n;
          for (int64_t kk = 0; kk < k; ++kk) {
            const int8_t v = src[kk * stride_k];
            dst[(kk / kInt8Group) * kGroupBytes + c * kInt8Group + kk % kInt8Group] = v;
            sum += v;
          }
        }
        colsum[row] = sum;
      }
    }
  });
}

void gemm_int8_cpu(const float* x, const int8_t* packed, const int32_t* colsum, const float* w_scale,
                   const float* bias, float* out, int64_t m, int64_t n, int64_t k, GemmAct act, int kernel) {
  if (m == 0 || n == 0) return;
  const int64_t groups = int8_groups(k), kp = groups * kInt8Group, panels = int8_panels(n);
  // AMX (3: the tiles, 4: their emulation) takes k in steps of 64; other shapes run the best kernel beside it.
  int amx = kernel >= 3 && groups % kAmxGroups == 0 ? kernel : 0;
#if !defined(TF_AMX_BUILD)
  if (amx == 3) amx = 0;  // (the fronts dispatch the tiles to the AVX-512 build only)
#endif
  if (kernel >= 3) kernel = cpu_has_avx512_vnni() && gemm_int8_vnni_allowed().load() ? 2 : 1;
#if !defined(__AVX512F__)
  if (kernel == 2) kernel = 1;  // (the fronts dispatch VNNI to the AVX-512 build only)
#endif
#if !defined(__AVX2__)
  kernel = 0;
#endif
  const Kernels& ks = kernels(amx ? 0 : kernel);  // (AMX: u8 activations, as the VNNI and portable kernels)
  const int64_t panel_bytes = groups * kGroupBytes;
  const size_t elem = ks.wide ? 2 : 1;

  // Quantized activations and their row scales and zero points, in a buffer kept per calling thread.
  thread_local std::vector<uint64_t> scratch;
  const size_t q_bytes = (static_cast<size_t>(m * kp) * elem + 63) / 64 * 64;
  scratch.resize((q_bytes + static_cast<size_t>(m) * sizeof(RowQuant) + 7) / 8 + 8);
  char* base = reinterpret_cast<char*>(scratch.data());
  void* xq = base;
  RowQuant* sx = reinterpret_cast<RowQuant*>(base + q_bytes);
  parallel_for(m, std::max<int64_t>(1, 16384 / std::max<int64_t>(k, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      sx[r] = ks.wide ? quantize_row(x + r * k, k, kp, static_cast<int16_t*>(xq) + r * kp)
                      : quantize_row(x + r * k, k, kp, static_cast<uint8_t*>(xq) + r * kp);
    }
  });

  // Register blocks of block_rows rows x max_panels panels: up to 12 rows in one block (VNNI), else 6; AMX tiles
  // of up to 32 rows x 2 panels.
  const int block_rows = amx ? kAmxBlockRows : ks.vnni && m <= kMaxBlockRows ? static_cast<int>(m) : kBlockRows;
  const int max_panels = amx ? kAmxPanels : ks.vnni ? vnni_panels(block_rows) : 1;
  // Tasks: column groups (max_panels panels) x row chunks (kTaskRows), column group major, so that a thread's
  // consecutive tasks share their weight columns. Every output is computed whole by one task, and exactly,
  // so the split changes nothing in the results.
  const int64_t col_groups = (panels + max_panels - 1) / max_panels;
  const int64_t row_chunks = (m + kTaskRows - 1) / kTaskRows;
  // Few rows: at least ~64 KB of weights per task, so that waking a thread pays off.
  const int64_t group_bytes = std::max<int64_t>(panel_bytes * max_panels, 1);
  const int64_t grain = row_chunks > 1 ? 1 : std::max<int64_t>(1, 65536 / group_bytes);
  parallel_for(col_groups * row_chunks, grain, [&](int64_t t0, int64_t t1) {
    constexpr int kSums = std::max(kMaxBlockRows * kMaxPanels, kAmxBlockRows * kAmxPanels) * kInt8Panel;
    alignas(64) int32_t sums[kSums];
    int configured = -1;  // AMX: the rows x panels the tiles are configured for
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t cg = t / row_chunks, rc = t % row_chunks;
      const int64_t p_begin = cg * max_panels, p_count = std::min<int64_t>(max_panels, panels - p_begin);
      const int64_t r_end = std::min(m, (rc + 1) * kTaskRows);
      for (int64_t r = rc * kTaskRows; r < r_end; r += block_rows) {
        const int rows = static_cast<int>(std::min<int64_t>(block_rows, r_end - r));
        const void* xr = static_cast<const char*>(xq) + static_cast<size_t>(r * kp) * elem;
        const int8_t* w = packed + p_begin * panel_bytes;
        if (amx) {
          const int shape = rows * kAmxPanels + static_cast<int>(p_count);
          const amx::TileConfig config = amx::block_config(rows, static_cast<int>(p_count));
#if defined(TF_AMX_BUILD)
          if (amx == 3) {
            if (shape != configured) amx::Hardware::configure(config);
            amx_block_hardware(rows, static_cast<int>(p_count), xr, kp, w, panel_bytes, groups, sums);
          }
#endif
          if (amx == 4) {
            if (shape != configured) amx::Emulated::configure(config);
            amx_block_emulated(rows, static_cast<int>(p_count), xr, kp, w, panel_bytes, groups, sums);
          }
          configured = shape;
        } else {
          ks.fns[rows - 1][p_count - 1](xr, kp, w, panel_bytes, groups, sums);
        }
        for (int64_t pc = 0; pc < p_count; ++pc) {
          const int64_t col = (p_begin + pc) * kInt8Panel;
          const int cols = static_cast<int>(std::min<int64_t>(kInt8Panel, n - col));
          for (int i = 0; i < rows; ++i)
            epilogue(sums + (i * p_count + pc) * kInt8Panel, colsum + col, sx[r + i], w_scale + col,
                     bias ? bias + col : nullptr, out + (r + i) * n + col, cols, act);
        }
      }
    }
    // The tiles go back (the thread then saves no tile state when it is switched out).
#if defined(TF_AMX_BUILD)
    if (amx == 3 && configured >= 0) amx::Hardware::release();
#endif
    if (amx == 4 && configured >= 0) amx::Emulated::release();
  });
}

bool gemm_int8_amx_self_check() {
#if defined(TF_AMX_BUILD)
  // 37 x 128 x 40: two row blocks (one partial), two panels and a single one, two k steps; random values over
  // the whole int8 / u8 range. Bit-for-bit against the VNNI (or int16) kernel.
  const int64_t m = 37, k = 128, n = 40, panels = int8_panels(n), groups = int8_groups(k);
  std::vector<int8_t> w(n * k), packed(panels * groups * kGroupBytes);
  std::vector<int32_t> colsum(panels * kInt8Panel);
  std::vector<float> x(m * k), scale(n, 0.01f), tiles(m * n), vectors(m * n);
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u, static_cast<int32_t>(state >> 8); };
  for (auto& v : w) v = static_cast<int8_t>(next() % 255 - 127);
  for (auto& v : x) v = static_cast<float>(next() % 20001 - 10000) / 1000.0f;
  gemm_int8_pack_cpu(w.data(), k, 1, packed.data(), colsum.data(), n, k);
  const int vector_kernel = cpu_has_avx512_vnni() ? 2 : 1;
  gemm_int8_cpu(x.data(), packed.data(), colsum.data(), scale.data(), nullptr, tiles.data(), m, n, k, GemmAct::none, 3);
  gemm_int8_cpu(x.data(), packed.data(), colsum.data(), scale.data(), nullptr, vectors.data(), m, n, k, GemmAct::none,
                vector_kernel);
  return std::memcmp(tiles.data(), vectors.data(), tiles.size() * sizeof(float)) == 0;
#else
  return false;
#endif
}

}  // namespace TF_ISA_NS
}  // namespace tf
