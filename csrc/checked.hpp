// Size arithmetic that cannot wrap, and the two errors behind it.
//
// Owns: checked_mul / checked_add over int64_t (every product or sum that sizes a
// buffer goes through them), the byte count of n scalars, and the sentence-carrying
// errors: SizeError for a size that is impossible (it does not fit in 64 bits, or is
// negative), OutOfMemory for one that fits but cannot be had (more than the process can
// still have, see memory.hpp, or refused by the allocator). Python sees them as ValueError and MemoryError.
// Pure functions, callable from any thread.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include "memory.hpp"

namespace nnfast {

// A size that cannot exist: a product or sum past 2^63 - 1, or a negative count.
class SizeError : public std::length_error {
public:
    using std::length_error::length_error;
};

// A size that exists but cannot be allocated here. Derives from std::bad_alloc so that
// code catching allocation failures sees it; carries a sentence instead of "std::bad_alloc".
class OutOfMemory : public std::bad_alloc {
public:
    explicit OutOfMemory(std::string message) : message_(std::move(message)) {}
    const char* what() const noexcept override { return message_.c_str(); }

private:
    std::string message_;
};

// a * b for non-negative a, b; `what` names the quantity in the error
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
    int64_t out;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out))
        throw SizeError("cannot size " + std::string(what) + ": " + std::to_string(a) + " x " + std::to_string(b) +
                        " is past 2^63 - 1");
    return out;
}

// a + b for non-negative a, b
inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
    int64_t out;
    if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &out))
        throw SizeError("cannot size " + std::string(what) + ": " + std::to_string(a) + " + " + std::to_string(b) +
                        " is past 2^63 - 1");
    return out;
}

// a * b clamped to INT64_MAX: for estimates (work per thread) where a wrap would
// mislead but "very large" is the right answer
inline int64_t saturating_mul(int64_t a, int64_t b) {
    int64_t out;
    return __builtin_mul_overflow(a, b, &out) ? INT64_MAX : out;
}

// Refuses an allocation of `bytes` that this process cannot have (memory.hpp: MemAvailable,
// the memory cgroup's room, RLIMIT_AS) before it is attempted: under Linux's overcommit
// such a request may be granted and then kill the process when the pages are touched.
// Allocations below 16 MiB are not checked (the check reads /proc; they fit anyway).
inline void require_allocatable(int64_t bytes, const std::string& what) {
    if (bytes < (int64_t(16) << 20)) return;
    const MemoryBudget budget = memory_budget();
    if (bytes > budget.bytes)
        throw OutOfMemory(what + " would need " + std::to_string(bytes / (int64_t(1) << 20)) + " MiB, more than the " +
                          std::to_string(budget.bytes / (int64_t(1) << 20)) + " MiB this process can still have (" +
                          budget.source + ")");
}

}  // namespace nnfast
