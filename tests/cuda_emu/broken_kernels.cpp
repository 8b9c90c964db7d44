// Checks that the SIMT emulation catches broken kernels (tests/test_cuda_kernels.py compiles this file three
// times: as is, with -DTF_EMU_BREAK_SYNC (block reductions without their __syncthreads) and with
// -DTF_EMU_BREAK_SHFL (warp reductions with a wrong first shuffle offset)). It runs the real LayerNorm and
// softmax kernels on rows long enough for several warps and prints their largest error against a double
// reference; then a kernel whose lanes diverge around a shuffle and a __syncthreads, which must end with a
// launch error rather than hang. Output: "layer_norm <err> softmax <err> deadlock <0|1>".
#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/layer_norm_cuda.cu"
#include "kernels/relative_attention_cuda.cu"
#include "kernels/softmax_cuda.cu"

namespace {

tf::TensorView view(std::vector<float>& v, std::vector<int64_t> shape) {
  tf::TensorView t;
  t.data = v.data();
  t.dtype = tf::DType::f32;
  t.shape = shape;
  t.strides.assign(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) t.strides[d] = t.strides[d + 1] * shape[d + 1];
  return t;
}

__global__ void divergent(float* out) {
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
  __syncthreads();
  out[threadIdx.x] = v;
}

}  // namespace

int main() {
  const int rows = 3, cols = 1000;  // 128 threads a row: four warps
  std::vector<float> x(rows * cols), out(rows * cols);
  unsigned seed = 12345;
  for (float& v : x) {
    seed = seed * 1664525u + 1013904223u;
    v = static_cast<float>(seed >> 8) / 16777216.0f * 8.0f - 4.0f;
  }
  tf::add_layer_norm_cuda(view(x, {rows, cols}), nullptr, nullptr, nullptr, nullptr, view(out, {rows, cols}), 1e-5,
                          nullptr);
  double ln_err = 0;
  for (int r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int c = 0; c < cols; ++c) mean += x[r * cols + c];
    mean /= cols;
    for (int c = 0; c < cols; ++c) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
    var /= cols;
    for (int c = 0; c < cols; ++c) {
      double want = (x[r * cols + c] - mean) / std::sqrt(var + 1e-5);
      double e = std::fabs(want - out[r * cols + c]);
      ln_err = (e > ln_err || e != e) ? e : ln_err;
    }
  }
  tf::masked_softmax_cuda(view(x, {rows, cols}), nullptr, nullptr, view(out, {rows, cols}), 1.0, false, nullptr);
  double sm_err = 0;
  for (int r = 0; r < rows; ++r) {
    double m = -INFINITY, sum = 0;
    for (int c = 0; c < cols; ++c) m = std::max(m, static_cast<double>(x[r * cols + c]));
    for (int c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - m);
    for (int c = 0; c < cols; ++c) {
      double e = std::fabs(std::exp(x[r * cols + c] - m) / sum - out[r * cols + c]);
      sm_err = (e > sm_err || e != e) ? e : sm_err;
    }
  }
  // Relative attention, XLNet's shift (rlen = klen + qlen: every column read is < rlen), one sequence and head.
  const int qlen = 20, klen = 40, rlen = klen + qlen, D = 16;
  std::vector<float> q(qlen * D), k(klen * D), v(klen * D), r(rlen * D), rw(D), rr(D), ra(qlen * D);
  for (auto* t : {&q, &k, &v, &r, &rw, &rr})
    for (float& e : *t) {
      seed = seed * 1664525u + 1013904223u;
      e = static_cast<float>(seed >> 8) / 16777216.0f * 2.0f - 1.0f;
    }
  const float scale = 0.25f;
  tf::relative_attention_cuda(view(q, {qlen, 1, 1, D}), view(k, {klen, 1, 1, D}), view(v, {klen, 1, 1, D}),
                              view(r, {rlen, 1, 1, D}), view(rw, {1, D}), view(rr, {1, D}), view(ra, {qlen, 1, 1, D}),
                              nullptr, nullptr, nullptr, nullptr, scale, 0, nullptr);
  double ra_err = 0;
  for (int i = 0; i < qlen; ++i) {
    std::vector<double> s(klen);
    double m = -INFINITY, sum = 0;
    for (int j = 0; j < klen; ++j) {
      double dot = 0;
      for (int e = 0; e < D; ++e)
        dot += (q[i * D + e] + rw[e]) * double(k[j * D + e]) + (q[i * D + e] + rr[e]) * double(r[(j + qlen - i) * D + e]);
      s[j] = dot * scale;
      m = std::max(m, s[j]);
    }
    for (int j = 0; j < klen; ++j) sum += std::exp(s[j] - m);
    for (int e = 0; e < D; ++e) {
      double want = 0;
      for (int j = 0; j < klen; ++j) want += std::exp(s[j] - m) / sum * v[j * D + e];
      double err = std::fabs(want - ra[i * D + e]);
      ra_err = (err > ra_err || err != err) ? err : ra_err;
    }
  }
  std::vector<float> d(32);
  TF_LAUNCH(dim3(1), dim3(32), 0, nullptr, divergent)(d.data());
  int deadlock = cudaGetLastError() == cudaErrorLaunchFailure;
  std::printf("layer_norm %.3g softmax %.3g relative_attention %.3g deadlock %d\n", ln_err, sm_err, ra_err,
              deadlock);
  return 0;
}
