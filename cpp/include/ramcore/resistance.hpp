// Approximate effective resistances of a large weighted graph (Spielman & Srivastava 2011, sec. 4).
//
// R(u, v) = ||W^1/2 B L^+ (e_u - e_v)||^2 for the signed edge-vertex incidence B. With a random
// k x |E| sign matrix Q (Johnson-Lindenstrauss), Z = Q W^1/2 B L^+ keeps every such norm within
// (1 +- eps) with high probability, and its k rows are k Laplacian solves
//     L z_i = y_i,   y_i = B^T W^1/2 q_i = sum_e q_ie sqrt(w_e) (e_u - e_v),
// done here by Jacobi-preconditioned conjugate gradients, 16 right-hand sides per sweep over the
// CSR (every index read feeds 16 products). y_i sums to zero on every connected component, so the
// singular system is consistent; the solution is projected onto 1-perp per component (L^+ y).
//
// Signs are a hash of (seed, sketch row, edge {u, v}), reductions are summed per fixed block of
// rows in block order and every stored entry is accumulated over sketch rows in order: the result
// is bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "ramcore/csr.hpp"
#include "ramcore/parallel.hpp"

namespace ramcore {

struct SketchOptions {
  std::int64_t sketch_rows = 0;  // k >= 1
  double tol = 1e-8;             // relative residual ||y - L z|| / ||y|| per solve
  int max_iterations = 1000;     // CG iterations per solve
  std::uint64_t seed = 0;
  int threads = 0;
  Status* status = nullptr;  // solves done of sketch_rows, and the current block's worst residual
};

struct SketchResult {
  // Per stored entry (u, v) of the CSR: the estimate (1/k) sum_i (z_i[u] - z_i[v])^2 and its
  // standard error std_i(k (z_i[u] - z_i[v])^2) / sqrt(k) (0 on loops).
  Buffer<double> resistance, stderr_;
  std::vector<double> residuals;       // true relative residual of every solve (0 when y_i = 0)
  std::vector<std::int32_t> iterations;  // CG iterations of every solve
  std::int64_t components = 0;         // connected components (isolated vertices included)
  bool converged = true;               // every residual <= tol
};

// Sketched effective resistances on a symmetric CSR (sorted or not, no duplicate entries) whose
// stored weights are positive and finite (data == nullptr: all 1); loops are ignored. Both ends of
// a stored edge lie in one component, so every estimate is finite. Throws std::invalid_argument
// for a non-positive or non-finite weight or k < 1.
template <class Index>
SketchResult sketch_resistance(std::int64_t n, const Index* indptr, const Index* indices,
                               const double* data, const SketchOptions& options, const StopFn& stop);

}  // namespace ramcore
