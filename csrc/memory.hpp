// How much memory this process can still have, asked before a large allocation.
//
// Linux overcommits: a request for more than there is may be granted and the process
// killed later, when the pages are touched (a 50 GB sparse file read whole, a network
// of 1e11 parameters). So large allocations are checked first against the smallest of:
//   - MemAvailable (/proc/meminfo): what the kernel can hand out without swapping;
//   - the memory cgroup's limit less its usage (v2 memory.max - memory.current, or v1
//     memory.limit_in_bytes - memory.usage_in_bytes), from the process's cgroup up to
//     the hierarchy's root: a container's limit, not the host's memory;
//   - RLIMIT_AS (ulimit -v) less the address space already mapped (/proc/self/statm).
// A source that cannot be read is left out; with none, the machine's physical memory.
// Pure functions of /proc and /sys; any thread may call them.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace nnfast {

// What can still be allocated, and which limit says so.
struct MemoryBudget {
    int64_t bytes = INT64_MAX;
    std::string source = "no limit known";
};

namespace memory_detail {

inline bool read_number(const std::string& path, int64_t& out) {
    std::ifstream in(path);
    std::string word;
    if (!(in >> word) || word == "max") return false;
    char* end = nullptr;
    const long long value = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0' || value < 0) return false;
    out = int64_t(value);
    return true;
}

inline void take(MemoryBudget& budget, int64_t bytes, const std::string& source) {
    if (bytes < 0) bytes = 0;
    if (bytes < budget.bytes) budget = {bytes, source};
}

// MemAvailable in bytes, or -1
inline int64_t mem_available() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    long long kib = 0;
    std::string unit;
    for (int lines = 0; lines < 256 && in >> key >> kib; ++lines) {
        std::getline(in, unit);
        if (key == "MemAvailable:") return int64_t(kib) * 1024;
    }
    return -1;
}

// The memory cgroup's room: limit less usage at each level from the process's cgroup up.
inline void cgroup_room(MemoryBudget& budget) {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    for (int lines = 0; lines < 64 && std::getline(in, line); ++lines) {
        const auto first = line.find(':'), second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        const std::string controllers = line.substr(first + 1, second - first - 1);
        std::string path = line.substr(second + 1);
        const bool v2 = line.compare(0, 3, "0::") == 0;
        const bool v1 = (',' + controllers + ',').find(",memory,") != std::string::npos;
        if (!v2 && !v1) continue;
        const std::string root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
        const char* limit_file = v2 ? "/memory.max" : "/memory.limit_in_bytes";
        const char* usage_file = v2 ? "/memory.current" : "/memory.usage_in_bytes";
        for (int depth = 0; depth < 64; ++depth) {
            while (!path.empty() && path.back() == '/') path.pop_back();
            int64_t limit = 0, usage = 0;
            if (read_number(root + path + limit_file, limit) && limit < (int64_t(1) << 60) &&
                read_number(root + path + usage_file, usage))
                take(budget, limit - usage, v2 ? "the cgroup's memory.max" : "the cgroup's memory.limit_in_bytes");
            if (path.empty()) break;
            path = path.substr(0, path.rfind('/'));
        }
    }
}

// RLIMIT_AS less the address space in use
inline void address_space_room(MemoryBudget& budget) {
    struct rlimit limit;
    if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
    std::ifstream in("/proc/self/statm");
    long long pages = 0;
    const long page = ::sysconf(_SC_PAGESIZE);
    if (!(in >> pages) || page <= 0) return;
    const int64_t cap = limit.rlim_cur > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(limit.rlim_cur);
    take(budget, cap - int64_t(pages) * page, "RLIMIT_AS (ulimit -v)");
}

}  // namespace memory_detail

// The machine's physical memory in bytes (0 when unknown).
inline int64_t physical_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;
    int64_t out;
    return __builtin_mul_overflow(int64_t(pages), int64_t(page), &out) ? INT64_MAX : out;
}

// What this process can still allocate (see the file header).
inline MemoryBudget memory_budget() {
    MemoryBudget budget;
    const int64_t available = memory_detail::mem_available();
    if (available >= 0)
        memory_detail::take(budget, available, "MemAvailable");
    else if (const int64_t physical = physical_memory_bytes(); physical > 0)
        memory_detail::take(budget, physical, "the machine's memory");
    memory_detail::cgroup_room(budget);
    memory_detail::address_space_room(budget);
    return budget;
}

}  // namespace nnfast
