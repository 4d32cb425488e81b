#include "ramcore/sparse_matmul.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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

// One butterfly stage of an in-register transpose (the recursive transpose of a 2^k x 2^k block):
// rows i and i + s (bit s of i clear) exchange the blocks of s lanes whose bit s differs, which
// swaps bit s of the row and column indices; the stages s = 1, 2, 4, ... together transpose. One
// two-source shuffle per output row (vpermt2ps/pd on AVX-512).
#define RAMCORE_STAGE(V, S, LO, HI)                                                          \
  for (int i = 0; i < static_cast<int>(sizeof(V) / sizeof(r[0][0])); ++i)                   \
    if (!(i & (S))) {                                                                        \
      const V a = r[i], b = r[i + (S)];                                                      \
      r[i] = __builtin_shufflevector(a, b, LO);                                              \
      r[i + (S)] = __builtin_shufflevector(a, b, HI);                                        \
    }
#define RAMCORE_L(...) __VA_ARGS__
RAMCORE_INLINE void transpose(F16 (&r)[16]) {
  RAMCORE_STAGE(F16, 1, RAMCORE_L(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
                RAMCORE_L(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31))
  RAMCORE_STAGE(F16, 2, RAMCORE_L(0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
                RAMCORE_L(2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
  RAMCORE_STAGE(F16, 4, RAMCORE_L(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
                RAMCORE_L(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31))
  RAMCORE_STAGE(F16, 8, RAMCORE_L(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
                RAMCORE_L(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
}
RAMCORE_INLINE void transpose(D8 (&r)[8]) {
  RAMCORE_STAGE(D8, 1, RAMCORE_L(0, 8, 2, 10, 4, 12, 6, 14), RAMCORE_L(1, 9, 3, 11, 5, 13, 7, 15))
  RAMCORE_STAGE(D8, 2, RAMCORE_L(0, 1, 8, 9, 4, 5, 12, 13), RAMCORE_L(2, 3, 10, 11, 6, 7, 14, 15))
  RAMCORE_STAGE(D8, 4, RAMCORE_L(0, 1, 2, 3, 8, 9, 10, 11), RAMCORE_L(4, 5, 6, 7, 12, 13, 14, 15))
}
#undef RAMCORE_STAGE
#undef RAMCORE_L

// The lane sums of four vectors: two levels of a transposing reduction (half-vector shuffles and
// adds shared by the four) leave each sum in a quarter of the lanes, which a short fixed tree adds.
// Half the shuffles of four lane_sums: the weight gradient does one per kept weight.
RAMCORE_INLINE void lane_sums4(const F16& a, const F16& b, const F16& c, const F16& d, float (&s)[4]) {
  const F16 ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                 __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const F16 cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                 __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const F16 q = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  for (int e = 0; e < 4; ++e) s[e] = (q[4 * e] + q[4 * e + 2]) + (q[4 * e + 1] + q[4 * e + 3]);
}
RAMCORE_INLINE void lane_sums4(const D8& a, const D8& b, const D8& c, const D8& d, double (&s)[4]) {
  const D8 ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11) +
                __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15);
  const D8 cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 8, 9, 10, 11) +
                __builtin_shufflevector(c, d, 4, 5, 6, 7, 12, 13, 14, 15);
  const D8 q = __builtin_shufflevector(ab, cd, 0, 1, 4, 5, 8, 9, 12, 13) +
               __builtin_shufflevector(ab, cd, 2, 3, 6, 7, 10, 11, 14, 15);
  for (int e = 0; e < 4; ++e) s[e] = q[2 * e] + q[2 * e + 1];
}

// spmm for one panel and rows [r0, r1), column block by column block: the rows' reads of one block
// (128 runs of 256 bytes, 32 KiB, in the default width) then come from the L1 cache, where whole
// rows would stream the 1 MiB panel from L2 (1.4x slower). A row's sums stay in registers within a block and go back
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
// Entries go four at a time, each with its own sum (four independent FMA chains where one chain
// would wait on the FMA latency), and their four lane sums share one transposing reduction
// (lane_sums4); a segment's last (k1 - k0) % 4 entries go alone. The grouping depends on the
// pattern only, so every thread count adds the same terms in the same order.
template <class T, int Q>
RAMCORE_INLINE void sddmm_group(const RowPattern& w, const T* a, const T* in, std::int64_t q0,
                                const std::int64_t* order, T* out, std::int64_t r0, std::int64_t r1) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  constexpr int P = kVecs<T>;
  const std::int64_t panel_in = w.cols * kPanelLanes<T>, panel_a = w.rows * kPanelLanes<T>;
  const T* base = in + q0 * panel_in;
  for (std::int64_t b = 0; b < w.blocks; ++b)
    for (std::int64_t n = r0; n < r1; ++n) {
      const std::int64_t k0 = w.indptr[b * w.rows + n], k1 = w.indptr[b * w.rows + n + 1];
      if (k0 == k1) continue;
      V arow[Q][P];
      for (int g = 0; g < Q; ++g)
        for (int p = 0; p < P; ++p) arow[g][p] = load<V>(a + (q0 + g) * panel_a + n * kPanelLanes<T> + p * L);
      std::int64_t k = k0;
      for (; k + 4 <= k1; k += 4) {
        const T* x[4];
        V sum[4];
        for (int e = 0; e < 4; ++e) {
          x[e] = base + static_cast<std::int64_t>(w.indices[k + e]) * kPanelLanes<T>;
          sum[e] = arow[0][0] * load<V>(x[e]);
        }
        for (int g = 0; g < Q; ++g)
          for (int p = g == 0 ? 1 : 0; p < P; ++p)
            for (int e = 0; e < 4; ++e) sum[e] += arow[g][p] * load<V>(x[e] + g * panel_in + p * L);
        T s[4];
        lane_sums4(sum[0], sum[1], sum[2], sum[3], s);
        for (int e = 0; e < 4; ++e) {
          T& o = out[at(order, k + e)];
          o = q0 == 0 ? s[e] : o + s[e];
        }
      }
      for (; k < k1; ++k) {
        const T* x = base + static_cast<std::int64_t>(w.indices[k]) * kPanelLanes<T>;
        V sum = arow[0][0] * load<V>(x);
        for (int g = 0; g < Q; ++g)
          for (int p = g == 0 ? 1 : 0; p < P; ++p) sum += arow[g][p] * load<V>(x + g * panel_in + p * L);
        T& o = out[at(order, k)];
        o = q0 == 0 ? lane_sum(sum) : o + lane_sum(sum);
      }
    }
}

// sddmm for rows [r0, r1): panels two at a time (half the lane sums of one at a time; four at a time
// were 8% slower on the 4096^2 layer: their block, 128 KiB, no longer fits the L1 cache), the last
// one alone when their number is odd.
template <class T>
RAMCORE_INLINE void sddmm_task(const RowPattern& w, const T* a, const T* in, std::int64_t panels,
                               const std::int64_t* order, T* out, std::int64_t r0, std::int64_t r1) {
  std::int64_t q = 0;
  for (; q + 1 < panels; q += 2) sddmm_group<T, 2>(w, a, in, q, order, out, r0, r1);
  if (q < panels) sddmm_group<T, 1>(w, a, in, q, order, out, r0, r1);
}

// Panel copies of samples [p0, p0 + L) of panel q and features [j0, j0 + L), L = kLanes<T> (a
// square tile: 16 floats or 8 doubles): L loads, an in-register transpose, L stores, where a
// scalar copy does L^2 strided loads and stores (4x slower).
template <class T>
RAMCORE_INLINE void pack_tile(const T* x, std::int64_t f, T* out, std::int64_t q, std::int64_t p0, std::int64_t j0) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  V r[L];
  for (int i = 0; i < L; ++i) r[i] = load<V>(x + (q * kPanelLanes<T> + p0 + i) * f + j0);
  transpose(r);
  for (int i = 0; i < L; ++i) store(out + (q * f + j0 + i) * kPanelLanes<T> + p0, r[i]);
}
template <class T>
RAMCORE_INLINE void unpack_tile(const T* in, std::int64_t f, const T* bias, T* y, std::int64_t q, std::int64_t p0,
                                std::int64_t j0) {
  using V = Vec<T>;
  constexpr int L = kLanes<T>;
  V r[L];
  for (int i = 0; i < L; ++i) r[i] = load<V>(in + (q * f + j0 + i) * kPanelLanes<T> + p0);
  transpose(r);
  const V bv = bias ? load<V>(bias + j0) : V{};
  for (int i = 0; i < L; ++i) store(y + (q * kPanelLanes<T> + p0 + i) * f + j0, bias ? r[i] + bv : r[i]);
}

// pack_panels for panel q and features [j0, j1): whole tiles in registers, the edges (samples past
// m, features past the last whole tile) by scalar copies.
template <class T>
RAMCORE_INLINE void pack_task(const T* x, std::int64_t m, std::int64_t f, T* out, std::int64_t q, std::int64_t j0,
                              std::int64_t j1) {
  constexpr std::int64_t L = kLanes<T>, PL = kPanelLanes<T>;
  const std::int64_t whole = std::max<std::int64_t>(0, std::min(PL, m - q * PL)) / L * L;
  const std::int64_t jt = j0 + (j1 - j0) / L * L;
  for (std::int64_t j = j0; j < jt; j += L)
    for (std::int64_t p0 = 0; p0 < whole; p0 += L) pack_tile(x, f, out, q, p0, j);
  for (std::int64_t p = 0; p < PL; ++p) {
    const std::int64_t row = q * PL + p;
    const std::int64_t from = p < whole ? jt : j0;
    for (std::int64_t j = from; j < j1; ++j) out[(q * f + j) * PL + p] = row < m ? x[row * f + j] : T(0);
  }
}
template <class T>
RAMCORE_INLINE void unpack_task(const T* in, std::int64_t m, std::int64_t f, const T* bias, T* y, std::int64_t q,
                                std::int64_t j0, std::int64_t j1) {
  constexpr std::int64_t L = kLanes<T>, PL = kPanelLanes<T>;
  const std::int64_t rows = std::max<std::int64_t>(0, std::min(PL, m - q * PL)), whole = rows / L * L;
  const std::int64_t jt = j0 + (j1 - j0) / L * L;
  for (std::int64_t j = j0; j < jt; j += L)
    for (std::int64_t p0 = 0; p0 < whole; p0 += L) unpack_tile(in, f, bias, y, q, p0, j);
  for (std::int64_t p = 0; p < rows; ++p) {
    T* yr = y + (q * PL + p) * f;
    const std::int64_t from = p < whole ? jt : j0;
    for (std::int64_t j = from; j < j1; ++j) yr[j] = in[(q * f + j) * PL + p] + (bias ? bias[j] : T(0));
  }
}

// The checks' loops. Whether any of a[0..n) lies outside [lo, hi): `|` rather than `&&`, and
// 64-bit compares, which AVX2 and AVX-512 have and SSE2 lacks, so that these loops vectorise in the
// copies below. Scalar, the checks of one product on the 4096^2 layer at 5 % took 2.6 ms of one
// core (a fifth of the product), vectorised 0.7 ms.
template <class I>
RAMCORE_INLINE bool outside_task(const I* a, std::int64_t n, std::int64_t lo, std::int64_t hi) {
  unsigned bad = 0;
  for (std::int64_t k = 0; k < n; ++k)
    bad |= static_cast<unsigned>(a[k] < lo) | static_cast<unsigned>(a[k] >= hi);
  return bad != 0;
}
// Whether any a[s + 1] < a[s] for s < n.
RAMCORE_INLINE bool decreases_task(const std::int64_t* a, std::int64_t n) {
  unsigned bad = 0;
  for (std::int64_t s = 0; s < n; ++s) bad |= static_cast<unsigned>(a[s + 1] < a[s]);
  return bad != 0;
}
// out[k] = values[order[k]] for k in [k0, k1), checking order[k] in [0, nnz) in the same pass
// (the gather reads `order` anyway: a separate check_order would read its 8 bytes per entry again).
// An entry out of range reads values[0] instead (there is one when there is an entry) and makes
// the result true: the caller raises before anything reads `out`.
template <class T>
RAMCORE_INLINE bool gather_task(const T* values, const std::int64_t* order, std::int64_t nnz, T* out, std::int64_t k0,
                                std::int64_t k1) {
  unsigned bad = 0;
  for (std::int64_t k = k0; k < k1; ++k) {
    const std::int64_t o = order[k];
    const bool in_range = o >= 0 && o < nnz;
    bad |= static_cast<unsigned>(!in_range);
    out[k] = values[in_range ? o : 0];
  }
  return bad != 0;
}

// --- one compiled copy per instruction set -------------------------------------------------------

template <class T>
using SpmmFn = void (*)(const RowPattern&, const T*, const std::int64_t*, const T*, T*, std::int64_t,
                        std::int64_t);
template <class T>
using SddmmFn = void (*)(const RowPattern&, const T*, const T*, std::int64_t, const std::int64_t*, T*,
                         std::int64_t, std::int64_t);

template <class T>
using PackFn = void (*)(const T*, std::int64_t, std::int64_t, T*, std::int64_t, std::int64_t, std::int64_t);
template <class T>
using UnpackFn = void (*)(const T*, std::int64_t, std::int64_t, const T*, T*, std::int64_t, std::int64_t,
                          std::int64_t);

template <class T>
using GatherFn = bool (*)(const T*, const std::int64_t*, std::int64_t, T*, std::int64_t, std::int64_t);

template <class T>
struct Kernels {
  SpmmFn<T> spmm;
  SddmmFn<T> sddmm;
  PackFn<T> pack;
  UnpackFn<T> unpack;
  GatherFn<T> gather;
};

struct Checks {
  bool (*outside32)(const std::int32_t*, std::int64_t, std::int64_t, std::int64_t);
  bool (*outside64)(const std::int64_t*, std::int64_t, std::int64_t, std::int64_t);
  bool (*decreases)(const std::int64_t*, std::int64_t);
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
  }                                                                                                    \
  template <class T>                                                                                   \
  ATTRIBUTES void pack_##NAME(const T* x, std::int64_t m, std::int64_t f, T* out, std::int64_t q,         \
                              std::int64_t j0, std::int64_t j1) {                                       \
    pack_task<T>(x, m, f, out, q, j0, j1);                                                             \
  }                                                                                                    \
  template <class T>                                                                                   \
  ATTRIBUTES void unpack_##NAME(const T* in, std::int64_t m, std::int64_t f, const T* bias, T* y,          \
                                std::int64_t q, std::int64_t j0, std::int64_t j1) {                     \
    unpack_task<T>(in, m, f, bias, y, q, j0, j1);                                                      \
  }                                                                                                    \
  template <class T>                                                                                   \
  ATTRIBUTES bool gather_##NAME(const T* values, const std::int64_t* order, std::int64_t nnz, T* out,      \
                                std::int64_t k0, std::int64_t k1) {                                     \
    return gather_task<T>(values, order, nnz, out, k0, k1);                                            \
  }                                                                                                    \
  ATTRIBUTES bool outside32_##NAME(const std::int32_t* a, std::int64_t n, std::int64_t lo, std::int64_t hi) { \
    return outside_task(a, n, lo, hi);                                                                 \
  }                                                                                                    \
  ATTRIBUTES bool outside64_##NAME(const std::int64_t* a, std::int64_t n, std::int64_t lo, std::int64_t hi) { \
    return outside_task(a, n, lo, hi);                                                                 \
  }                                                                                                    \
  ATTRIBUTES bool decreases_##NAME(const std::int64_t* a, std::int64_t n) { return decreases_task(a, n); }

