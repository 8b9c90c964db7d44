// Self-test of the CPU kernel fronts (kernels/*.h) and the one-call layers (layers/*.h) on every ISA this
// build and CPU have: random shapes, NaN and +-inf among the inputs, results checked against plain double
// references. The kernels that take bfloat16 run in both dtypes (bf16 cases: inputs rounded to bf16, the reference
// computed on those, tolerances of bf16 outputs), on the AVX-512 copy also with the avx512_bf16 instructions
// where the CPU has them. Built with ASan/UBSan (`make sanitize-kernels`) and, cross-compiled, run under
// qemu-user for aarch64 (`make cross-aarch64`). Usage: kernel_check [cases per front] [seed]; exit status 1 on a
// mismatch.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/bfloat16.h"
#include "common/parallel.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_small.h"
#include "kernels/layer_norm.h"
#include "kernels/relative_attention.h"
#include "kernels/softmax.h"
#include "layers/decoder_layer.h"
#include "layers/encoder_layer.h"

namespace {

using tf::DType;
using tf::TensorView;

std::mt19937_64 rng;
int failures = 0, failures_here = 0;
std::string where;  // the front and ISA being checked, for messages

int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

// Normal values; with `specials`, a few NaN, +inf, -inf and large ones.
std::vector<float> randn(int64_t n, double scale = 1.0, bool specials = false) {
  std::normal_distribution<float> normal(0.0f, static_cast<float>(scale));
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    x = normal(rng);
    if (specials && chance(0.03)) {
      const float special[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 100.0f, -100.0f};
      x = special[pick(0, 6)];
    }
  }
  return v;
}

// The dtype of the current case's float tensors. For bfloat16 every float vector a view is made of is rounded
// to bf16 in place (so that the references read what the kernel reads) and copied to a bf16 shadow, which the
// view points into; read_back() brings a kernel's bf16 output back into its float vector.
DType dtype = DType::f32;
std::map<const float*, std::vector<tf::bf16>> shadows;

bool bf16_case() { return dtype == DType::bf16; }

// A view of v from element `offset` with the given shape and strides (elements), in the case's dtype.
TensorView strided(std::vector<float>& v, int64_t offset, std::vector<int64_t> shape, std::vector<int64_t> strides) {
  if (!bf16_case()) return TensorView{v.data() + offset, DType::f32, shape, strides};
  auto& shadow = shadows[v.data()];
  if (shadow.size() != v.size()) {
    shadow.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      shadow[i] = tf::float_to_bf16(v[i]);
      v[i] = tf::bf16_to_float(shadow[i]);
    }
  }
  return TensorView{shadow.data() + offset, DType::bf16, shape, strides};
}

TensorView view(std::vector<float>& v, std::vector<int64_t> shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d];
  }
  return strided(v, 0, shape, strides);
}

void read_back(std::vector<float>& out) {
  if (!bf16_case()) return;
  const auto& shadow = shadows.at(out.data());
  for (size_t i = 0; i < out.size(); ++i) out[i] = tf::bf16_to_float(shadow[i]);
}

// Tolerances: float32's, or those of a result rounded to bfloat16 (2^-8 relative), with `atol_bf16` for the
// absolute part (what fp32 work rounded through bf16 operands can add).
double atol_for(double fp32, double bf16) { return bf16_case() ? bf16 : fp32; }
double rtol_for(double fp32) { return bf16_case() ? 8e-3 : fp32; }

TensorView view(std::vector<int64_t>& v) { return TensorView{v.data(), DType::i64, {int64_t(v.size())}, {1}}; }

bool finite(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// Finite and small enough that float sums of products cannot overflow.
bool tame(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::fabs(p[i]) < 1e18f)) return false;
  return true;
}

// got equals want within atol + rtol |want| (NaN where want is NaN).
void expect_close(const char* what, double got, double want, double atol, double rtol, int64_t index) {
  bool ok = std::isnan(want) ? std::isnan(got) : std::fabs(got - want) <= atol + rtol * std::fabs(want);
  if (!ok && std::isinf(want) && got == want) ok = true;
  if (!ok && (++failures, failures_here++ < 3))
    std::printf("MISMATCH %s %s [%lld]: got %.9g, want %.9g\n", where.c_str(), what, (long long)index, got, want);
}

