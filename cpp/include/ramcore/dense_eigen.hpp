// Eigen-decomposition of small dense symmetric matrices (the Rayleigh-Ritz step of Lanczos).
#pragma once

#include <vector>

namespace ramcore {

// Cyclic Jacobi rotations (Golub & Van Loan, Matrix Computations, sec. 8.5): slow for large m but
// simple, deterministic and accurate to machine precision for the m <= a few hundred of a Lanczos
// projection. `a` is m x m row-major (only read); returns eigenvalues in ascending order and the
// eigenvectors as the columns of `vectors` (m x m row-major).
void symmetric_eigen(const std::vector<double>& a, int m, std::vector<double>& values,
                     std::vector<double>& vectors);

}  // namespace ramcore