RAMCORE_SPARSE_KERNELS(baseline, )
#ifdef RAMCORE_SPARSE_X86
RAMCORE_SPARSE_KERNELS(avx2, __attribute__((target("avx2,fma"))))
RAMCORE_SPARSE_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma"))))
#endif

enum class Isa { baseline, avx2, avx512 };

Isa detect_isa() {
  Isa best = Isa::baseline;
#ifdef RAMCORE_SPARSE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    best = Isa::avx512;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    best = Isa::avx2;
#endif
  // RAMCORE_SPARSE_ISA=avx2 or baseline selects a narrower copy (never a wider one than the CPU
  // has): how the tests run every copy of the kernels on one machine.
  if (const char* want = std::getenv("RAMCORE_SPARSE_ISA")) {
    const std::string w(want);
    if (w == "baseline") return Isa::baseline;
    if (w == "avx2" && best == Isa::avx512) return Isa::avx2;
  }
  return best;
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
      return {spmm_avx512<T>, sddmm_avx512<T>, pack_avx512<T>, unpack_avx512<T>, gather_avx512<T>};
    case Isa::avx2:
      return {spmm_avx2<T>, sddmm_avx2<T>, pack_avx2<T>, unpack_avx2<T>, gather_avx2<T>};
#endif
    default:
      return {spmm_baseline<T>, sddmm_baseline<T>, pack_baseline<T>, unpack_baseline<T>, gather_baseline<T>};
  }
}