double gelu_ref(double x, tf::GeluKind kind) {
  if (kind == tf::GeluKind::erf) return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

void check_gelu() {
  int64_t rows = pick(1, 5), cols = pick(1, 70);
  auto kind = chance(0.5) ? tf::GeluKind::erf : tf::GeluKind::tanh;
  auto x = randn(rows * cols, 3.0, true), bias = randn(cols), out = std::vector<float>(x.size());
  bool with_bias = chance(0.5);
  TensorView b = view(bias, {cols});
  tf::gelu(view(x, {rows, cols}), with_bias ? &b : nullptr, view(out, {rows, cols}), kind);
  read_back(out);
  for (int64_t i = 0; i < rows * cols; ++i) {
    double in = double(x[i]) + (with_bias ? bias[i % cols] : 0.0f);
    if (std::isfinite(in))
      expect_close("gelu", out[i], gelu_ref(float(in), kind), atol_for(2e-6, 1e-6), rtol_for(2e-5), i);
    else if (std::isnan(in)) expect_close("gelu(NaN)", out[i], NAN, 0, 0, i);
  }
}

void check_layer_norm() {
  int64_t rows = pick(1, 6), cols = pick(1, 80);
  auto x = randn(rows * cols, 2.0, true), res = randn(rows * cols), xb = randn(cols), w = randn(cols), b = randn(cols);
  std::vector<float> out(x.size());
  bool use_res = chance(0.5), use_xb = chance(0.5), use_w = chance(0.7), use_b = chance(0.7);
  TensorView rv = view(res, {rows, cols}), xbv = view(xb, {cols}), wv = view(w, {cols}), bv = view(b, {cols});
  double eps = 1e-5;
  // bf16 x may take float32 weight and bias
  bool fp32_params = bf16_case() && chance(0.3);
  if (fp32_params) {
    wv = TensorView{w.data(), DType::f32, {cols}, {1}};
    bv = TensorView{b.data(), DType::f32, {cols}, {1}};
  }
  tf::add_layer_norm(view(x, {rows, cols}), use_res ? &rv : nullptr, use_xb ? &xbv : nullptr, use_w ? &wv : nullptr,
                     use_b ? &bv : nullptr, view(out, {rows, cols}), eps);
  read_back(out);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> v(cols);
    for (int64_t c = 0; c < cols; ++c)
      v[c] = double(x[r * cols + c]) + (use_res ? res[r * cols + c] : 0.0) + (use_xb ? xb[c] : 0.0);
    if (!finite(&x[r * cols], cols)) {  // torch: a NaN or infinite input makes the whole row NaN
      for (int64_t c = 0; c < cols; ++c) expect_close("layer_norm(non-finite row)", out[r * cols + c], NAN, 0, 0, c);
      continue;
    }
    double mean = 0, var = 0;
    for (double e : v) mean += e;
    mean /= cols;
    for (double e : v) var += (e - mean) * (e - mean);
    var /= cols;
    bool huge = false;  // beyond 1e18 the float sum of squares overflows (in torch too): not comparable
    for (double e : v) huge |= std::fabs(e) > 1e18;
    for (int64_t c = 0; c < cols && !huge; ++c) {
      double want = (v[c] - mean) / std::sqrt(var + eps) * (use_w ? w[c] : 1.0) + (use_b ? b[c] : 0.0);
      expect_close("layer_norm", out[r * cols + c], want, atol_for(5e-5, 1e-3), rtol_for(1e-4), r * cols + c);
    }
  }
}

// softmax over allowed keys of in*scale + mask; rows with no allowed key are zeros; rows whose allowed values
// hold a NaN or are all -inf are NaN (as torch.softmax).
void softmax_ref(const double* in, const bool* allowed, int64_t n, double* out) {
  double m = -INFINITY;
  bool any = false, nan = false;
  for (int64_t j = 0; j < n; ++j)
    if (allowed[j]) {
      any = true;
      nan |= std::isnan(in[j]);
      m = std::max(m, in[j]);
    }
  for (int64_t j = 0; j < n; ++j) out[j] = 0.0;
  if (!any) return;
  if (nan || m == -INFINITY || m == INFINITY) {
    for (int64_t j = 0; j < n; ++j)
      if (allowed[j]) out[j] = NAN;
    return;
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j)
    if (allowed[j]) sum += out[j] = std::exp(in[j] - m);
  for (int64_t j = 0; j < n; ++j) out[j] /= sum;
}

void check_softmax() {
  int64_t batch = pick(1, 3), queries = pick(1, 4), keys = pick(1, 40);
  int64_t rows = batch * queries;
  auto scores = randn(rows * keys, 3.0, true), mask = randn(rows * keys), out = std::vector<float>(scores.size());
  for (auto& m : mask)
    if (chance(0.2)) m = -INFINITY;
  bool use_mask = chance(0.5), causal = chance(0.4), use_lengths = chance(0.4);
  std::vector<int64_t> lengths(batch);
  for (auto& l : lengths) l = pick(0, keys);
  TensorView mv = view(mask, {batch, queries, keys}), lv = view(lengths);
  float scale = chance(0.5) ? 1.0f : 0.37f;
  tf::masked_softmax(view(scores, {batch, queries, keys}), use_mask ? &mv : nullptr, use_lengths ? &lv : nullptr,
                     view(out, {batch, queries, keys}), scale, causal);
  read_back(out);
  std::vector<double> in(keys), want(keys);
  std::vector<char> allowed(keys);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t valid = use_lengths ? lengths[r / queries] : keys;
    for (int64_t j = 0; j < keys; ++j) {
      in[j] = double(float(scores[r * keys + j] * scale)) + (use_mask ? mask[r * keys + j] : 0.0);
      allowed[j] = j < valid && (!causal || j <= r % queries + (valid - queries));
    }
    softmax_ref(in.data(), reinterpret_cast<const bool*>(allowed.data()), keys, want.data());
    for (int64_t j = 0; j < keys; ++j)
      expect_close("masked_softmax", out[r * keys + j], want[j], atol_for(1e-6, 1e-5), rtol_for(1e-4), r * keys + j);
  }
}

