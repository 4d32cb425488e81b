#include "ramcore/biregular.hpp"

#include <string>

#include "ramcore/enforce.hpp"
#include "ramcore/field.hpp"

namespace ramcore {

template <class Index>
Csr<Index> biregular_biadjacency(std::int64_t q, std::int64_t l, int threads, const StopFn& stop) {
  enforce(q >= 2 && is_prime(static_cast<std::uint64_t>(q)),
          "q must be a prime, got " + std::to_string(q));
  enforce(l >= 1, "l must be at least 1, got " + std::to_string(l));
  Csr<Index> csr;
  csr.rows = checked_mul(q, q, "number of rows q^2");
  csr.cols = checked_mul(l, q, "number of columns l q");
  const std::int64_t nnz = checked_mul(csr.rows, l, "number of edges q^2 l");
  enforce(sizeof(Index) == 8 || fits_int32(nnz), "biregular_biadjacency: index type too small");
  allocate(csr.indptr, csr.rows + 1, "biregular_biadjacency indptr");
  allocate(csr.indices, nnz, "biregular_biadjacency indices");

  // Parallel over entries, not rows: with l large a single row can hold millions of entries.
  // Entry k is block j = k mod l of row (i, r) = k div l; its column is j q + ((r - i j) mod q),
  // updated incrementally (subtract i per block) so the inner loop has no division.
  parallel_for(
      nnz, kEntriesPerTask, threads,
      [&](std::int64_t begin, std::int64_t end) {
        std::int64_t row = begin / l, j = begin % l;
        std::int64_t i = row / q, r = row % q;
        std::int64_t offset = (r - (i * (j % q)) % q + q) % q;
        for (std::int64_t k = begin; k < end; ++k) {
          csr.indices[static_cast<std::size_t>(k)] = static_cast<Index>(j * q + offset);
          if (++j == l) {
            j = 0;
            if (++r == q) {
              r = 0;
              ++i;
            }
            offset = r;
          } else {
            offset -= i;
            if (offset < 0) offset += q;
          }
        }
      },
      stop);
  parallel_for(
      csr.rows, kEntriesPerTask, threads,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t row = begin; row < end; ++row)
          csr.indptr[static_cast<std::size_t>(row)] = static_cast<Index>(row * l);
      },
      stop);
  csr.indptr.back() = static_cast<Index>(nnz);
  return csr;
}

template Csr<std::int32_t> biregular_biadjacency<std::int32_t>(std::int64_t, std::int64_t, int,
                                                               const StopFn&);
template Csr<std::int64_t> biregular_biadjacency<std::int64_t>(std::int64_t, std::int64_t, int,
                                                               const StopFn&);

}  // namespace ramcore
