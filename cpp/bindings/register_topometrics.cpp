#include <algorithm>
#include <memory>
#include <string>

#include "convert.hpp"
#include "ramcore/topometrics.hpp"
#include "register.hpp"

namespace ramcore::bindings {
namespace {

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
    if (int32_indices(indices)) {
      small_ = build<std::int32_t>(indptr, indices, data, n, threads);
    } else {
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

}  // namespace

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

}  // namespace ramcore::bindings
