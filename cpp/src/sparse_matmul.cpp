#include "ramcore/sparse_matmul.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "ramcore/enforce.hpp"

// The kernels below are written once, on 64-byte vectors of GCC's vector extension, and compiled
// three times: for AVX-512, for AVX2 + FMA and for the baseline ISA. The running CPU picks one at the first call, so portable wheels (built without
// -march=native) still run the wide instructions where the CPU has them. This file is compiled
// with -ffp-contract=fast (CMakeLists.txt) so that multiply-adds become FMAs where the ISA has
// them: results may differ in the last bits between CPUs, never between thread counts.
// (GCC and Clang: the vector extension and the target attributes are theirs.)
#if defined(__x86_64__) || defined(__i386__)
#define RAMCORE_SPARSE_X86 1
#endif
#define RAMCORE_INLINE inline __attribute__((always_inline))

namespace ramcore {
namespace {

// 64-byte vectors in GCC's generic vector extension: one AVX-512 register, two AVX2 or four SSE2
// registers, as the instruction set a kernel is compiled for decides. A panel is four of them.
typedef float F16 __attribute__((vector_size(64)));
typedef float F8 __attribute__((vector_size(32)));
typedef float F4 __attribute__((vector_size(16)));
typedef double D8 __attribute__((vector_size(64)));
typedef double D4 __attribute__((vector_size(32)));
typedef double D2 __attribute__((vector_size(16)));

template <class T>
struct VecOf;
template <>
struct VecOf<float> {
  using type = F16;
};
template <>
struct VecOf<double> {
  using type = D8;
};
template <class T>
using Vec = typename VecOf<T>::type;
template <class T>
constexpr int kLanes = static_cast<int>(sizeof(Vec<T>) / sizeof(T));
template <class T>
constexpr int kVecs = static_cast<int>(kPanelLanes<T> / kLanes<T>);

// Unaligned loads and stores (numpy and torch give no 64-byte alignment).
template <class V, class T>
RAMCORE_INLINE V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V, class T>
RAMCORE_INLINE void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}

// The lanes of a vector summed by halving it (a fixed tree: the same on every thread).
template <class Half, class V>
RAMCORE_INLINE Half fold(const V& v) {
  Half lo, hi;
  std::memcpy(&lo, &v, sizeof(Half));
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(Half), sizeof(Half));
  return lo + hi;
}
RAMCORE_INLINE float lane_sum(const F16& v) {
  const F4 q = fold<F4>(fold<F8>(v));
  return (q[0] + q[2]) + (q[1] + q[3]);
}
RAMCORE_INLINE double lane_sum(const D8& v) {
  const D2 h = fold<D2>(fold<D4>(v));
  return h[0] + h[1];
}

// Entry k of W is values[k], or values[order[k]] when `order` is given.
RAMCORE_INLINE std::int64_t at(const std::int64_t* order, std::int64_t k) {
  return order ? order[k] : k;
}

// spmm for one panel and rows [r0, r1), column block by column block: the rows' reads of one block
// (kBlockCols runs of 256 bytes, 32 KiB) then come from the L1 cache, where whole rows would stream
// the 1 MiB panel from L2 (1.4x slower). A row's sums stay in registers within a block and go back
// to `out` between blocks; entries are added in storage order, so the result is the same for any
// task split.
template <class T>
RAMCORE_INLINE void spmm_task(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, T* out,
                              std::int64_t r0, std::int64_t r1) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  for (std::int64_t b = 0; b < w.blocks; ++b)
    for (std::int64_t n = r0; n < r1; ++n) {
      const std::int64_t k0 = w.indptr[b * w.rows + n], k1 = w.indptr[b * w.rows + n + 1];
      if (b > 0 && k0 == k1) continue;
      T* o = out + n * kPanelLanes<T>;
      V acc[kVecs<T>];
      for (int p = 0; p < kVecs<T>; ++p) acc[p] = b == 0 ? V{} : load<V>(o + p * L);
      for (std::int64_t k = k0; k < k1; ++k) {
        const T v = values[at(order, k)];
        const T* x = in + static_cast<std::int64_t>(w.indices[k]) * kPanelLanes<T>;
        for (int p = 0; p < kVecs<T>; ++p) acc[p] += v * load<V>(x + p * L);
      }
      for (int p = 0; p < kVecs<T>; ++p) store(o + p * L, acc[p]);
    }
}

