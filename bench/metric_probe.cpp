// What the per-batch metric sums cost in an MNIST-shaped epoch: accumulate_metric (from
// csrc/losses.hpp) over 469 batches of 128 rows and 10 outputs, float32, for accuracy and
// for R^2 (two passes per batch over the targets, centred, in float64), best of 20 epochs.
// Not built by setup.py and not part of nnfast. Build and run from the repository root,
// and against another checkout's csrc/ for a before/after comparison:
//
//   g++ -O3 -fno-math-errno -fno-trapping-math -std=c++17 -Icsrc bench/metric_probe.cpp -o /tmp/metric && /tmp/metric
//   g++ -O3 -fno-math-errno -fno-trapping-math -std=c++17 -I/path/to/other/csrc bench/metric_probe.cpp -o /tmp/m0
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "losses.hpp"

using namespace nnfast;

int main() {
    const int64_t B = 128, O = 10, batches = 469;  // 60,000 rows
    std::vector<float> a(size_t(B * O)), y(size_t(B * O));
    std::mt19937 gen(0);
    std::normal_distribution<float> normal;
    for (auto& v : a) v = normal(gen);
    for (auto& v : y) v = normal(gen);
    for (Metric metric : {Metric::accuracy, Metric::r2}) {
        double best = 1e30, sink = 0.0;
        for (int round = 0; round < 20; ++round) {
            MetricSums sums;
            sums.reset(O);
            const auto start = std::chrono::steady_clock::now();
            for (int64_t b = 0; b < batches; ++b)
                accumulate_metric(sums, metric, a.data(), y.data(), static_cast<const float*>(nullptr), B, O);
            const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
            best = std::min(best, took.count());
            sink += sums.weight + sums.correct + sums.sse[0];  // keeps the work observable
        }
        std::printf("%-8s %6.0f us per epoch  (%g)\n", metric == Metric::r2 ? "r2" : "accuracy", best, sink);
    }
    return 0;
}
