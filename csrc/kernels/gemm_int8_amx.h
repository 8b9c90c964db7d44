// The int8 GEMM's AMX inner kernel (Intel AMX-INT8: tdpbusd on 16 x 64-byte tiles), included by
// gemm_int8_cpu.cpp inside its per-ISA namespace. The packed weight is already in AMX's B-tile layout: a panel's
// group g (16 columns x 4 k, 64 bytes) is row g of a B tile, so 16 groups (k += 64) are one 1 KB tile read in
// place; the quantized activations (u8 rows) are A tiles read in place; the int32 sums are the same exact sums as
// the VNNI kernel's (one epilogue for both), so AMX changes no bit of the results.
//
// The kernel body is written once against a tile-operation interface with two implementations: the hardware
// (intrinsics, only in the AVX-512 copy and where the compiler has them) and a scalar emulation of the same tile
// semantics, which checks the shape rules the hardware enforces (an #UD there). The emulation runs the kernel's
// logic on any CPU (tests: gemm_int8_emulate_amx), and the hardware path is compared with the VNNI kernel on a
// random problem before it is first used (gemm_int8_amx_self_check), so a machine where it disagreed would keep
// VNNI instead of giving other results.
#pragma once
#include <cstdint>
#include <cstring>

#include "common/check.h"

