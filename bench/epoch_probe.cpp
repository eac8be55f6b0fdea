// Where an MNIST-shaped training epoch's time goes, inside one process: compiled and run by
// bench/breakdown.py (it passes the flags of setup.py and nnfast's OpenBLAS); by hand:
//
//   g++ -O3 -fno-math-errno -fno-trapping-math -std=c++17 -pthread -Icsrc -I<openblas include> \
//       -DNNFAST_BLAS_SCIPY_OPENBLAS=1 bench/epoch_probe.cpp -L<lib dir> -lscipy_openblas \
//       -Wl,-rpath,<lib dir> -o /tmp/epoch_probe
//   /tmp/epoch_probe THREADS ROWS BATCH REPEATS DIMS...      e.g. 2 60000 128 3 784 256 128 10
//
// 1. The real epoch: nnfast::Network<float>::train_epoch (what nf.train runs), best of REPEATS.
// 2. The same epoch rebuilt from the core's own functions (dense_forward, blas::gemm with the
//    arguments dense_backward passes, bias_activation_forward, loss_forward_backward,
//    activation_backward, accumulate_metric, optimizer_update, share, ThreadPool, Region::sync)
//    in train_part's order: relu hidden layers, softmax + cross-entropy, Adam, no dropout,
//    no sample weights, no clipping. Three loops of Network's are private (gather's copy,
//    the bias row sum inside dense_backward, reduce_slice's sum) and are repeated here line
//    for line. Every thread times each phase with steady_clock (~25 ns a reading, about 40
//    readings per batch); a barrier's time is the time spent waiting in Region::sync.
//    Its wall time is printed next to the real epoch's: when they agree, the phases are
//    where the real epoch's time goes.
// 3. One core's rate on a large square SGEMM (2048^3, one BLAS thread), for the GEMM
//    efficiency of each phase.
//
// Output: one line "name seconds" per item (seconds per epoch, mean over the threads),
// read by bench/breakdown.py.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "network.hpp"

using namespace nnfast;
using Clock = std::chrono::steady_clock;

