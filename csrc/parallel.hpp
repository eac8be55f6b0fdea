// nnfast's own threads: one parallel region per epoch (or per prediction), with
// spinning barriers inside it, and BLAS single-threaded in every thread.
//
// Why not BLAS threading: a training batch runs six GEMMs of modest size with other
// work between them; a BLAS thread pool puts its threads to sleep between calls and
// pays a wake-up on every call, and leaves the element-wise work (activations, the
// optimizer) on one core. Splitting each batch by rows keeps every core busy for the
// whole batch and meets only at two barriers.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include <unistd.h>

#include "blas.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNFAST_PAUSE() _mm_pause()
#else
#define NNFAST_PAUSE() std::this_thread::yield()
#endif

namespace nnfast {

// The default thread count: NNFAST_NUM_THREADS, else OMP_NUM_THREADS (what a process
// pool such as joblib's sets in its workers so that they do not oversubscribe the
// machine), else every core. A value that is not a positive integer is ignored.
inline int default_threads() {
    for (const char* name : {"NNFAST_NUM_THREADS", "OMP_NUM_THREADS"}) {
        const char* value = std::getenv(name);
        if (!value || !*value) continue;
        char* end = nullptr;
        const long n = std::strtol(value, &end, 10);
        if (*end == '\0' && n >= 1) return int(std::min<long>(n, 1024));
    }
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

// Threads that nnfast's kernels may use; set from Python (nnfast.set_num_threads).
inline std::atomic<int>& thread_setting() {
    static std::atomic<int> threads{default_threads()};
    return threads;
}

// A reusable barrier for a fixed number of threads: spins (the threads of a region
// are all running), yielding now and then in case the machine is oversubscribed.
class SpinBarrier {
public:
    // only between regions, when no thread waits
    void reset(int count) {
        count_ = count;
        arrived_.store(0, std::memory_order_relaxed);
    }

    void wait() {
        const int generation = generation_.load(std::memory_order_acquire);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_) {
            arrived_.store(0, std::memory_order_relaxed);
            generation_.store(generation + 1, std::memory_order_release);
            return;
        }
        for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
            if (spins < 4000)
                NNFAST_PAUSE();
            else
                std::this_thread::yield();
        }
    }

private:
    int count_ = 1;
    std::atomic<int> arrived_{0};
    std::atomic<int> generation_{0};
};

// What a thread of a parallel region knows: which part it is, of how many, and how
// to wait for the others.
struct Region {
    int thread = 0;
    int threads = 1;
    SpinBarrier* barrier = nullptr;
    void sync() const {
        if (threads > 1) barrier->wait();
    }
};

// A pool of parked worker threads that runs job(region) on n threads, part 0 on the
// caller. One region at a time: a caller that finds the pool busy (another thread's
// network is training) runs its region alone, on its own thread.
class ThreadPool {
public:
    static ThreadPool& instance() {
        static ThreadPool pool;
        return pool;
    }

    // Runs job on n threads (or 1 when the pool is busy); returns how many ran it.
    int run(int n, const std::function<void(const Region&)>& job) {
        if (n <= 1) {  // no pool, no lock: a one-row prediction stays at a microsecond
            job(Region{});
            return 1;
        }
        if (owner_ != getpid()) forget_after_fork();
        std::unique_lock<std::mutex> busy(region_, std::try_to_lock);
        if (!busy.owns_lock()) {
            job(Region{});
            return 1;
        }
        if (n > primed_) {
            // OpenBLAS hands concurrent callers different work buffers, and a buffer is
            // slow until it has served a large product (blas::prime). Prime the buffers
            // of n concurrent callers once, all at the same time.
            primed_ = n;
            region(n, [](const Region& r) {
                r.sync();
                blas::prime();
            });
        }
        return region(n, job);
    }

    // Starts n threads and primes OpenBLAS for n concurrent callers (see run). The state
    // is process-wide: afterwards any n threads, the pool's or the caller's own (a tuning
    // study's trial threads), multiply at full speed side by side.
    void warm(int n) {
        run(n, [](const Region&) {});
    }

    ~ThreadPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& worker : workers_) worker.join();
    }

private:
    ThreadPool() = default;

    int region(int n, const std::function<void(const Region&)>& job) {
        grow(n - 1);
        barrier_.reset(n);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = &job;
            active_ = n - 1;
            pending_ = n - 1;
            ++round_;
        }
        wake_.notify_all();
        job(Region{0, n, &barrier_});
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [this] { return pending_ == 0; });
        job_ = nullptr;
        return n;
    }

    // A forked child has none of the parent's workers (and maybe a lock the parent held):
    // start afresh, leaving the parent's thread handles alone.
    void forget_after_fork() {
        new (new char[sizeof(std::vector<std::thread>)]) std::vector<std::thread>(std::move(workers_));
        workers_.clear();
        new (&region_) std::mutex;
        new (&mutex_) std::mutex;
        new (&wake_) std::condition_variable;
        new (&done_) std::condition_variable;
        job_ = nullptr;
        active_ = pending_ = primed_ = 0;
        stop_ = false;
        owner_ = getpid();
    }

    void grow(int count) {
        while (int(workers_.size()) < count) {
            const int index = int(workers_.size()) + 1;
            workers_.emplace_back([this, index] { work(index); });
        }
    }

    void work(int index) {
        uint64_t seen = 0;
        for (;;) {
            const std::function<void(const Region&)>* job;
            int threads;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return stop_ || (round_ != seen && index <= active_); });
                if (stop_) return;
                seen = round_;
                job = job_;
                threads = active_ + 1;
            }
            (*job)(Region{index, threads, &barrier_});
            std::lock_guard<std::mutex> lock(mutex_);
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::mutex region_;  // one parallel region at a time
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> workers_;
    SpinBarrier barrier_;
    const std::function<void(const Region&)>* job_ = nullptr;
    int active_ = 0, pending_ = 0, primed_ = 1;
    uint64_t round_ = 0;
    bool stop_ = false;
    pid_t owner_ = getpid();
};

// [begin, end) of part t of n equal parts of [0, size)
inline std::pair<int64_t, int64_t> share(int64_t size, int t, int n) {
    return {size * t / n, size * (t + 1) / n};
}

}  // namespace nnfast