// sddmm for panels [q0, q0 + Q) and rows [r0, r1), block by block (for the caches, as spmm_task):
// the rows' Q panels of `a` sit in registers while their entries' input runs come from the cache.
// Each entry adds the group's dot product, one horizontal sum for Q panels.
template <class T, int Q>
RAMCORE_INLINE void sddmm_group(const RowPattern& w, const T* a, const T* in, std::int64_t q0,
                                const std::int64_t* order, T* out, std::int64_t r0, std::int64_t r1) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  const std::int64_t panel_in = w.cols * kPanelLanes<T>, panel_a = w.rows * kPanelLanes<T>;
  for (std::int64_t b = 0; b < w.blocks; ++b)
    for (std::int64_t n = r0; n < r1; ++n) {
      const std::int64_t k0 = w.indptr[b * w.rows + n], k1 = w.indptr[b * w.rows + n + 1];
      if (k0 == k1) continue;
      V arow[Q][kVecs<T>];
      for (int g = 0; g < Q; ++g)
        for (int p = 0; p < kVecs<T>; ++p)
          arow[g][p] = load<V>(a + (q0 + g) * panel_a + n * kPanelLanes<T> + p * L);
      for (std::int64_t k = k0; k < k1; ++k) {
        const T* x = in + q0 * panel_in + static_cast<std::int64_t>(w.indices[k]) * kPanelLanes<T>;
        V sum = arow[0][0] * load<V>(x);
        for (int g = 0; g < Q; ++g)
          for (int p = g == 0 ? 1 : 0; p < kVecs<T>; ++p) sum += arow[g][p] * load<V>(x + g * panel_in + p * L);
        T& o = out[at(order, k)];
        o = q0 == 0 ? lane_sum(sum) : o + lane_sum(sum);
      }
    }
}

// sddmm for rows [r0, r1): panels two at a time (8% faster than one: half the horizontal sums;
// four reread the cache more than they save), the last one alone when their number is odd.
template <class T>
RAMCORE_INLINE void sddmm_task(const RowPattern& w, const T* a, const T* in, std::int64_t panels,
                               const std::int64_t* order, T* out, std::int64_t r0, std::int64_t r1) {
  std::int64_t q = 0;
  for (; q + 1 < panels; q += 2) sddmm_group<T, 2>(w, a, in, q, order, out, r0, r1);
  if (q < panels) sddmm_group<T, 1>(w, a, in, q, order, out, r0, r1);
}

// --- one compiled copy per instruction set -------------------------------------------------------

template <class T>
using SpmmFn = void (*)(const RowPattern&, const T*, const std::int64_t*, const T*, T*, std::int64_t,
                        std::int64_t);
template <class T>
using SddmmFn = void (*)(const RowPattern&, const T*, const T*, std::int64_t, const std::int64_t*, T*,
                         std::int64_t, std::int64_t);

template <class T>
struct Kernels {
  SpmmFn<T> spmm;
  SddmmFn<T> sddmm;
};

#define RAMCORE_SPARSE_KERNELS(NAME, ATTRIBUTES)                                                         \
  template <class T>                                                                                   \
  ATTRIBUTES void spmm_##NAME(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, \
                              T* out, std::int64_t r0, std::int64_t r1) {                               \
    spmm_task<T>(w, values, order, in, out, r0, r1);                                                   \
  }                                                                                                    \
  template <class T>                                                                                   \
  ATTRIBUTES void sddmm_##NAME(const RowPattern& w, const T* a, const T* in, std::int64_t panels,          \
                               const std::int64_t* order, T* out, std::int64_t r0, std::int64_t r1) {     \
    sddmm_task<T>(w, a, in, panels, order, out, r0, r1);                                               \
  }

RAMCORE_SPARSE_KERNELS(baseline, )
#ifdef RAMCORE_SPARSE_X86
RAMCORE_SPARSE_KERNELS(avx2, __attribute__((target("avx2,fma"))))
RAMCORE_SPARSE_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma"))))
#endif

enum class Isa { baseline, avx2, avx512 };

Isa detect_isa() {
#ifdef RAMCORE_SPARSE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::baseline;
}

Isa isa() {
  static const Isa chosen = detect_isa();
  return chosen;
}

template <class T>
Kernels<T> kernels() {
  switch (isa()) {
#ifdef RAMCORE_SPARSE_X86
    case Isa::avx512:
      return {spmm_avx512<T>, sddmm_avx512<T>};
    case Isa::avx2:
      return {spmm_avx2<T>, sddmm_avx2<T>};
#endif
    default:
      return {spmm_baseline<T>, sddmm_baseline<T>};
  }
}