// Online log-sum-exp over 1-3 column chunks, each copying its first `keep` columns out, against the log-sum-exp
// of the whole row in double (NaN where the row holds one; -inf where it is all -inf).
void check_logsumexp() {
  int64_t rows = pick(1, 5), chunks = pick(1, 3);
  std::vector<float> running_max(rows, -INFINITY), running_sum(rows, 0.0f);
  // Every vector lives to the end of the case: the bf16 shadows are found by address, which a freed vector's
  // successor could reuse.
  std::vector<std::vector<float>> parts, outs;
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t cols = pick(0, 70), keep = pick(0, cols);
    parts.push_back(randn(rows * cols, 4.0, true));
    auto& logits = parts.back();
    for (auto& x : logits)
      if (chance(0.1)) x = -INFINITY;
    outs.emplace_back((rows + 1) * (keep + 2), 7.0f);  // rows of keep + 2: a strided view
    auto& out = outs.back();
    TensorView ov = strided(out, 1, {rows, keep}, {keep + 2, 1});
    const bool copy = chance(0.8);
    tf::logsumexp_update(view(logits, {rows, cols}), copy ? &ov : nullptr,
                         TensorView{running_max.data(), DType::f32, {rows}, {1}},
                         TensorView{running_sum.data(), DType::f32, {rows}, {1}});
    read_back(out);
    for (int64_t r = 0; r < rows && copy; ++r)
      for (int64_t j = 0; j < keep; ++j)
        expect_close("logsumexp copy", out[1 + r * (keep + 2) + j], logits[r * cols + j], 0, 0, j);
  }
  for (int64_t r = 0; r < rows; ++r) {
    double peak = -INFINITY;
    bool nan = false;
    for (auto& logits : parts) {
      int64_t cols = static_cast<int64_t>(logits.size()) / rows;
      for (int64_t j = 0; j < cols; ++j) {
        nan |= std::isnan(logits[r * cols + j]);
        peak = std::max(peak, double(logits[r * cols + j]));
      }
    }
    double sum = 0.0;
    for (auto& logits : parts) {
      int64_t cols = static_cast<int64_t>(logits.size()) / rows;
      for (int64_t j = 0; j < cols; ++j) sum += std::exp(double(logits[r * cols + j]) - peak);
    }
    double want = nan ? NAN : peak == -INFINITY ? -INFINITY : peak + std::log(sum);
    expect_close("logsumexp", double(running_max[r]) + std::log(double(running_sum[r])), want,
                 atol_for(1e-5, 1e-5), 1e-5, r);
  }
}

// One (query row, allowed keys) of attention in double; `scores` are the q.k products * scale + mask.
void attend_ref(std::vector<double>& scores, const std::vector<char>& allowed, const float* v, int64_t v_stride,
                int64_t dim, double* out) {
  int64_t n = static_cast<int64_t>(scores.size());
  std::vector<double> p(n);
  bool any = false, all_neg_inf = true;
  for (int64_t j = 0; j < n; ++j)
    if (allowed[j]) any = true, all_neg_inf &= scores[j] == -INFINITY;
  for (int64_t d = 0; d < dim; ++d) out[d] = 0.0;
  if (!any || all_neg_inf) return;  // zeros, as scaled_dot_product_attention gives
  softmax_ref(scores.data(), reinterpret_cast<const bool*>(allowed.data()), n, p.data());
  for (int64_t j = 0; j < n; ++j)
    if (allowed[j])
      for (int64_t d = 0; d < dim; ++d) out[d] += p[j] * v[j * v_stride + d];
}

void check_attention_padded() {
  // (14 queries and more take the tiled path, fewer the dot products)
  int64_t batch = pick(1, 3), heads = pick(1, 3), sq = chance(0.3) ? pick(14, 24) : pick(1, 6), sk = pick(1, 40),
          dim = pick(1, 40);
  bool specials = chance(0.3);
  auto q = randn(batch * heads * sq * dim, 1.0, specials), k = randn(batch * heads * sk * dim, 1.0, specials),
       v = randn(batch * heads * sk * dim), mask = randn(batch * sq * sk), out = std::vector<float>(q.size());
  for (auto& m : mask)
    if (chance(0.2)) m = -INFINITY;
  bool use_mask = chance(0.5), causal = chance(0.4), use_lengths = chance(0.4);
  std::vector<int64_t> lengths(batch);
  for (auto& l : lengths) l = pick(0, sk);
  // The mask broadcasts over heads (stride 0), as the models pass it.
  TensorView mv = strided(mask, 0, {batch, heads, sq, sk}, {sq * sk, 0, sk, 1}), lv = view(lengths);
  double scale = 1.0 / std::sqrt(double(dim));
  tf::attention(view(q, {batch, heads, sq, dim}), view(k, {batch, heads, sk, dim}), view(v, {batch, heads, sk, dim}),
                view(out, {batch, heads, sq, dim}), use_mask ? &mv : nullptr, use_lengths ? &lv : nullptr, nullptr,
                scale, causal);
  read_back(out);
  std::vector<double> scores(sk), want(dim);
  std::vector<char> allowed(sk);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        int64_t valid = use_lengths ? lengths[b] : sk;
        const float* qi = &q[((b * heads + h) * sq + i) * dim];
        const float* kb = &k[(b * heads + h) * sk * dim];
        // Non-finite q or k anywhere in the product may make the row NaN (as in torch): then only that the
        // kernel runs cleanly is checked (sanitizers).
        bool clean = tame(qi, dim) && tame(kb, sk * dim);
        for (int64_t j = 0; j < sk; ++j) {
          allowed[j] = j < valid && (!causal || j <= i + (valid - sq));
          double dot = 0;
          for (int64_t d = 0; d < dim; ++d) dot += double(qi[d]) * kb[j * dim + d];
          scores[j] = dot * scale + (use_mask ? mask[(b * sq + i) * sk + j] : 0.0);
        }
        if (!clean) continue;  // non-finite q or k: only that it runs cleanly (sanitizers) is checked
        attend_ref(scores, allowed, &v[(b * heads + h) * sk * dim], dim, dim, want.data());
        for (int64_t d = 0; d < dim; ++d)
          expect_close("attention", out[((b * heads + h) * sq + i) * dim + d], want[d], atol_for(2e-5, 2e-2),
                       rtol_for(1e-4), d);
      }
}

