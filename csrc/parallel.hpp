// nnfast's own threads: one parallel region per epoch (or per prediction), with
// spinning barriers inside it, and BLAS single-threaded in every thread. Also how many
// threads by default: the CPUs the process may use (affinity mask, cgroup CPU quota).
//
// Why not BLAS threading: a training batch runs six GEMMs of modest size with other
// work between them; a BLAS thread pool puts its threads to sleep between calls and
// pays a wake-up on every call, and leaves the element-wise work (activations, the
// optimizer) on one core. Splitting each batch by rows keeps every core busy for the
// whole batch and meets only at two barriers.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "blas.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNFAST_PAUSE() _mm_pause()
#else
#define NNFAST_PAUSE() std::this_thread::yield()
#endif

namespace nnfast {

namespace cpu_detail {

// A small text file whole ("" when it cannot be read): /proc and cgroup files.
inline std::string read_text(const std::string& path) {
    std::ifstream in(path);
    if (!in) return "";
    std::string text, line;
    for (int lines = 0; lines < 4096 && std::getline(in, line); ++lines) text += line + "\n";
    return text;
}

inline std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(text);
    while (std::getline(in, field, sep)) out.push_back(field);
    return out;
}

// Where the process's cgroup of one hierarchy lives: the mount point of that hierarchy
// (from mountinfo) joined with the cgroup's path relative to the mount's root.
struct CgroupDir {
    std::string mount, dir;  // dir is mount or below it
};

// v2 (cgroup2 mount, "0::/path" in /proc/self/cgroup) or v1 with the cpu controller
inline std::vector<CgroupDir> cpu_cgroups(const std::string& root) {
    std::vector<CgroupDir> out;
    const auto cgroups = split(read_text(root + "/proc/self/cgroup"), '\n');
    for (const auto& line : split(read_text(root + "/proc/self/mountinfo"), '\n')) {
        // id parent dev root mountpoint options [optional...] - fstype source superoptions
        const auto fields = split(line, ' ');
        size_t dash = 0;
        while (dash < fields.size() && fields[dash] != "-") ++dash;
        if (dash < 5 || dash + 3 > fields.size()) continue;
        const std::string &mount_root = fields[3], &mount_point = fields[4], &fstype = fields[dash + 1];
        bool v2 = fstype == "cgroup2", v1_cpu = false;
        if (fstype == "cgroup")
            for (const auto& option : split(fields[dash + 3], ',')) v1_cpu = v1_cpu || option == "cpu";
        if (!v2 && !v1_cpu) continue;
        for (const auto& entry : cgroups) {  // hierarchy-id:controllers:path
            const auto first = entry.find(':'), second = entry.find(':', first + 1);
            if (first == std::string::npos || second == std::string::npos) continue;
            const std::string controllers = entry.substr(first + 1, second - first - 1), path = entry.substr(second + 1);
            bool match = v2 ? entry.compare(0, 3, "0::") == 0 : false;
            if (v1_cpu)
                for (const auto& c : split(controllers, ',')) match = match || c == "cpu";
            if (!match) continue;
            std::string relative = path;  // the cgroup's path below the mount's root
            if (mount_root != "/" && path.compare(0, mount_root.size(), mount_root) == 0)
                relative = path.substr(mount_root.size());
            else if (mount_root != "/")
                relative = "";  // outside what is mounted (a cgroup namespace): the mount's own limits
            while (!relative.empty() && relative.back() == '/') relative.pop_back();
            out.push_back({root + mount_point, root + mount_point + relative});
        }
    }
    return out;
}

// CPUs' worth of time the cgroup quota allows: the smallest cpu.max (v2) or
// cpu.cfs_quota_us / cpu.cfs_period_us (v1) from the process's cgroup up to the mount;
// 0 when no quota is set.
inline double cgroup_cpu_limit(const std::string& root = "") {
    double limit = 0.0;
    auto take = [&](double quota, double period) {
        if (quota > 0 && period > 0 && (limit == 0.0 || quota / period < limit)) limit = quota / period;
    };
    for (const auto& cg : cpu_cgroups(root)) {
        for (std::string dir = cg.dir;;) {
            std::istringstream v2(read_text(dir + "/cpu.max"));  // "max 100000" or "150000 100000"
            std::string quota;
            double period = 0;
            if (v2 >> quota >> period && quota != "max") take(std::atof(quota.c_str()), period);
            const std::string v1_quota = read_text(dir + "/cpu.cfs_quota_us");  // -1: none
            if (!v1_quota.empty())
                take(std::atof(v1_quota.c_str()), std::atof(read_text(dir + "/cpu.cfs_period_us").c_str()));
            if (dir.size() <= cg.mount.size()) break;
            dir = dir.substr(0, dir.rfind('/'));
        }
    }
    return limit;
}

// CPUs in the process's affinity mask (taskset, sched_setaffinity, a cpuset cgroup)
inline int affinity_cpus() {
    for (int cpus = 1024; cpus <= (1 << 16); cpus *= 2) {
        cpu_set_t* set = CPU_ALLOC(cpus);
        if (!set) break;
        const size_t size = CPU_ALLOC_SIZE(cpus);
        CPU_ZERO_S(size, set);
        const int rc = sched_getaffinity(0, size, set);
        const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
        CPU_FREE(set);
        if (rc == 0) return std::max(1, count);
        if (errno != EINVAL) break;  // EINVAL: more CPUs than the set holds
    }
    return int(std::max(1u, std::thread::hardware_concurrency()));
}
}  // namespace cpu_detail

