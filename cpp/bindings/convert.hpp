// What several binding areas share: running the core with the GIL released and Ctrl-C polled,
// numpy argument types, and CSR arrays in and out.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "numpy_owner.hpp"
#include "ramcore/csr.hpp"
#include "ramcore/enforce.hpp"
#include "ramcore/linear_operator.hpp"
#include "ramcore/parallel.hpp"

namespace ramcore::bindings {

namespace py = pybind11;

// (k, 4) matrices and 1-d int64 arrays alike: contiguous int64, converted when needed.
using Int64s = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;
using Flat = Buffer<std::int64_t>;

// The core's stop function: checks for a pending signal and, while the core's Status names a
// phase and a Python `callback` was given, calls callback(phase, done, total, residual, target),
// both with the GIL briefly re-acquired (about every 50 ms: the core's poll interval). An
// exception raised by the callback stops the run and propagates like a Ctrl-C.
class Reporter {
 public:
  explicit Reporter(py::object callback) : callback_(std::move(callback)) {}
  Status status;
  bool poll();    // the stop function (GIL released)
  bool report();  // calls the callback (GIL held); false when it raised (the error is set)

 private:
  py::object callback_;
};

// Runs `f(stop, status)` with the GIL released; a Ctrl-C surfaces as the pending
// KeyboardInterrupt. `status` (nullptr when `progress` is None) is where the core reports its
// progress for the Python callable `progress`, which also sees the final status once the run
// has ended.
template <class F>
auto reporting(F&& f, const py::object& progress) {
  Reporter reporter(progress);
  Status* status = progress.is_none() ? nullptr : &reporter.status;
  auto run = [&] {
    try {
      py::gil_scoped_release release;
      return f(StopFn([&reporter] { return reporter.poll(); }), status);
    } catch (const Interrupted&) {
      throw py::error_already_set();
    }
  };
  if constexpr (std::is_void_v<decltype(run())>) {
    run();
    if (!reporter.report()) throw py::error_already_set();
  } else {
    auto result = run();
    if (!reporter.report()) throw py::error_already_set();
    return result;
  }
}

// `reporting` without progress: `f(stop)` with the GIL released, interruptible by Ctrl-C.
template <class F>
auto interruptible(F&& f) {
  return reporting([&](const StopFn& stop, Status*) { return f(stop); }, py::none());
}

Flat flat_buffer(std::int64_t n);
// A flat buffer of 4 k entries as a (k, 4) array (rows a, b, c, d of [[a, b], [c, d]]).
Int64s matrices_out(Flat&& flat);

// Whether CSR `indices` are int32 (else int64; any other type is a ValueError).
bool int32_indices(const py::array& indices);

// (indptr, indices, data or None, (rows, cols)), the arrays owning the core's buffers.
template <class Index>
py::tuple csr_out(Csr<Index>&& csr) {
  py::object data = csr.data.empty() ? py::none() : py::object(to_numpy(std::move(csr.data)));
  return py::make_tuple(to_numpy(std::move(csr.indptr)), to_numpy(std::move(csr.indices)), data,
                        py::make_tuple(csr.rows, csr.cols));
}

// Called with the GIL released: build(Index{}) with int32 indices when `narrow` (half the memory),
// else int64, returned by csr_out with the GIL re-acquired.
template <class Build>
py::tuple narrow_or_wide_csr(bool narrow, const Build& build) {
  if (narrow) {
    auto csr = build(std::int32_t{});
    py::gil_scoped_acquire gil;
    return csr_out(std::move(csr));
  }
  auto csr = build(std::int64_t{});
  py::gil_scoped_acquire gil;
  return csr_out(std::move(csr));
}

// A validated CSR matrix from Python arrays; holds the (possibly converted) arrays alive.
template <class Index>
struct CsrArgs {
  py::array_t<Index, py::array::c_style> indptr, indices;
  Doubles data;  // empty when every stored entry is 1

  CsrArgs(const py::array& ip, const py::array& ix, const py::object& values, std::int64_t rows,
          std::int64_t cols)
      : indptr(py::array_t<Index, py::array::c_style>::ensure(ip)),
        indices(py::array_t<Index, py::array::c_style>::ensure(ix)) {
    enforce(indptr && indices && indptr.ndim() == 1 && indices.ndim() == 1,
            "indptr and indices must be 1-d integer arrays");
    if (!values.is_none()) data = Doubles::ensure(values);
    check_csr(rows, cols, indptr.data(), indptr.shape(0), indices.data(), indices.shape(0),
              values.is_none() ? -1 : data.shape(0));
    op = std::make_unique<CsrOperator<Index>>(rows, cols, indptr.data(), indices.data(),
                                              values.is_none() ? nullptr : data.data());
  }
  std::unique_ptr<CsrOperator<Index>> op;
};

}  // namespace ramcore::bindings
