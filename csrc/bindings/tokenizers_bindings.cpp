#include "bindings/common.h"

namespace tf {

void bind_tokenizers(py::module_& m) { (void)m; }

}  // namespace tf
