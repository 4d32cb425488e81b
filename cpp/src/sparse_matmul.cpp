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

// spmm, one row n of W and one panel: the panel's sums stay in registers while the row's kept
// weights stream their 256-byte input runs.
// Entry k's weight is values[k], or values[order[k]] when `order` is given (W^T's entries read
// in W's storage).
template <class T>
RAMCORE_INLINE void spmm_row(const std::int32_t* idx, const T* values, const std::int64_t* order, std::int64_t begin,
                             std::int64_t end, const T* in, T* out) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  V acc[kVecs<T>] = {};
  idx += begin;
  for (std::int64_t k = begin; k < end; ++k, ++idx) {
    const T v = order ? values[order[k]] : values[k];
    const T* x = in + static_cast<std::int64_t>(*idx) * kPanelLanes<T>;
    for (int p = 0; p < kVecs<T>; ++p) acc[p] += v * load<V>(x + p * L);
  }
  for (int p = 0; p < kVecs<T>; ++p) store(out + p * L, acc[p]);
}

// spmm on the flattened (panel, row) items [i0, i1), panel-major, so the threads share one panel.
template <class T>
RAMCORE_INLINE void spmm_items(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, T* out,
                               std::int64_t i0, std::int64_t i1) {
  for (std::int64_t i = i0; i < i1; ++i) {
    const std::int64_t q = i / w.rows, n = i % w.rows;
    spmm_row<T>(w.indices, values, order, w.indptr[n], w.indptr[n + 1], in + q * w.cols * kPanelLanes<T>,
                out + i * kPanelLanes<T>);
  }
}

// sddmm, rows [r0, r1), panel by panel (each panel is read by all these rows while in the cache);
// a kept entry adds its panels' dot products in panel order.
template <class T>
RAMCORE_INLINE void sddmm_rows(const RowPattern& w, const T* a, const T* in, std::int64_t panels, T* out,
                               std::int64_t r0, std::int64_t r1) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  for (std::int64_t k = w.indptr[r0]; k < w.indptr[r1]; ++k) out[k] = T(0);
  for (std::int64_t q = 0; q < panels; ++q) {
    const T* panel = in + q * w.cols * kPanelLanes<T>;
    for (std::int64_t n = r0; n < r1; ++n) {
      V arow[kVecs<T>];
      for (int p = 0; p < kVecs<T>; ++p) arow[p] = load<V>(a + (q * w.rows + n) * kPanelLanes<T> + p * L);
      for (std::int64_t k = w.indptr[n]; k < w.indptr[n + 1]; ++k) {
        const T* x = panel + static_cast<std::int64_t>(w.indices[k]) * kPanelLanes<T>;
        V s = arow[0] * load<V>(x);
        for (int p = 1; p < kVecs<T>; ++p) s += arow[p] * load<V>(x + p * L);
        out[k] += lane_sum(s);
      }
    }
  }
}

// --- one compiled copy per instruction set -------------------------------------------------------

template <class T>
using SpmmFn = void (*)(const RowPattern&, const T*, const std::int64_t*, const T*, T*, std::int64_t,
                        std::int64_t);
template <class T>
using SddmmFn = void (*)(const RowPattern&, const T*, const T*, std::int64_t, T*, std::int64_t, std::int64_t);

template <class T>
struct Kernels {
  SpmmFn<T> spmm;
  SddmmFn<T> sddmm;
};

#define RAMCORE_SPARSE_KERNELS(NAME, ATTRIBUTES)                                                         \
  template <class T>                                                                                   \
  ATTRIBUTES void spmm_##NAME(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, \
                              T* out, std::int64_t i0, std::int64_t i1) {                               \
    spmm_items<T>(w, values, order, in, out, i0, i1);                                                  \
  }                                                                                                    \
  template <class T>                                                                                   \
  ATTRIBUTES void sddmm_##NAME(const RowPattern& w, const T* a, const T* in, std::int64_t panels, T* out, \
                               std::int64_t r0, std::int64_t r1) {                                      \
    sddmm_rows<T>(w, a, in, panels, out, r0, r1);                                                      \
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

// Items per parallel task: about 4 per thread, so that a task reads each panel with many rows.
// Results do not depend on it (every output element is one task's, computed in a fixed order).
std::int64_t task_size(std::int64_t items, int threads) {
  return std::max<std::int64_t>(1, items / (4 * static_cast<std::int64_t>(resolve_threads(threads))) + 1);
}

void check_panels(std::int64_t panels) { enforce(panels >= 0, "panels must be non-negative"); }


}  // namespace

void check_pattern(const RowPattern& w, std::int64_t indptr_size, std::int64_t indices_size) {
  enforce(w.rows >= 0 && w.cols >= 0, "the pattern's shape must be non-negative");
  enforce(indptr_size == w.rows + 1, "indptr must have rows + 1 = " + std::to_string(w.rows + 1) +
                                         " entries, got " + std::to_string(indptr_size));
  enforce(w.indptr[0] == 0, "indptr must start at 0");
  // The messages are built only on failure: these loops run before every product.
  for (std::int64_t n = 0; n < w.rows; ++n)
    if (w.indptr[n + 1] < w.indptr[n]) enforce(false, "indptr must not decrease (row " + std::to_string(n) + ")");
  enforce(w.indptr[w.rows] == indices_size, "indptr[-1] must equal the number of indices, " +
                                                std::to_string(indices_size) + ", got " +
                                                std::to_string(w.indptr[w.rows]));
  bool in_range = true;
  for (std::int64_t k = 0; k < indices_size; ++k) in_range &= w.indices[k] >= 0 && w.indices[k] < w.cols;
  if (!in_range)
    for (std::int64_t k = 0; k < indices_size; ++k)
      enforce(w.indices[k] >= 0 && w.indices[k] < w.cols, "indices must lie in [0, cols = " +
                                                              std::to_string(w.cols) + "), got " +
                                                              std::to_string(w.indices[k]));
}

template <class T>
void spmm(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, std::int64_t panels,
          T* out, int threads, const StopFn& stop) {
  check_panels(panels);
  if (w.rows == 0) return;
  const SpmmFn<T> kernel = kernels<T>().spmm;
  const std::int64_t items = checked_mul(panels, w.rows, "panels * rows");
  parallel_for(
      items, task_size(items, threads), threads,
      [&](std::int64_t i0, std::int64_t i1) { kernel(w, values, order, in, out, i0, i1); }, stop);
}

template <class T>
void sddmm(const RowPattern& w, const T* a, const T* in, std::int64_t panels, T* out, int threads,
           const StopFn& stop) {
  check_panels(panels);
  const SddmmFn<T> kernel = kernels<T>().sddmm;
  parallel_for(
      w.rows, task_size(w.rows, threads), threads,
      [&](std::int64_t r0, std::int64_t r1) { kernel(w, a, in, panels, out, r0, r1); }, stop);
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
template void sddmm<float>(const RowPattern&, const float*, const float*, std::int64_t, float*, int,
                           const StopFn&);
template void sddmm<double>(const RowPattern&, const double*, const double*, std::int64_t, double*, int,
                            const StopFn&);

}  // namespace ramcore
