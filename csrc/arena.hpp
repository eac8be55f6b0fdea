// Arrays carved out of one allocation so that no two start at the same offset within
// a 4 KiB page.
//
// Loops that stream several arrays at once (the optimizer reads parameters, gradients
// and two state buffers and writes three of them) slow down badly when the arrays'
// addresses agree in their low 12 bits: the CPU takes a load for a possible alias of
// an earlier store to another array ("4K aliasing"). Large separate allocations come
// from mmap and are all page-aligned, so they always agree. Measured here (Zen 1), an
// Adam step over 235k parameters: 3.3 ms page-aligned, 0.94 ms staggered.
//
// Arrays that live in two arenas (a network's parameters, allocated at load, and its
// training state, allocated on the first training call) stay staggered when the second
// arena starts counting where the first stopped (first_slot).
//
// Sizes are checked (checked.hpp): a total past 2^63 - 1 bytes is a SizeError, one
// more than the process can still have (memory.hpp) or refused by the allocator an OutOfMemory, both
// thrown before the arena changes. One arena belongs to one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <new>
#include <vector>

#include "checked.hpp"

namespace nnfast {

template <class T>
class Arena {
public:
    // array k of every carve starts at page offset 64 * (7 (first_slot + k) mod 64)
    explicit Arena(size_t first_slot = 0) : first_slot_(first_slot) {}

    // One array per size; a second call replaces them all, reusing the storage when it
    // is large enough (so the arrays start zero-filled only when freshly allocated).
    std::vector<T*> carve(const std::vector<int64_t>& sizes) {
        std::vector<T*> out(sizes.size());
        place(sizes.data(), out.data(), sizes.size());
        return out;
    }
    template <size_t N>
    std::array<T*, N> carve(const std::array<int64_t, N>& sizes) {  // allocation-free once warm
        std::array<T*, N> out;
        place(sizes.data(), out.data(), N);
        return out;
    }
    size_t bytes() const { return storage_.size() * sizeof(T); }

private:
    void place(const int64_t* sizes, T** out, size_t count) {
        constexpr uintptr_t page = 4096, line = 64;
        // the arrays plus up to a page of padding before each and after the last
        int64_t needed = checked_mul(int64_t(count) + 1, int64_t(page / sizeof(T)), "an arena's padding");
        for (size_t k = 0; k < count; ++k) needed = checked_add(needed, sizes[k], "a network's buffers");
        if (int64_t(storage_.size()) < needed) {
            const int64_t bytes = checked_mul(needed, int64_t(sizeof(T)), "a network's buffers");
            require_allocatable(bytes, "the network's buffers");
            try {
                storage_.assign(size_t(needed), T(0));
            } catch (const std::bad_alloc&) {
                throw OutOfMemory("cannot allocate " + std::to_string(bytes / (int64_t(1) << 20)) +
                                  " MiB for the network's buffers");
            }
        }
        auto cursor = reinterpret_cast<uintptr_t>(storage_.data());
        for (size_t k = 0; k < count; ++k) {
            // array k starts at 64 * (7k mod 64) bytes into a page: distinct for 64 arrays
            const uintptr_t target = line * ((7 * (first_slot_ + k)) % (page / line));
            cursor += (target - cursor % page + page) % page;
            out[k] = reinterpret_cast<T*>(cursor);
            cursor += uintptr_t(sizes[k]) * sizeof(T);
        }
    }

    size_t first_slot_;
    std::vector<T> storage_;
};

}  // namespace nnfast