// Rows per parallel task: enough to reuse each block of the input many times (spmm: a block is read
// once per task and panel), few enough that a 4096-row layer gives every thread several tasks.
// Results do not depend on them (every output element is one task's, computed in a fixed order).
constexpr std::int64_t kSpmmTaskRows = 1024;
constexpr std::int64_t kTaskRows = 256;

void check_panels(std::int64_t panels) { enforce(panels >= 0, "panels must be non-negative"); }

// Tasks per parallel_for chunk: all of them (run on the calling thread) when the whole product is
// smaller than about 2^15 entry-panels, some 30 microseconds, less than waking a worker costs.
std::int64_t tasks_per_chunk(std::int64_t tasks, std::int64_t work) {
  constexpr std::int64_t kSerialWork = std::int64_t{1} << 15;
  return work < kSerialWork ? std::max<std::int64_t>(tasks, 1) : 1;
}

}  // namespace

void check_pattern(const RowPattern& w, std::int64_t indptr_size, std::int64_t indices_size) {
  enforce(w.rows >= 0 && w.cols >= 0, "the pattern's shape must be non-negative");
  enforce(w.blocks == column_blocks(w.cols), "blocks must be column_blocks(cols) = " +
                                                 std::to_string(column_blocks(w.cols)) + ", got " +
                                                 std::to_string(w.blocks));
  const std::int64_t segments = checked_mul(w.blocks, w.rows, "blocks * rows");
  enforce(indptr_size == segments + 1, "indptr must have blocks * rows + 1 = " + std::to_string(segments + 1) +
                                           " entries, got " + std::to_string(indptr_size));
  enforce(w.indptr[0] == 0, "indptr must start at 0");
  // The messages are built only on failure: these loops run before every product.
  for (std::int64_t s = 0; s < segments; ++s)
    if (w.indptr[s + 1] < w.indptr[s]) enforce(false, "indptr must not decrease (at " + std::to_string(s) + ")");
  enforce(w.indptr[segments] == indices_size, "indptr[-1] must equal the number of indices, " +
                                                  std::to_string(indices_size) + ", got " +
                                                  std::to_string(w.indptr[segments]));
}

void check_indices(const RowPattern& w, int threads, const StopFn& stop) {
  // Segment (b, n) holds columns of block b only: what makes the kernels' reads cache-local, and
  // what keeps every index in [0, cols). One task per column block.
  parallel_for(
      w.blocks, tasks_per_chunk(w.blocks, w.nnz()), threads,
      [&](std::int64_t b0, std::int64_t b1) {
        bool in_block = true;
        for (std::int64_t b = b0; b < b1; ++b) {
          const std::int64_t lo = b * kBlockCols, hi = std::min(w.cols, lo + kBlockCols);
          for (std::int64_t k = w.indptr[b * w.rows]; k < w.indptr[(b + 1) * w.rows]; ++k)
            in_block &= w.indices[k] >= lo && w.indices[k] < hi;
        }
        enforce(in_block, "indices must lie in [0, cols = " + std::to_string(w.cols) +
                              "), those of segment (b, n) in column block b");
      },
      stop);
}

void check_order(const std::int64_t* order, std::int64_t nnz, int threads, const StopFn& stop) {
  constexpr std::int64_t kChunk = std::int64_t{1} << 16;
  parallel_for(
      nnz, kChunk, threads,
      [&](std::int64_t k0, std::int64_t k1) {
        bool in_range = true;
        for (std::int64_t k = k0; k < k1; ++k) in_range &= order[k] >= 0 && order[k] < nnz;
        enforce(in_range, "order must hold positions in [0, nnz = " + std::to_string(nnz) + ")");
      },
      stop);
}

template <class T>
void spmm(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, std::int64_t panels,
          T* out, int threads, const StopFn& stop) {
  check_panels(panels);
  const SpmmFn<T> kernel = kernels<T>().spmm;
  const std::int64_t chunks = (w.rows + kSpmmTaskRows - 1) / kSpmmTaskRows;
  const std::int64_t tasks = checked_mul(panels, chunks, "panels * row chunks");
  // Tasks are (panel, row chunk) pairs, panel-major, so the threads share one panel at a time.
  parallel_for(
      tasks, tasks_per_chunk(tasks, panels * (w.nnz() + w.rows)), threads,
      [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t q = t / chunks, r0 = t % chunks * kSpmmTaskRows;
          kernel(w, values, order, in + q * w.cols * kPanelLanes<T>, out + q * w.rows * kPanelLanes<T>, r0,
                 std::min(w.rows, r0 + kSpmmTaskRows));
        }
      },
      stop);
}