// CPUs this process may use: its affinity mask, lowered to the cgroup CPU quota
// (rounded up) where one is set. A container limited to 1.5 CPUs on a 64-core host gets 2.
inline int usable_cpus() {
    int cpus = cpu_detail::affinity_cpus();
    const double quota = cpu_detail::cgroup_cpu_limit();
    if (quota > 0) cpus = std::min(cpus, std::max(1, int(std::ceil(quota))));
    return cpus;
}

// The most threads nnfast accepts: more than 4 per usable CPU only adds switching (and
// 512 threads is a typo, not a setting); never more than 256.
inline int max_threads() { return std::min(256, 4 * usable_cpus()); }

// The default thread count: NNFAST_NUM_THREADS, else OMP_NUM_THREADS (what a process
// pool such as joblib's sets in its workers so that they do not oversubscribe the
// machine), else the usable CPUs (affinity and cgroup quota, not the machine's cores:
// under `taskset -c 0` two threads ran 1.4x slower than one). A value that is not a
// positive integer is ignored; one above max_threads() is lowered to it.
inline int default_threads() {
    for (const char* name : {"NNFAST_NUM_THREADS", "OMP_NUM_THREADS"}) {
        const char* value = std::getenv(name);
        if (!value || !*value) continue;
        char* end = nullptr;
        const long n = std::strtol(value, &end, 10);
        if (*end == '\0' && n >= 1) return int(std::min<long>(n, max_threads()));
    }
    return usable_cpus();
}

// Threads that nnfast's kernels may use; set from Python (nnfast.set_num_threads).
inline std::atomic<int>& thread_setting() {
    static std::atomic<int> threads{default_threads()};
    return threads;
}

