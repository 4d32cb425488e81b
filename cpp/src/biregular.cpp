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
  csr.indptr.resize(static_cast<std::size_t>(csr.rows + 1));
  csr.indices.resize(static_cast<std::size_t>(nnz));

  parallel_for(
      csr.rows, 1 << 12, threads,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t row = begin; row < end; ++row) {
          const std::int64_t i = row / q, r = row % q;
          const std::int64_t base = row * l;
          csr.indptr[static_cast<std::size_t>(row)] = static_cast<Index>(base);
          // Column offset (r - i j) mod q, updated by subtracting i each block: no division.
          std::int64_t offset = r;
          for (std::int64_t j = 0; j < l; ++j) {
            csr.indices[static_cast<std::size_t>(base + j)] = static_cast<Index>(j * q + offset);
            offset -= i;
            if (offset < 0) offset += q;
          }
        }
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