Checks checks() {
  switch (isa()) {
#ifdef RAMCORE_SPARSE_X86
    case Isa::avx512:
      return {outside32_avx512, outside64_avx512, decreases_avx512};
    case Isa::avx2:
      return {outside32_avx2, outside64_avx2, decreases_avx2};
#endif
    default:
      return {outside32_baseline, outside64_baseline, decreases_baseline};
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

std::int64_t choose_block_cols(std::int64_t rows, std::int64_t cols, std::int64_t nnz) {
  std::int64_t width = kBlockCols;
  if (rows <= 0 || cols <= 0) return width;
  const double per_column = static_cast<double>(nnz) / static_cast<double>(rows) / static_cast<double>(cols);
  while (width < cols && per_column * static_cast<double>(width) < kMinSegment) width *= 2;
  return width;
}

void check_pattern(const RowPattern& w, std::int64_t indptr_size, std::int64_t indices_size) {
  enforce(w.rows >= 0 && w.cols >= 0, "the pattern's shape must be non-negative");
  enforce(w.block_cols >= 1, "block_cols must be positive, got " + std::to_string(w.block_cols));
  enforce(w.blocks == column_blocks(w.cols, w.block_cols),
          "blocks must be column_blocks(cols, block_cols) = " + std::to_string(column_blocks(w.cols, w.block_cols)) +
              ", got " + std::to_string(w.blocks));
  const std::int64_t segments = checked_mul(w.blocks, w.rows, "blocks * rows");
  enforce(indptr_size == segments + 1, "indptr must have blocks * rows + 1 = " + std::to_string(segments + 1) +
                                           " entries, got " + std::to_string(indptr_size));
  enforce(w.indptr[0] == 0, "indptr must start at 0");
  // The messages are built only on failure: these loops run before every product (the vectorised
  // scan first; the scalar one finds where, only when it failed).
  if (checks().decreases(w.indptr, segments))
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
        const auto outside = checks().outside32;
        for (std::int64_t b = b0; b < b1; ++b) {
          const std::int64_t lo = b * w.block_cols, hi = std::min(w.cols, lo + w.block_cols);
          const std::int64_t k0 = w.indptr[b * w.rows], k1 = w.indptr[(b + 1) * w.rows];
          if (outside(w.indices + k0, k1 - k0, lo, hi))
            enforce(false, "indices must lie in [0, cols = " + std::to_string(w.cols) +
                               "), those of segment (b, n) in column block b");
        }
      },
      stop);
}