// Quantized KV cache: int8 keys / values (quantize_kv_row of random rows, some all zero) with per-row scales,
// strided as the cache's [batch, 2, heads, capacity, dim] halves; float32 only.
void check_attention_int8_kv() {
  int64_t batch = pick(0, 3), heads = pick(1, 3), sq = pick(1, 6), capacity = pick(1, 40), dim = pick(1, 40);
  int64_t sk = pick(0, capacity);
  auto q = randn(batch * heads * sq * dim), mask = randn(batch * sk), out = std::vector<float>(q.size());
  auto rows = randn(batch * 2 * heads * capacity * dim, 2.0);
  std::vector<int8_t> kv(rows.size());
  std::vector<float> scales(batch * 2 * heads * capacity);
  for (size_t r = 0; r < scales.size(); ++r) {
    if (chance(0.05)) std::fill(rows.begin() + r * dim, rows.begin() + (r + 1) * dim, 0.0f);
    scales[r] = tf::quantize_kv_row(&rows[r * dim], dim, &kv[r * dim]);
  }
  for (auto& m : mask)
    if (chance(0.2)) m = -INFINITY;
  bool use_mask = chance(0.5), causal = chance(0.4);
  const int64_t hs = capacity * dim, part = heads * hs;
  // (an empty batch: no data to offset into)
  auto cache = [&](int which) {
    return TensorView{batch ? kv.data() + which * part : nullptr, DType::i8, {batch, heads, sk, dim},
                      {2 * part, hs, dim, 1}};
  };
  auto scale_of = [&](int which) {
    return TensorView{batch ? scales.data() + which * heads * capacity : nullptr, DType::f32, {batch, heads, sk},
                      {2 * heads * capacity, capacity, 1}};
  };
  TensorView mv{mask.data(), DType::f32, {batch, heads, sq, sk}, {sk, 0, 0, 1}};
  double scale = 1.0 / std::sqrt(double(dim));
  auto queries = [&](std::vector<float>& x) {  // q and out: [batch, heads, sq, dim], contiguous
    return TensorView{x.data(), DType::f32, {batch, heads, sq, dim}, {heads * sq * dim, sq * dim, dim, 1}};
  };
  tf::attention_int8_kv(queries(q), cache(0), scale_of(0), cache(1), scale_of(1), queries(out),
                        use_mask ? &mv : nullptr, nullptr, scale, causal);
  std::vector<double> scores(sk), want(dim);
  std::vector<char> allowed(sk);
  std::vector<float> values(sk * dim);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      auto row = [&](int which, int64_t j) { return ((b * 2 + which) * heads + h) * capacity + j; };
      for (int64_t j = 0; j < sk; ++j)
        for (int64_t d = 0; d < dim; ++d) values[j * dim + d] = kv[row(1, j) * dim + d] * scales[row(1, j)];
      for (int64_t i = 0; i < sq; ++i) {
        const float* qi = &q[((b * heads + h) * sq + i) * dim];
        for (int64_t j = 0; j < sk; ++j) {
          allowed[j] = !causal || j <= i + (sk - sq);
          double dot = 0;
          for (int64_t d = 0; d < dim; ++d) dot += double(qi[d]) * kv[row(0, j) * dim + d] * scales[row(0, j)];
          scores[j] = dot * scale + (use_mask ? mask[b * sk + j] : 0.0);
        }
        attend_ref(scores, allowed, values.data(), dim, dim, want.data());
        for (int64_t d = 0; d < dim; ++d)
          expect_close("attention_int8_kv", out[((b * heads + h) * sq + i) * dim + d], want[d], 2e-5, 1e-4, d);
      }
    }
}

void check_attention_packed() {
  int64_t heads = pick(1, 3), dim = pick(1, 33), batch = pick(1, 3);
  std::vector<int64_t> cu{0};
  for (int64_t b = 0; b < batch; ++b) cu.push_back(cu.back() + pick(0, chance(0.3) ? 24 : 9));
  int64_t tokens = cu.back() + pick(0, 2), width = heads * dim;
  // (one row more than needed: views at offsets into an empty buffer would offset a null pointer)
  auto qkv = randn((tokens + 1) * 3 * width, 1.0, chance(0.3)), out = std::vector<float>(tokens * width);
  auto part = [&](int p) {  // q, k, v as strided views of one fused projection
    return strided(qkv, p * width, {tokens, heads, dim}, {3 * width, dim, 1});
  };
  bool causal = chance(0.5);
  double scale = 0.3;
  TensorView cuv = view(cu);
  tf::attention(part(0), part(1), part(2), view(out, {tokens, heads, dim}), nullptr, nullptr, &cuv, scale, causal);
  read_back(out);
  std::vector<double> want(dim);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t start = cu[b], len = cu[b + 1] - cu[b];
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < len; ++i) {
        const float* qi = &qkv[(start + i) * 3 * width + h * dim];
        bool clean = tame(qi, dim);
        std::vector<double> scores(len);
        std::vector<char> allowed(len);
        for (int64_t j = 0; j < len; ++j) {
          const float* kj = &qkv[(start + j) * 3 * width + width + h * dim];
          allowed[j] = !causal || j <= i;
          double dot = 0;
          for (int64_t d = 0; d < dim; ++d) dot += double(qi[d]) * kj[d];
          scores[j] = dot * scale;
          const float* vj = kj + width;
          if (!tame(kj, dim) || !tame(vj, dim)) clean = false;  // as in the padded check
        }
        if (!clean) continue;
        attend_ref(scores, allowed, &qkv[start * 3 * width + 2 * width + h * dim], 3 * width, dim, want.data());
        for (int64_t d = 0; d < dim; ++d)
          expect_close("attention packed", out[(start + i) * width + h * dim + d], want[d], atol_for(2e-5, 2e-2),
                       rtol_for(1e-4), d);
      }
  }
}