// Sets thread_setting() to n; throws std::invalid_argument outside [1, max_threads()].
inline void set_thread_count(int64_t n) {
    const int most = max_threads();
    if (n < 1 || n > most)
        throw std::invalid_argument("the thread count must be between 1 and " + std::to_string(most) +
                                    " (4 per CPU this process may use, " + std::to_string(usable_cpus()) +
                                    ", and at most 256), got " + std::to_string(n));
    thread_setting().store(int(n));
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
        warm_once();
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

    // On the first call of run in the process (not at import, which stays light): starts
    // thread_setting() threads and primes OpenBLAS for that many concurrent callers (see
    // run), the caller's own buffer included. The state is process-wide: afterwards any n
    // threads, the pool's or the caller's own (a tuning study's trial threads), multiply at
    // full speed side by side. Callers that arrive meanwhile wait for it, so the first
    // trials of a threaded study run primed too. After it, one atomic load.
    //
    // A mutex, not std::call_once: fork() in one thread while another warms would leave
    // the child a once_flag forever "in progress". The fork handlers (see warm_mutex) hold
    // this mutex across fork, so a child never inherits it locked by a thread it lacks.
    void warm_once() {
        if (warmed_.load(std::memory_order_acquire)) return;
        std::lock_guard<std::mutex> warming(warm_mutex());
        if (warmed_.load(std::memory_order_relaxed)) return;
        if (owner_ != getpid()) forget_after_fork();
        blas::prime();
        const int n = thread_setting().load();
        if (n > 1) {
            std::lock_guard<std::mutex> busy(region_);
            primed_ = n;
            region(n, [](const Region& r) {
                r.sync();
                blas::prime();
            });
        }
        warmed_.store(true, std::memory_order_release);
    }

    // The warm-up's mutex, taken by the forking thread before fork() and released after it
    // in parent and child alike (pthread_atfork; registered once, with the mutex).
    static std::mutex& warm_mutex() {
        static std::mutex* mutex = [] {
            auto* m = new std::mutex;  // never destroyed: fork handlers outlive static destructors
            ::pthread_atfork([] { warm_mutex().lock(); }, [] { warm_mutex().unlock(); },
                             [] { warm_mutex().unlock(); });
            return m;
        }();
        return *mutex;
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
    std::atomic<bool> warmed_{false};
};

// A second core for one-row predictions, kept awake only while they arrive.
//
// One row through a wide layer is a matrix-vector product that reads every weight
// once: 784 x 256 float32 weights (784 KB) take ~12 us from L2, and no amount of
// arithmetic speeds that up. Two cores reading half the weights each take ~7 us, but
// only if the second core is already running: waking a parked thread takes longer than
// the whole product. So the partner spins for kAwake after its last task (or after a
// caller woke it) and then parks, and a caller hands it work only while it spins. A
// caller never waits for a partner that is not running: a task the partner has not
// taken by the time the caller finished its own part is taken back and run by the
// caller. Callers split their work the same way whether the partner helps or not, so
// results do not depend on it.
//
// An isolated prediction costs nothing extra (no wake-up, no second thread); the
// second of two predictions less than kAwake apart wakes the partner, and from then on
// a stream of predictions keeps it awake. Its price: one core spins for at most kAwake
// after the last prediction of a stream. With thread_setting() below 2 it is never used,
// and on a machine too busy to give it a core (kStrikes tasks in a row that it did not
// take in time, or took more than twice as long over as the caller did over its own
// part) it rests for kRest.
class Partner {
public:
    static constexpr std::chrono::microseconds kAwake{1000};
    static constexpr std::chrono::milliseconds kRest{100};
    static constexpr int kStrikes = 4;

    static Partner& instance() {
        static Partner* partner = [] {
            auto* p = new Partner;  // never destroyed: its thread may be spinning at exit
            ::pthread_atfork(nullptr, nullptr, [] { instance().forget_after_fork(); });
            return p;
        }();
        return *partner;
    }

    // Runs mine() and theirs(), theirs() on the partner thread when it is awake and free;
    // returns when both have run. Either may run on the caller's thread.
    template <class Mine, class Theirs>
    void both(Mine&& mine, Theirs&& theirs) {
        if (!post(&call<Theirs>, &theirs)) {
            mine();
            theirs();
            return;
        }
        const auto start = Clock::now();
        mine();
        const auto mine_done = Clock::now();
        bool slow = false;
        if (int expected = kPosted; state_.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
            theirs();  // not taken: the partner is not running
            slow = true;
        } else {
            // the partner's part is as large as ours: waiting twice as long as ours took
            // means it lost its core (an oversubscribed machine)
            const auto patience = mine_done + 2 * (mine_done - start);
            for (int spins = 1; state_.load(std::memory_order_acquire) != kDone; ++spins) {
                if (spins < 100000)
                    NNFAST_PAUSE();
                else
                    std::this_thread::yield();
                if (!slow && spins % 64 == 0) slow = Clock::now() > patience;
            }
            state_.store(kIdle, std::memory_order_relaxed);
        }
        // on a machine too busy to give the partner a core, spinning only takes time from
        // others: after kStrikes slow hand-overs in a row, leave it parked for kRest
        if (!slow)
            strikes_ = 0;
        else if (++strikes_ >= kStrikes) {
            strikes_ = 0;
            rest_until_.store((Clock::now() + kRest).time_since_epoch().count(), std::memory_order_relaxed);
        }
        claimed_.store(false, std::memory_order_release);
    }

    // tasks the partner thread has run since the process started (for the tests and
    // the benchmarks)
    int64_t tasks() const { return tasks_.load(std::memory_order_relaxed); }

private:
    enum : int { kIdle, kPosted, kTaken, kDone };
    using Clock = std::chrono::steady_clock;

    template <class F>
    static void call(void* f) {
        (*static_cast<std::remove_reference_t<F>*>(f))();
    }

    // Hands task(arg) to the partner when it is awake and no other caller holds it, and
    // returns whether it did; otherwise wakes it when the previous call was recent.
    bool post(void (*task)(void*), void* arg) {
        if (thread_setting().load(std::memory_order_relaxed) < 2) return false;
        const int64_t now = Clock::now().time_since_epoch().count();
        const int64_t previous = last_call_.exchange(now, std::memory_order_relaxed);
        if (now < rest_until_.load(std::memory_order_relaxed)) return false;
        if (awake_.load(std::memory_order_acquire) && !claimed_.exchange(true, std::memory_order_acquire)) {
            task_ = task;
            arg_ = arg;
            state_.store(kPosted, std::memory_order_release);
            return true;
        }
        if (now - previous < std::chrono::duration_cast<Clock::duration>(kAwake).count() &&
            !awake_.load(std::memory_order_acquire))
            wake();
        return false;
    }

    void wake() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!started_) {
            started_ = true;
            awake_.store(true, std::memory_order_release);
            std::thread([this] { work(); }).detach();  // never joined: see instance()
            return;
        }
        wake_requested_ = true;
        wake_.notify_one();
    }

    void work() {
        for (;;) {
            auto deadline = Clock::now() + kAwake;
            for (int spins = 1;; ++spins) {
                if (state_.load(std::memory_order_acquire) == kPosted) {
                    int expected = kPosted;
                    if (state_.compare_exchange_strong(expected, kTaken, std::memory_order_acq_rel)) {
                        task_(arg_);
                        tasks_.fetch_add(1, std::memory_order_relaxed);
                        state_.store(kDone, std::memory_order_release);
                        deadline = Clock::now() + kAwake;
                    }
                    continue;
                }
                NNFAST_PAUSE();
                if (spins % 256 == 0 && Clock::now() > deadline) break;
            }
            std::unique_lock<std::mutex> lock(mutex_);
            awake_.store(false, std::memory_order_release);
            wake_.wait(lock, [this] { return wake_requested_; });
            wake_requested_ = false;
            awake_.store(true, std::memory_order_release);
        }
    }

    // A forked child has no partner thread (and maybe a lock a parent thread held).
    void forget_after_fork() {
        new (&mutex_) std::mutex;
        new (&wake_) std::condition_variable;
        started_ = wake_requested_ = false;
        awake_.store(false);
        claimed_.store(false);
        state_.store(kIdle);
        last_call_.store(0);
        rest_until_.store(0);
        strikes_ = 0;
    }

    Partner() = default;

    std::atomic<int> state_{kIdle};
    std::atomic<bool> claimed_{false};  // a caller owns the partner until its task is done
    std::atomic<bool> awake_{false};
    std::atomic<int64_t> last_call_{0};
    std::atomic<int64_t> tasks_{0};
    std::atomic<int64_t> rest_until_{0};  // no task is posted before this time (see both)
    int strikes_ = 0;                     // slow hand-overs in a row (written by the claimant)
    void (*task_)(void*) = nullptr;
    void* arg_ = nullptr;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool started_ = false, wake_requested_ = false;
};

// [begin, end) of part t of n equal parts of [0, size)
inline std::pair<int64_t, int64_t> share(int64_t size, int t, int n) {
    return {size * t / n, size * (t + 1) / n};
}

}  // namespace nnfast
