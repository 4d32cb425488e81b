#include <string>
#include <vector>

#include "convert.hpp"
#include "ramcore/encoding.hpp"
#include "register.hpp"

namespace ramcore::bindings {
namespace {

using Bytes = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;

std::int64_t int_field(const py::dict& d, const char* key, std::int64_t fallback) {
  return d.contains(key) ? d[key].cast<std::int64_t>() : fallback;
}

// One piece from its Python dict (keys as the ConvPiece fields; mask, weight, inv_ptr, inv_entries
// arrays). The converted arrays go to `keep`, which must outlive the piece.
ConvPiece piece_from(const py::dict& d, std::size_t index, std::vector<py::array>& keep) {
  const std::string where = "piece " + std::to_string(index) + ": ";
  ConvPiece p;
  p.in_channels = int_field(d, "in_channels", 1);
  p.in_height = int_field(d, "in_height", 1);
  p.in_width = int_field(d, "in_width", 1);
  p.out_channels = int_field(d, "out_channels", 1);
  p.out_height = int_field(d, "out_height", 1);
  p.out_width = int_field(d, "out_width", 1);
  p.kernel_h = int_field(d, "kernel_h", 1);
  p.kernel_w = int_field(d, "kernel_w", 1);
  p.stride_h = int_field(d, "stride_h", 1);
  p.stride_w = int_field(d, "stride_w", 1);
  p.pad_top = int_field(d, "pad_top", 0);
  p.pad_left = int_field(d, "pad_left", 0);
  p.dilation_h = int_field(d, "dilation_h", 1);
  p.dilation_w = int_field(d, "dilation_w", 1);
  p.groups = int_field(d, "groups", 1);
  p.out_offset = int_field(d, "out_offset", 0);
  p.in_offset = int_field(d, "in_offset", 0);
  enforce(p.groups >= 1 && p.in_channels >= 1 && p.kernel_h >= 1 && p.kernel_w >= 1,
          where + "groups, in_channels and kernel sizes must be at least 1");
  const std::int64_t taps = checked_mul(
      checked_mul(p.out_channels, p.in_channels / p.groups, "mask size"), p.kernel_h * p.kernel_w,
      "mask size");
  enforce(d.contains("mask"), where + "mask is missing");
  Bytes mask = Bytes::ensure(d["mask"]);
  enforce(mask && mask.size() == taps, where + "mask must have out_channels * in_channels / groups * "
                                               "kernel_h * kernel_w = " + std::to_string(taps) + " entries");
  p.mask = mask.data();
  keep.push_back(mask);
  if (d.contains("weight") && !d["weight"].is_none()) {
    Doubles weight = Doubles::ensure(d["weight"]);
    enforce(weight && weight.size() == taps, where + "weight must have as many entries as mask");
    p.weight = weight.data();
    keep.push_back(weight);
  }
  if (d.contains("inv_ptr") && !d["inv_ptr"].is_none()) {
    p.src_begin = int_field(d, "src_begin", 0);
    p.src_end = int_field(d, "src_end", 0);
    Int64s ptr = Int64s::ensure(d["inv_ptr"]);
    Int64s entries = Int64s::ensure(d["inv_entries"]);
    enforce(ptr && entries && ptr.ndim() == 1 && entries.ndim() == 1,
            where + "inv_ptr and inv_entries must be 1-d integer arrays");
    enforce(p.src_end >= p.src_begin && ptr.shape(0) == p.src_end - p.src_begin + 1,
            where + "inv_ptr must have src_end - src_begin + 1 entries");
    enforce(ptr.data()[ptr.shape(0) - 1] == entries.shape(0),
            where + "inv_ptr[-1] must equal the length of inv_entries");
    p.inv_ptr = ptr.data();
    p.inv_entries = entries.data();
    keep.push_back(ptr);
    keep.push_back(entries);
  }
  return p;
}

}  // namespace

void register_encoding(py::module_& m) {
  m.def(
      "unrolled_encoding",
      [](std::int64_t num_nodes, const py::list& pieces, bool weighted, int threads, bool wide) {
        std::vector<py::array> keep;
        std::vector<ConvPiece> parsed;
        for (std::size_t i = 0; i < pieces.size(); ++i)
          parsed.push_back(piece_from(pieces[i].cast<py::dict>(), i, keep));
        return interruptible([&](const StopFn& stop) {
          const UnrolledEncoding enc(num_nodes, std::move(parsed), weighted, threads, stop);
          const Buffer<std::int64_t> degrees = enc.out_degrees(threads, stop);
          std::int64_t nnz = 0;
          for (const std::int64_t d : degrees) nnz += d;
          return narrow_or_wide_csr(!wide && fits_int32(nnz) && fits_int32(num_nodes), [&](auto index) {
            return enc.template csr<decltype(index)>(degrees, threads, stop);
          });
        });
      },
      py::arg("num_nodes"), py::arg("pieces"), py::arg("weighted"), py::arg("threads") = 0,
      py::arg("wide") = false,
      "Directed CSR (tails x heads) of a graph encoding from per-layer convolution pieces.");
}

}  // namespace ramcore::bindings
