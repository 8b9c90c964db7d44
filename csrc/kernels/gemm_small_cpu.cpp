#include <algorithm>
#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "common/vec.h"
#include "kernels/gemm_small.h"

namespace tf {
namespace TF_ISA_NS {

using vec::VecF;

namespace {

constexpr int kVecs = static_cast<int>(kGemmPanel) / VecF::size;  // vectors per panel row
// Register block: rows x panels. Accumulators + panel loads + one broadcast fit the register file
// (AVX-512: 12x2 + 2 + 1 of 32, AVX2: 6x1x2 + 2 + 1 of 16). Two panels per block on AVX-512 give each
// broadcast two FMAs and keep two weight streams in flight.
// Software prefetch distance in each panel stream, to cover DRAM latency at the loop's pace. Measured
// on AMD AVX-512 (Zen5, 8 rows, weights from DRAM): 1 KB 27 GB/s, 4 KB 39-42 GB/s, 8 KB 34-43 GB/s. The
// AVX2 code on that machine needs 8 KB (BERT-base GEMMs, 6 rows 12.0 -> 8.9 ms, 8 rows 16 -> 13 ms);
// not yet measured on Zen3.
// Row blocks take turns per slice of k, in blocks of equal size, when there are at most kSliceRows rows
// (see gemm_small_cpu): on AVX2 faster (8 rows 14.5 -> 12.6 ms), on AVX-512 slower (16 rows 13.2 ->
// 15 ms; equal blocks alone: 32 rows 23.5 -> 28 ms).
#if defined(__AVX512F__)
constexpr int kMaxRows = 12;  // 8 before: 16-64 rows 5-10 % faster, 8 rows the same
constexpr int kBlockPanels = 2;
constexpr int64_t kPrefetchBytes = 4096;
constexpr int64_t kL2PrefetchBytes = 0;
constexpr int kSliceRows = 0;
// Fewer rows, wider blocks, and no software prefetch in them (the hardware prefetcher alone keeps more lines in
// flight). AMD Zen4, BERT-base's weights from DRAM, one thread: up to 2 rows, 4 panels (1 row 21-22 -> 24-26 GB/s,
// 2 rows 22 -> 26-27); up to 8 rows, 3 panels (24 accumulators: each broadcast feeds 3 FMAs; weights hot in cache,
// 8 rows 89-96 -> 102 GFLOP/s; from DRAM 3-4 rows 21-22 -> 25-26 GB/s, 8 rows 70-74 -> 82-84 GFLOP/s).
constexpr int kFewRows = 2;
constexpr int kFewRowsPanels = 4;
constexpr int kMidRows = 8;
constexpr int kMidRowsPanels = 3;
constexpr int64_t kWideBlockPrefetchBytes = 0;
#elif defined(__AVX2__)
constexpr int kMaxRows = 6;  // 4 before: the AVX2 code on the AVX-512 machine, 128 rows 118 -> 130 GFLOP/s
constexpr int kBlockPanels = 1;
constexpr int64_t kPrefetchBytes = 8192;
// Sliced blocks: the first block of each slice also prefetches into L2 this far ahead. With one panel stream,
// prefetches into L1 alone keep too few lines in flight for one core's DRAM rate (docs/benchmarks.md); the
// AVX-512 code streams two panels per block and gains nothing from it.
constexpr int64_t kL2PrefetchBytes = 16384;
constexpr int kSliceRows = 4 * kMaxRows;
// Up to 2 rows, blocks of 4 panels: four weight streams in flight instead of one (one row, weights from DRAM, on
// AMD Zen3: 15-18 -> 19-23 GB/s; MKL 13-23 by shape).
constexpr int kFewRows = 2;
constexpr int kFewRowsPanels = 4;
constexpr int64_t kWideBlockPrefetchBytes = kPrefetchBytes;
constexpr int kMidRows = kFewRows;  // (no mid-size blocks)
constexpr int kMidRowsPanels = kBlockPanels;
#else
constexpr int kMaxRows = 2;
constexpr int kBlockPanels = 1;
constexpr int64_t kPrefetchBytes = 4096;
constexpr int64_t kL2PrefetchBytes = 0;
constexpr int kSliceRows = 0;
constexpr int kFewRows = 1;  // (blocks of kBlockPanels whatever the rows)
constexpr int kFewRowsPanels = kBlockPanels;
constexpr int64_t kWideBlockPrefetchBytes = kPrefetchBytes;
constexpr int kMidRows = kFewRows;
constexpr int kMidRowsPanels = kBlockPanels;
#endif
static_assert(kMidRows <= kMaxRows, "mid-size blocks are never sliced");
// k per slice: 8 KB of a panel, which the later row blocks then read from L1 while the stream runs on.
constexpr int64_t kSliceK = 128;

// out rows [0, R) x columns [n0, n0 + 16 P) ∩ [0, n), from P consecutive panels, over k in [k0, k1):
// sums over k in order (one FMA chain per output), so results do not depend on how panels are spread
// over threads or how k is sliced. carry [R][16 P] holds the sums between slices: read unless k0 == 0,
// written unless k1 == k (then the epilogue stores to out). Unsliced (k0 = 0, k1 = k, no carry) the
// compiler sees a plain block: with the slice arguments left to run time, AVX-512 ran 10-20 % slower.
template <int R, int P, bool Sliced, int64_t PrefetchBytes>
void panel_block(const float* x, int64_t k, int64_t k0, int64_t k1, const float* panel, float* carry,
                 const float* bias, float* out, int64_t n, int64_t n0, GemmAct act, bool first_block) {
  if constexpr (!Sliced) {
    k0 = 0;
    k1 = k;
  }
  auto carried = [&](int r, int c, int v) { return carry + (r * P + c) * kGemmPanel + v * VecF::size; };
  const int64_t panel_stride = k * kGemmPanel;
  VecF acc[R][P][kVecs];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < P; ++c)
      for (int v = 0; v < kVecs; ++v) acc[r][c][v] = !Sliced || k0 == 0 ? VecF(0.0f) : VecF::load(carried(r, c, v));
  const float* p = panel + k0 * kGemmPanel;
  // Prefetch position in the first panel; past its end the streams continue at the start of the
  // next block's panels (P panels further on), which the next call reads.
  const char* ahead = reinterpret_cast<const char*>(p) + PrefetchBytes;
  const char* first_end = reinterpret_cast<const char*>(panel + panel_stride);
  const int64_t skip_bytes = (P - 1) * panel_stride * static_cast<int64_t>(sizeof(float));
  for (int64_t kk = k0; kk < k1; ++kk, p += kGemmPanel, ahead += kGemmPanel * sizeof(float)) {
    const char* pf = ahead < first_end ? ahead : ahead + skip_bytes;
    VecF b[P][kVecs];
    for (int c = 0; c < P; ++c) {
      if (PrefetchBytes > 0) __builtin_prefetch(pf + c * panel_stride * static_cast<int64_t>(sizeof(float)));
      if (Sliced && kL2PrefetchBytes > 0 && first_block)
        __builtin_prefetch(pf + kL2PrefetchBytes + c * panel_stride * static_cast<int64_t>(sizeof(float)), 0, 2);
      for (int v = 0; v < kVecs; ++v) b[c][v] = VecF::load(p + c * panel_stride + v * VecF::size);
    }
    for (int r = 0; r < R; ++r) {
      VecF a(x[r * k + kk]);
      for (int c = 0; c < P; ++c)
        for (int v = 0; v < kVecs; ++v) acc[r][c][v] = VecF::fmadd(a, b[c][v], acc[r][c][v]);
    }
  }
  if (Sliced && k1 < k) {
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < P; ++c)
        for (int v = 0; v < kVecs; ++v) acc[r][c][v].store(carried(r, c, v));
    return;
  }
  for (int c = 0; c < P; ++c) {
    for (int v = 0; v < kVecs; ++v) {
      int64_t col = n0 + c * kGemmPanel + v * VecF::size;
      int64_t left = n - col;
      if (left <= 0) break;
      bool full = left >= VecF::size;
      int cnt = full ? VecF::size : static_cast<int>(left);
      VecF bv(0.0f);
      if (bias) bv = full ? VecF::load(bias + col) : VecF::load(bias + col, cnt);
      for (int r = 0; r < R; ++r) {
        VecF y = acc[r][c][v];
        if (bias) y = y + bv;
        if (act == GemmAct::gelu_erf) y = vec::gelu_erf(y);
        else if (act == GemmAct::gelu_tanh) y = vec::gelu_tanh(y);
        if (full) y.store(out + r * n + col);
        else y.store(out + r * n + col, cnt);
      }
    }
  }
}

// Calls f(std::integral_constant<int, R>{}) with R = rows (1 <= rows <= Max): a run-time row count becomes the
// register blocks' compile-time one.
template <int Max, typename F>
void with_rows(int rows, F&& f) {
  if constexpr (Max > 1) {
    if (rows < Max) return with_rows<Max - 1>(rows, f);
  }
  f(std::integral_constant<int, Max>{});
}

// Compile-time arguments of the block dispatches: a panel or row count, a prefetch distance in bytes.
template <int V>
using Int = std::integral_constant<int, V>;
template <int64_t V>
using Bytes = std::integral_constant<int64_t, V>;

}  // namespace