// Relative attention: q, k, v strided views of one [klen, batch, 3 * heads * dim] projection (q the last qlen
// positions), r of batch 1 or batch, uint8 masks (any nonzero value is set), the shift through the
// references' flat-index reshape arithmetic, in double.
void check_relative_attention() {
  // (fewer than 14 queries take the dot-product path, more the tiled one)
  int64_t qlen = chance(0.3) ? pick(14, 18) : pick(1, 9), klen = qlen + pick(0, 7), bsz = pick(1, 3),
          heads = pick(1, 3), dim = pick(1, 40);
  bool txl = chance(0.5), use_mask = chance(0.6), use_seg = chance(0.5);
  int64_t rlen = txl ? klen : klen + pick(1, qlen + 2), rb = chance(0.5) ? 1 : bsz, width = 3 * heads * dim;
  auto qkv = randn(klen * bsz * width, 1.0, chance(0.2)), r = randn(rlen * rb * heads * dim),
       rw = randn(heads * dim), rr = randn(heads * dim), se = randn(2 * heads * dim), rs = randn(heads * dim),
       out = std::vector<float>(qlen * bsz * heads * dim);
  std::vector<uint8_t> mask(bsz * qlen * klen), seg(bsz * qlen * klen);
  for (auto& m : mask) m = chance(0.3) ? static_cast<uint8_t>(pick(1, 255)) : 0;
  for (auto& m : seg) m = chance(0.5) ? 1 : 0;
  auto part = [&](int p, int64_t len) {
    return strided(qkv, (klen - len) * bsz * width + p * heads * dim, {len, bsz, heads, dim},
                   {bsz * width, width, dim, 1});
  };
  auto map = [&](std::vector<uint8_t>& m) {
    return TensorView{m.data(), DType::u8, {bsz, qlen, klen}, {qlen * klen, klen, 1}};
  };
  TensorView mv = map(mask), sv = map(seg), sev = view(se, {2, heads, dim}), rsv = view(rs, {heads, dim});
  double scale = 1.0 / std::sqrt(double(dim));
  if (!bf16_case() && qlen < tf::kDotMaxQueries && chance(0.3)) {
    // int8 keys and values (a quantized memory): each row quantized, and qkv given its dequantized values, which
    // the reference below then reads.
    std::vector<int8_t> k8(klen * bsz * heads * dim), v8(k8.size());
    std::vector<float> ks(klen * bsz * heads), vs(ks.size());
    for (int64_t row = 0; row < klen * bsz * heads; ++row) {
      const int64_t pos = row / (bsz * heads), b = row / heads % bsz, n = row % heads;
      for (int p = 1; p <= 2; ++p) {
        float* x = &qkv[(pos * bsz + b) * width + p * heads * dim + n * dim];
        int8_t* q8 = (p == 1 ? k8 : v8).data() + row * dim;
        float sc = (p == 1 ? ks : vs)[row] = tf::quantize_kv_row(x, dim, q8);
        for (int64_t d = 0; d < dim; ++d) x[d] = q8[d] * sc;
      }
    }
    auto rows8 = [&](std::vector<int8_t>& x) {
      return TensorView{x.data(), DType::i8, {klen, bsz, heads, dim}, {bsz * heads * dim, heads * dim, dim, 1}};
    };
    auto scales = [&](std::vector<float>& x) {
      return TensorView{x.data(), DType::f32, {klen, bsz, heads}, {bsz * heads, heads, 1}};
    };
    tf::relative_attention_int8_kv(part(0, qlen), rows8(k8), scales(ks), rows8(v8), scales(vs),
                                   view(r, {rlen, rb, heads, dim}), view(rw, {heads, dim}), view(rr, {heads, dim}),
                                   view(out, {qlen, bsz, heads, dim}), use_mask ? &mv : nullptr,
                                   use_seg ? &sv : nullptr, use_seg ? &sev : nullptr, use_seg ? &rsv : nullptr, scale,
                                   txl ? 1 : 0);
  } else {
    tf::relative_attention(part(0, qlen), part(1, klen), part(2, klen), view(r, {rlen, rb, heads, dim}),
                           view(rw, {heads, dim}), view(rr, {heads, dim}), view(out, {qlen, bsz, heads, dim}),
                           use_mask ? &mv : nullptr, use_seg ? &sv : nullptr, use_seg ? &sev : nullptr,
                           use_seg ? &rsv : nullptr, scale, txl ? 1 : 0);
  }
  read_back(out);
  if (!tame(qkv.data(), int64_t(qkv.size()))) return;  // non-finite inputs: only that it runs cleanly is checked
  auto at = [&](int p, int64_t pos, int64_t b, int64_t n) { return &qkv[(pos * bsz + b) * width + p * heads * dim + n * dim]; };
  auto qdot = [&](int64_t i, const float* bias, const float* x, int64_t b, int64_t n) {  // (q_i + bias)·x
    double acc = 0;
    for (int64_t d = 0; d < dim; ++d) acc += (double(at(0, klen - qlen + i, b, n)[d]) + bias[n * dim + d]) * x[d];
    return acc;
  };
  std::vector<double> score(klen), want(dim);
  std::vector<char> allowed(klen, 1);
  for (int64_t b = 0; b < bsz; ++b)
    for (int64_t n = 0; n < heads; ++n)
      for (int64_t i = 0; i < qlen; ++i) {
        for (int64_t j = 0; j < klen; ++j) {
          // XLNet: raw [qlen, rlen] seen as [rlen, qlen], first row dropped, seen as [qlen, rlen - 1];
          // Transformer-XL: a zero column prepended, [qlen, rlen + 1] seen as [rlen + 1, qlen], first row dropped.
          int64_t f = txl ? qlen + i * rlen + j : qlen + i * (rlen - 1) + j, w = txl ? rlen + 1 : rlen;
          int64_t row = f / w, col = f % w - (txl ? 1 : 0);
          double bd = col < 0 ? 0.0 : qdot(row, rr.data(), &r[(col * rb + (rb == 1 ? 0 : b)) * heads * dim + n * dim], b, n);
          double s = qdot(i, rw.data(), at(1, j, b, n), b, n) + bd;
          if (use_seg) s += qdot(i, rs.data(), &se[(seg[(b * qlen + i) * klen + j] ? heads : 0) * dim + n * dim], b, n);
          score[j] = use_mask && mask[(b * qlen + i) * klen + j] ? -1e30 : s * scale;
        }
        attend_ref(score, allowed, at(2, 0, b, n), bsz * width, dim, want.data());
        // bf16: up to three biased queries per score are rounded to bf16 (vdpbf16ps pairs), twice attention's
        // error in the scores, which a peaked softmax passes on to the output.
        for (int64_t d = 0; d < dim; ++d)
          expect_close("relative_attention", out[((i * bsz + b) * heads + n) * dim + d], want[d],
                       atol_for(2e-5, 4e-2), rtol_for(1e-4), d);
      }
}

