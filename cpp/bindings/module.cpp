// The private extension ramcore._core: converts arguments, releases the GIL, calls the core and
// returns numpy arrays that own the core's buffers. No logic lives here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "numpy_owner.hpp"
#include "ramcore/biregular.hpp"
#include "ramcore/cayley_operator.hpp"
#include "ramcore/encoding.hpp"
#include "ramcore/lanczos.hpp"
#include "ramcore/linear_operator.hpp"
#include "ramcore/enforce.hpp"
#include "ramcore/field.hpp"
#include "ramcore/lps.hpp"
#include "ramcore/parallel.hpp"
#include "ramcore/pgl2.hpp"
#include "ramcore/resistance.hpp"
#include "ramcore/topometrics.hpp"

namespace py = pybind11;
using namespace ramcore;
using bindings::to_numpy;

namespace {

// (k, 4) matrices and 1-d rank arrays alike: contiguous int64, converted when needed.
using Matrices = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

// Polled by parallel_for from the calling (Python) thread while the GIL is released.
bool python_signal_pending() {
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

// Run `f` with the GIL released; a Ctrl-C surfaces as the pending KeyboardInterrupt.
template <class F>
auto interruptible(F&& f) {
  try {
    py::gil_scoped_release release;
    return f(StopFn(python_signal_pending));
  } catch (const Interrupted&) {
    throw py::error_already_set();
  }
}

// f(i) for every i < k on all cores with the GIL released (element-wise group operations).
template <class F>
void for_each_row(std::int64_t k, int threads, const F& f) {
  interruptible([&](const StopFn& stop) {
    parallel_for(
        k, 1 << 14, threads,
        [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) f(i);
        },
        stop);
    return 0;
  });
}

std::int64_t rows_of(const Matrices& m, const char* name) {
  enforce(m.ndim() == 2 && m.shape(1) == 4,
          std::string(name) + " must have shape (k, 4) (rows a, b, c, d of [[a, b], [c, d]])");
  return m.shape(0);
}

using Flat = Buffer<std::int64_t>;

Flat flat_buffer(std::int64_t n) {
  Flat out;
  allocate(out, n, "output array");
  return out;
}

Matrices matrices_out(Flat&& flat) {
  const auto k = static_cast<py::ssize_t>(flat.size() / 4);
  return to_numpy(std::move(flat), {k, 4});
}

void put(Flat& out, std::int64_t i, const Mat2& m) {
  auto* o = out.data() + 4 * i;
  o[0] = m.a;
  o[1] = m.b;
  o[2] = m.c;
  o[3] = m.d;
}

Mat2 get(const PGL2& g, const std::int64_t* m) {
  return g.canonical_checked(m[0], m[1], m[2], m[3]);
}

template <class Index>
py::tuple csr_out(Csr<Index>&& csr) {
  py::object data = csr.data.empty() ? py::none() : py::object(to_numpy(std::move(csr.data)));
  return py::make_tuple(to_numpy(std::move(csr.indptr)), to_numpy(std::move(csr.indices)), data,
                        py::make_tuple(csr.rows, csr.cols));
}

void register_numbers(py::module_& m) {
  m.def("is_prime", &is_prime, py::arg("n"), "Deterministic primality test for 64-bit integers.");
  m.def("legendre", &legendre, py::arg("a"), py::arg("p"), "Legendre symbol (a/p), p an odd prime.");
  m.def("inverse_mod", &inverse_mod, py::arg("a"), py::arg("m"), "a^{-1} mod m.");
  m.def("sqrt_mod", &sqrt_mod, py::arg("a"), py::arg("p"), "Smaller square root of a mod p.");
  m.def("two_squares_minus_one", &two_squares_minus_one, py::arg("q"),
        "(x, y) with x^2 + y^2 + 1 = 0 mod q.");
}

void register_groups(py::module_& m) {
  py::class_<PGL2>(m, "PGL2")
      .def(py::init<std::int64_t>(), py::arg("q"))
      .def_property_readonly("q", &PGL2::q)
      .def_property_readonly("order", &PGL2::order)
      .def_property_readonly("psl_order", &PGL2::psl_order)
      .def(
          "canonical",
          [](const PGL2& g, const Matrices& mats, int threads) {
            const std::int64_t k = rows_of(mats, "matrices");
            const std::int64_t* in = mats.data();
            Flat out = flat_buffer(4 * k);
            for_each_row(k, threads, [&](std::int64_t i) { put(out, i, get(g, in + 4 * i)); });
            return matrices_out(std::move(out));
          },
          py::arg("matrices"), py::arg("threads") = 0)
      .def(
          "rank",
          [](const PGL2& g, const Matrices& mats, int threads) {
            const std::int64_t k = rows_of(mats, "matrices");
            const std::int64_t* in = mats.data();
            Flat out = flat_buffer(k);
            for_each_row(k, threads, [&](std::int64_t i) {
              out[static_cast<std::size_t>(i)] = g.rank(get(g, in + 4 * i));
            });
            return to_numpy(std::move(out));
          },
          py::arg("matrices"), py::arg("threads") = 0)
      .def(
          "unrank",
          [](const PGL2& g, const Matrices& ranks, int threads) {
            enforce(ranks.ndim() == 1, "ranks must be a 1-d array");
            const std::int64_t k = ranks.shape(0);
            const std::int64_t* r = ranks.data();
            Flat out = flat_buffer(4 * k);
            for_each_row(k, threads, [&](std::int64_t i) {
              // Checked here, not before releasing the GIL: another thread may change `ranks`.
              const std::int64_t ri = r[i];
              enforce(ri >= 0 && ri < g.order(), "ranks must lie in [0, " +
                                                     std::to_string(g.order()) + "), got " +
                                                     std::to_string(ri));
              put(out, i, g.unrank(ri));
            });
            return matrices_out(std::move(out));
          },
          py::arg("ranks"), py::arg("threads") = 0)
      .def(
          "elements",
          [](const PGL2& g, bool psl, int threads) {
            const std::int64_t k = psl ? g.psl_order() : g.order();
            Flat out = flat_buffer(checked_mul(4, k, "element table size"));
            for_each_row(k, threads, [&](std::int64_t i) { put(out, i, g.unrank(i)); });
            return matrices_out(std::move(out));
          },
          py::arg("psl"), py::arg("threads") = 0)
      .def(
          "multiply",
          [](const PGL2& g, const Matrices& x, const Matrices& y, int threads) {
            const std::int64_t k = rows_of(x, "x");
            enforce(rows_of(y, "y") == k, "x and y must have the same number of rows");
            const std::int64_t *px = x.data(), *py_ = y.data();
            Flat out = flat_buffer(4 * k);
            for_each_row(k, threads, [&](std::int64_t i) {
              put(out, i, g.mul(get(g, px + 4 * i), get(g, py_ + 4 * i)));
            });
            return matrices_out(std::move(out));
          },
          py::arg("x"), py::arg("y"), py::arg("threads") = 0)
      .def(
          "in_psl",
          [](const PGL2& g, const Matrices& mats, int threads) {
            const std::int64_t k = rows_of(mats, "matrices");
            const std::int64_t* in = mats.data();
            py::array_t<bool> out(k);
            bool* o = out.mutable_data();
            for_each_row(k, threads, [&](std::int64_t i) { o[i] = g.in_psl(get(g, in + 4 * i)); });
            return out;
          },
          py::arg("matrices"), py::arg("threads") = 0);
}

void register_graphs(py::module_& m) {
  m.def(
      "lps_generators",
      [](std::int64_t p, std::int64_t q) {
        const LpsGenerators g = interruptible([&](const StopFn&) { return lps_generators(p, q); });
        Flat quats, mats;
        for (const auto& a : g.quaternions) quats.insert(quats.end(), a.begin(), a.end());
        for (const auto& s : g.matrices) {
          mats.insert(mats.end(), {s.a, s.b, s.c, s.d});
        }
        py::dict out;
        out["p"] = g.p;
        out["q"] = g.q;
        out["x"] = g.x;
        out["y"] = g.y;
        out["legendre"] = g.legendre;
        out["quaternions"] = matrices_out(std::move(quats));
        out["matrices"] = matrices_out(std::move(mats));
        out["loops"] = g.loops;
        out["repeated"] = g.repeated;
        return out;
      },
      py::arg("p"), py::arg("q"));
  m.def(
      "lps_adjacency",
      [](std::int64_t p, std::int64_t q, bool allow_multigraph, int threads, bool wide) {
        const LpsGenerators gens = lps_generators(p, q);
        return interruptible([&](const StopFn& stop) {
          if (!wide &&
              fits_int32(checked_mul(gens.vertices(), gens.p + 1, "number of stored entries"))) {
            auto csr = lps_adjacency<std::int32_t>(gens, allow_multigraph, threads, stop);
            py::gil_scoped_acquire gil;
            return csr_out(std::move(csr));
          }
          auto csr = lps_adjacency<std::int64_t>(gens, allow_multigraph, threads, stop);
          py::gil_scoped_acquire gil;
          return csr_out(std::move(csr));
        });
      },
      py::arg("p"), py::arg("q"), py::arg("allow_multigraph") = false, py::arg("threads") = 0,
      py::arg("wide") = false);
  m.def(
      "biregular_biadjacency",
      [](std::int64_t q, std::int64_t l, int threads, bool wide) {
        return interruptible([&](const StopFn& stop) {
          if (!wide && q >= 1 && l >= 1 && l <= INT32_MAX / q / q) {  // q^2 l entries fit in int32
            auto csr = biregular_biadjacency<std::int32_t>(q, l, threads, stop);
            py::gil_scoped_acquire gil;
            return csr_out(std::move(csr));
          }
          auto csr = biregular_biadjacency<std::int64_t>(q, l, threads, stop);
          py::gil_scoped_acquire gil;
          return csr_out(std::move(csr));
        });
      },
      py::arg("q"), py::arg("l"), py::arg("threads") = 0, py::arg("wide") = false);
}

using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;

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

// Symmetric problem on a CSR matrix: adjacency, Laplacian or normalised Laplacian.
template <class Index>
py::dict eigsh_csr_impl(const py::array& indptr, const py::array& indices, const py::object& data,
                        std::int64_t n, const std::string& op, const py::object& deflate,
                        const LanczosOptions& o) {
  const CsrArgs<Index> csr(indptr, indices, data, n, n);
  int r = 0;
  Doubles keep;
  const double* y = deflation(deflate, n, r, keep);
  const CsrOperator<Index>& a = *csr.op;
  LanczosResult res = interruptible([&](const StopFn& stop) {
    if (op == "adjacency") return lanczos(a, y, r, o, stop);
    enforce(op == "laplacian" || op == "normalized_laplacian",
            "operator must be 'adjacency', 'laplacian' or 'normalized_laplacian', got '" + op + "'");
    const LaplacianOperator l(a, a.row_sums(o.threads, stop), op == "normalized_laplacian");
    return lanczos(l, y, r, o, stop);
  });
  return result_dict(std::move(res), n, o.k);
}

// Singular values of a rectangular CSR B from Lanczos on B^T B (cols side) or B B^T (rows side).
template <class Index>
py::dict svds_csr_impl(const py::array& indptr, const py::array& indices, const py::object& data,
                       std::int64_t rows, std::int64_t cols, bool columns, const py::object& deflate,
                       const LanczosOptions& o) {
  const CsrArgs<Index> csr(indptr, indices, data, rows, cols);
  const std::int64_t n = columns ? cols : rows;
  int r = 0;
  Doubles keep;
  const double* y = deflation(deflate, n, r, keep);
  const NormalOperator<Index> normal(*csr.op, columns);
  LanczosResult res = interruptible([&](const StopFn& stop) { return lanczos(normal, y, r, o, stop); });
  return result_dict(std::move(res), n, o.k);
}

void register_spectral(py::module_& m) {
  m.def(
      "eigsh_csr",
      [](const py::array& indptr, const py::array& indices, const py::object& data, std::int64_t n,
         const std::string& op, const py::object& deflate, int k, const std::string& which, int ncv,
         double tol, int max_restarts, std::uint64_t seed, int threads, bool vectors, bool two_pass,
         std::int64_t keep_bytes) {
        const auto o =
            options_from(k, which, ncv, tol, max_restarts, seed, threads, vectors, two_pass, keep_bytes);
        if (indices.dtype().is(py::dtype::of<std::int32_t>()))
          return eigsh_csr_impl<std::int32_t>(indptr, indices, data, n, op, deflate, o);
        enforce(indices.dtype().is(py::dtype::of<std::int64_t>()), "indices must be int32 or int64");
        return eigsh_csr_impl<std::int64_t>(indptr, indices, data, n, op, deflate, o);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n"), py::arg("operator"),
      py::arg("deflate"), py::arg("k"), py::arg("which"), py::arg("ncv"), py::arg("tol"),
      py::arg("max_restarts"), py::arg("seed"), py::arg("threads"), py::arg("vectors"),
      py::arg("two_pass") = false, py::arg("keep_bytes") = 0);
  m.def(
      "svds_csr",
      [](const py::array& indptr, const py::array& indices, const py::object& data, std::int64_t rows,
         std::int64_t cols, bool columns, const py::object& deflate, int k, int ncv, double tol,
         int max_restarts, std::uint64_t seed, int threads, bool vectors, bool two_pass,
         std::int64_t keep_bytes) {
        const auto o =
            options_from(k, "LA", ncv, tol, max_restarts, seed, threads, vectors, two_pass, keep_bytes);
        if (indices.dtype().is(py::dtype::of<std::int32_t>()))
          return svds_csr_impl<std::int32_t>(indptr, indices, data, rows, cols, columns, deflate, o);
        enforce(indices.dtype().is(py::dtype::of<std::int64_t>()), "indices must be int32 or int64");
        return svds_csr_impl<std::int64_t>(indptr, indices, data, rows, cols, columns, deflate, o);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("rows"), py::arg("cols"),
      py::arg("columns"), py::arg("deflate"), py::arg("k"), py::arg("ncv"), py::arg("tol"),
      py::arg("max_restarts"), py::arg("seed"), py::arg("threads"), py::arg("vectors"),
      py::arg("two_pass") = false, py::arg("keep_bytes") = 0);
  m.def(
      "eigsh_cayley",
      [](std::int64_t p, std::int64_t q, const py::object& deflate, int k, const std::string& which,
         int ncv, double tol, int max_restarts, std::uint64_t seed, int threads, bool vectors,
         bool two_pass, std::int64_t keep_bytes) {
        const auto o =
            options_from(k, which, ncv, tol, max_restarts, seed, threads, vectors, two_pass, keep_bytes);
        const CayleyOperator a(lps_generators(p, q));
        int r = 0;
        Doubles keep;
        const double* y = deflation(deflate, a.rows(), r, keep);
        LanczosResult res = interruptible([&](const StopFn& stop) { return lanczos(a, y, r, o, stop); });
        return result_dict(std::move(res), a.rows(), o.k);
      },
      py::arg("p"), py::arg("q"), py::arg("deflate"), py::arg("k"), py::arg("which"), py::arg("ncv"),
      py::arg("tol"), py::arg("max_restarts"), py::arg("seed"), py::arg("threads"), py::arg("vectors"),
      py::arg("two_pass") = false, py::arg("keep_bytes") = 0);
  m.def(
      "cayley_matvec",
      [](std::int64_t p, std::int64_t q, const Doubles& x, int threads) {
        const CayleyOperator a(lps_generators(p, q));
        enforce(x.ndim() == 1 && x.shape(0) == a.rows(),
                "x must have one entry per vertex (" + std::to_string(a.rows()) + ")");
        Buffer<double> y;
        allocate(y, a.rows(), "cayley_matvec output");
        interruptible([&](const StopFn& stop) {
          a.apply(x.data(), y.data(), threads, stop);
          return 0;
        });
        return to_numpy(std::move(y));
      },
      py::arg("p"), py::arg("q"), py::arg("x"), py::arg("threads") = 0);
}

template <class Index>
py::dict sketch_impl(const py::array& indptr, const py::array& indices, const py::object& data,
                     std::int64_t n, const SketchOptions& o) {
  const CsrArgs<Index> csr(indptr, indices, data, n, n);
  const double* w = data.is_none() ? nullptr : csr.data.data();
  SketchResult res = interruptible([&](const StopFn& stop) {
    return sketch_resistance(n, csr.indptr.data(), csr.indices.data(), w, o, stop);
  });
  py::dict out;
  out["resistance"] = to_numpy(std::move(res.resistance));
  out["stderr"] = to_numpy(std::move(res.stderr_));
  out["residuals"] = to_numpy(std::move(res.residuals));
  out["iterations"] = to_numpy(std::move(res.iterations));
  out["components"] = res.components;
  out["converged"] = res.converged;
  return out;
}

void register_resistance(py::module_& m) {
  m.def(
      "sketch_resistance",
      [](const py::array& indptr, const py::array& indices, const py::object& data, std::int64_t n,
         std::int64_t sketch_rows, double tol, int max_iterations, std::uint64_t seed, int threads) {
        SketchOptions o;
        o.sketch_rows = sketch_rows;
        o.tol = tol;
        o.max_iterations = max_iterations;
        o.seed = seed;
        o.threads = threads;
        if (indices.dtype().is(py::dtype::of<std::int32_t>()))
          return sketch_impl<std::int32_t>(indptr, indices, data, n, o);
        enforce(indices.dtype().is(py::dtype::of<std::int64_t>()), "indices must be int32 or int64");
        return sketch_impl<std::int64_t>(indptr, indices, data, n, o);
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("n"), py::arg("sketch_rows"),
      py::arg("tol"), py::arg("max_iterations"), py::arg("seed"), py::arg("threads"),
      "Johnson-Lindenstrauss + PCG effective resistances per stored entry of a symmetric CSR.");
}


// An exact Python int from a 128-bit count (motif counts can exceed 2^63).
py::int_ to_python(Int128 x) {
  __extension__ typedef unsigned __int128 UInt128;
  UInt128 u = x < 0 ? ~static_cast<UInt128>(x) + 1 : static_cast<UInt128>(x);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u != 0);
  if (x < 0) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return py::reinterpret_steal<py::int_>(PyLong_FromString(digits.c_str(), nullptr, 10));
}

// ramcore.Topology<Index> for int32 or int64 CSR arrays, which it keeps alive while viewing them.
class PyTopology {
 public:
  PyTopology(const py::array& indptr, const py::array& indices, const py::object& data, std::int64_t n,
             int threads) {
    if (indices.dtype().is(py::dtype::of<std::int32_t>())) {
      small_ = build<std::int32_t>(indptr, indices, data, n, threads);
    } else {
      enforce(indices.dtype().is(py::dtype::of<std::int64_t>()), "indices must be int32 or int64");
      large_ = build<std::int64_t>(indptr, indices, data, n, threads);
    }
  }

  // f(topology) on whichever index type this graph uses, with the GIL released.
  template <class F>
  auto call(F&& f) const {
    return interruptible([&](const StopFn& stop) { return small_ ? f(*small_, stop) : f(*large_, stop); });
  }
  template <class F>
  auto get(F&& f) const {
    return small_ ? f(*small_) : f(*large_);
  }

 private:
  template <class Index>
  std::unique_ptr<Topology<Index>> build(const py::array& ip, const py::array& ix, const py::object& values,
                                         std::int64_t n, int threads) {
    using Array = py::array_t<Index, py::array::c_style>;
    Array indptr = Array::ensure(ip), indices = Array::ensure(ix);
    enforce(indptr && indices && indptr.ndim() == 1 && indices.ndim() == 1,
            "indptr and indices must be 1-d integer arrays");
    enforce(n >= 0 && indptr.shape(0) == n + 1,
            "indptr must have n + 1 = " + std::to_string(n + 1) + " entries, got " + std::to_string(indptr.shape(0)));
    const auto nnz = static_cast<std::int64_t>(indptr.data()[n]);
    enforce(indices.shape(0) == nnz, "indices must have indptr[-1] = " + std::to_string(nnz) + " entries, got " +
                                         std::to_string(indices.shape(0)));
    const double* w = nullptr;
    if (!values.is_none()) {
      data_ = Doubles::ensure(values);
      enforce(data_ && data_.ndim() == 1 && data_.shape(0) == nnz, "data must have one value per stored entry");
      w = data_.data();
    }
    indptr_ = indptr;
    indices_ = indices;
    return interruptible([&](const StopFn& stop) {
      return std::make_unique<Topology<Index>>(n, indptr.data(), indices.data(), w, threads, stop);
    });
  }

  py::array indptr_, indices_;
  Doubles data_;
  std::unique_ptr<Topology<std::int32_t>> small_;
  std::unique_ptr<Topology<std::int64_t>> large_;
};

using Partition = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

void register_topometrics(py::module_& m) {
  py::class_<PyTopology>(m, "Topology")
      .def(py::init<const py::array&, const py::array&, const py::object&, std::int64_t, int>(), py::arg("indptr"),
           py::arg("indices"), py::arg("data"), py::arg("n"), py::arg("threads") = 0,
           "A directed CSR graph (rows sorted, no duplicates, no loops) and its undirected simple graph.")
      .def_property_readonly("num_nodes", [](const PyTopology& t) { return t.get([](const auto& g) { return g.num_nodes(); }); })
      .def_property_readonly("num_edges", [](const PyTopology& t) { return t.get([](const auto& g) { return g.num_edges(); }); })
      .def_property_readonly("num_undirected_edges", [](const PyTopology& t) {
        return t.get([](const auto& g) { return g.num_undirected_edges(); });
      })
      .def(
          "local",
          [](const PyTopology& t, const py::object& partition, std::int32_t first, std::int32_t last) {
            Partition part;
            const std::int32_t* p = nullptr;
            if (!partition.is_none()) {
              part = Partition::ensure(partition);
              const std::int64_t n = t.get([](const auto& g) { return g.num_nodes(); });
              enforce(part && part.ndim() == 1 && part.shape(0) == n,
                      "partition must have one entry per node (" + std::to_string(n) + ")");
              p = part.data();
            }
            const LocalConnectivity c =
                t.call([&](const auto& g, const StopFn& stop) { return g.local(p, first, last, stop); });
            py::dict out;
            out["sinks"] = c.sinks;
            out["sources"] = c.sources;
            out["disconnected"] = c.disconnected;
            out["removable_out"] = c.removable_out;
            out["removable_in"] = c.removable_in;
            return out;
          },
          py::arg("partition"), py::arg("first"), py::arg("last"))
      .def("neighbourhoods",
           [](const PyTopology& t) {
             const NeighbourhoodSums s =
                 t.call([](const auto& g, const StopFn& stop) { return g.neighbourhoods(stop); });
             return py::make_tuple(s.one_hop, s.two_hop);
           })
      .def("motifs4",
           [](const PyTopology& t) {
             const Motif4Counts c = t.call([](const auto& g, const StopFn& stop) { return g.motifs4(stop); });
             py::dict out;
             out["star"] = to_python(c.star);
             out["path"] = to_python(c.path);
             out["tailed_triangle"] = to_python(c.tailed_triangle);
             out["cycle"] = to_python(c.cycle);
             out["diamond"] = to_python(c.diamond);
             out["clique"] = to_python(c.clique);
             return out;
           })
      .def("core_number_sum",
           [](const PyTopology& t) {
             return t.call([](const auto& g, const StopFn& stop) { return g.core_number_sum(stop); });
           })
      .def("weight_sum",
           [](const PyTopology& t) {
             return t.call([](const auto& g, const StopFn& stop) { return g.weight_sum(stop); });
           })
      .def("connectivity",
           [](const PyTopology& t) {
             const GlobalConnectivity c =
                 t.call([](const auto& g, const StopFn& stop) { return g.connectivity(stop); });
             py::dict out;
             out["components"] = c.components;
             out["bridges"] = c.bridges;
             out["articulation_points"] = c.articulation_points;
             return out;
           })
      .def(
          "spectrum",
          [](const PyTopology& t, const std::string& which, double tol, int max_restarts, std::int64_t keep_bytes) {
            enforce(which == "adjacency" || which == "laplacian",
                    "which must be 'adjacency' or 'laplacian', got '" + which + "'");
            ExtremeEigenvalues e = t.call([&](const auto& g, const StopFn& stop) {
              return which == "adjacency" ? g.adjacency_top_two(tol, max_restarts, keep_bytes, stop)
                                          : g.laplacian_top(tol, max_restarts, keep_bytes, stop);
            });
            py::dict out;
            out["values"] = to_numpy(std::move(e.values));
            out["residuals"] = to_numpy(std::move(e.residuals));
            out["matvecs"] = e.matvecs;
            out["converged"] = e.converged;
            return out;
          },
          py::arg("which"), py::arg("tol"), py::arg("max_restarts"), py::arg("keep_bytes"),
          "'adjacency': the two largest eigenvalues of |W| (with multiplicity); 'laplacian': the largest "
          "of D - |W|.");
}

using Int64s = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using Bytes = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;

std::int64_t int_field(const py::dict& d, const char* key, std::int64_t fallback) {
  return d.contains(key) ? d[key].cast<std::int64_t>() : fallback;
}

// One piece from its Python dict (keys as the ConvPiece fields; mask, weight, inv_ptr, inv_entries
// arrays). The converted arrays go to `keep`, which must outlive the piece.
ConvPiece piece_from(const py::dict& d, std::size_t index, std::vector<py::array>& keep) {
  const std::string where = "piece " + std::to_string(index) + ": ";
  ConvPiece p;
  p.in_channels = int_field(d, "in_channels", 1);
  p.in_height = int_field(d, "in_height", 1);
  p.in_width = int_field(d, "in_width", 1);
  p.out_channels = int_field(d, "out_channels", 1);
  p.out_height = int_field(d, "out_height", 1);
  p.out_width = int_field(d, "out_width", 1);
  p.kernel_h = int_field(d, "kernel_h", 1);
  p.kernel_w = int_field(d, "kernel_w", 1);
  p.stride_h = int_field(d, "stride_h", 1);
  p.stride_w = int_field(d, "stride_w", 1);
  p.pad_top = int_field(d, "pad_top", 0);
  p.pad_left = int_field(d, "pad_left", 0);
  p.dilation_h = int_field(d, "dilation_h", 1);
  p.dilation_w = int_field(d, "dilation_w", 1);
  p.groups = int_field(d, "groups", 1);
  p.out_offset = int_field(d, "out_offset", 0);
  p.in_offset = int_field(d, "in_offset", 0);
  enforce(p.groups >= 1 && p.in_channels >= 1 && p.kernel_h >= 1 && p.kernel_w >= 1,
          where + "groups, in_channels and kernel sizes must be at least 1");
  const std::int64_t taps = checked_mul(
      checked_mul(p.out_channels, p.in_channels / p.groups, "mask size"), p.kernel_h * p.kernel_w,
      "mask size");
  enforce(d.contains("mask"), where + "mask is missing");
  Bytes mask = Bytes::ensure(d["mask"]);
  enforce(mask && mask.size() == taps, where + "mask must have out_channels * in_channels / groups * "
                                               "kernel_h * kernel_w = " + std::to_string(taps) + " entries");
  p.mask = mask.data();
  keep.push_back(mask);
  if (d.contains("weight") && !d["weight"].is_none()) {
    Doubles weight = Doubles::ensure(d["weight"]);
    enforce(weight && weight.size() == taps, where + "weight must have as many entries as mask");
    p.weight = weight.data();
    keep.push_back(weight);
  }
  if (d.contains("inv_ptr") && !d["inv_ptr"].is_none()) {
    p.src_begin = int_field(d, "src_begin", 0);
    p.src_end = int_field(d, "src_end", 0);
    Int64s ptr = Int64s::ensure(d["inv_ptr"]);
    Int64s entries = Int64s::ensure(d["inv_entries"]);
    enforce(ptr && entries && ptr.ndim() == 1 && entries.ndim() == 1,
            where + "inv_ptr and inv_entries must be 1-d integer arrays");
    enforce(p.src_end >= p.src_begin && ptr.shape(0) == p.src_end - p.src_begin + 1,
            where + "inv_ptr must have src_end - src_begin + 1 entries");
    enforce(ptr.data()[ptr.shape(0) - 1] == entries.shape(0),
            where + "inv_ptr[-1] must equal the length of inv_entries");
    p.inv_ptr = ptr.data();
    p.inv_entries = entries.data();
    keep.push_back(ptr);
    keep.push_back(entries);
  }
  return p;
}

void register_encoding(py::module_& m) {
  m.def(
      "unrolled_encoding",
      [](std::int64_t num_nodes, const py::list& pieces, bool weighted, int threads, bool wide) {
        std::vector<py::array> keep;
        std::vector<ConvPiece> parsed;
        for (std::size_t i = 0; i < pieces.size(); ++i)
          parsed.push_back(piece_from(pieces[i].cast<py::dict>(), i, keep));
        return interruptible([&](const StopFn& stop) {
          const UnrolledEncoding enc(num_nodes, std::move(parsed), weighted, threads, stop);
          const Buffer<std::int64_t> degrees = enc.out_degrees(threads, stop);
          std::int64_t nnz = 0;
          for (const std::int64_t d : degrees) nnz += d;
          if (!wide && fits_int32(nnz) && fits_int32(num_nodes)) {
            auto csr = enc.csr<std::int32_t>(degrees, threads, stop);
            py::gil_scoped_acquire gil;
            return csr_out(std::move(csr));
          }
          auto csr = enc.csr<std::int64_t>(degrees, threads, stop);
          py::gil_scoped_acquire gil;
          return csr_out(std::move(csr));
        });
      },
      py::arg("num_nodes"), py::arg("pieces"), py::arg("weighted"), py::arg("threads") = 0,
      py::arg("wide") = false,
      "Directed CSR (tails x heads) of a graph encoding from per-layer convolution pieces.");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "ramcore's compiled core (private: use the ramcore package)";
  m.attr("MAX_P") = kMaxP;
  m.attr("MAX_Q") = PGL2::kMaxQ;
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const TooLarge& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
  register_numbers(m);
  register_groups(m);
  register_graphs(m);
  register_spectral(m);
  register_resistance(m);
  register_topometrics(m);
  register_encoding(m);
}