void gemm_small_pack_cpu(const float* w, int64_t stride_n, int64_t stride_k, float* packed, int64_t n, int64_t k) {
  int64_t panels = gemm_panels(n);
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dst = packed + p * k * kGemmPanel;
      int64_t cols = std::min<int64_t>(kGemmPanel, n - p * kGemmPanel);
      const float* src = w + p * kGemmPanel * stride_n;
      // Read along the weight's contiguous dimension.
      if (stride_n < stride_k) {
        for (int64_t kk = 0; kk < k; ++kk)
          for (int64_t j = 0; j < kGemmPanel; ++j)
            dst[kk * kGemmPanel + j] = j < cols ? src[j * stride_n + kk * stride_k] : 0.0f;
      } else {
        for (int64_t j = 0; j < kGemmPanel; ++j)
          for (int64_t kk = 0; kk < k; ++kk)
            dst[kk * kGemmPanel + j] = j < cols ? src[j * stride_n + kk * stride_k] : 0.0f;
      }
    }
  });
}

void gemm_small_cpu(const float* x, const float* packed, const float* bias, float* out, int64_t m, int64_t n,
                    int64_t k, GemmAct act) {
  if (m == 0 || n == 0) return;
  int64_t panels = gemm_panels(n);
  // At least ~64 KB of weights per task, so waking a thread pays off.
  int64_t panel_bytes = std::max<int64_t>(k, 1) * kGemmPanel * 4;
  int64_t grain = std::max<int64_t>(1, 65536 / panel_bytes);
  const int64_t block_panels = m <= kFewRows ? kFewRowsPanels : m <= kMidRows ? kMidRowsPanels : kBlockPanels;
  parallel_for(panels, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0, step; p < p1; p += step) {
      // a range's last panels, fewer than a block, go in blocks of kBlockPanels and alone
      step = p1 - p >= block_panels ? block_panels : std::min<int64_t>(kBlockPanels, p1 - p);
      const float* panel = packed + p * k * kGemmPanel;
      // All row blocks of these panels in turn: the panels are read from DRAM once, then from cache.
      // With a few blocks, they take turns per k slice, so that the later blocks' FMAs run while the
      // stream from DRAM goes on, not after it; and they are of equal size (8 rows on AVX2: 4 + 4, not
      // 6 + 2: a block of few rows has too few independent FMA chains to hide the FMA latency).
      alignas(64) float carry[std::max(kSliceRows, 1) * kBlockPanels * kGemmPanel];
      const bool sliced = m > kMaxRows && m <= kSliceRows;
      const int64_t slice = sliced ? kSliceK : k;
      for (int64_t k0 = 0; k0 < k; k0 += slice) {
        const int64_t k1 = std::min(k, k0 + slice);
        for (int64_t r = 0, rows, blocks = (m + kMaxRows - 1) / kMaxRows; r < m; r += rows, --blocks) {
          rows = sliced ? (m - r + blocks - 1) / blocks : std::min<int64_t>(kMaxRows, m - r);
          // Unsliced blocks take no carry (and carry has room for kSliceRows rows only).
          float* block_carry = sliced ? carry + r * kBlockPanels * kGemmPanel : carry;
          // max_rows: the largest block the call can get (the register blocks instantiated for it)
          auto run = [&](auto panels, auto sliced_k, auto max_rows, auto prefetch_bytes) {
            with_rows<decltype(max_rows)::value>(static_cast<int>(rows), [&](auto block_rows) {
              panel_block<decltype(block_rows)::value, decltype(panels)::value, decltype(sliced_k)::value,
                          decltype(prefetch_bytes)::value>(x + r * k, k, k0, k1, panel, block_carry, bias,
                                                           out + r * n, n, p * kGemmPanel, act, r == 0);
            });
          };
          using Wide = Bytes<kWideBlockPrefetchBytes>;
          using Prefetch = Bytes<kPrefetchBytes>;
          // (few and mid-size row counts: never sliced)
          if (kFewRowsPanels != kBlockPanels && step == kFewRowsPanels && m <= kFewRows)
            run(Int<kFewRowsPanels>{}, std::false_type{}, Int<kFewRows>{}, Wide{});
          else if (kMidRowsPanels != kBlockPanels && step == kMidRowsPanels && m <= kMidRows)
            run(Int<kMidRowsPanels>{}, std::false_type{}, Int<kMidRows>{}, Wide{});
          else if (step == kBlockPanels)
            sliced ? run(Int<kBlockPanels>{}, std::true_type{}, Int<kMaxRows>{}, Prefetch{})
                   : run(Int<kBlockPanels>{}, std::false_type{}, Int<kMaxRows>{}, Prefetch{});
          else
            sliced ? run(Int<1>{}, std::true_type{}, Int<kMaxRows>{}, Prefetch{})
                   : run(Int<1>{}, std::false_type{}, Int<kMaxRows>{}, Prefetch{});
        }
      }
    }
  });
}


