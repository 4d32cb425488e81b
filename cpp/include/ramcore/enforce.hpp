// Error reporting for the core: every violated precondition throws a standard exception whose
// message names the argument, the value received and what is allowed. The bindings map
// std::invalid_argument -> ValueError, std::overflow_error -> OverflowError,
// std::bad_alloc -> MemoryError, ramcore::Interrupted -> the pending Python signal.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace ramcore {

// Thrown when a long computation was cancelled by its stop callback (Ctrl-C in Python).
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Thrown when a requested object cannot be represented or allocated at all (the bindings raise
// MemoryError with this message); ordinary allocation failure stays std::bad_alloc.
struct TooLarge : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void enforce(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

// a * b for non-negative sizes, throwing instead of wrapping around.
inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
  if (a < 0 || b < 0) throw std::invalid_argument(std::string(what) + ": negative size");
  if (a != 0 && b > std::numeric_limits<std::int64_t>::max() / a)
    throw std::overflow_error(std::string(what) + " does not fit in 64 bits");
  return a * b;
}

}  // namespace ramcore
