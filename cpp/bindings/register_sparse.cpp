#include <string>

#include "convert.hpp"
#include "ramcore/sparse_matmul.hpp"
#include "register.hpp"

namespace ramcore::bindings {
namespace {

// The data of `a` as T*, refusing (never converting or copying) an array of another dtype, a
// non-contiguous one or one of the wrong size: the kernels write into arrays the caller owns.
template <class T>
T* data_of(const py::array& a, const char* name, std::int64_t size, bool write) {
  // Messages are built only on failure: these checks run on every call of a training step.
  if (!a.dtype().is(py::dtype::of<T>()))
    enforce(false, std::string(name) + " must have dtype " + std::string(py::str(py::dtype::of<T>())) +
                       ", got " + std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style)) enforce(false, std::string(name) + " must be C-contiguous");
  if (a.size() != size)
    enforce(false, std::string(name) + " must have " + std::to_string(size) + " entries, got " +
                       std::to_string(a.size()));
  if (write && !a.writeable()) enforce(false, std::string(name) + " must be writeable");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

// A RowPattern viewing the caller's indptr (int64) and indices (int32) arrays.
RowPattern pattern_of(const py::array& indptr, const py::array& indices, std::int64_t rows, std::int64_t cols,
                      std::int64_t block_cols) {
  enforce(indptr.ndim() == 1 && indices.ndim() == 1, "indptr and indices must be 1-d arrays");
  enforce(rows >= 0 && cols >= 0, "rows and cols must be non-negative");
  enforce(block_cols >= 1, "block_cols must be positive, got " + std::to_string(block_cols));
  RowPattern w;
  w.rows = rows;
  w.cols = cols;
  w.block_cols = block_cols;
  w.blocks = column_blocks(cols, block_cols);
  w.indptr = data_of<std::int64_t>(indptr, "indptr", indptr.size(), false);
  w.indices = data_of<std::int32_t>(indices, "indices", indices.size(), false);
  check_pattern(w, indptr.size(), indices.size());  // check_indices follows, with the GIL released
  return w;
}

// Entries of a (panels, features, lanes) array.
template <class T>
std::int64_t panel_size(std::int64_t panels, std::int64_t features, const char* name) {
  return checked_mul(checked_mul(panels, features, name), kPanelLanes<T>, name);
}

// An optional int64 permutation of the `nnz` stored entries, as a pointer (null for None); its
// range is checked by check_order.
const std::int64_t* order_of(const py::object& order, std::int64_t nnz) {
  if (order.is_none()) return nullptr;
  return data_of<std::int64_t>(order.cast<py::array>(), "order", nnz, false);
}

// The O(nnz) checks, in parallel, then the product. `order` is null where the product checks its
// order itself (spmm: in the gather that reads it anyway).
template <class F>
void checked_run(const RowPattern& w, const std::int64_t* order, int threads, F&& product) {
  interruptible([&](const StopFn& stop) {
    check_indices(w, threads, stop);
    if (order) check_order(order, w.nnz(), threads, stop);
    product(stop);
  });
}

template <class T>
void spmm_call(const py::array& indptr, const py::array& indices, const py::array& values, const py::object& order,
               const py::array& in, const py::array& out, std::int64_t rows, std::int64_t cols, std::int64_t panels,
               int threads, std::int64_t block_cols) {
  const RowPattern w = pattern_of(indptr, indices, rows, cols, block_cols);
  const std::int64_t* o = order_of(order, w.nnz());
  const T* v = data_of<T>(values, "values", w.nnz(), false);
  const T* x = data_of<T>(in, "input", panel_size<T>(panels, cols, "input"), false);
  T* y = data_of<T>(out, "out", panel_size<T>(panels, w.rows, "out"), true);
  checked_run(w, nullptr, threads, [&](const StopFn& stop) { spmm<T>(w, v, o, x, panels, y, threads, stop); });
}

template <class T>
void sddmm_call(const py::array& indptr, const py::array& indices, const py::array& a, const py::array& in,
                const py::object& order, const py::array& out, std::int64_t rows, std::int64_t cols,
                std::int64_t panels, int threads, std::int64_t block_cols) {
  const RowPattern w = pattern_of(indptr, indices, rows, cols, block_cols);
  const std::int64_t* o = order_of(order, w.nnz());
  const T* pa = data_of<T>(a, "a", panel_size<T>(panels, w.rows, "a"), false);
  const T* x = data_of<T>(in, "input", panel_size<T>(panels, cols, "input"), false);
  T* y = data_of<T>(out, "out", w.nnz(), true);
  checked_run(w, o, threads, [&](const StopFn& stop) { sddmm<T>(w, pa, x, panels, o, y, threads, stop); });
}

// x (m, f) into panels `out` (panels, f, lanes), and back into y (m, f), adding `bias` (f or None).
template <class T>
void pack_call(const py::array& x, const py::array& out, int threads) {
  enforce(x.ndim() == 2 && out.ndim() == 3, "x must be 2-d (m, f) and out 3-d (panels, f, lanes)");
  const std::int64_t m = x.shape(0), f = x.shape(1), panels = (m + kPanelLanes<T> - 1) / kPanelLanes<T>;
  const T* px = data_of<T>(x, "x", checked_mul(m, f, "x"), false);
  T* po = data_of<T>(out, "out", panel_size<T>(panels, f, "out"), true);
  interruptible([&](const StopFn& stop) { pack_panels<T>(px, m, f, po, threads, stop); });
}

template <class T>
void unpack_call(const py::array& in, const py::object& bias, const py::array& y, int threads) {
  enforce(in.ndim() == 3 && y.ndim() == 2, "input must be 3-d (panels, f, lanes) and y 2-d (m, f)");
  const std::int64_t m = y.shape(0), f = y.shape(1), panels = (m + kPanelLanes<T> - 1) / kPanelLanes<T>;
  const T* pin = data_of<T>(in, "input", panel_size<T>(panels, f, "input"), false);
  const T* pb = bias.is_none() ? nullptr : data_of<T>(bias.cast<py::array>(), "bias", f, false);
  T* py_ = data_of<T>(y, "y", checked_mul(m, f, "y"), true);
  interruptible([&](const StopFn& stop) { unpack_panels<T>(pin, m, f, pb, py_, threads, stop); });
}

// Calls f.template operator()<T> for the dtype of `values` (float32 or float64).
template <class F32, class F64>
void by_dtype(const py::array& values, const F32& f32, const F64& f64) {
  if (values.dtype().is(py::dtype::of<float>())) return f32();
  if (values.dtype().is(py::dtype::of<double>())) return f64();
  throw std::invalid_argument("the values must be float32 or float64, got " + std::string(py::str(values.dtype())));
}

}  // namespace

void register_sparse(py::module_& m) {
  m.def(
      "sparse_spmm",
      [](const py::array& indptr, const py::array& indices, const py::array& values, const py::object& order,
         const py::array& in, const py::array& out, std::int64_t rows, std::int64_t cols, std::int64_t panels,
         int threads, std::int64_t block_cols) {
        by_dtype(
            values,
            [&] { spmm_call<float>(indptr, indices, values, order, in, out, rows, cols, panels, threads, block_cols); },
            [&] {
              spmm_call<double>(indptr, indices, values, order, in, out, rows, cols, panels, threads, block_cols);
            });
      },
      py::arg("indptr"), py::arg("indices"), py::arg("values"), py::arg("order"), py::arg("input"), py::arg("out"),
      py::arg("rows"), py::arg("cols"), py::arg("panels"), py::arg("threads") = 0, py::arg("block_cols") = kBlockCols,
      "out (panels, rows, lanes) = input (panels, cols, lanes) W^T for W's blocked pattern (indptr int64,\n"
      "indices int32, blocks of block_cols columns); entry k of W is values[k], or values[order[k]] when\n"
      "order (int64) is given.");
  m.def(
      "sparse_sddmm",
      [](const py::array& indptr, const py::array& indices, const py::array& a, const py::array& in,
         const py::object& order, const py::array& out, std::int64_t rows, std::int64_t cols, std::int64_t panels,
         int threads, std::int64_t block_cols) {
        by_dtype(
            a, [&] { sddmm_call<float>(indptr, indices, a, in, order, out, rows, cols, panels, threads, block_cols); },
            [&] { sddmm_call<double>(indptr, indices, a, in, order, out, rows, cols, panels, threads, block_cols); });
      },
      py::arg("indptr"), py::arg("indices"), py::arg("a"), py::arg("input"), py::arg("order"), py::arg("out"),
      py::arg("rows"), py::arg("cols"), py::arg("panels"), py::arg("threads") = 0, py::arg("block_cols") = kBlockCols,
      "out[k] (out[order[k]]) = sum_q <a[q, n, :], input[q, indices[k], :]> for every stored entry k of row n.");
  m.def(
      "sparse_pack",
      [](const py::array& x, const py::array& out, int threads) {
        by_dtype(x, [&] { pack_call<float>(x, out, threads); }, [&] { pack_call<double>(x, out, threads); });
      },
      py::arg("x"), py::arg("out"), py::arg("threads") = 0,
      "out (panels, f, lanes) = x (m, f) cut into panels of lanes samples, feature-major, zero-padded.");
  m.def(
      "sparse_unpack",
      [](const py::array& in, const py::object& bias, const py::array& y, int threads) {
        by_dtype(
            in, [&] { unpack_call<float>(in, bias, y, threads); }, [&] { unpack_call<double>(in, bias, y, threads); });
      },
      py::arg("input"), py::arg("bias"), py::arg("y"), py::arg("threads") = 0,
      "y (m, f) = input (panels, f, lanes) back in rows, plus bias (f values) when given.");
  m.attr("SPARSE_PANEL_BYTES") = kPanelLanes<float> * static_cast<std::int64_t>(sizeof(float));
  m.attr("SPARSE_BLOCK_COLS") = kBlockCols;
  m.def("sparse_block_cols", &choose_block_cols, py::arg("rows"), py::arg("cols"), py::arg("nnz"),
        "Columns per block of the kernels' pattern for nnz entries in rows x cols (SPARSE_BLOCK_COLS times the\n"
        "smallest power of two that gives a row at least 4 entries per block on average).");
  m.def("sparse_kernel_isa", &sparse_kernel_isa, "The instruction set the sparse kernels run on this CPU.");
}

}  // namespace ramcore::bindings