// ---- bfloat16 weights ----
namespace {

// One vector of packed pairs (VecF::size columns x 2 k, as 32-bit lanes (w[k] low, w[k + 1] high)) split into
// the even k's weights and the odd k's as fp32: a shift and a mask, exact.
inline void load_pairs(const uint16_t* p, VecF& even, VecF& odd) {
#if defined(__AVX512F__)
  __m512i w = _mm512_loadu_si512(p);
  even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
#elif defined(__AVX2__)
  __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  odd = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
#else
  even = VecF(bf16_to_float(bf16{p[0]}));
  odd = VecF(bf16_to_float(bf16{p[1]}));
#endif
}

// Up to kBfFewRows rows, blocks of kBfFewRowsPanels panels streamed by the hardware prefetcher alone, as the fp32
// kernel's few-rows blocks (AMD Zen4, bf16 weights from DRAM, AVX-512-bf16: 1 row 20-21 -> 23.5-25 GB/s, 2 rows
// 19-20 -> 23-24).
#if defined(__AVX512F__)
constexpr int kBfMaxRows = 8;
constexpr int kBfBlockPanels = 2;
constexpr int kBfFewRows = 2;
constexpr int kBfFewRowsPanels = 4;
// Up to 8 rows with the bf16 dot product: blocks of 3 panels (24 accumulators), without software prefetch either
// (3-6 rows 18-19 -> 20-22 GB/s, 8 rows 16-17.5 -> 17.3-17.8; BERT-base bf16 1x8 10.8-11.0 -> 10.1 ms).
constexpr int kBfMidRows = 8;
constexpr int kBfMidRowsPanels = 3;
#elif defined(__AVX2__)
constexpr int kBfMaxRows = 4;
constexpr int kBfBlockPanels = 1;
constexpr int kBfFewRows = 1;  // (blocks of kBfBlockPanels whatever the rows)
constexpr int kBfFewRowsPanels = kBfBlockPanels;
constexpr int kBfMidRows = kBfFewRows;
constexpr int kBfMidRowsPanels = kBfBlockPanels;
#else
constexpr int kBfMaxRows = 2;
constexpr int kBfBlockPanels = 1;
constexpr int kBfFewRows = 1;
constexpr int kBfFewRowsPanels = kBfBlockPanels;
constexpr int kBfMidRows = kBfFewRows;
constexpr int kBfMidRowsPanels = kBfBlockPanels;
#endif
constexpr int64_t kPairWidth = 2 * kGemmPanel;  // uint16 per packed k pair of a panel

// A bf16 block's sums acc[R][P][kVecs] (columns from n0, cut at n) plus bias32, activated and rounded to bf16.
template <int R, int P>
void bf16_epilogue(const VecF (&acc)[R][P][kVecs], const float* bias32, uint16_t* out, int64_t n, int64_t n0,
                   GemmAct act) {
  for (int c = 0; c < P; ++c) {
    for (int v = 0; v < kVecs; ++v) {
      int64_t col = n0 + c * kGemmPanel + v * VecF::size;
      int64_t left = n - col;
      if (left <= 0) break;
      int cnt = left >= VecF::size ? VecF::size : static_cast<int>(left);
      VecF bv = bias32 ? VecF::load(bias32 + col, cnt) : VecF(0.0f);
      for (int r = 0; r < R; ++r) {
        VecF y = acc[r][c][v] + bv;
        if (act == GemmAct::gelu_erf) y = vec::gelu_erf(y);
        else if (act == GemmAct::gelu_tanh) y = vec::gelu_tanh(y);
        vec::store(y, reinterpret_cast<bf16*>(out + r * n + col), cnt);
      }
    }
  }
}

// out rows [0, R) x the columns of P panels from n0, over every k pair; x32 [R, 2 * pairs] in fp32 (the odd
// k's padding zero), bias32 [n] fp32 or nullptr. One FMA chain per output in k order, as the fp32 kernel.
template <int R, int P, int64_t PrefetchBytes>
void bf16_panel_block(const float* x32, int64_t pairs, const uint16_t* panel, const float* bias32, uint16_t* out,
                      int64_t n, int64_t n0, GemmAct act) {
  const int64_t panel_stride = pairs * kPairWidth, x_stride = 2 * pairs;
  VecF acc[R][P][kVecs];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < P; ++c)
      for (int v = 0; v < kVecs; ++v) acc[r][c][v] = VecF(0.0f);
  const uint16_t* p = panel;
  for (int64_t kk = 0; kk < pairs; ++kk, p += kPairWidth) {
    VecF even[P][kVecs], odd[P][kVecs];
    for (int c = 0; c < P; ++c) {
      if (PrefetchBytes > 0) __builtin_prefetch(p + c * panel_stride + PrefetchBytes / 2);
      for (int v = 0; v < kVecs; ++v) load_pairs(p + c * panel_stride + v * 2 * VecF::size, even[c][v], odd[c][v]);
    }
    for (int r = 0; r < R; ++r) {
      VecF a0(x32[r * x_stride + 2 * kk]), a1(x32[r * x_stride + 2 * kk + 1]);
      for (int c = 0; c < P; ++c)
        for (int v = 0; v < kVecs; ++v)
          acc[r][c][v] = VecF::fmadd(a1, odd[c][v], VecF::fmadd(a0, even[c][v], acc[r][c][v]));
    }
  }
  bf16_epilogue<R, P>(acc, bias32, out, n, n0, act);
}

