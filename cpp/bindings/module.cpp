// The private extension ramcore._core: converts arguments, releases the GIL, calls the core and
// returns numpy arrays that own the core's buffers. No logic lives here; this file only wires the
// areas (register_<area>.cpp) together.
#include <pybind11/pybind11.h>

#include <exception>

#include "ramcore/enforce.hpp"
#include "ramcore/lps.hpp"
#include "ramcore/pgl2.hpp"
#include "register.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  using namespace ramcore;
  using namespace ramcore::bindings;
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
  register_field(m);
  register_groups(m);
  register_graphs(m);
  register_spectral(m);
  register_resistance(m);
  register_topometrics(m);
  register_encoding(m);
  register_sparse(m);
}
