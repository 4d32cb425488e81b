#include <memory>
#include <stdexcept>
#include <string>

#include "convert.hpp"
#include "ramcore/cayley_operator.hpp"
#include "ramcore/lanczos.hpp"
#include "ramcore/lps.hpp"
#include "ramcore/tridiagonal.hpp"
#include "register.hpp"

namespace ramcore::bindings {
namespace {

Which parse_which(const std::string& which) {
  if (which == "LA") return Which::kLargest;
  if (which == "SA") return Which::kSmallest;
  if (which == "LM") return Which::kMagnitude;
  throw std::invalid_argument("which must be 'LA', 'SA' or 'LM', got '" + which + "'");
}

LanczosOptions options_from(int k, const std::string& which, int ncv, double tol, int max_restarts,
                            std::uint64_t seed, int threads, bool vectors, bool two_pass,
                            std::int64_t keep_bytes) {
  LanczosOptions o;
  o.k = k;
  o.which = parse_which(which);
  o.ncv = ncv;
  o.tol = tol;
  o.max_restarts = max_restarts;
  o.seed = seed;
  o.threads = threads;
  o.vectors = vectors;
  o.two_pass = two_pass;
  o.keep_vectors_bytes = keep_bytes;
  return o;
}

// (n, r) row-major deflation block, or none.
const double* deflation(const py::object& deflate, std::int64_t n, int& r, Doubles& keep) {
  r = 0;
  if (deflate.is_none()) return nullptr;
  keep = Doubles::ensure(deflate);
  enforce(keep && keep.ndim() == 2 && keep.shape(0) == n,
          "deflate must be an (n, r) float array with n = " + std::to_string(n) + " rows");
  r = static_cast<int>(keep.shape(1));
  return r ? keep.data() : nullptr;
}

py::dict result_dict(LanczosResult&& res, std::int64_t n, int k) {
  py::dict out;
  out["values"] = to_numpy(std::move(res.values));
  out["residuals"] = to_numpy(std::move(res.residuals));
  out["vectors"] = res.vectors.empty() ? py::object(py::none())
                                       : py::object(to_numpy(std::move(res.vectors), {n, k}));
  out["matvecs"] = res.matvecs;
  out["restarts"] = res.restarts;
  out["converged"] = res.converged;
  return out;
}

// Lanczos on `a` (square) in the space orthogonal to `deflate`, with the GIL released; `progress`
// (a callable or None) sees the matrix-vector products and the residual estimate (Reporter).
py::dict eigsh(const LinearOperator& a, const py::object& deflate, const LanczosOptions& o,
               const py::object& progress) {
  int r = 0;
  Doubles keep;
  const double* y = deflation(deflate, a.rows(), r, keep);
  LanczosResult res = reporting(
      [&](const StopFn& stop, Status* status) {
        LanczosOptions run = o;
        run.status = status;
        return lanczos(a, y, r, run, stop);
      },
      progress);
  return result_dict(std::move(res), a.rows(), o.k);
}

// Symmetric problem on a CSR matrix: adjacency, Laplacian or normalised Laplacian.
template <class Index>
py::dict eigsh_csr_impl(const py::array& indptr, const py::array& indices, const py::object& data,
                        std::int64_t n, const std::string& op, const py::object& deflate,
                        const LanczosOptions& o, const py::object& progress) {
  const CsrArgs<Index> csr(indptr, indices, data, n, n);
  const CsrOperator<Index>& a = *csr.op;
  if (op == "adjacency") return eigsh(a, deflate, o, progress);
  enforce(op == "laplacian" || op == "normalized_laplacian",
          "operator must be 'adjacency', 'laplacian' or 'normalized_laplacian', got '" + op + "'");
  const auto degrees = interruptible([&](const StopFn& stop) { return a.row_sums(o.threads, stop); });
  const LaplacianOperator l(a, degrees, op == "normalized_laplacian");
  return eigsh(l, deflate, o, progress);
}

// Singular values of a rectangular CSR B from Lanczos on B^T B (cols side) or B B^T (rows side).
template <class Index>
py::dict svds_csr_impl(const py::array& indptr, const py::array& indices, const py::object& data,
                       std::int64_t rows, std::int64_t cols, bool columns, const py::object& deflate,
                       const LanczosOptions& o, const py::object& progress) {
  const CsrArgs<Index> csr(indptr, indices, data, rows, cols);
  const NormalOperator<Index> normal(*csr.op, columns);
  return eigsh(normal, deflate, o, progress);
}

}  // namespace

void register_spectral(py::module_& m) {
  m.def(
      "eigsh_csr",
      [](const py::array& indptr, const py::array& indices, const py::object& data, std::int64_t n,
         const std::string& op, const py::object& deflate, int k, const std::string& which, int ncv,
         double tol, int max_restarts, std::uint64_t seed, int threads, bool vectors, bool two_pass,
         std::int64_t keep_bytes, const py::object& progress) {
        const auto o =
            options_from(k, which, ncv, tol, max_restarts, seed, threads, vectors, two_pass, keep_bytes);
        return int32_indices(indices)
                   ? eigsh_csr_impl<std::int32_t>(indptr, indices, data, n, op, deflate, o, progress)
                   : eigsh_csr_impl<std::int64_t>(indptr, indices, data, n, op, deflate, o, progress);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n"), py::arg("operator"),
      py::arg("deflate"), py::arg("k"), py::arg("which"), py::arg("ncv"), py::arg("tol"),
      py::arg("max_restarts"), py::arg("seed"), py::arg("threads"), py::arg("vectors"),
      py::arg("two_pass") = false, py::arg("keep_bytes") = 0, py::arg("progress") = py::none());
  m.def(
      "svds_csr",
      [](const py::array& indptr, const py::array& indices, const py::object& data, std::int64_t rows,
         std::int64_t cols, bool columns, const py::object& deflate, int k, int ncv, double tol,
         int max_restarts, std::uint64_t seed, int threads, bool vectors, bool two_pass,
         std::int64_t keep_bytes, const py::object& progress) {
        const auto o =
            options_from(k, "LA", ncv, tol, max_restarts, seed, threads, vectors, two_pass, keep_bytes);
        return int32_indices(indices)
                   ? svds_csr_impl<std::int32_t>(indptr, indices, data, rows, cols, columns, deflate, o, progress)
                   : svds_csr_impl<std::int64_t>(indptr, indices, data, rows, cols, columns, deflate, o, progress);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("rows"), py::arg("cols"),
      py::arg("columns"), py::arg("deflate"), py::arg("k"), py::arg("ncv"), py::arg("tol"),
      py::arg("max_restarts"), py::arg("seed"), py::arg("threads"), py::arg("vectors"),
      py::arg("two_pass") = false, py::arg("keep_bytes") = 0, py::arg("progress") = py::none());
  m.def(
      "tridiagonal_extremes",
      [](const Doubles& a, const Doubles& b) {
        enforce(a.ndim() == 2 && b.ndim() == 2 && b.shape(0) == a.shape(0) && a.shape(1) >= 1 &&
                    b.shape(1) == a.shape(1),
                "tridiagonal_extremes: a and b must be (count, m) arrays, m >= 1 (b's last column unused)");
        const auto count = static_cast<int>(a.shape(0)), order = static_cast<int>(a.shape(1));
        std::vector<double> values(2 * static_cast<std::size_t>(count));
        std::vector<double> vectors(values.size() * static_cast<std::size_t>(order));
        {
          py::gil_scoped_release release;
          tridiagonal_extremes(a.data(), b.data(), count, order, values.data(), vectors.data());
        }
        return py::make_tuple(to_numpy(std::move(values), {count, 2}),
                              to_numpy(std::move(vectors), {count, 2, order}));
      },
      py::arg("a"), py::arg("b"),
      "The largest and smallest eigenpairs of each tridiagonal matrix (rows of a, b): values "
      "(count, 2), unit vectors (count, 2, m).");
  // Built once (generators and group tables, over a second for large p) and reused by every
  // product and solve; const, so products may run from several Python threads at once.
  py::class_<CayleyOperator>(m, "CayleyOperator")
      .def(py::init([](std::int64_t p, std::int64_t q) {
             return interruptible(
                 [&](const StopFn&) { return std::make_unique<CayleyOperator>(lps_generators(p, q)); });
           }),
           py::arg("p"), py::arg("q"),
           "The adjacency operator of X^{p,q} (loops and repeated generators as weights), matrix-free.")
      .def_property_readonly("rows", &CayleyOperator::rows)
      .def(
          "matvec",
          [](const CayleyOperator& a, const Doubles& x, int threads) {
            enforce(x.ndim() == 1 && x.shape(0) == a.rows(),
                    "x must have one entry per vertex (" + std::to_string(a.rows()) + ")");
            Buffer<double> y;
            allocate(y, a.rows(), "matvec output");
            interruptible([&](const StopFn& stop) {
              a.apply(x.data(), y.data(), threads, stop);
              return 0;
            });
            return to_numpy(std::move(y));
          },
          py::arg("x"), py::arg("threads") = 0)
      .def(
          "eigsh",
          [](const CayleyOperator& a, const py::object& deflate, int k, const std::string& which, int ncv,
             double tol, int max_restarts, std::uint64_t seed, int threads, bool vectors, bool two_pass,
             std::int64_t keep_bytes, const py::object& progress) {
            return eigsh(a, deflate,
                         options_from(k, which, ncv, tol, max_restarts, seed, threads, vectors, two_pass,
                                      keep_bytes),
                         progress);
          },
          py::arg("deflate"), py::arg("k"), py::arg("which"), py::arg("ncv"), py::arg("tol"),
          py::arg("max_restarts"), py::arg("seed"), py::arg("threads"), py::arg("vectors"),
          py::arg("two_pass") = false, py::arg("keep_bytes") = 0, py::arg("progress") = py::none());
}

}  // namespace ramcore::bindings
