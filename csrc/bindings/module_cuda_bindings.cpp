// transformers_fast._cuda: built whenever nvcc is found. Links the CUDA runtime statically so that the
// module imports on machines without a GPU or driver; the kernels (<op>_cuda.cu) register here.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "transformers_fast CUDA kernels";
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
}
