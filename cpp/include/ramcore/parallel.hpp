// A deterministic parallel loop that the caller can cancel.
//
// Work is split into fixed chunks of [0, n); every output position is written by exactly one
// chunk, so results do not depend on the thread count or the schedule. The calling thread does no
// work itself: it polls `stop` about every 50 ms (so the Python bindings can check for Ctrl-C with
// the GIL briefly re-acquired), also across consecutive short calls, and, when `stop` returns true,
// makes the workers finish their current chunk and throws ramcore::Interrupted. An exception thrown by `body` is re-thrown in the caller.
#pragma once

#include <cstdint>
#include <functional>

namespace ramcore {

using StopFn = std::function<bool()>;
using RangeFn = std::function<void(std::int64_t begin, std::int64_t end)>;

// threads <= 0 means all hardware threads.
int resolve_threads(int threads);

void parallel_for(std::int64_t n, std::int64_t chunk, int threads, const RangeFn& body,
                  const StopFn& stop);

}  // namespace ramcore
