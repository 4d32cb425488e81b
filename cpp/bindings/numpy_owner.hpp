// Hand C++ buffers to numpy without copying: the vector moves to the heap and a capsule owned by
// the array deletes it when the last numpy view is gone.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <utility>
#include <vector>

namespace ramcore::bindings {

namespace py = pybind11;

template <class T, class Alloc>
py::array_t<T> to_numpy(std::vector<T, Alloc>&& values, std::vector<py::ssize_t> shape = {}) {
  using Vec = std::vector<T, Alloc>;
  auto owned = std::make_unique<Vec>(std::move(values));
  if (shape.empty()) shape = {static_cast<py::ssize_t>(owned->size())};
  T* data = owned->data();
  py::capsule owner(owned.get(), [](void* p) { delete static_cast<Vec*>(p); });
  owned.release();  // the capsule owns it now
  return py::array_t<T>(shape, data, owner);
}

}  // namespace ramcore::bindings