#if defined(TF_BF16_HW)
// The same block with AVX-512-bf16's dot product: one instruction per pair of k (two exact bf16 products added
// to the fp32 sum) instead of two FMAs and the split; x16 [R, 2 * pairs] bf16 pairs (odd k padded with zero).
// Called only where the CPU has the instructions (use_avx512_bf16).
template <int R, int P, int64_t PrefetchBytes>
void bf16_dot_block(const uint16_t* x16, int64_t pairs, const uint16_t* panel, const float* bias32, uint16_t* out,
                    int64_t n, int64_t n0, GemmAct act) {
  static_assert(kVecs == 1, "one 16-lane vector per panel row");
  const int64_t panel_stride = pairs * kPairWidth, x_stride = 2 * pairs;
  VecF acc[R][P][kVecs];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < P; ++c) acc[r][c][0] = VecF(0.0f);
  const uint16_t* p = panel;
  for (int64_t kk = 0; kk < pairs; ++kk, p += kPairWidth) {
    __m512i w[P];
    for (int c = 0; c < P; ++c) {
      if (PrefetchBytes > 0) __builtin_prefetch(p + c * panel_stride + PrefetchBytes / 2);
      w[c] = _mm512_loadu_si512(p + c * panel_stride);
    }
    for (int r = 0; r < R; ++r) {
      int32_t pair;
      std::memcpy(&pair, x16 + r * x_stride + 2 * kk, sizeof pair);
      __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
      for (int c = 0; c < P; ++c) acc[r][c][0] = _mm512_dpbf16_ps(acc[r][c][0].v, a, (__m512bh)w[c]);
    }
  }
  bf16_epilogue<R, P>(acc, bias32, out, n, n0, act);
}
#endif

}  // namespace

