// A deterministic parallel loop that the caller can cancel.
//
// Work is split into fixed chunks of [0, n); every output position is written by exactly one
// chunk, so results do not depend on the thread count or the schedule. The calling thread does no
// work itself: it polls `stop` about every 50 ms (so the Python bindings can check for Ctrl-C with
// the GIL briefly re-acquired), also across consecutive short calls, and, when `stop` returns true,
// makes the workers finish their current chunk and throws ramcore::Interrupted. An exception
// thrown by `body` is re-thrown in the caller.
//
// Everything in the core that polls for Ctrl-C goes through this file's one clock: parallel_for,
// and sequential loops through StopPoll.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace ramcore {

using StopFn = std::function<bool()>;
using RangeFn = std::function<void(std::int64_t begin, std::int64_t end)>;

// threads <= 0 means all hardware threads.
int resolve_threads(int threads);

void parallel_for(std::int64_t n, std::int64_t chunk, int threads, const RangeFn& body,
                  const StopFn& stop);

// Calls `stop` when the calling thread has not polled it for 50 ms (the clock parallel_for polls
// on) and throws Interrupted when it asks to stop: cheap enough to call between short steps.
void check_stop(const StopFn& stop);

// For sequential loops: tick(work) after each step; every kTickWork units of work it reads the
// clock (check_stop), so the interruption latency stays about 50 ms whatever a step costs.
class StopPoll {
 public:
  explicit StopPoll(const StopFn& stop) : stop_(stop) {}
  void tick(std::int64_t work = 1) {
    budget_ -= work;
    if (budget_ > 0) return;
    budget_ = kTickWork;
    check_stop(stop_);
  }

 private:
  static constexpr std::int64_t kTickWork = std::int64_t{1} << 16;
  const StopFn& stop_;
  std::int64_t budget_ = kTickWork;
};

// What a long computation says about itself, for a progress display. The routine writes it on
// the calling thread between steps; the bindings' `stop` reads it, and parallel_for and
// check_stop call `stop` on that same thread, so no synchronisation is needed. A routine leaves
// the fields it does not know at their defaults.
struct Status {
  const char* phase = nullptr;  // what is running now, e.g. "Lanczos" (nullptr: nothing to show)
  std::int64_t done = 0;        // units of work done (matrix-vector products, solves)
  std::int64_t total = 0;       // the units the work will take at most; 0 when unknown
  double residual = -1.0;       // the current relative residual (negative: none yet)
  double target = -1.0;         // the relative residual at which the work stops (negative: none)
};

// Items per block of a deterministic floating-point sum: the one block size of the core (small
// enough that a mid-sized graph still splits into many parallel tasks).
constexpr std::int64_t kSumBlock = 1024;

// The core's deterministic reduction. [0, n) is cut into fixed blocks of `block` items;
// body(begin, end, acc) adds one block's terms, in order, into that block's accumulator (a copy of
// `zero`); the accumulators are then added in block order. The schedule only decides which thread
// computes a block, so the result is bit-identical for any thread count. `blocks_per_task` blocks
// make one parallel task. Floating-point sums use block = kSumBlock; exact (integer) sums may size
// their blocks for load balance instead, since no block size changes them.
template <class T, class Body>
T deterministic_sum(std::int64_t n, std::int64_t block, std::int64_t blocks_per_task, int threads,
                    const Body& body, const StopFn& stop, const T& zero = T{}) {
  T total = zero;
  if (n <= 0) return total;
  const std::int64_t blocks = (n + block - 1) / block;
  std::vector<T> partial(static_cast<std::size_t>(blocks), zero);
  parallel_for(
      blocks, blocks_per_task, threads,
      [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t b = b0; b < b1; ++b)
          body(b * block, std::min(n, (b + 1) * block), partial[static_cast<std::size_t>(b)]);
      },
      stop);
  for (const T& p : partial) total += p;
  return total;
}

// `width` sums added element-wise: the accumulator of a deterministic_sum over several columns.
struct Sums {
  explicit Sums(std::size_t width = 0) : v(width, 0.0) {}
  double& operator[](std::size_t i) { return v[i]; }
  double operator[](std::size_t i) const { return v[i]; }
  double* data() { return v.data(); }
  Sums& operator+=(const Sums& o) {
    for (std::size_t i = 0; i < v.size(); ++i) v[i] += o.v[i];
    return *this;
  }
  std::vector<double> v;
};

}  // namespace ramcore
