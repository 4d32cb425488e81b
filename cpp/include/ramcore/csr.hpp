// Compressed sparse row storage as handed to Python (scipy.sparse.csr_array layout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "ramcore/enforce.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

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

// allocate(), then ask Linux to back the buffer with transparent huge pages if it is large (before
// anything touches it). A construction that writes every entry of a fresh buffer of hundreds of MiB
// otherwise spends about as long in 4 KiB page faults as in its own loop (X^{5,197}); with 2 MiB
// pages one fault covers 512 times as much. Advice only: without THP the buffer works the same.
template <class T>
void allocate_huge(Buffer<T>& buffer, std::int64_t n, const char* what) {
  allocate(buffer, n, what);
#if defined(__linux__)
  const std::size_t bytes = buffer.size() * sizeof(T);
  if (bytes >= (std::size_t{8} << 20)) {
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto at = reinterpret_cast<std::uintptr_t>(buffer.data());
    const std::uintptr_t begin = (at + page - 1) / page * page, end = (at + bytes) / page * page;
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
#endif
}

// Work items per parallel task: ~0.1 ms of work, so cancellation is noticed quickly and even a
// graph with few, very long rows is spread over all threads.
constexpr std::int64_t kEntriesPerTask = std::int64_t{1} << 16;

// Throw std::invalid_argument unless (indptr, indices) is a valid CSR structure for a rows x cols
// matrix with nnz stored entries: indptr starts at 0, never decreases and ends at nnz, and every
// column index lies in [0, cols). Arrays from Python are checked before any kernel reads them.
template <class Index>
void check_csr(std::int64_t rows, std::int64_t cols, const Index* indptr, std::int64_t indptr_size,
               const Index* indices, std::int64_t nnz, std::int64_t data_size) {
  enforce(rows >= 0 && cols >= 0, "CSR shape must be non-negative");
  enforce(indptr_size == rows + 1, "indptr must have rows + 1 = " + std::to_string(rows + 1) +
                                       " entries, got " + std::to_string(indptr_size));
  enforce(indptr[0] == 0, "indptr[0] must be 0");
  // The loops only test; a message is built for the first violation alone (building one per row
  // or entry cost more than a Lanczos certificate of X^{5,61}).
  for (std::int64_t r = 0; r < rows; ++r)
    if (indptr[r + 1] < indptr[r]) enforce(false, "indptr must not decrease (row " + std::to_string(r) + ")");
  enforce(static_cast<std::int64_t>(indptr[rows]) == nnz,
          "indptr[-1] must equal the number of stored entries " + std::to_string(nnz));
  enforce(data_size < 0 || data_size == nnz, "data must have one value per stored entry");
  for (std::int64_t k = 0; k < nnz; ++k)
    if (indices[k] < 0 || static_cast<std::int64_t>(indices[k]) >= cols)
      enforce(false, "column index " + std::to_string(static_cast<std::int64_t>(indices[k])) +
                         " out of range [0, " + std::to_string(cols) + ")");
}

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
