// The Adam step over the MNIST-shaped network's 235,146 parameters (784-256-128-10), on
// three layouts of its four buffers (parameters, gradient, two optimizer states):
//   one arena      the four carved from one Arena (the network before its training state
//                  became lazy)
//   two arenas     the parameters in one Arena, the three training buffers in a second
//                  one that starts at slot 1 (the network now: parameters at load, the
//                  rest on the first training call)
//   page-aligned   four separate page-aligned allocations (what the Arena avoids: 4K aliasing)
// and prints the page offsets of a real Network's parameter and gradient buffers.
//
// Build and run (single thread; min over interleaved repetitions):
//   OB=$(python -c "import scipy_openblas32 as s; print(s.get_lib_dir())")
//   g++ -std=c++17 -O3 -fno-math-errno -fno-trapping-math -Icsrc -I"$OB/../include" \
//       -DNNFAST_BLAS_SCIPY_OPENBLAS bench/optimizer_layout.cpp -L"$OB" -lscipy_openblas \
//       -Wl,-rpath,"$OB" -o /tmp/optimizer_layout && /tmp/optimizer_layout
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "network.hpp"

using namespace nnfast;

namespace {

constexpr int64_t kParams = 784 * 256 + 256 * 128 + 128 * 10 + 256 + 128 + 10;
constexpr int64_t kWeights = 784 * 256 + 256 * 128 + 128 * 10;

struct Buffers {
    float *p, *g, *s1, *s2;
};

void fill(const Buffers& b) {
    for (int64_t i = 0; i < kParams; ++i) {
        b.p[i] = 0.01f * float(i % 97);
        b.g[i] = 1e-3f * float(i % 89) - 0.04f;
        b.s1[i] = b.s2[i] = 0.0f;
    }
}

double best_step_us(const Buffers& b, int reps) {
    OptimizerConfig adam;
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        const auto start = std::chrono::steady_clock::now();
        optimizer_step(adam, b.p, b.g, b.s1, b.s2, kParams, kWeights, int64_t(r % 100 + 1));
        const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        best = std::min(best, us);
    }
    return best;
}

unsigned offset(const void* p) { return unsigned(reinterpret_cast<uintptr_t>(p) % 4096); }

}  // namespace

int main() {
    Arena<float> one;
    const auto four = one.carve(std::array<int64_t, 4>{kParams, kParams, kParams, kParams});
    const Buffers one_arena{four[0], four[1], four[2], four[3]};

    Arena<float> params_arena(0), state_arena(1);
    float* p = params_arena.carve(std::array<int64_t, 1>{kParams})[0];
    const auto three = state_arena.carve(std::array<int64_t, 3>{kParams, kParams, kParams});
    const Buffers two_arenas{p, three[0], three[1], three[2]};

    std::vector<float*> aligned(4);
    for (auto& a : aligned) a = static_cast<float*>(std::aligned_alloc(4096, (kParams * 4 + 4095) / 4096 * 4096));
    const Buffers page_aligned{aligned[0], aligned[1], aligned[2], aligned[3]};

    const Buffers layouts[3] = {one_arena, two_arenas, page_aligned};
    const char* names[3] = {"one arena (before)", "two arenas (now)", "page-aligned"};
    double best[3] = {1e30, 1e30, 1e30};
    for (const auto& b : layouts) fill(b);
    for (int round = 0; round < 20; ++round)  // interleaved, so machine noise hits all three alike
        for (int k = 0; k < 3; ++k) best[k] = std::min(best[k], best_step_us(layouts[k], 25));
    std::printf("Adam step over %lld parameters, best of 500 per layout:\n", static_cast<long long>(kParams));
    for (int k = 0; k < 3; ++k) {
        const Buffers& b = layouts[k];
        std::printf("  %-20s %7.0f us   page offsets p %4u g %4u s1 %4u s2 %4u\n", names[k], best[k], offset(b.p),
                    offset(b.g), offset(b.s1), offset(b.s2));
    }

    Network<float> net(784, {{256, Activation::relu, 0.0, 0.0},
                             {128, Activation::relu, 0.0, 0.0},
                             {10, Activation::softmax, 0.0, 0.0}});
    std::vector<float> X(784 * 4, 0.5f), Y(10 * 4, 0.0f);
    for (int i = 0; i < 4; ++i) Y[i * 10 + i] = 1.0f;
    net.cost_and_gradient(X.data(), Y.data(), nullptr, 4, Loss::cross_entropy, -1);  // allocates the training state
    std::printf("a trained Network's buffers: params at page offset %u, gradient at %u\n", offset(net.params()),
                offset(net.grads()));
    for (auto& a : aligned) std::free(a);
    return 0;
}