template <class T>
void sddmm(const RowPattern& w, const T* a, const T* in, std::int64_t panels, const std::int64_t* order, T* out,
           int threads, const StopFn& stop) {
  check_panels(panels);
  if (panels == 0) {  // no sample: every product is an empty sum
    std::fill(out, out + w.nnz(), T(0));
    return;
  }
  const SddmmFn<T> kernel = kernels<T>().sddmm;
  const std::int64_t chunks = (w.rows + kTaskRows - 1) / kTaskRows;
  parallel_for(
      chunks, tasks_per_chunk(chunks, panels * (w.nnz() + w.rows)), threads,
      [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t c = c0; c < c1; ++c)
          kernel(w, a, in, panels, order, out, c * kTaskRows, std::min(w.rows, (c + 1) * kTaskRows));
      },
      stop);
}

// Features per tile of the panel transposes: a tile's lanes x 16 values (16 KiB of floats) are
// read and written within the L1 cache.
constexpr std::int64_t kTileFeatures = 16;

template <class T>
void pack_panels(const T* x, std::int64_t m, std::int64_t f, T* out, int threads, const StopFn& stop) {
  enforce(m >= 0 && f >= 0, "pack_panels: sizes must be non-negative");
  constexpr std::int64_t L = kPanelLanes<T>;
  const std::int64_t tiles = (f + kTileFeatures - 1) / kTileFeatures, panels = (m + L - 1) / L;
  parallel_for(
      checked_mul(panels, tiles, "panels * tiles"), 64, threads,
      [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t q = t / tiles, j0 = t % tiles * kTileFeatures, j1 = std::min(f, j0 + kTileFeatures);
          T* o = out + (q * f + j0) * L;
          for (std::int64_t p = 0; p < L; ++p) {
            const std::int64_t row = q * L + p;
            const T* xr = x + row * f;
            for (std::int64_t j = j0; j < j1; ++j) o[(j - j0) * L + p] = row < m ? xr[j] : T(0);
          }
        }
      },
      stop);
}

template <class T>
void unpack_panels(const T* in, std::int64_t m, std::int64_t f, const T* bias, T* y, int threads,
                   const StopFn& stop) {
  enforce(m >= 0 && f >= 0, "unpack_panels: sizes must be non-negative");
  constexpr std::int64_t L = kPanelLanes<T>;
  const std::int64_t tiles = (f + kTileFeatures - 1) / kTileFeatures, panels = (m + L - 1) / L;
  parallel_for(
      checked_mul(panels, tiles, "panels * tiles"), 64, threads,
      [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t q = t / tiles, j0 = t % tiles * kTileFeatures, j1 = std::min(f, j0 + kTileFeatures);
          const T* src = in + (q * f + j0) * L;
          for (std::int64_t p = 0; p < L && q * L + p < m; ++p) {
            T* yr = y + (q * L + p) * f;
            for (std::int64_t j = j0; j < j1; ++j) yr[j] = src[(j - j0) * L + p] + (bias ? bias[j] : T(0));
          }
        }
      },
      stop);
}

const char* sparse_kernel_isa() {
  switch (isa()) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    default:
      return "baseline";
  }
}

template void spmm<float>(const RowPattern&, const float*, const std::int64_t*, const float*, std::int64_t,
                          float*, int, const StopFn&);
template void spmm<double>(const RowPattern&, const double*, const std::int64_t*, const double*, std::int64_t,
                           double*, int, const StopFn&);
template void pack_panels<float>(const float*, std::int64_t, std::int64_t, float*, int, const StopFn&);
template void pack_panels<double>(const double*, std::int64_t, std::int64_t, double*, int, const StopFn&);
template void unpack_panels<float>(const float*, std::int64_t, std::int64_t, const float*, float*, int,
                                   const StopFn&);
template void unpack_panels<double>(const double*, std::int64_t, std::int64_t, const double*, double*, int,
                                    const StopFn&);
template void sddmm<float>(const RowPattern&, const float*, const float*, std::int64_t, const std::int64_t*,
                           float*, int, const StopFn&);
template void sddmm<double>(const RowPattern&, const double*, const double*, std::int64_t, const std::int64_t*,
                            double*, int, const StopFn&);

}  // namespace ramcore
