#include <climits>

#include "convert.hpp"
#include "ramcore/biregular.hpp"
#include "ramcore/lps.hpp"
#include "register.hpp"

namespace ramcore::bindings {

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
        const bool narrow =
            !wide && fits_int32(checked_mul(gens.vertices(), gens.p + 1, "number of stored entries"));
        return interruptible([&](const StopFn& stop) {
          return narrow_or_wide_csr(narrow, [&](auto index) {
            return lps_adjacency<decltype(index)>(gens, allow_multigraph, threads, stop);
          });
        });
      },
      py::arg("p"), py::arg("q"), py::arg("allow_multigraph") = false, py::arg("threads") = 0,
      py::arg("wide") = false);
  m.def(
      "biregular_biadjacency",
      [](std::int64_t q, std::int64_t l, int threads, bool wide) {
        const bool narrow = !wide && q >= 1 && l >= 1 && l <= INT32_MAX / q / q;  // q^2 l entries fit
        return interruptible([&](const StopFn& stop) {
          return narrow_or_wide_csr(narrow, [&](auto index) {
            return biregular_biadjacency<decltype(index)>(q, l, threads, stop);
          });
        });
      },
      py::arg("q"), py::arg("l"), py::arg("threads") = 0, py::arg("wide") = false);
}

}  // namespace ramcore::bindings