// Tile numbers must be literals for clang's intrinsics (they are pasted into the instruction's text).
#if defined(__AVX512F__) && ((defined(__clang__) && __clang_major__ >= 12) || \
                             (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define TF_AMX_BUILD 1
#define TF_AMX_TARGET __attribute__((target("amx-tile,amx-int8")))
#else
#define TF_AMX_TARGET
#endif

namespace amx {

// The 64-byte tile configuration (palette 1): bytes per row and rows of each of the 8 tiles.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "the tile configuration is 64 bytes");

// Tiles of a block (up to 32 rows x 2 panels): C = sums 0..3 (row block r, panel p: 2 r + p), A = activations 4
// and 5, B = weights 6 and 7.
inline TileConfig block_config(int rows, int panels) {
  TF_CHECK(rows >= 1 && rows <= 32 && panels >= 1 && panels <= 2, "AMX block: 1-32 rows, 1-2 panels");
  TileConfig c;
  const int rows_lo = rows < 16 ? rows : 16, rows_hi = rows - rows_lo;
  for (int r = 0; r < 2; ++r) {
    const int n = r == 0 ? rows_lo : rows_hi;
    if (n == 0) continue;
    c.rows[4 + r] = static_cast<uint8_t>(n), c.colsb[4 + r] = 64;
    c.rows[2 * r] = static_cast<uint8_t>(n), c.colsb[2 * r] = 64;
    if (panels == 2) c.rows[2 * r + 1] = static_cast<uint8_t>(n), c.colsb[2 * r + 1] = 64;
  }
  c.rows[6] = 16, c.colsb[6] = 64;
  if (panels == 2) c.rows[7] = 16, c.colsb[7] = 64;
  return c;
}

// Scalar tiles with AMX's semantics (one set per thread, as the hardware's).
struct Emulated {
  struct State {
    TileConfig config;
    alignas(64) uint8_t tile[8][16 * 64];
  };
  static State& state() {
    static thread_local State s;
    return s;
  }
  static void configure(const TileConfig& c) {
    for (int t = 0; t < 8; ++t) TF_CHECK(c.rows[t] <= 16 && c.colsb[t] <= 64, "AMX emulation: tile ", t, " too large");
    state().config = c;
  }
  static void release() { state().config = TileConfig{}; }
  static void zero(int t) { std::memset(state().tile[t], 0, sizeof(state().tile[t])); }
  static void load(int t, const void* src, int64_t stride) {
    State& s = state();
    TF_CHECK(s.config.rows[t] > 0, "AMX emulation: tile ", t, " loaded but not configured");
    std::memset(s.tile[t], 0, sizeof(s.tile[t]));
    for (int r = 0; r < s.config.rows[t]; ++r)
      std::memcpy(s.tile[t] + r * 64, static_cast<const uint8_t*>(src) + r * stride, s.config.colsb[t]);
  }
  static void store(int t, void* dst, int64_t stride) {
    State& s = state();
    for (int r = 0; r < s.config.rows[t]; ++r)
      std::memcpy(static_cast<uint8_t*>(dst) + r * stride, s.tile[t] + r * 64, s.config.colsb[t]);
  }
  // tdpbusd: C[m][n] += sum_k u8 A[m][k] * s8 B[k / 4][4 n + k % 4] (int32 lanes of C).
  static void dpbusd(int c, int a, int b) {
    State& s = state();
    const TileConfig& cf = s.config;
    TF_CHECK(cf.rows[c] == cf.rows[a] && cf.colsb[c] == cf.colsb[b] && cf.rows[b] * 4 == cf.colsb[a] &&
                 cf.rows[c] > 0,
             "AMX emulation: tdpbusd shapes do not match (C ", c, ", A ", a, ", B ", b, ")");
    const int rows = cf.rows[c], cols = cf.colsb[c] / 4, depth = cf.colsb[a];
    int32_t* acc = reinterpret_cast<int32_t*>(s.tile[c]);
    for (int m = 0; m < rows; ++m)
      for (int n = 0; n < cols; ++n) {
        int32_t sum = acc[m * 16 + n];
        for (int k = 0; k < depth; ++k)
          sum += static_cast<int32_t>(s.tile[a][m * 64 + k]) *
                 static_cast<int32_t>(static_cast<int8_t>(s.tile[b][(k / 4) * 64 + 4 * n + k % 4]));
        acc[m * 16 + n] = sum;
      }
  }
};

#if defined(TF_AMX_BUILD)
// The instructions (run only where cpu_has_amx_int8(): the CPU, the OS and the process's permission).
struct Hardware {
  // ldtilecfg with the whole 64-byte object as its operand: GCC 12's _tile_loadconfig names only its first 8 bytes,
  // which lets the optimiser drop the stores of the rest (a #GP there, or tiles of the wrong shape).
  TF_AMX_TARGET static void configure(const TileConfig& c) { __asm__ volatile("ldtilecfg %0" ::"m"(c) : "memory"); }
  TF_AMX_TARGET static void release() { _tile_release(); }
};
#endif

}  // namespace amx

// The sums of `rows` (<= 32) activation rows (u8, ldx apart) against `panels` (1 or 2) weight panels of
// `groups` (a multiple of 16) groups, into sums[(row * panels + panel) * 16 + column], as the other inner kernels.
// Ops: amx::Emulated, or the hardware through the TF_TILE_* spellings below.
#define TF_AMX_BLOCK_BODY(ZERO, LOAD, DPBUSD, STORE)                                                          \
  {                                                                                                          \
    const uint8_t* x = static_cast<const uint8_t*>(xq);                                                      \
    const bool two_rows = rows > 16, two_panels = panels > 1;                                                \
    const int64_t sum_stride = panels * kInt8Panel * 4;                                                      \
    ZERO(0);                                                                                                 \
    if (two_panels) ZERO(1);                                                                                 \
    if (two_rows) ZERO(2);                                                                                   \
    if (two_rows && two_panels) ZERO(3);                                                                     \
    for (int64_t g = 0; g < groups; g += 16) {                                                               \
      LOAD(4, x + 4 * g, ldx);                                                                               \
      LOAD(6, w + g * kGroupBytes, 64);                                                                      \
      DPBUSD(0, 4, 6);                                                                                       \
      if (two_panels) {                                                                                      \
        LOAD(7, w + panel_bytes + g * kGroupBytes, 64);                                                      \
        DPBUSD(1, 4, 7);                                                                                     \
      }                                                                                                      \
      if (two_rows) {                                                                                        \
        LOAD(5, x + 16 * ldx + 4 * g, ldx);                                                                  \
        DPBUSD(2, 5, 6);                                                                                     \
        if (two_panels) DPBUSD(3, 5, 7);                                                                     \
      }                                                                                                      \
    }                                                                                                        \
    STORE(0, sums, sum_stride);                                                                              \
    if (two_panels) STORE(1, sums + kInt8Panel, sum_stride);                                                 \
    if (two_rows) STORE(2, sums + 16 * panels * kInt8Panel, sum_stride);                                     \
    if (two_rows && two_panels) STORE(3, sums + 16 * panels * kInt8Panel + kInt8Panel, sum_stride);          \
  }

#define TF_EMU_ZERO(t) amx::Emulated::zero(t)
#define TF_EMU_LOAD(t, p, s) amx::Emulated::load(t, p, s)
#define TF_EMU_DPBUSD(c, a, b) amx::Emulated::dpbusd(c, a, b)
#define TF_EMU_STORE(t, p, s) amx::Emulated::store(t, p, s)

inline void amx_block_emulated(int rows, int panels, const void* xq, int64_t ldx, const int8_t* w,
                               int64_t panel_bytes, int64_t groups, int32_t* sums)
    TF_AMX_BLOCK_BODY(TF_EMU_ZERO, TF_EMU_LOAD, TF_EMU_DPBUSD, TF_EMU_STORE)

#if defined(TF_AMX_BUILD)
#define TF_HW_ZERO(t) _tile_zero(t)
#define TF_HW_LOAD(t, p, s) _tile_loadd(t, p, s)
#define TF_HW_DPBUSD(c, a, b) _tile_dpbusd(c, a, b)
#define TF_HW_STORE(t, p, s) _tile_stored(t, p, s)

TF_AMX_TARGET inline void amx_block_hardware(int rows, int panels, const void* xq, int64_t ldx, const int8_t* w,
                                             int64_t panel_bytes, int64_t groups, int32_t* sums)
    TF_AMX_BLOCK_BODY(TF_HW_ZERO, TF_HW_LOAD, TF_HW_DPBUSD, TF_HW_STORE)
#endif
