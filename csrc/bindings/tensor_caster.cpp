// Reads torch tensors as TensorViews through the Python C API (no torch headers); shared by every module
// (_C, _cuda, _cuda_emu), each of which keeps its own dtype registry.
#include <iterator>
#include <string>

#include "bindings/common.h"

namespace tf {

namespace {

PyObject* g_dtypes[static_cast<int>(DType::other)] = {};  // strong references, set once at import

struct Ref {  // owns one new reference
  PyObject* p;
  ~Ref() { Py_XDECREF(p); }
};

// obj.name (call: obj.name()) as a new reference; name is an interned string made once.
PyObject* attr(PyObject* obj, PyObject* name, bool call) {
  return call ? PyObject_CallMethodObjArgs(obj, name, nullptr) : PyObject_GetAttr(obj, name);
}

bool read_int_tuple(PyObject* t, std::vector<int64_t>& out) {
  if (!t || !PyTuple_Check(t)) return false;
  Py_ssize_t n = PyTuple_GET_SIZE(t);
  out.resize(static_cast<size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    out[static_cast<size_t>(i)] = PyLong_AsLongLong(PyTuple_GET_ITEM(t, i));
    if (PyErr_Occurred()) return false;
  }
  return true;
}

}  // namespace

void register_tensor_dtypes(const py::sequence& dtypes) {
  TF_CHECK(py::len(dtypes) == std::size(g_dtypes), "dtypes: expected ", std::size(g_dtypes), " torch dtypes");
  // Kernels read a tensor's memory as its code's type: a dtype in the wrong slot would read past its end.
  for (size_t i = 0; i < std::size(g_dtypes); ++i) {
    const std::string want = std::string("torch.") + dtype_name(static_cast<DType>(i));
    TF_CHECK(py::str(dtypes[i]).cast<std::string>() == want, "dtypes: expected ", want, " at position ", i);
  }
  for (size_t i = 0; i < std::size(g_dtypes); ++i) {
    Py_XDECREF(g_dtypes[i]);
    g_dtypes[i] = py::object(dtypes[i]).release().ptr();
  }
}

bool read_tensor(PyObject* obj, TensorView& out) {
  static PyObject* const tensor_type = [] {
    PyObject* torch = PyImport_ImportModule("torch");
    PyObject* type = torch ? PyObject_GetAttrString(torch, "Tensor") : nullptr;
    Py_XDECREF(torch);
    return type;
  }();
  if (!tensor_type || !PyObject_TypeCheck(obj, reinterpret_cast<PyTypeObject*>(tensor_type))) {
    PyErr_Clear();
    return false;
  }
  static PyObject* const names[] = {PyUnicode_InternFromString("dtype"), PyUnicode_InternFromString("data_ptr"),
                                    PyUnicode_InternFromString("shape"), PyUnicode_InternFromString("stride"),
                                    PyUnicode_InternFromString("is_cpu")};
  Ref dtype{attr(obj, names[0], false)}, ptr{attr(obj, names[1], true)}, shape{attr(obj, names[2], false)},
      strides{attr(obj, names[3], true)}, is_cpu{attr(obj, names[4], false)};
  bool ok = dtype.p && ptr.p && is_cpu.p && read_int_tuple(shape.p, out.shape) &&
            read_int_tuple(strides.p, out.strides);
  if (ok) {
    out.data = PyLong_AsVoidPtr(ptr.p);
    ok = !PyErr_Occurred();
  }
  if (!ok) {
    PyErr_Clear();
    return false;
  }
  out.dtype = DType::other;
  for (size_t i = 0; i < std::size(g_dtypes); ++i)
    if (dtype.p == g_dtypes[i]) out.dtype = static_cast<DType>(i);
  out.is_cpu = is_cpu.p == Py_True;
  return true;
}

}  // namespace tf
