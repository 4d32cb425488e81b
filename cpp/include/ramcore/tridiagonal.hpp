// Extreme eigenpairs of a symmetric tridiagonal matrix (the Lanczos matrix T_j).
#pragma once

#include <vector>

namespace ramcore {

// Number of eigenvalues of T (diagonal a, off-diagonal b, b.size() = a.size() - 1) below x
// (Sturm sequence of the LDL^T factorisation; Golub & Van Loan, sec. 8.4.1).
int count_below(const std::vector<double>& a, const std::vector<double>& b, double x);

// The largest (largest = true) or smallest eigenvalue by bisection to full precision.
double extreme_eigenvalue(const std::vector<double>& a, const std::vector<double>& b, bool largest);

// A unit eigenvector for the eigenvalue theta by inverse iteration on the tridiagonal system.
std::vector<double> eigenvector(const std::vector<double>& a, const std::vector<double>& b, double theta);

// For `count` tridiagonal matrices of order m (row r: diagonal a[r m .. r m + m), off-diagonal
// b[r m .. r m + m - 1), b's row stride m): the largest and the smallest eigenvalue of each,
// values[2 r] and values[2 r + 1], with unit eigenvectors in vectors[(2 r + end) m ..]. The
// convergence test of batched Lanczos runs (one call per test for every block of a batch).
void tridiagonal_extremes(const double* a, const double* b, int count, int m, double* values,
                          double* vectors);

}  // namespace ramcore
