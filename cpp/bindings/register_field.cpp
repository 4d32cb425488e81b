#include "ramcore/field.hpp"
#include "register.hpp"

namespace ramcore::bindings {

namespace py = pybind11;

void register_field(py::module_& m) {
  m.def("is_prime", &is_prime, py::arg("n"), "Deterministic primality test for 64-bit integers.");
  m.def("legendre", &legendre, py::arg("a"), py::arg("p"), "Legendre symbol (a/p), p an odd prime.");
  m.def("inverse_mod", &inverse_mod, py::arg("a"), py::arg("m"), "a^{-1} mod m.");
  m.def("sqrt_mod", &sqrt_mod, py::arg("a"), py::arg("p"), "Smaller square root of a mod p.");
  m.def("two_squares_minus_one", &two_squares_minus_one, py::arg("q"),
        "(x, y) with x^2 + y^2 + 1 = 0 mod q.");
}

}  // namespace ramcore::bindings
