// Argument checks that throw; pybind11 turns std::invalid_argument into Python ValueError.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace tf {

template <typename... Parts>
[[noreturn]] inline void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw std::invalid_argument(os.str());
}

#define TF_CHECK(cond, ...)                   \
  do {                                        \
    if (!(cond)) ::tf::fail(__VA_ARGS__);     \
  } while (0)

}  // namespace tf
