// Compressed sparse row storage as handed to Python (scipy.sparse.csr_array layout).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "ramcore/enforce.hpp"

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

// Resize `buffer` to n entries, refusing sizes the allocator cannot even represent.
template <class T>
void allocate(Buffer<T>& buffer, std::int64_t n, const char* what) {
  if (n < 0 || static_cast<std::uint64_t>(n) > buffer.max_size())
    throw TooLarge(std::string(what) + ": " + std::to_string(n) + " entries cannot be allocated");
  buffer.resize(static_cast<std::size_t>(n));
}

// Work items per parallel task: ~0.1 ms of work, so cancellation is noticed quickly and even a
// graph with few, very long rows is spread over all threads.
constexpr std::int64_t kEntriesPerTask = std::int64_t{1} << 16;

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
