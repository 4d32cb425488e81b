#include "convert.hpp"
#include "ramcore/resistance.hpp"
#include "register.hpp"

namespace ramcore::bindings {
namespace {

template <class Index>
py::dict sketch_impl(const py::array& indptr, const py::array& indices, const py::object& data,
                     std::int64_t n, const SketchOptions& o, const py::object& progress) {
  const CsrArgs<Index> csr(indptr, indices, data, n, n);
  const double* w = data.is_none() ? nullptr : csr.data.data();
  SketchResult res = reporting(
      [&](const StopFn& stop, Status* status) {
        SketchOptions run = o;
        run.status = status;
        return sketch_resistance(n, csr.indptr.data(), csr.indices.data(), w, run, stop);
      },
      progress);
  py::dict out;
  out["resistance"] = to_numpy(std::move(res.resistance));
  out["stderr"] = to_numpy(std::move(res.stderr_));
  out["residuals"] = to_numpy(std::move(res.residuals));
  out["iterations"] = to_numpy(std::move(res.iterations));
  out["components"] = res.components;
  out["converged"] = res.converged;
  return out;
}

}  // namespace

void register_resistance(py::module_& m) {
  m.def(
      "sketch_resistance",
      [](const py::array& indptr, const py::array& indices, const py::object& data, std::int64_t n,
         std::int64_t sketch_rows, double tol, int max_iterations, std::uint64_t seed, int threads,
         const py::object& progress) {
        SketchOptions o;
        o.sketch_rows = sketch_rows;
        o.tol = tol;
        o.max_iterations = max_iterations;
        o.seed = seed;
        o.threads = threads;
        return int32_indices(indices) ? sketch_impl<std::int32_t>(indptr, indices, data, n, o, progress)
                                      : sketch_impl<std::int64_t>(indptr, indices, data, n, o, progress);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n"), py::arg("sketch_rows"),
      py::arg("tol"), py::arg("max_iterations"), py::arg("seed"), py::arg("threads"),
      py::arg("progress") = py::none(),
      "Johnson-Lindenstrauss + PCG effective resistances per stored entry of a symmetric CSR.");
}

}  // namespace ramcore::bindings
