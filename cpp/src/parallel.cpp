#include "ramcore/parallel.hpp"

#include <unistd.h>

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
namespace {

// Persistent worker threads: the Krylov solvers call parallel_for several times per iteration,
// and starting threads each time would cost more than the work on mid-sized graphs. One job runs
// at a time; a caller that finds the pool busy (another Python thread) starts its own threads.
// The pool is never destroyed (its detached threads just end with the process), and a process
// forked from this one builds a fresh pool, since the parent's threads do not exist in the child.
struct Pool {
  explicit Pool(pid_t owner) : pid(owner) {}
  const pid_t pid;
  std::mutex job;  // held for a whole job
  std::mutex m;
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  std::uint64_t generation = 0;
  int active = 0;   // workers taking part in the current job
  int running = 0;  // of those, not finished yet
  const std::function<void()>* task = nullptr;

  void grow(int n) {
    while (static_cast<int>(workers.size()) < n) {
      const int index = static_cast<int>(workers.size());
      workers.emplace_back([this, index] { loop(index); });
      workers.back().detach();
    }
  }

  void loop(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      const std::function<void()>* t = nullptr;
      {
        std::unique_lock<std::mutex> lock(m);
        wake.wait(lock, [&] { return generation != seen; });
        seen = generation;
        if (index >= active) continue;
        t = task;
      }
      (*t)();
      std::lock_guard<std::mutex> lock(m);
      if (--running == 0) done.notify_all();
    }
  }
};

Pool& pool() {
  static std::mutex create;
  static Pool* instance = nullptr;
  std::lock_guard<std::mutex> lock(create);
  if (instance == nullptr || instance->pid != getpid()) instance = new Pool(getpid());
  return *instance;
}

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(50);

// When the calling thread last polled `stop`. A long run of short loops (the sweeps of a Krylov
// iteration, each done before a 50 ms wait times out) polls between loops on this clock instead,
// and so do sequential loops (StopPoll).
thread_local Clock::time_point last_poll = Clock::now();

bool poll(const StopFn& stop) {
  last_poll = Clock::now();
  try {
    return stop();
  } catch (...) {
    return true;  // a failing poll must not leave the workers running
  }
}

// Wait until `finished()` while polling `stop` about every 50 ms; returns whether it asked to stop.
template <class Finished>
bool wait_polling(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Finished finished,
                  const StopFn& stop, std::atomic<bool>& cancel) {
  bool interrupted = false;
  while (!finished()) {
    cv.wait_for(lock, kPollInterval);
    if (!finished() && !interrupted && stop) {
      lock.unlock();
      interrupted = poll(stop);
      lock.lock();
      if (interrupted) cancel = true;
    }
  }
  return interrupted;
}

}  // namespace

void check_stop(const StopFn& stop) {
  if (stop && Clock::now() - last_poll >= kPollInterval && poll(stop)) throw Interrupted();
}

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void parallel_for(std::int64_t n, std::int64_t chunk, int threads, const RangeFn& body,
                  const StopFn& stop) {
  enforce(chunk > 0, "parallel_for: chunk must be positive");
  if (n <= 0) return;
  check_stop(stop);
  const std::int64_t chunks = (n + chunk - 1) / chunk;
  if (chunks == 1) {  // one short task: not worth a thread
    body(0, n);
    return;
  }
  const int workers = static_cast<int>(std::min<std::int64_t>(resolve_threads(threads), chunks));

  std::atomic<std::int64_t> next{0};
  std::atomic<bool> cancel{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  const std::function<void()> work = [&] {
    try {
      for (std::int64_t c = next++; c < chunks && !cancel.load(std::memory_order_relaxed); c = next++)
        body(c * chunk, std::min(n, (c + 1) * chunk));
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      cancel = true;
    }
  };

  bool interrupted = false;
  Pool& p = pool();
  std::unique_lock<std::mutex> job(p.job, std::try_to_lock);
  if (job.owns_lock()) {
    std::unique_lock<std::mutex> lock(p.m);
    p.grow(workers);
    p.task = &work;
    p.active = p.running = workers;
    ++p.generation;
    p.wake.notify_all();
    interrupted = wait_polling(lock, p.done, [&] { return p.running == 0; }, stop, cancel);
  } else {  // the pool is busy with another caller's job: use threads of our own
    std::mutex m;
    std::condition_variable done;
    int running = workers;
    std::vector<std::thread> own;
    own.reserve(static_cast<std::size_t>(workers));
    auto run = [&] {
      work();
      std::lock_guard<std::mutex> lock(m);
      if (--running == 0) done.notify_all();
    };
    try {
      for (int t = 0; t < workers; ++t) own.emplace_back(run);
    } catch (...) {  // the OS refused a thread: stop the ones started, never leave them joinable
      cancel = true;
      {
        std::lock_guard<std::mutex> lock(m);
        running -= workers - static_cast<int>(own.size());
      }
      for (auto& t : own) t.join();
      throw;
    }
    std::unique_lock<std::mutex> lock(m);
    interrupted = wait_polling(lock, done, [&] { return running == 0; }, stop, cancel);
    lock.unlock();
    for (auto& t : own) t.join();
  }
  if (error) std::rethrow_exception(error);
  if (interrupted) throw Interrupted();
}

}  // namespace ramcore
