#include <string>

#include "convert.hpp"
#include "ramcore/pgl2.hpp"
#include "register.hpp"

namespace ramcore::bindings {
namespace {

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

std::int64_t rows_of(const Int64s& m, const char* name) {
  enforce(m.ndim() == 2 && m.shape(1) == 4,
          std::string(name) + " must have shape (k, 4) (rows a, b, c, d of [[a, b], [c, d]])");
  return m.shape(0);
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

}  // namespace

void register_groups(py::module_& m) {
  py::class_<PGL2>(m, "PGL2")
      .def(py::init<std::int64_t>(), py::arg("q"))
      .def_property_readonly("q", &PGL2::q)
      .def_property_readonly("order", &PGL2::order)
      .def_property_readonly("psl_order", &PGL2::psl_order)
      .def(
          "canonical",
          [](const PGL2& g, const Int64s& mats, int threads) {
            const std::int64_t k = rows_of(mats, "matrices");
            const std::int64_t* in = mats.data();
            Flat out = flat_buffer(4 * k);
            for_each_row(k, threads, [&](std::int64_t i) { put(out, i, get(g, in + 4 * i)); });
            return matrices_out(std::move(out));
          },
          py::arg("matrices"), py::arg("threads") = 0)
      .def(
          "rank",
          [](const PGL2& g, const Int64s& mats, int threads) {
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
          [](const PGL2& g, const Int64s& ranks, int threads) {
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
          [](const PGL2& g, const Int64s& x, const Int64s& y, int threads) {
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
          [](const PGL2& g, const Int64s& mats, int threads) {
            const std::int64_t k = rows_of(mats, "matrices");
            const std::int64_t* in = mats.data();
            py::array_t<bool> out(k);
            bool* o = out.mutable_data();
            for_each_row(k, threads, [&](std::int64_t i) { o[i] = g.in_psl(get(g, in + 4 * i)); });
            return out;
          },
          py::arg("matrices"), py::arg("threads") = 0);
}

}  // namespace ramcore::bindings
