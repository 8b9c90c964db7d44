#include <algorithm>

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
constexpr int kSliceRows = 0;
#elif defined(__AVX2__)
constexpr int kMaxRows = 6;  // 4 before: the AVX2 code on the AVX-512 machine, 128 rows 118 -> 130 GFLOP/s
constexpr int kBlockPanels = 1;
constexpr int64_t kPrefetchBytes = 8192;
constexpr int kSliceRows = 4 * kMaxRows;
#else
constexpr int kMaxRows = 2;
constexpr int kBlockPanels = 1;
constexpr int64_t kPrefetchBytes = 4096;
constexpr int kSliceRows = 0;
#endif
// k per slice: 8 KB of a panel, which the later row blocks then read from L1 while the stream runs on.
constexpr int64_t kSliceK = 128;

// out rows [0, R) x columns [n0, n0 + 16 P) ∩ [0, n), from P consecutive panels, over k in [k0, k1):
// sums over k in order (one FMA chain per output), so results do not depend on how panels are spread
// over threads or how k is sliced. carry [R][16 P] holds the sums between slices: read unless k0 == 0,
// written unless k1 == k (then the epilogue stores to out). Unsliced (k0 = 0, k1 = k, no carry) the
// compiler sees a plain block: with the slice arguments left to run time, AVX-512 ran 10-20 % slower.
template <int R, int P, bool Sliced>
void panel_block(const float* x, int64_t k, int64_t k0, int64_t k1, const float* panel, float* carry,
                 const float* bias, float* out, int64_t n, int64_t n0, GemmAct act) {
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
  const char* ahead = reinterpret_cast<const char*>(p) + kPrefetchBytes;
  const char* first_end = reinterpret_cast<const char*>(panel + panel_stride);
  const int64_t skip_bytes = (P - 1) * panel_stride * static_cast<int64_t>(sizeof(float));
  for (int64_t kk = k0; kk < k1; ++kk, p += kGemmPanel, ahead += kGemmPanel * sizeof(float)) {
    const char* pf = ahead < first_end ? ahead : ahead + skip_bytes;
    VecF b[P][kVecs];
    for (int c = 0; c < P; ++c) {
      __builtin_prefetch(pf + c * panel_stride * static_cast<int64_t>(sizeof(float)));
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

template <int R, int P, bool Sliced>
void panel_rows_upto(int rows, const float* x, int64_t k, int64_t k0, int64_t k1, const float* panel,
                     float* carry, const float* bias, float* out, int64_t n, int64_t n0, GemmAct act) {
  if constexpr (R > 1) {
    if (rows < R)
      return panel_rows_upto<R - 1, P, Sliced>(rows, x, k, k0, k1, panel, carry, bias, out, n, n0, act);
  }
  panel_block<R, P, Sliced>(x, k, k0, k1, panel, carry, bias, out, n, n0, act);
}

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
  parallel_for(panels, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0, step; p < p1; p += step) {
      step = std::min<int64_t>(kBlockPanels, p1 - p);  // a range's odd last panel goes alone
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
          auto run = [&](auto block) {
            block(static_cast<int>(rows), x + r * k, k, k0, k1, panel, block_carry, bias, out + r * n, n,
                  p * kGemmPanel, act);
          };
          if (step == kBlockPanels)
            sliced ? run(panel_rows_upto<kMaxRows, kBlockPanels, true>)
                   : run(panel_rows_upto<kMaxRows, kBlockPanels, false>);
          else
            sliced ? run(panel_rows_upto<kMaxRows, 1, true>) : run(panel_rows_upto<kMaxRows, 1, false>);
        }
      }
    }
  });
}

}  // namespace TF_ISA_NS
}  // namespace tf
