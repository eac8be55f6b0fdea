// The thread count changed by another thread while a prediction or evaluation runs:
// a call must run no more threads than it sized its per-thread buffers for. Here one
// thread flips the setting between 1 and 2 (no GIL in the way, unlike from Python)
// while this one evaluates and predicts; evaluate sized its sums by one reading and ran
// the pool by a second, and read past the sums (AddressSanitizer: heap-buffer-overflow,
// 4 runs of 4 within the 300 calls, in 1-3 s). Built and run by tests/test_hardening.py;
// prints "survived".
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "network.hpp"

int main(int argc, char** argv) {
    using namespace nnfast;
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 300;
    const int64_t n = 32, inputs = 64, outputs = 1024;  // 32 x 65k multiply-adds: worth 2 threads
    std::vector<float> X(n * inputs), Y(n * outputs, 0.0f), out(n * outputs);
    for (int64_t k = 0; k < n * inputs; ++k) X[k] = float(k % 13) / 13.0f - 0.5f;
    Network<float> net(inputs, {LayerSpec{outputs, Activation::identity, 0.0, 0.0}});
    net.initialize({Init::xavier_uniform}, {0.0}, 1);
    std::atomic<bool> done{false};
    // each value held for a moment (a tight loop of stores keeps the cache line in the
    // flipping core, and the reader rarely sees a change within its window)
    std::thread flipper([&] {
        auto hold = [] {
            for (volatile int spin = 0; spin < 2000; spin = spin + 1) {
            }
        };
        while (!done.load(std::memory_order_relaxed)) {
            thread_setting().store(1);
            hold();
            thread_setting().store(2);
            hold();
        }
    });
    double total = 0.0;
    for (int r = 0; r < rounds; ++r) {
        total += net.evaluate(X.data(), Y.data(), nullptr, n, Loss::mse, Metric::r2).loss;
        if (r % 8 == 0) net.predict(X.data(), n, out.data());
    }
    done.store(true);
    flipper.join();
    std::printf("survived %g\n", total);
    return 0;
}
