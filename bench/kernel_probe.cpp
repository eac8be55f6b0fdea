// A by-hand probe of nnfast's element-wise kernels, for the analysis in bench/README.md:
// the core's own code (included from csrc/) against what the same loop costs when the
// compiler can vectorise it, and the weight-streaming speed that bounds one-row predict.
// Not built by setup.py and not part of nnfast. Build and run from the repository root:
//
//   g++ -O3 -fno-math-errno -std=c++17 -Icsrc bench/kernel_probe.cpp -o /tmp/probe && /tmp/probe
//   g++ -O3 -fno-math-errno -fno-trapping-math -std=c++17 -Icsrc bench/kernel_probe.cpp -o /tmp/probe && /tmp/probe
//   g++ -O3 -fno-math-errno -fno-trapping-math -mavx2 -mfma -std=c++17 -Icsrc bench/kernel_probe.cpp -o /tmp/probe && /tmp/probe
//
// The second line uses setup.py's flags (since 29dd7d6), so its "core" numbers are what
// nnfast runs, except that the core staggers its buffers within pages and the plain
// vectors here are page-aligned (4K aliasing, see csrc/arena.hpp). The bandwidth line
// needs -mavx2 to show the machine's read speed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "activations.hpp"
#include "optimizers.hpp"

using namespace nnfast;
using Clock = std::chrono::steady_clock;

// Best over 5 rounds of the mean microseconds per call over `reps` calls.
template <class F>
double best_us(F f, int reps) {
    double best = 1e30;
    for (int round = 0; round < 5; ++round) {
        const auto start = Clock::now();
        for (int i = 0; i < reps; ++i) f();
        best = std::min(best, std::chrono::duration<double, std::micro>(Clock::now() - start).count() / reps);
    }
    return best;
}

// The optimizer settings come from outside the compiler's view, as they do from Python:
// with a constant config the compiler would fold the run-time branches away.
__attribute__((noinline)) OptimizerConfig config_from(int kind) {
    OptimizerConfig c;
    c.kind = Optimizer(kind);
    return c;
}

// Adam as the core computes it, with the loop-invariant choices (penalties, decoupled
// decay) taken out of the loop: what the core's loop becomes once they are template
// parameters.
__attribute__((noinline)) void adam_branch_free(float* __restrict p, const float* __restrict g, float* __restrict m,
                                                float* __restrict v, int64_t n, float b1, float b2, float step,
                                                float inv_sqrt_bc2, float eps) {
    for (int64_t i = 0; i < n; ++i) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
    }
}

// y (O) = x (I) W (I, O), row-major W: the one-row forward pass of a dense layer
__attribute__((noinline)) void gemv_rows(const float* x, const float* W, float* y, int64_t I, int64_t O) {
    std::fill(y, y + O, 0.0f);
    for (int64_t i = 0; i < I; ++i) {
        const float xi = x[i];
        const float* w = W + i * O;
        for (int64_t o = 0; o < O; ++o) y[o] += xi * w[o];
    }
}

// n a multiple of 32; 32 independent sums so that loads, not adds, set the pace
__attribute__((noinline)) float sum_all(const float* a, int64_t n) {
    float s[32] = {0};
    for (int64_t i = 0; i < n; i += 32)
        for (int k = 0; k < 32; ++k) s[k] += a[i + k];
    float total = 0.0f;
    for (float x : s) total += x;
    return total;
}

int main(int argc, char**) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);

    // Adam over the MNIST-shaped network's 235,146 parameters (234,752 weights)
    const int64_t n = 235146, n_weights = 234752;
    std::vector<float> p(n), g(n), s1(n, 0.0f), s2(n, 0.0f);
    for (auto& x : p) x = normal(rng) * 0.05f;
    for (auto& x : g) x = normal(rng) * 1e-3f;
    const OptimizerConfig adam = config_from(argc > 99 ? 0 : int(Optimizer::adam));
    int64_t t = 1;
    const double core_adam =
        best_us([&] { optimizer_step(adam, p.data(), g.data(), s1.data(), s2.data(), n, n_weights, ++t); }, 200);
    const double free_adam = best_us(
        [&] { adam_branch_free(p.data(), g.data(), s1.data(), s2.data(), n, 0.9f, 0.999f, 1e-3f, 1.0f, 1e-8f); }, 200);
    std::printf("Adam step, %lld params:   core %7.1f us   branch-free loop %7.1f us\n", (long long)n, core_adam,
                free_adam);

    // ReLU forward and derivative on a 128 x 256 batch, half the values zero in random places
    const int64_t B = 128, O = 256;
    std::vector<float> z(B * O), bias(O), a(B * O), da(B * O), dz(B * O);
    for (auto& x : z) x = normal(rng);
    for (auto& x : bias) x = normal(rng) * 0.1f;
    for (auto& x : da) x = normal(rng);
    for (int64_t k = 0; k < B * O; ++k) a[k] = std::max(z[k], 0.0f);
    const double relu_back = best_us(
        [&] { activation_backward(dz.data(), da.data(), a.data(), B, O, Activation::relu, 0.0f); }, 2000);
    const double relu_fwd = best_us(
        [&] { bias_activation_forward(a.data(), z.data(), bias.data(), B, O, Activation::relu, 0.0f); }, 2000);
    std::printf("relu' %lldx%lld:            core %7.1f us\n", (long long)B, (long long)O, relu_back);
    std::printf("bias + relu %lldx%lld:      core %7.1f us\n", (long long)B, (long long)O, relu_fwd);

    // one-row forward of 784 -> 256: weight streaming, against a plain read of the weights
    const int64_t I = 784, H = 256;
    std::vector<float> W(I * H, 0.01f), x(I, 1.0f), y(H);
    volatile float sink = 0.0f;
    const double gemv = best_us([&] { gemv_rows(x.data(), W.data(), y.data(), I, H); sink = sink + y[0]; }, 2000);
    const double read = best_us([&] { sink = sink + sum_all(W.data(), I * H); }, 2000);
    const double kb = double(W.size() * sizeof(float)) / 1024.0;
    std::printf("one row through 784x256 (%.0f KB of weights): loop %.1f us (%.1f GB/s); reading W alone %.1f us "
                "(%.1f GB/s)\n",
                kb, gemv, kb * 1024.0 / gemv / 1e3, read, kb * 1024.0 / read / 1e3);
    return sink == 12345.0f;
}
