#include "bindings/common.h"
#include "common/cpu_features.h"
#include "common/parallel.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "transformers_fast C++ core: fused CPU kernels and tokenizers";
  m.def("set_num_threads", &tf::set_num_threads, "Threads used by the C++ kernels.");
  m.def("get_num_threads", &tf::get_num_threads);
  m.def("parallel_backend", &tf::parallel_backend, "What runs the kernels' parallel regions: openmp (torch's runtime) or pool.");
  m.def("use_openmp", &tf::use_openmp, "False: run the parallel regions on the core's own pool (tests, benchmarks).");
  m.def("cpu_isa", [] { return tf::isa_name(tf::cpu_isa()); }, "ISA the kernels dispatch to.");
  m.def("cpu_features", &tf::cpu_feature_string);
  m.def(
      "set_isa_cap",
      [](const std::string& name) {
        tf::Isa cap;
        if (!tf::parse_isa(name.c_str(), cap)) tf::fail("unknown ISA '", name, "': use generic, avx2 or avx512");
        tf::set_isa_cap(cap);
      },
      "Caps the kernel ISA (generic|avx2|avx512); for tests and benchmarks.");
  m.def("use_avx512_bf16", &tf::use_avx512_bf16,
        "Whether the fused bfloat16 kernels use the avx512_bf16 instructions (vcvtneps2bf16, vdpbf16ps) now.");
  m.def("set_avx512_bf16", &tf::set_avx512_bf16, pybind11::arg("on"),
        "False: the fused bfloat16 kernels convert by integer shifts even where avx512_bf16 exists (tests, "
        "benchmarks).");
  tf::bind_kernels(m);
  tf::bind_tokenizers(m);
}
