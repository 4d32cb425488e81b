// Thick-restart Lanczos for a few eigenvalues of a symmetric operator (Wu & Simon, "Thick-restart
// Lanczos method for large symmetric eigenvalue problems", SIAM J. Matrix Anal. Appl. 22, 2000).
//
// Each cycle extends an orthonormal basis V = [v_0 .. v_{m-1}] with the three-term recurrence
//   beta_j v_{j+1} = A v_j - alpha_j v_j - beta_{j-1} v_{j-1},
// re-orthogonalised in full against V (twice: "twice is enough") and against the deflated vectors
// Y, so the operator actually solved is P A P with P = I - Y Y^T. The projection T = V^T A V
// (tridiagonal, plus an arrow after a restart) is diagonalised densely; a Ritz pair (theta, V s)
// has residual norm |beta_{m-1} s_{m-1}|. Unconverged cycles restart from the best
// k + (m - k) / 2 Ritz vectors and the last Lanczos vector, which keeps T an arrowhead matrix.
// Breakdown (beta_j at the rounding level of ||A||: an invariant subspace, e.g. rank-deficient input,
// or a deflated operator P A P that is numerically zero) sets beta_j = 0 in T and continues from a
// fresh random vector orthogonal to the basis and the deflated block (Parlett, "The Symmetric
// Eigenvalue Problem", 1998, ch. 13); "rounding level" is judged against ||A v_j|| and the norm
// seen by earlier runs, never the current run's own Ritz values. Returned values are Rayleigh
// quotients of unit vectors, so |lambda| <= ||A|| always. Non-convergence is a returned status,
// never an exception.
#pragma once

#include <cstdint>
#include <vector>

#include "ramcore/linear_operator.hpp"
#include "ramcore/parallel.hpp"

namespace ramcore {

enum class Which {
  kLargest,    // largest algebraic
  kSmallest,   // smallest algebraic
  kMagnitude,  // largest |lambda|
};

struct LanczosOptions {
  int k = 1;
  Which which = Which::kLargest;
  int ncv = 0;              // basis size m; 0 chooses max(2 k + 1, 20), capped by the dimension
  double tol = 1e-10;       // ||A y - theta y|| <= max(tol |theta|, 100 eps ||A||), true residual
  int max_restarts = 1000;
  std::uint64_t seed = 0;   // start vector: deterministic pseudo-random from this seed
  int threads = 0;
  bool vectors = false;     // return the Ritz vectors
  // k = 1 only: the plain recurrence without re-orthogonalisation or restarts, in two passes
  // (see lanczos_two_pass). Memory O(n) instead of O(n ncv), and no Gram-Schmidt sweeps.
  bool two_pass = false;
  // two_pass only: keep the Lanczos vectors while they fit in this many bytes, so the Ritz vector
  // is formed from them instead of replaying the recurrence (half the matrix-vector products).
  std::int64_t keep_vectors_bytes = 0;
  // Where the run reports its matrix-vector products and its current relative residual
  // estimate (see Status); nullptr for none.
  Status* status = nullptr;
};

struct LanczosResult {
  std::vector<double> values;     // k values, best first in the `which` order: the Rayleigh
                                  // quotients y^T P A P y of the unit Ritz vectors y (P = I - Y Y^T)
  std::vector<double> residuals;  // true residual norms ||A y - theta y|| of the unit Ritz vectors
  std::vector<double> vectors;    // n x k, row-major, when requested
  std::int64_t matvecs = 0;
  int restarts = 0;
  bool converged = false;
};

// `deflate` holds r orthonormal vectors as an n x r row-major array (nullptr when r = 0).
// With options.two_pass (k = 1) this dispatches to lanczos_two_pass.
LanczosResult lanczos(const LinearOperator& a, const double* deflate, int r,
                      const LanczosOptions& options, const StopFn& stop);

// One extreme eigenvalue by the plain Lanczos recurrence (Cullum & Willoughby, "Lanczos
// Algorithms for Large Symmetric Eigenvalue Computations", 1985, ch. 4). Only the recurrence's
// local orthogonality and the deflation block are enforced; the lost global orthogonality makes
// converged Ritz values repeat ("ghosts") but does not move the extreme one (Paige 1980), which
// is all a certificate needs. Pass 1 keeps only alpha, beta and three vectors, and after each
// step finds the extreme eigenvalue of the tridiagonal T_j by bisection (Sturm counts) and its
// eigenvector by inverse iteration; it stops when |beta_j s_j| <= tol * |theta|, or at a breakdown
// (beta_j at the rounding level of max ||A v_i||, or w mostly along the deflated block). Pass 2
// replays the same recurrence to form y = V s and reports the Rayleigh quotient theta = y^T P A P y
// of the unit vector y with its true residual ||P A P y - theta y||.
LanczosResult lanczos_two_pass(const LinearOperator& a, const double* deflate, int r,
                               const LanczosOptions& options, const StopFn& stop);

}  // namespace ramcore
