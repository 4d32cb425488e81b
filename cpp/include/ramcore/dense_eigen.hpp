// Eigen-decomposition of small dense symmetric matrices (the Rayleigh-Ritz step of Lanczos).
#pragma once

#include <vector>

namespace ramcore {

// Householder tridiagonalisation and the implicit QL method (EISPACK tred2 + tql2; Golub & Van
// Loan, Matrix Computations, secs. 8.3.1 and 8.3.3): O(m^3) with small constants, deterministic
// and backward stable, for the m x m projection of a Lanczos run (m up to the graph's size when a
// user asks for that basis). `a` is m x m row-major, symmetric (only the lower triangle is read);
// returns eigenvalues in ascending order and the eigenvectors as the columns of `vectors` (m x m
// row-major). Throws std::invalid_argument if the iteration does not converge (non-finite input).
void symmetric_eigen(const std::vector<double>& a, int m, std::vector<double>& values,
                     std::vector<double>& vectors);

}  // namespace ramcore