double act_ref(double y, tf::GemmAct act) {
  if (act == tf::GemmAct::none) return y;
  return gelu_ref(float(y), act == tf::GemmAct::gelu_erf ? tf::GeluKind::erf : tf::GeluKind::tanh);
}

void check_gemm_small() {
  int64_t m = pick(1, 20), n = pick(1, 50), k = pick(1, 70);
  auto act = static_cast<tf::GemmAct>(pick(0, 2));
  bool transposed = chance(0.3), use_bias = chance(0.6);
  auto x = randn(m * k, 1.0, chance(0.2)), w = randn(n * k), bias = randn(n), out = std::vector<float>(m * n);
  // transposed: w holds [k, n] and the view reads it as [n, k] (a Conv1D weight)
  TensorView wv = transposed ? strided(w, 0, {n, k}, {1, n}) : view(w, {n, k});
  // bfloat16 panels hold pairs of k per column: [panels, ceil(k / 2), 2 * kGemmPanel]
  const int64_t depth = bf16_case() ? (k + 1) / 2 : k, width = bf16_case() ? 2 * tf::kGemmPanel : tf::kGemmPanel;
  std::vector<float> packed(tf::gemm_panels(n) * depth * width);
  TensorView pv = view(packed, {tf::gemm_panels(n), depth, width}), bv = view(bias, {n});
  tf::gemm_small_pack(wv, pv);
  tf::gemm_small(view(x, {m, k}), pv, use_bias ? &bv : nullptr, view(out, {m, n}), n, act);
  read_back(out);
  for (int64_t r = 0; r < m; ++r) {
    if (!tame(&x[r * k], k)) continue;
    for (int64_t c = 0; c < n; ++c) {
      double y = use_bias ? bias[c] : 0.0;
      for (int64_t j = 0; j < k; ++j) y += double(x[r * k + j]) * (transposed ? w[j * n + c] : w[c * k + j]);
      expect_close("gemm_small", out[r * n + c], act_ref(y, act), atol_for(2e-5, 2e-2), rtol_for(1e-4), r * n + c);
    }
  }
}