namespace {
[[noreturn]] void order_out_of_range(std::int64_t nnz) {
  throw std::invalid_argument("order must hold positions in [0, nnz = " + std::to_string(nnz) + ")");
}
}  // namespace

void check_order(const std::int64_t* order, std::int64_t nnz, int threads, const StopFn& stop) {
  constexpr std::int64_t kChunk = std::int64_t{1} << 16;
  parallel_for(
      nnz, kChunk, threads,
      [&](std::int64_t k0, std::int64_t k1) {
        if (checks().outside64(order + k0, k1 - k0, 0, nnz)) order_out_of_range(nnz);
      },
      stop);
}

template <class T>
void spmm(const RowPattern& w, const T* values, const std::int64_t* order, const T* in, std::int64_t panels,
          T* out, int threads, const StopFn& stop) {
  check_panels(panels);
  const Kernels<T> kernel_set = kernels<T>();
  const SpmmFn<T> kernel = kernel_set.spmm;
  // With several panels, the values are first gathered into the pattern's order, once: every panel
  // then reads them in sequence instead of through `order` (an 8-byte index and a scattered load per
  // entry and panel; 1.2x faster at 4 panels on the 4096^2 layer). Same values, same sums. The
  // gather checks `order` as it reads it; without a gather check_order does.
  // new T[] leaves the buffer uninitialised: every entry is written by the gather (a vector's
  // resize would first zero it, a serial pass over 3.4 MB per call on that layer).
  std::unique_ptr<T[]> gathered;
  if (order && panels > 1) {
    const std::int64_t nnz = w.nnz();
    gathered.reset(new T[static_cast<std::size_t>(nnz)]);
    constexpr std::int64_t kChunk = std::int64_t{1} << 16;
    parallel_for(
        nnz, kChunk, threads,
        [&](std::int64_t k0, std::int64_t k1) {
          if (kernel_set.gather(values, order, nnz, gathered.get(), k0, k1)) order_out_of_range(nnz);
        },
        stop);
    values = gathered.get();
    order = nullptr;
  } else if (order) {
    check_order(order, w.nnz(), threads, stop);
  }
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

// Features per task of the panel copies: a task's 64 features of one panel (16 KiB of floats read
// and written) stay in the L1 cache, and a 256 x 4096 batch still makes 256 tasks.
constexpr std::int64_t kTileFeatures = 64;

template <class T>
void pack_panels(const T* x, std::int64_t m, std::int64_t f, T* out, int threads, const StopFn& stop) {
  enforce(m >= 0 && f >= 0, "pack_panels: sizes must be non-negative");
  constexpr std::int64_t L = kPanelLanes<T>;
  const PackFn<T> kernel = kernels<T>().pack;
  const std::int64_t tiles = (f + kTileFeatures - 1) / kTileFeatures, panels = (m + L - 1) / L;
  parallel_for(
      checked_mul(panels, tiles, "panels * tiles"), 16, threads,
      [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t q = t / tiles, j0 = t % tiles * kTileFeatures;
          kernel(x, m, f, out, q, j0, std::min(f, j0 + kTileFeatures));
        }
      },
      stop);
}

template <class T>
void unpack_panels(const T* in, std::int64_t m, std::int64_t f, const T* bias, T* y, int threads,
                   const StopFn& stop) {
  enforce(m >= 0 && f >= 0, "unpack_panels: sizes must be non-negative");
  constexpr std::int64_t L = kPanelLanes<T>;
  const UnpackFn<T> kernel = kernels<T>().unpack;
  const std::int64_t tiles = (f + kTileFeatures - 1) / kTileFeatures, panels = (m + L - 1) / L;
  parallel_for(
      checked_mul(panels, tiles, "panels * tiles"), 16, threads,
      [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t q = t / tiles, j0 = t % tiles * kTileFeatures;
          kernel(in, m, f, bias, y, q, j0, std::min(f, j0 + kTileFeatures));
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
