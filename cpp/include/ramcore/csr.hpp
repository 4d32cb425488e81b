// Compressed sparse row storage as handed to Python (scipy.sparse.csr_array layout).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace ramcore {

template <class Index>
struct Csr {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::int64_t> indptr;  // rows + 1 offsets into indices
  std::vector<Index> indices;        // column of every stored entry, sorted within each row
  std::vector<double> data;          // entry values; empty means every stored entry is 1
};

// Column indices are int32 while every column fits, int64 beyond (halves the memory of the
// graphs people actually build).
inline bool fits_int32(std::int64_t cols) {
  return cols <= static_cast<std::int64_t>(std::numeric_limits<std::int32_t>::max());
}

}  // namespace ramcore