// int8 GEMM: random int8 weights (a transposed view 30 % of the time), activations with NaN/inf/huge values, the
// VNNI kernel or not; against the same per-token quantization and exact integer sums computed here.
void check_gemm_int8() {
  // (in_features in multiples of 64 take the AMX kernel: its emulation here, the tiles on an AMX machine)
  int64_t m = pick(1, 40), n = pick(1, 50), k = chance(0.3) ? 64 * pick(1, 2) : pick(1, 70);
  auto act = static_cast<tf::GemmAct>(pick(0, 2));
  bool transposed = chance(0.3), use_bias = chance(0.6);
  tf::gemm_int8_allow_vnni(chance(0.5));
  tf::gemm_int8_emulate_amx(chance(0.3));
  auto x = randn(m * k, 3.0, chance(0.2)), bias = randn(n), scale = randn(n, 0.01), out = std::vector<float>(m * n);
  std::vector<int8_t> w(n * k);
  for (auto& v : w) v = static_cast<int8_t>(pick(-127, 127));
  // transposed: w holds [k, n] and the view reads it as [n, k]
  TensorView wv = transposed ? TensorView{w.data(), DType::i8, {n, k}, {1, n}} : TensorView{w.data(), DType::i8, {n, k}, {k, 1}};
  const int64_t panels = tf::int8_panels(n), groups = tf::int8_groups(k);
  std::vector<int8_t> packed(panels * groups * 64);
  std::vector<int32_t> colsum(panels * 16);
  TensorView pv{packed.data(), DType::i8, {panels, groups, 64}, {groups * 64, 64, 1}};
  TensorView cv{colsum.data(), DType::i32, {panels * 16}, {1}};
  TensorView bv = view(bias, {n}), sv = view(scale, {n});
  tf::gemm_int8_pack(wv, pv, cv);
  tf::gemm_int8(view(x, {m, k}), pv, cv, sv, use_bias ? &bv : nullptr, view(out, {m, n}), n, act);
  tf::gemm_int8_allow_vnni(true);
  tf::gemm_int8_emulate_amx(false);
  for (int64_t r = 0; r < m; ++r) {
    const float* xr = &x[r * k];
    float lo = 0.0f, hi = 0.0f;
    bool bad = false;
    for (int64_t j = 0; j < k; ++j) {
      if (!std::isfinite(xr[j])) bad = true;
      else lo = std::min(lo, xr[j]), hi = std::max(hi, xr[j]);
    }
    const float span = hi - lo;
    bad = bad || !std::isfinite(span);
    const float inv = span > 0.0f ? 255.0f / span : 0.0f, row_scale = span / 255.0f;
    const int32_t zero = span > 0.0f ? int32_t(std::min(255.0f, std::max(0.0f, std::nearbyint(-lo * inv)))) : 0;
    for (int64_t c = 0; c < n; ++c) {
      int64_t sum = 0;
      for (int64_t j = 0; j < k && !bad; ++j) {
        int32_t q = std::min(255, std::max(0, int32_t(std::nearbyint(xr[j] * inv)) + zero));
        sum += int64_t(q - zero) * (transposed ? w[j * n + c] : w[c * k + j]);
      }
      float y = bad ? NAN : float(sum) * (row_scale * scale[c]);
      if (use_bias) y = y + bias[c];
      expect_close("gemm_int8", out[r * n + c], act_ref(y, act), 1e-5, 1e-5, r * n + c);
    }
  }
}

// The one-call layers compose the fronts checked above; here they run on random weights (finite in, finite out).
struct RandomLayer {
  std::vector<std::vector<float>> storage;
  std::vector<std::vector<int8_t>> int8_storage;
  std::vector<std::vector<int32_t>> int32_storage;
  tf::LayerWeights w;

  TensorView vector(int64_t n, double scale) {
    storage.push_back(randn(n, scale));
    return view(storage.back(), {n});
  }
  // A projection [n, k]: float32 panels, or (40 %) int8 panels with column sums and scales, as a quantized model's.
  tf::LayerProjection panels(int64_t n, int64_t k) {
    tf::LayerProjection p;
    if (chance(0.4)) {
      auto& w8 = int8_storage.emplace_back(n * k);
      for (auto& v : w8) v = static_cast<int8_t>(pick(-127, 127));
      const int64_t panels = tf::int8_panels(n), groups = tf::int8_groups(k);
      auto& packed = int8_storage.emplace_back(panels * groups * 64);
      auto& colsum = int32_storage.emplace_back(panels * 16);
      p.weight = TensorView{packed.data(), DType::i8, {panels, groups, 64}, {groups * 64, 64, 1}};
      p.colsum = TensorView{colsum.data(), DType::i32, {panels * 16}, {1}};
      p.scale = vector(n, 0.002);
      tf::gemm_int8_pack(TensorView{w8.data(), DType::i8, {n, k}, {k, 1}}, p.weight, p.colsum);
      return p;
    }
    storage.push_back(randn(n * k, 0.2));
    TensorView weight = view(storage.back(), {n, k});
    storage.push_back(std::vector<float>(tf::gemm_panels(n) * k * tf::kGemmPanel));
    p.weight = view(storage.back(), {tf::gemm_panels(n), k, tf::kGemmPanel});
    tf::gemm_small_pack(weight, p.weight);
    return p;
  }
  RandomLayer() {
    storage.reserve(32);  // views point into the vectors: no reallocation
    int8_storage.reserve(8);
    int32_storage.reserve(4);
    w.heads = pick(1, 3);
    w.head_dim = pick(1, 12);
    w.hidden = pick(1, 40);
    w.inner = pick(1, 60);
    w.eps1 = w.eps2 = 1e-5;
    w.activation = static_cast<tf::GemmAct>(pick(0, 2));
    int64_t width = w.heads * w.head_dim;
    w.qkv = panels(3 * width, w.hidden);
    w.qkv_bias = vector(3 * width, 0.1);
    w.out = panels(w.hidden, width);
    w.out_bias = vector(w.hidden, 0.1);
    w.ln1_weight = vector(w.hidden, 1.0);
    w.ln1_bias = vector(w.hidden, 0.1);
    w.ffn_in = panels(w.inner, w.hidden);
    w.ffn_in_bias = vector(w.inner, 0.1);
    w.ffn_out = panels(w.hidden, w.inner);
    w.ffn_out_bias = vector(w.hidden, 0.1);
    w.ln2_weight = vector(w.hidden, 1.0);
    w.ln2_bias = vector(w.hidden, 0.1);
    tf::check_layer_weights(w);
  }
};

