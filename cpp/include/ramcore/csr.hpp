// Compressed sparse row storage as handed to Python (scipy.sparse.csr_array layout).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace ramcore {

// An allocator whose resize() leaves trivial values uninitialised: the construction loops write
// every entry anyway, so zero-filling first would cost a full extra pass over gigabytes of memory
// (outside the interruptible parallel loop) and touch every page from one thread.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-initialise: no zeroing for int/double
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T>
using Buffer = std::vector<T, UninitAllocator<T>>;

template <class Index>
struct Csr {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  Buffer<Index> indptr;              // rows + 1 offsets into indices
  Buffer<Index> indices;             // column of every stored entry, sorted within each row
  Buffer<double> data;               // entry values; empty means every stored entry is 1
};

// One index type for indptr and indices: int32 while the number of stored entries (and hence
// every row offset and column) fits, int64 beyond. scipy.sparse keeps indptr and indices in one
// dtype and copies both to a common one otherwise, so this is what lets csr_array share our
// buffers; it also halves the memory of every graph below 2^31 entries.
inline bool fits_int32(std::int64_t nnz) {
  return nnz <= static_cast<std::int64_t>(std::numeric_limits<std::int32_t>::max());
}

}  // namespace ramcore