namespace {

enum Phase {
    kGather, kGemmForward, kBiasActivation, kLoss, kGemmWeightGrad, kBiasSum, kGemmInputGrad, kActivationBackward,
    kBarrier, kReduce, kOptimizer, kMetric, kPhases
};
const char* kNames[kPhases] = {"gather", "gemm_forward", "bias_activation", "loss", "gemm_weight_grad", "bias_sum",
                               "gemm_input_grad", "activation_backward", "barrier", "reduce", "optimizer", "metric"};

struct Timer {
    double t[kPhases] = {};
    Clock::time_point last = Clock::now();
    void mark(Phase p) {
        const auto now = Clock::now();
        t[p] += std::chrono::duration<double>(now - last).count();
        last = now;
    }
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Probe {
    int64_t n, batch;
    std::vector<int64_t> dims;
    std::vector<float> X, Y;
    std::vector<LayerSpec> specs() const {
        std::vector<LayerSpec> out;
        for (size_t l = 1; l < dims.size(); ++l) {
            LayerSpec s;
            s.units = dims[l];
            s.activation = l + 1 < dims.size() ? Activation::relu : Activation::softmax;
            out.push_back(s);
        }
        return out;
    }
};

std::unique_ptr<Network<float>> make_network(const Probe& p) {
    auto net = std::make_unique<Network<float>>(p.dims[0], p.specs());
    const size_t L = p.dims.size() - 1;
    std::vector<Init> inits(L, Init::he_normal);
    inits.back() = Init::xavier_normal;
    net->initialize(inits, std::vector<double>(L, 1.0), 0);
    net->configure(OptimizerConfig{});  // Adam, lr 1e-3
    net->reseed(0);
    return net;
}

double real_epoch(const Probe& p) {
    auto net = make_network(p);
    const auto start = Clock::now();
    net->train_epoch(p.X.data(), p.Y.data(), nullptr, p.n, p.batch, true, Loss::cross_entropy, Metric::accuracy);
    return seconds_since(start);
}

struct Instrumented {
    double wall = 0, shuffle = 0;
    std::vector<Timer> timers;
    double gemm_flops_forward = 0, gemm_flops_weight = 0, gemm_flops_input = 0;  // per thread (mean)
};

// train_part rebuilt with timers (see the header). Parameters: one flat buffer as in Network.
Instrumented instrumented_epoch(const Probe& p, int threads) {
    const size_t L = p.dims.size() - 1;
    const int64_t I0 = p.dims[0], O = p.dims.back(), B = p.batch;
    std::vector<int64_t> w_off, b_off;
    int64_t nw = 0;
    for (size_t l = 0; l < L; ++l) {
        w_off.push_back(nw);
        nw += p.dims[l] * p.dims[l + 1];
    }
    int64_t np = nw;
    for (size_t l = 0; l < L; ++l) {
        b_off.push_back(np);
        np += p.dims[l + 1];
    }
    auto net = make_network(p);  // for its initial parameters
    std::vector<float> params(net->params(), net->params() + np), s1(np, 0.f), s2(np, 0.f);
    std::vector<std::vector<float>> grads(threads, std::vector<float>(np, 0.f));
    const int64_t widest = *std::max_element(p.dims.begin(), p.dims.end());
    struct Ws {
        std::vector<float> xb, yb, z, d0, d1;
        std::vector<std::vector<float>> acts;
        MetricSums sums;
        double cost = 0;
    };
    std::vector<Ws> ws(threads);
    for (auto& w : ws) {
        w.xb.resize(B * I0);
        w.yb.resize(B * O);
        w.z.resize(B * O);
        w.d0.resize(B * widest);
        w.d1.resize(B * widest);
        for (size_t l = 0; l < L; ++l) w.acts.emplace_back(B * p.dims[l + 1]);
    }
    std::vector<int64_t> order(p.n);
    std::iota(order.begin(), order.end(), int64_t(0));
    Rng rng(1);
    OptimizerConfig opt;
    Instrumented out;
    out.timers.resize(threads);

    const auto start = Clock::now();
    for (int64_t i = p.n - 1; i > 0; --i) std::swap(order[i], order[rng.below(uint64_t(i) + 1)]);
    out.shuffle = seconds_since(start);
    ThreadPool::instance().run(threads, [&](const Region& region) {
        const int t = region.thread;
        Ws& w = ws[t];
        Timer& tm = out.timers[t];
        w.sums.reset(O);
        w.sums.set_shift(p.Y.data() + order[0] * O);
        float* g = grads[t].data();
        tm.last = Clock::now();
        int64_t step = 0;
        for (int64_t s0 = 0; s0 < p.n; s0 += B) {
            const int64_t Bt = std::min(B, p.n - s0);
            const auto [lo, hi] = share(Bt, t, region.threads);
            const int64_t b = hi - lo;
            const int64_t* rows = order.data() + s0 + lo;
            ++step;
            // gather (Network::gather without scaling)
            for (int64_t i = 0; i < b; ++i) {
                std::memcpy(w.xb.data() + i * I0, p.X.data() + rows[i] * I0, sizeof(float) * I0);
                std::memcpy(w.yb.data() + i * O, p.Y.data() + rows[i] * O, sizeof(float) * O);
            }
            tm.mark(kGather);
            // forward (Network::forward_train)
            const float* in = w.xb.data();
            for (size_t l = 0; l < L; ++l) {
                const int64_t I = p.dims[l], Ol = p.dims[l + 1];
                const float* W = params.data() + w_off[l];
                const float* bias = params.data() + b_off[l];
                float* a = w.acts[l].data();
                if (l + 1 < L) {
                    dense_forward(a, in, W, b, I, Ol);
                    tm.mark(kGemmForward);
                    bias_activation_forward(a, a, bias, b, Ol, Activation::relu, 0.f);
                } else {
                    dense_forward(w.z.data(), in, W, b, I, Ol);
                    tm.mark(kGemmForward);
                    for (int64_t i = 0; i < b; ++i)  // Network::add_bias
                        for (int64_t j = 0; j < Ol; ++j) w.z[i * Ol + j] += bias[j];
                    bias_activation_forward(a, w.z.data(), static_cast<const float*>(nullptr), b, Ol,
                                            Activation::softmax, 0.f);
                }
                tm.mark(kBiasActivation);
                in = a;
            }
            w.cost = loss_forward_backward(Loss::cross_entropy, Activation::softmax, 0.f, w.z.data(),
                                           w.acts.back().data(), w.yb.data(), static_cast<const float*>(nullptr), b,
                                           O, w.d0.data(), float(1.0 / double(Bt)));
            tm.mark(kLoss);
            // backward (Network::backward, dense_backward's three parts timed apart)
            float* dz = w.d0.data();
            float* next = w.d1.data();
            for (size_t l = L; l-- > 0;) {
                const int64_t I = p.dims[l], Ol = p.dims[l + 1];
                const float* x = l == 0 ? w.xb.data() : w.acts[l - 1].data();
                float* dw = g + w_off[l];
                float* db = g + b_off[l];
                blas::gemm(true, false, I, Ol, b, 1.f, x, I, dz, Ol, 0.f, dw, Ol);
                tm.mark(kGemmWeightGrad);
                std::fill(db, db + Ol, 0.f);
                for (int64_t i = 0; i < b; ++i) {
                    const float* row = dz + i * Ol;
                    for (int64_t j = 0; j < Ol; ++j) db[j] += row[j];
                }
                tm.mark(kBiasSum);
                if (l > 0) {
                    blas::gemm(false, true, b, I, Ol, 1.f, dz, Ol, params.data() + w_off[l], Ol, 0.f, next, I);
                    tm.mark(kGemmInputGrad);
                }
                // update_layer(l): barrier, then this thread's slice, summed over threads, updated
                region.sync();
                tm.mark(kBarrier);
                for (auto [off, size, weights] : {std::tuple<int64_t, int64_t, bool>{w_off[l], I * Ol, true},
                                                  std::tuple<int64_t, int64_t, bool>{b_off[l], Ol, false}}) {
                    auto [a, e] = share(size, t, region.threads);
                    a += off;
                    e += off;
                    float* __restrict g0 = grads[0].data();
                    for (int s = 1; s < region.threads; ++s) {  // Network::reduce_slice
                        const float* __restrict other = grads[s].data();
                        for (int64_t i = a; i < e; ++i) g0[i] += other[i];
                    }
                    tm.mark(kReduce);
                    optimizer_update(opt, params.data() + a, g0 + a, s1.data() + a, s2.data() + a, e - a,
                                     weights ? e - a : 0, step, 1.f);
                    tm.mark(kOptimizer);
                }
                if (l == 0) break;
                activation_backward(next, next, w.acts[l - 1].data(), b, I, Activation::relu, 0.f);
                tm.mark(kActivationBackward);
                std::swap(dz, next);
            }
            w.sums.loss += w.cost;
            accumulate_metric(w.sums, Metric::accuracy, w.acts.back().data(), w.yb.data(),
                              static_cast<const float*>(nullptr), b, O);
            tm.mark(kMetric);
            region.sync();  // the parameters are updated everywhere
            tm.mark(kBarrier);
        }
    });
    out.wall = seconds_since(start);
    // GEMM FLOPs per thread (mean): 2 I O per row and layer, rows split between threads
    for (size_t l = 0; l < L; ++l) {
        const double io = double(p.dims[l]) * double(p.dims[l + 1]) * 2.0 * double(p.n) / threads;
        out.gemm_flops_forward += io;
        out.gemm_flops_weight += io;
        if (l > 0) out.gemm_flops_input += io;
    }
    return out;
}

double square_rate(int64_t n) {
    std::vector<float> a(n * n, 1.f), b(n * n, 0.5f), c(n * n);
    double best = 1e30;
    for (int r = 0; r < 4; ++r) {
        const auto start = Clock::now();
        blas::gemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
        best = std::min(best, seconds_since(start));
    }
    return 2.0 * double(n) * double(n) * double(n) / best;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: %s THREADS ROWS BATCH REPEATS DIMS... (at least input and output)\n", argv[0]);
        return 2;
    }
    const int threads = std::atoi(argv[1]);
    Probe p;
    p.n = std::atoll(argv[2]);
    p.batch = std::atoll(argv[3]);
    const int repeats = std::atoi(argv[4]);
    for (int i = 5; i < argc; ++i) p.dims.push_back(std::atoll(argv[i]));
    blas::set_num_threads(1);  // as the bindings do: nnfast's threads each call a one-thread BLAS
    set_thread_count(threads);
    const int64_t I0 = p.dims[0], O = p.dims.back();
    std::mt19937 gen(0);
    std::normal_distribution<float> normal(0.f, 1.f);
    p.X.resize(p.n * I0);
    for (auto& v : p.X) v = normal(gen);
    p.Y.assign(p.n * O, 0.f);
    for (int64_t i = 0; i < p.n; ++i) p.Y[i * O + int64_t(gen() % uint32_t(O))] = 1.f;

    const double rate = square_rate(2048);
    real_epoch(p);  // warm-up: pool started, OpenBLAS primed
    double real = 1e30;
    Instrumented best;
    best.wall = 1e30;
    for (int r = 0; r < repeats; ++r) {  // alternated, so that both see the same machine
        real = std::min(real, real_epoch(p));
        Instrumented m = instrumented_epoch(p, threads);
        if (m.wall < best.wall) best = m;
    }
    std::printf("square_sgemm_rate %.6g\n", rate);
    std::printf("real_epoch %.6g\n", real);
    std::printf("instrumented_epoch %.6g\n", best.wall);
    std::printf("shuffle %.6g\n", best.shuffle);
    std::printf("threads_run %d\n", int(best.timers.size()));
    for (int ph = 0; ph < kPhases; ++ph) {
        double total = 0;
        for (const auto& tm : best.timers) total += tm.t[ph];
        std::printf("%s %.6g\n", kNames[ph], total / double(best.timers.size()));
    }
    std::printf("flops_gemm_forward %.6g\nflops_gemm_weight_grad %.6g\nflops_gemm_input_grad %.6g\n",
                best.gemm_flops_forward, best.gemm_flops_weight, best.gemm_flops_input);
    return 0;
}