void expect_finite(const char* what, const std::vector<float>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return expect_close(what, v[i], 0.0, INFINITY, 0, int64_t(i));
}

void check_layers() {
  RandomLayer layer;
  const auto& w = layer.w;
  std::vector<int64_t> cu{0};
  for (int64_t b = pick(1, 3); b > 0; --b) cu.push_back(cu.back() + pick(0, 7));
  int64_t tokens = cu.back();
  auto x = randn(tokens * w.hidden), out = std::vector<float>(x.size());
  tf::encoder_layer(view(x, {tokens, w.hidden}), view(cu), w, view(out, {tokens, w.hidden}), 0.5);
  expect_finite("encoder_layer", out);

  int64_t batch = pick(0, 3), capacity = pick(1, 8);
  auto state = randn(batch * w.hidden), kv = std::vector<float>(batch * 2 * w.heads * capacity * w.head_dim);
  std::vector<int8_t> kv8(kv.size());  // the int8 cache and its scales
  auto kv_scale = std::vector<float>(batch * 2 * w.heads * capacity);
  auto key_bias = std::vector<float>(batch * capacity, 0.0f);
  for (int64_t b = 0; b < batch; ++b) key_bias[b * capacity] = -INFINITY;  // a left pad at slot 0
  TensorView kbv = view(key_bias, {batch, capacity}), ksv = view(kv_scale, {batch, 2, w.heads, capacity});
  TensorView kv8v{kv8.data(), DType::i8, {batch, 2, w.heads, capacity, w.head_dim}, ksv.strides};
  kv8v.strides.push_back(1);
  for (int i = 0; i < 4; ++i) kv8v.strides[i] *= w.head_dim;
  bool pre_ln = chance(0.5), use_bias = chance(0.5), int8_cache = chance(0.5);
  for (int64_t position = 0; position < capacity; ++position)
    tf::decoder_layer_step(view(state, {batch, w.hidden}),
                           int8_cache ? kv8v : view(kv, {batch, 2, w.heads, capacity, w.head_dim}),
                           int8_cache ? &ksv : nullptr, position, use_bias && position > 0 ? &kbv : nullptr, w, 0.5,
                           pre_ln);
  expect_finite("decoder_layer_step", state);
}

// The ISAs this build has and this CPU runs (x86-64: generic up to the detected one; elsewhere generic).
std::vector<tf::Isa> isas() {
  std::vector<tf::Isa> all{tf::Isa::generic};
#ifdef TF_X86_64
  if (tf::cpu_isa() != tf::Isa::generic) all.push_back(tf::Isa::avx2);
  if (tf::cpu_isa() == tf::Isa::avx512) all.push_back(tf::Isa::avx512);
#endif
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  int cases = argc > 1 ? std::atoi(argv[1]) : 200;
  rng.seed(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 12345);
  struct Front {
    const char* name;
    void (*check)();
    bool bf16;  // also run with bfloat16 tensors
  };
  const Front fronts[] = {{"gelu", check_gelu, true},
                          {"layer_norm", check_layer_norm, true},
                          {"masked_softmax", check_softmax, true},
                          {"logsumexp_update", check_logsumexp, true},
                          {"attention", check_attention_padded, true},
                          {"attention_packed", check_attention_packed, true},
                          {"attention_int8_kv", check_attention_int8_kv, false},
                          {"gemm_small", check_gemm_small, true},
                          {"gemm_int8", check_gemm_int8, false},
                          {"layers", check_layers, false},
                          {"relative_attention", check_relative_attention, true}};
  int runs = 0;
  for (tf::Isa isa : isas()) {
    tf::set_isa_cap(isa);
    // On AVX-512 the bfloat16 cases run with and without the avx512_bf16 instructions (where the CPU has them).
    std::vector<bool> hw_choices{false};
    if (isa == tf::Isa::avx512 && tf::cpu_has_avx512_bf16()) hw_choices.push_back(true);
    for (bool hw : hw_choices) {
      tf::set_avx512_bf16(hw);
      if (hw && !tf::use_avx512_bf16()) continue;  // this build has no avx512_bf16 code
      for (DType dt : {DType::f32, DType::bf16}) {
        if (hw && dt == DType::f32) continue;  // float32 never uses them
        dtype = dt;
        for (int threads : {1, 3}) {
          tf::set_num_threads(threads);
          for (const Front& front : fronts) {
            if (dt == DType::bf16 && !front.bf16) continue;
            where = std::string(front.name) + " " + tf::dtype_name(dt) + " on " + tf::isa_name(isa) +
                    (hw ? " with avx512_bf16" : "") + ", " + std::to_string(threads) + " thread(s)";
            int before = failures;
            failures_here = 0;
            for (int i = 0; i < cases; ++i, ++runs) {
              shadows.clear();
              front.check();
            }
            if (failures > before) std::printf("%s: %d mismatch(es)\n", where.c_str(), failures - before);
          }
        }
      }
    }
  }
  std::printf("kernel_check: %d cases on %zu ISA(s) in float32 and bfloat16, %d mismatch(es)\n", runs, isas().size(),
              failures);
  return failures ? 1 : 0;
}
