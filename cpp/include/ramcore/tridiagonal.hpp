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

}  // namespace ramcore
