// The areas of ramcore._core: each register_<area>.cpp binds one area of the core, and module.cpp
// calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace ramcore::bindings {

void register_field(pybind11::module_& m);
void register_groups(pybind11::module_& m);
void register_graphs(pybind11::module_& m);
void register_spectral(pybind11::module_& m);
void register_resistance(pybind11::module_& m);
void register_topometrics(pybind11::module_& m);
void register_encoding(pybind11::module_& m);
void register_sparse(pybind11::module_& m);

}  // namespace ramcore::bindings
