// Size arithmetic that cannot wrap, and the two errors behind it.
//
// Owns: checked_mul / checked_add over int64_t (every product or sum that sizes a
// buffer goes through them), the byte count of n scalars, and the sentence-carrying
// errors: SizeError for a size that is impossible (it does not fit in 64 bits, or is
// negative), OutOfMemory for one that fits but cannot be had (more than the machine's
// memory, or refused by the allocator). Python sees them as ValueError and MemoryError.
// Pure functions, callable from any thread.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

#include <unistd.h>

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

// The machine's physical memory in bytes (0 when unknown).
inline int64_t physical_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;
    int64_t out;
    return __builtin_mul_overflow(int64_t(pages), int64_t(page), &out) ? INT64_MAX : out;
}

// Refuses an allocation of `bytes` larger than the machine's memory before it is
// attempted: under Linux's overcommit such a request may be granted and then kill the
// process when the pages are touched.
inline void require_allocatable(int64_t bytes, const char* what) {
    const int64_t physical = physical_memory_bytes();
    if (physical > 0 && bytes > physical)
        throw OutOfMemory(std::string(what) + " would need " + std::to_string(bytes / (int64_t(1) << 20)) +
                          " MiB, more than this machine's " + std::to_string(physical / (int64_t(1) << 20)) +
                          " MiB of memory");
}

}  // namespace nnfast
