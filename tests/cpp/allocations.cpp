// Counts heap allocations made by Network::train_epoch, to show that the batch loop
// allocates nothing: an epoch of 10 batches and one of 80 batches must allocate the
// same number of times (the few allocations per epoch are per-epoch bookkeeping).
// Built and run by tests/test_allocations.py; prints "epoch_allocations <a> <b>".
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "network.hpp"

static std::atomic<long> allocations{0};

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

int main(int argc, char** argv) {
    using namespace nnfast;
    const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
    thread_setting().store(threads);
    const int64_t n = 640, inputs = 64, outputs = 4;
    std::vector<float> X(n * inputs), Y(n * outputs, 0.0f), w(n, 1.0f);
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < inputs; ++j) X[i * inputs + j] = float((i * 7 + j * 3) % 11) / 11.0f - 0.5f;
        Y[i * outputs + i % outputs] = 1.0f;
    }
    std::vector<LayerSpec> layers = {{512, Activation::relu, 0.0, 0.0},
                                     {512, Activation::tanh, 0.0, 0.2},
                                     {outputs, Activation::softmax, 0.0, 0.0}};
    Network<float> net(inputs, layers);
    net.initialize({Init::he_normal, Init::xavier_normal, Init::xavier_normal}, {0, 0, 0}, 0);
    OptimizerConfig config;
    config.clip_norm = 1.0;
    config.l2 = 1e-4;
    net.configure(config);
    net.train_epoch(X.data(), Y.data(), w.data(), n, 64, true, Loss::cross_entropy, Metric::accuracy);  // warm-up
    long before = allocations.load();
    net.train_epoch(X.data(), Y.data(), w.data(), n, 64, true, Loss::cross_entropy, Metric::accuracy);
    const long ten_batches = allocations.load() - before;
    before = allocations.load();
    net.train_epoch(X.data(), Y.data(), w.data(), n, 8, true, Loss::cross_entropy, Metric::accuracy);
    const long eighty_batches = allocations.load() - before;
    std::printf("epoch_allocations %ld %ld threads %d\n", ten_batches, eighty_batches, net.last_threads());
    return 0;
}
