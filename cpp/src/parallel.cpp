#include "ramcore/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "ramcore/enforce.hpp"

namespace ramcore {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void parallel_for(std::int64_t n, std::int64_t chunk, int threads, const RangeFn& body,
                  const StopFn& stop) {
  enforce(chunk > 0, "parallel_for: chunk must be positive");
  if (n <= 0) return;
  const std::int64_t chunks = (n + chunk - 1) / chunk;
  if (chunks == 1) {  // one short task: not worth a thread (Krylov solvers call this per vector op)
    body(0, n);
    return;
  }
  const int workers = static_cast<int>(std::min<std::int64_t>(resolve_threads(threads), chunks));

  std::atomic<std::int64_t> next{0};
  std::atomic<bool> cancel{false};
  std::mutex mutex;
  std::condition_variable done_cv;
  int running = workers;
  std::exception_ptr error;

  auto work = [&] {
    try {
      for (std::int64_t c = next++; c < chunks && !cancel.load(std::memory_order_relaxed);
           c = next++) {
        body(c * chunk, std::min(n, (c + 1) * chunk));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
      cancel = true;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (--running == 0) done_cv.notify_all();
  };

  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(workers));
  try {
    for (int t = 0; t < workers; ++t) pool.emplace_back(work);
  } catch (...) {  // the OS refused a thread: stop the ones started, never leave them joinable
    cancel = true;
    {
      std::lock_guard<std::mutex> lock(mutex);
      running -= workers - static_cast<int>(pool.size());
    }
    for (auto& t : pool) t.join();
    throw;
  }

  bool interrupted = false;
  {
    std::unique_lock<std::mutex> lock(mutex);
    while (running > 0) {
      done_cv.wait_for(lock, std::chrono::milliseconds(50));
      if (running > 0 && !interrupted && stop) {
        lock.unlock();
        try {
          interrupted = stop();
        } catch (...) {
          interrupted = true;  // a failing poll must not leave the workers running
        }
        lock.lock();
        if (interrupted) cancel = true;
      }
    }
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (interrupted) throw Interrupted();
}

}  // namespace ramcore