void gemm_small_pack_bf16_cpu(const uint16_t* w, int64_t stride_n, int64_t stride_k, uint16_t* packed, int64_t n,
                              int64_t k) {
  const int64_t pairs = (k + 1) / 2;
  parallel_for(gemm_panels(n), 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint16_t* dst = packed + p * pairs * kPairWidth;
      int64_t cols = std::min<int64_t>(kGemmPanel, n - p * kGemmPanel);
      const uint16_t* src = w + p * kGemmPanel * stride_n;
      for (int64_t kk = 0; kk < 2 * pairs; ++kk)
        for (int64_t j = 0; j < kGemmPanel; ++j)
          dst[(kk / 2) * kPairWidth + 2 * j + (kk & 1)] =
              j < cols && kk < k ? src[j * stride_n + kk * stride_k] : static_cast<uint16_t>(0);
    }
  });
}

void gemm_small_bf16_cpu(const uint16_t* x, const uint16_t* packed, const uint16_t* bias, uint16_t* out, int64_t m,
                         int64_t n, int64_t k, GemmAct act) {
  if (m == 0 || n == 0) return;
  const int64_t pairs = (k + 1) / 2;
#if defined(TF_BF16_HW)
  const bool dot = use_avx512_bf16();
#else
  const bool dot = false;
#endif
  // The few rows once (each is read by every panel), padded to whole pairs with zeros: bf16 pairs for the dot
  // product, fp32 otherwise.
  std::vector<uint16_t> x16(dot ? static_cast<size_t>(m * 2 * pairs) : 0, 0);
  std::vector<float> x32(dot ? 0 : static_cast<size_t>(m * 2 * pairs), 0.0f);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < k; ++j) {
      if (dot) x16[r * 2 * pairs + j] = x[r * k + j];
      else x32[r * 2 * pairs + j] = bf16_to_float(bf16{x[r * k + j]});
    }
  std::vector<float> bias32;
  if (bias) {
    bias32.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) bias32[j] = bf16_to_float(bf16{bias[j]});
  }
  const float* b32 = bias ? bias32.data() : nullptr;
  const int64_t panel_elems = pairs * kPairWidth;
  int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(panel_elems * 2, 1));
  const bool few = m <= kBfFewRows;
  // (mid-size blocks with the dot product only: the split pairs of the other path take 2 registers per panel)
  const bool mid = !few && dot && m <= kBfMidRows;
  const int64_t block_panels = few ? kBfFewRowsPanels : mid ? kBfMidRowsPanels : kBfBlockPanels;
  parallel_for(gemm_panels(n), grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0, step; p < p1; p += step) {
      // a range's last panels, fewer than a block, go in blocks of kBfBlockPanels and alone
      step = p1 - p >= block_panels ? block_panels : std::min<int64_t>(kBfBlockPanels, p1 - p);
      const uint16_t* panel = packed + p * panel_elems;
      for (int64_t r = 0; r < m; r += kBfMaxRows) {
        int rows = static_cast<int>(std::min<int64_t>(kBfMaxRows, m - r));
        auto run = [&](auto panels, auto max_rows, auto prefetch_bytes) {
          with_rows<decltype(max_rows)::value>(rows, [&](auto block_rows) {
            constexpr int R = decltype(block_rows)::value, P = decltype(panels)::value;
            constexpr int64_t PF = decltype(prefetch_bytes)::value;
#if defined(TF_BF16_HW)
            if (dot)
              return bf16_dot_block<R, P, PF>(x16.data() + r * 2 * pairs, pairs, panel, b32, out + r * n, n,
                                              p * kGemmPanel, act);
#endif
            bf16_panel_block<R, P, PF>(x32.data() + r * 2 * pairs, pairs, panel, b32, out + r * n, n,
                                       p * kGemmPanel, act);
          });
        };
        if (kBfFewRowsPanels != kBfBlockPanels && few && step == kBfFewRowsPanels)
          run(Int<kBfFewRowsPanels>{}, Int<kBfFewRows>{}, Bytes<0>{});
        else if (kBfMidRowsPanels != kBfBlockPanels && mid && step == kBfMidRowsPanels)
          run(Int<kBfMidRowsPanels>{}, Int<kBfMidRows>{}, Bytes<0>{});
        else if (step == kBfBlockPanels)
          run(Int<kBfBlockPanels>{}, Int<kBfMaxRows>{}, Bytes<kPrefetchBytes>{});
        else
          run(Int<1>{}, Int<kBfMaxRows>{}, Bytes<kPrefetchBytes>{});
      }
    }
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
