// transformers_fast._cuda: built whenever nvcc is found. Links the CUDA runtime statically so that the
// module imports on machines without a GPU or driver; the kernels (csrc/kernels/<op>_cuda.cu) register here.
// The same file builds transformers_fast._cuda_emu (TF_CUDA_EMU: the kernels compiled as C++ with
// common/cuda_emu.h, tensors in host memory; test-only) with the same entry points.
//
// Every entry point takes the stream as an integer (torch.cuda.current_stream().cuda_stream; 0 = the legacy
// default stream) and releases the GIL; errors name the kernel.
#if !defined(TF_CUDA_EMU)
#include <cuda_runtime_api.h>
#endif
#include <cstdint>

#include "bindings/common.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/layer_norm.h"
#include "kernels/relative_attention.h"
#include "kernels/softmax.h"

#if defined(TF_CUDA_EMU)
#define TF_CUDA_MODULE _cuda_emu
#else
#define TF_CUDA_MODULE _cuda
#endif

namespace py = pybind11;
using tf::OptTensor;
using tf::TensorView;
using tf::opt;

namespace {
void* stream_ptr(uintptr_t s) { return reinterpret_cast<void*>(s); }
}  // namespace

PYBIND11_MODULE(TF_CUDA_MODULE, m) {
#if defined(TF_CUDA_EMU)
  m.doc() = "transformers_fast CUDA kernels compiled as C++ and run on CPU threads (test-only emulation)";
  m.attr("emulated") = true;
  m.attr("architectures") = "emulated";
  m.def("runtime_version", [] { return 0; });
  m.def("device_count", [] { return 0; });
#else
  m.doc() = "transformers_fast CUDA kernels";
  m.attr("emulated") = false;
  m.def("runtime_version", [] {
    int version = 0;
    cudaRuntimeGetVersion(&version);
    return version;
  }, "CUDA runtime version this module was built with (e.g. 13000).");
  m.def("device_count", [] {
    int count = 0;
    // No driver or no GPU is an ordinary answer here: zero devices.
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return count;
  }, "Number of CUDA devices visible now (0 without a driver or GPU).");
  m.attr("architectures") = TF_CUDA_ARCHITECTURES;
#endif
  auto nogil = py::call_guard<py::gil_scoped_release>();
  m.def("register_tensor_dtypes", &tf::register_tensor_dtypes, py::arg("dtypes"),
        "The torch dtypes of the DType codes, in code order (float32, float16, bfloat16, int32, int64, uint8).");
  m.attr("attention_max_head_dim") = tf::kAttentionCudaMaxHeadDim;
  m.attr("relative_attention_max_head_dim") = tf::kRelativeAttentionCudaMaxHeadDim;
  m.def(
      "gelu",
      [](const TensorView& x, const TensorView& out, bool tanh, uintptr_t stream) {
        tf::gelu_cuda(x, nullptr, out, tanh ? tf::GeluKind::tanh : tf::GeluKind::erf, stream_ptr(stream));
      },
      py::arg("x"), py::arg("out"), py::arg("tanh"), py::arg("stream"), nogil);
  m.def(
      "bias_gelu",
      [](const TensorView& x, const TensorView& bias, const TensorView& out, bool tanh, uintptr_t stream) {
        tf::gelu_cuda(x, &bias, out, tanh ? tf::GeluKind::tanh : tf::GeluKind::erf, stream_ptr(stream));
      },
      py::arg("x"), py::arg("bias"), py::arg("out"), py::arg("tanh"), py::arg("stream"), nogil);
  m.def(
      "add_layer_norm",
      [](const TensorView& x, const OptTensor& residual, const OptTensor& x_bias, const OptTensor& weight,
         const OptTensor& bias, const TensorView& out, double eps, uintptr_t stream) {
        tf::add_layer_norm_cuda(x, opt(residual), opt(x_bias), opt(weight), opt(bias), out, eps, stream_ptr(stream));
      },
      py::arg("x"), py::arg("residual"), py::arg("x_bias"), py::arg("weight"), py::arg("bias"), py::arg("out"),
      py::arg("eps"), py::arg("stream"), nogil);
  m.def(
      "masked_softmax",
      [](const TensorView& scores, const OptTensor& mask, const OptTensor& lengths, const TensorView& out, double scale,
         bool causal, uintptr_t stream) {
        tf::masked_softmax_cuda(scores, opt(mask), opt(lengths), out, scale, causal, stream_ptr(stream));
      },
      py::arg("scores"), py::arg("mask"), py::arg("lengths"), py::arg("out"), py::arg("scale"), py::arg("causal"),
      py::arg("stream"), nogil);
  m.def(
      "logsumexp_update",
      [](const TensorView& logits, const OptTensor& out, const TensorView& running_max, const TensorView& running_sum,
         uintptr_t stream) {
        tf::logsumexp_update_cuda(logits, opt(out), running_max, running_sum, stream_ptr(stream));
      },
      py::arg("logits"), py::arg("out"), py::arg("running_max"), py::arg("running_sum"), py::arg("stream"), nogil);
  m.def(
      "attention",
      [](const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out, const OptTensor& mask,
         const OptTensor& kv_lengths, const OptTensor& cu_seqlens, int64_t max_seqlen, double scale, bool causal,
         uintptr_t stream) {
        tf::attention_cuda(q, k, v, out, opt(mask), opt(kv_lengths), opt(cu_seqlens), max_seqlen, scale, causal,
                           stream_ptr(stream));
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("mask"), py::arg("kv_lengths"),
      py::arg("cu_seqlens"), py::arg("max_seqlen"), py::arg("scale"), py::arg("causal"), py::arg("stream"), nogil);
  m.def(
      "relative_attention",
      [](const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& r, const TensorView& r_w_bias,
         const TensorView& r_r_bias, const TensorView& out, const OptTensor& attn_mask, const OptTensor& seg_diff,
         const OptTensor& seg_embed, const OptTensor& r_s_bias, double scale, int64_t shift, uintptr_t stream) {
        tf::relative_attention_cuda(q, k, v, r, r_w_bias, r_r_bias, out, opt(attn_mask), opt(seg_diff), opt(seg_embed),
                                    opt(r_s_bias), scale, shift, stream_ptr(stream));
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("r"), py::arg("r_w_bias"), py::arg("r_r_bias"), py::arg("out"),
      py::arg("attn_mask"), py::arg("seg_diff"), py::arg("seg_embed"), py::arg("r_s_bias"), py::arg("scale"),
      py::arg("shift"), py::arg("stream"), nogil);
}
