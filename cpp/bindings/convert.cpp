#include "convert.hpp"

namespace ramcore::bindings {

// Polled by parallel_for from the calling (Python) thread while the GIL is released.
bool Reporter::poll() {
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0 || !report();  // an error set here is re-raised by reporting()
}

bool Reporter::report() {
  if (callback_.is_none() || status.phase == nullptr) return true;
  try {
    callback_(status.phase, status.done, status.total, status.residual, status.target);
  } catch (py::error_already_set& error) {
    error.restore();
    return false;
  }
  return true;
}

Flat flat_buffer(std::int64_t n) {
  Flat out;
  allocate(out, n, "output array");
  return out;
}

Int64s matrices_out(Flat&& flat) {
  const auto k = static_cast<py::ssize_t>(flat.size() / 4);
  return to_numpy(std::move(flat), {k, 4});
}

bool int32_indices(const py::array& indices) {
  if (indices.dtype().is(py::dtype::of<std::int32_t>())) return true;
  enforce(indices.dtype().is(py::dtype::of<std::int64_t>()), "indices must be int32 or int64");
  return false;
}

}  // namespace ramcore::bindings
