// The network: a stack of dense layers over one flat parameter buffer.
//
// Layout of the parameter (and gradient, and optimizer state) buffer:
//   W1 (n0,n1) | W2 (n1,n2) | ... | WL | b1 (n1) | ... | bL
// all weights first, so penalties and weight decay cover one prefix.
//
// Training keeps, per layer, only the layer's output A_l (after the dropout of
// the next layer, if any): every activation derivative is a function of A_l.
// Workspaces are sized for the largest batch once; the batch loop allocates nothing.
//
// With several threads (parallel.hpp) each batch is split by rows: every thread
// gathers, runs forward and backward on its rows into its own gradient buffer, then
// each thread sums the buffers over its slice of the parameters and updates that
// slice. Two barriers per batch; the result is the same gradient, summed in a
// different order, so a run is reproducible for a given seed and thread count.
//
// Memory: the parameters are allocated with the network; the gradient and the two
// optimizer-state buffers (3x the parameters) only by the first training call, so a
// model loaded to predict holds its parameters and little else.
//
// Callers: a network may be read (predict, predict_classes, evaluate, penalty, saved)
// from any number of threads at once, also while it trains. It is changed (every
// non-const method) by one caller at a time: each change holds the network's busy flag
// for its duration, and a change that finds it held throws ModelBusy naming the change
// that runs, instead of sharing the workspaces. Parameter writes through pointers
// (params()) are the caller's to order.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <pthread.h>

#include "activations.hpp"
#include "arena.hpp"
#include "blas.hpp"
#include "checked.hpp"
#include "initializers.hpp"
#include "losses.hpp"
#include "optimizers.hpp"
#include "parallel.hpp"
#include "rng.hpp"

namespace nnfast {

// A change of a network started while another change of it runs (see the file header).
class ModelBusy : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Set when the process is about to exit (the Python interpreter's atexit hook): every
// training epoch that runs stops after its current batch, so that a thread training
// in the background returns instead of being torn down inside the core. Never cleared.
inline std::atomic<bool>& stop_requested() {
    static std::atomic<bool> flag{false};
    return flag;
}

namespace busy_detail {
// Every network's busy flag, so that a forked child can clear the flags of changes that
// ran in its parent's other threads: those threads do not exist in the child, and their
// flags would say "busy" forever. Leaked on purpose: usable until the process ends.
struct Registry {
    std::mutex mutex;
    std::vector<std::atomic<const char*>*> flags;
};
inline Registry& registry() {
    static Registry* r = new Registry;
    return *r;
}
// pthread_atfork: the registry is locked across fork() so the child inherits it whole;
// the forking thread (the child's only one) unlocks it on both sides.
inline void before_fork() { registry().mutex.lock(); }
inline void after_fork_in_parent() { registry().mutex.unlock(); }
inline void after_fork_in_child() {
    for (auto* flag : registry().flags) flag->store(nullptr, std::memory_order_relaxed);
    registry().mutex.unlock();
}
inline void track(std::atomic<const char*>* flag) {
    static const bool registered = pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) == 0;
    (void)registered;
    std::lock_guard<std::mutex> lock(registry().mutex);
    registry().flags.push_back(flag);
}
inline void untrack(std::atomic<const char*>* flag) {
    std::lock_guard<std::mutex> lock(registry().mutex);
    auto& flags = registry().flags;
    flags.erase(std::remove(flags.begin(), flags.end(), flag), flags.end());
}
}  // namespace busy_detail

struct LayerSpec {
    int64_t units = 0;
    Activation activation = Activation::identity;
    double alpha = 0.0;          // leaky_relu slope, elu scale
    double input_dropout = 0.0;  // fraction of this layer's inputs dropped in training
};

struct EpochResult {
    MetricSums sums;             // over the batches that ran
    double penalty = 0.0;        // sum over batches of (batch weight x weight penalty)
    int64_t batches = 0;
    bool finite = true;          // false: a batch cost was NaN or infinite; the epoch stopped before its update
    double first_cost = std::nan("");  // the first batch's cost (mean loss + penalty) at the parameters the
                                       // epoch started from: what measures them; NaN when not finite
    bool stopped = false;        // true: the epoch stopped early because the process is exiting (stop_requested)
    int64_t skipped = 0;         // batches whose sample weights were all zero: no step was taken
};

// z (O) = x (I) W (I,O) for one row, four rows of W at a time: for small layers the
// BLAS call costs more than the arithmetic (64x64: 0.82 us through OpenBLAS's SGEMV,
// 0.45 us here).
template <class T>
inline void row_times_matrix(T* __restrict z, const T* __restrict x, const T* __restrict w, int64_t I, int64_t O) {
    std::fill(z, z + O, T(0));
    int64_t i = 0;
    for (; i + 4 <= I; i += 4) {
        const T a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
        const T *w0 = w + i * O, *w1 = w0 + O, *w2 = w1 + O, *w3 = w2 + O;
        for (int64_t o = 0; o < O; ++o) z[o] += a * w0[o] + b * w1[o] + c * w2[o] + d * w3[o];
    }
    for (; i < I; ++i)
        for (int64_t o = 0; o < O; ++o) z[o] += x[i] * w[i * O + o];
}

// z (B,O) = x (B,I) W (I,O); one sample goes through GEMV, or our loop when small
template <class T>
inline void dense_forward(T* z, const T* x, const T* w, int64_t B, int64_t I, int64_t O) {
    constexpr int64_t kSmallLayer = 16384;  // weights below which the loop beats SGEMV here
    if (B == 1 && I * O <= kSmallLayer)
        row_times_matrix(z, x, w, I, O);
    else if (B == 1)
        blas::gemv(true, I, O, T(1), w, O, x, T(0), z);
    else
        blas::gemm(false, false, B, O, I, T(1), x, I, w, O, T(0), z, O);
}

// Weights from which one row's product is split between two cores (Partner): reading
// 65,536 float32 weights from L2 takes ~3 us, so halving it pays for the hand-over.
constexpr int64_t kSplitRowWeights = 65536;

// z (O) = x (I) W (I,O) for one row through a wide layer, as two halves of the inputs:
// z = x[:k] W[:k] + x[k:] W[k:], the second half on the partner core when it is awake
// (`part` is O scratch values). Always computed as the same two products added in the
// same order, so the result does not depend on which core ran what. Needs I >= 2: an
// empty half (k = 0) is a BLAS quick return that leaves z unwritten.
template <class T>
inline void wide_row_times_matrix(T* z, T* part, const T* x, const T* w, int64_t I, int64_t O) {
    const int64_t k = I / 2;
    Partner::instance().both([&] { blas::gemv(true, k, O, T(1), w, O, x, T(0), z); },
                             [&] { blas::gemv(true, I - k, O, T(1), w + k * O, O, x + k, T(0), part); });
    for (int64_t o = 0; o < O; ++o) z[o] += part[o];
}

// dz (B,O), x (B,I), w (I,O) -> dw (I,O) = x^T dz, db (O) = sum_rows dz, dx (B,I) = dz w^T (skipped when null)
template <class T>
inline void dense_backward(T* dx, T* dw, T* db, const T* dz, const T* x, const T* w, int64_t B, int64_t I,
                           int64_t O) {
    blas::gemm(true, false, I, O, B, T(1), x, I, dz, O, T(0), dw, O);
    std::fill(db, db + O, T(0));
    for (int64_t i = 0; i < B; ++i) {
        const T* row = dz + i * O;
        for (int64_t j = 0; j < O; ++j) db[j] += row[j];
    }
    if (dx) blas::gemm(false, true, B, I, O, T(1), dz, O, w, O, T(0), dx, I);
}

template <class T>
class Network {
public:
    // Throws std::invalid_argument for an empty or ill-formed spec, SizeError when the
    // parameter count or its bytes do not fit in 64 bits, OutOfMemory when they do not fit
    // in memory; nothing is allocated before the sizes are known to be possible.
    Network(int64_t inputs, std::vector<LayerSpec> layers) : inputs_(inputs), layers_(std::move(layers)) {
        if (inputs_ <= 0) throw std::invalid_argument("a network needs at least one input");
        if (layers_.empty()) throw std::invalid_argument("a network needs at least one layer");
        int64_t fan_in = inputs_, n_weights = 0, n_biases = 0;
        for (const auto& layer : layers_) {
            if (layer.units <= 0) throw std::invalid_argument("every layer needs at least one unit");
            if (!(layer.input_dropout >= 0.0 && layer.input_dropout < 1.0))
                throw std::invalid_argument("dropout must be in [0, 1)");
            if (!(std::isfinite(layer.alpha) && layer.alpha >= 0.0))
                throw std::invalid_argument("an activation's alpha must be finite and non-negative");
            w_offset_.push_back(n_weights);
            n_weights = checked_add(n_weights, checked_mul(fan_in, layer.units, "a layer's weight count"),
                                    "the network's weight count");
            n_biases = checked_add(n_biases, layer.units, "the network's bias count");
            fan_in = layer.units;
        }
        n_params_ = checked_add(n_weights, n_biases, "the network's parameter count");
        // the bytes of the parameters and of the training state (4x) must be representable
        checked_mul(checked_mul(n_params_, 4, "the network's training buffers"), int64_t(sizeof(T)),
                    "the network's training buffers");
        for (size_t l = 0, offset = size_t(n_weights); l < layers_.size(); offset += layers_[l].units, ++l)
            b_offset_.push_back(int64_t(offset));
        n_weights_ = n_weights;
        macs_per_row_ = n_weights;  // one multiply-add per weight and row
        params_ = param_arena_.carve(std::array<int64_t, 1>{n_params_})[0];
        count_bytes();
        busy_detail::track(&changing_);
    }
    ~Network() { busy_detail::untrack(&changing_); }
    // the buffers point into the network's own arena
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;

    int64_t inputs() const { return inputs_; }
    int64_t outputs() const { return layers_.back().units; }
    const std::vector<LayerSpec>& layers() const { return layers_; }
    int64_t layer_inputs(size_t l) const { return l == 0 ? inputs_ : layers_[l - 1].units; }
    int64_t n_params() const { return n_params_; }
    int64_t n_weights() const { return n_weights_; }
    int64_t w_offset(size_t l) const { return w_offset_[l]; }
    int64_t b_offset(size_t l) const { return b_offset_[l]; }
    T* params() { return params_; }
    const T* params() const { return params_; }
    T* grads() { return grads_; }  // null until the first training call
    bool has_training_state() const { return grads_ != nullptr; }
    int64_t steps() const { return steps_; }
    // Bytes of the buffers the network holds (parameters, training state, workspaces).
    int64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
    int64_t workspace_allocations() const { return workspace_allocations_; }
    int last_threads() const { return last_threads_; }
    int64_t macs_per_row() const { return macs_per_row_; }

    // Weights drawn by per-layer initialisers from a generator seeded with `seed`; biases zero.
    void initialize(const std::vector<Init>& inits, const std::vector<double>& scales, uint64_t seed) {
        const Change change(*this, "initialize");
        if (inits.size() != layers_.size() || scales.size() != layers_.size())
            throw std::invalid_argument("one initialiser per layer is needed");
        Rng rng(seed);
        for (size_t l = 0; l < layers_.size(); ++l)
            init_weights(params_ + w_offset_[l], layer_inputs(l), layers_[l].units, inits[l], scales[l], rng);
        std::fill(params_ + n_weights_, params_ + n_params_, T(0));
    }

    // Seeds the streams that shuffle batches and draw dropout masks (one per thread).
    void reseed(uint64_t seed) {
        const Change change(*this, "reseed");
        seed_ = seed;
        rng_.reseed(seed ^ 0x7472616E696E67ull);
        for (size_t t = 0; t < ws_.size(); ++t) ws_[t].rng.reseed(stream_seed(t));
    }

    // Input standardisation x' = (x - mean) / std, applied where rows are gathered; empty = off.
    // Predictions running meanwhile see the old scaling or the new one, never a mix of
    // storage (the block is allocated once and published with one atomic store).
    void set_standardization(const std::vector<T>& mean, const std::vector<T>& std) {
        const Change change(*this, "set_standardization");
        if (mean.empty() && std.empty()) {
            scaling_.store(nullptr, std::memory_order_release);
            return;
        }
        if (int64_t(mean.size()) != inputs_ || int64_t(std.size()) != inputs_)
            throw std::invalid_argument("standardisation needs one mean and one std per input");
        for (int64_t j = 0; j < inputs_; ++j) {
            if (!std::isfinite(mean[j])) throw std::invalid_argument("standardisation mean must be finite");
            if (!(std[j] > T(0)) || !std::isfinite(std[j]) || !std::isfinite(T(1) / std[j]))
                throw std::invalid_argument("standardisation std must be positive and finite, with a finite inverse");
        }
        if (!scaling_storage_) {
            checked_mul(checked_mul(inputs_, 3, "the standardisation"), int64_t(sizeof(T)), "the standardisation");
            scaling_storage_.reset(new T[size_t(inputs_) * 3]);
        }
        T* block = scaling_storage_.get();
        for (int64_t j = 0; j < inputs_; ++j) {
            block[j] = mean[j];
            block[inputs_ + j] = std[j];
            block[2 * inputs_ + j] = T(1) / std[j];
        }
        scaling_.store(block, std::memory_order_release);
        count_bytes();
    }
    // [mean (inputs) | std (inputs) | 1/std (inputs)] while standardised, else null; a
    // reader takes it once per call
    const T* scaling() const { return scaling_.load(std::memory_order_acquire); }
    bool standardized() const { return scaling() != nullptr; }

    // The optimizer's settings. With `reset`, a fresh optimizer: state zeroed, step count
    // restarted. Without, training continues where the last call stopped (Adam's moments and
    // bias correction, SGD's velocity), which only means something for the same kind of
    // optimizer: another kind is refused while there is state to misread.
    void configure(const OptimizerConfig& config, bool reset = true) {
        const Change change(*this, "configure");
        if (!reset && has_training_state() && config.kind != opt_.kind)
            throw std::invalid_argument("continuing training needs the optimizer it started with; reset to change it");
        opt_ = config;
        if (!reset) return;
        if (has_training_state()) {  // else it starts zeroed when the first training call allocates it
            std::fill(state1_, state1_ + n_params_, T(0));
            std::fill(state2_, state2_ + n_params_, T(0));
        }
        steps_ = 0;
    }
    const OptimizerConfig& optimizer() const { return opt_; }
    void set_learning_rate(double lr) {
        const Change change(*this, "set_learning_rate");
        opt_.lr = lr;
    }

    // l1 |W|_1 + (l2 / 2) |W|^2 over every weight (biases are not penalised)
    double penalty() const {
        if (opt_.l1 == 0.0 && opt_.l2 == 0.0) return 0.0;
        double sq = 0.0, ab = 0.0;
        for (int64_t i = 0; i < n_weights_; ++i) {
            sq += double(params_[i]) * params_[i];
            ab += std::abs(double(params_[i]));
        }
        return opt_.l1 * ab + 0.5 * opt_.l2 * sq;
    }

    // Threads worth using for `rows` rows at once: each thread gets at least
    // kMinWorkPerThread multiply-adds, so small networks stay on one thread.
    int threads_for(int64_t rows) const {
        const int64_t useful = std::max<int64_t>(1, saturating_mul(rows, macs_per_row_) / kMinWorkPerThread);
        return int(std::max<int64_t>(1, std::min<int64_t>({int64_t(thread_setting().load()), useful, rows})));
    }

    // One pass over X (n, inputs), Y (n, outputs), sample weights w (n) or null, in
    // batches of `batch`: shuffle, gather, forward, cost, backward, optimizer step.
    // With `rows` (n_rows indices into X), only those rows are trained on, in a
    // shuffled order, so a held-out part of X needs no copy; the batches are the ones
    // a copy X[rows] would give.
    EpochResult train_epoch(const T* X, const T* Y, const T* w, int64_t n, int64_t batch, bool shuffle, Loss loss,
                            Metric metric, const int64_t* rows = nullptr, int64_t n_rows = 0) {
        const Change change(*this, "train_epoch");
        if (rows) {
            for (int64_t i = 0; i < n_rows; ++i)
                if (rows[i] < 0 || rows[i] >= n) throw std::invalid_argument("training rows must index rows of X");
            n = n_rows;
        }
        if (n <= 0 || batch <= 0) throw std::invalid_argument("training needs rows and a positive batch size");
        batch = std::min(batch, n);
        const int wanted = threads_for(batch);  // read once: the pool runs exactly the threads reserved for
        // everything this call may allocate is checked against the memory the process can still
        // have before any of it is: a call that cannot have it leaves the network as it was
        require_allocatable(checked_add(training_state_growth(), workspace_growth(batch, wanted), "training's buffers"),
                            "training (gradient, optimizer state and batch workspaces)");
        ensure_training_state();
        reserve(batch, wanted);  // each thread can take the whole batch: the pool may be busy and run one
        if (int64_t(order_.size()) != n) order_.resize(n);
        if (rows)
            std::copy(rows, rows + n, order_.begin());
        else
            std::iota(order_.begin(), order_.end(), int64_t(0));
        if (shuffle)
            for (int64_t i = n - 1; i > 0; --i) std::swap(order_[i], order_[rng_.below(uint64_t(i) + 1)]);

        EpochResult result;
        const int64_t first_step = steps_;
        last_threads_ = ThreadPool::instance().run(wanted, [&](const Region& region) {
            train_part(region, X, Y, w, n, batch, loss, metric, first_step, result);
        });
        steps_ = first_step + result.batches - result.skipped;
        count_bytes();
        result.sums.reset(outputs());
        result.sums.set_shift(Y + order_[0] * outputs());  // the shift every thread's sums used
        for (int t = 0; t < last_threads_; ++t) merge_metric_sums(result.sums, ws_[t].sums);
        return result;
    }

    // The learning-rate range test: `steps` optimizer steps on consecutive shuffled
    // batches (cycling through X), the rate rising geometrically from lr_first to
    // lr_last. Returns the cost (mean loss plus penalty) of each batch before its step.
    // Stops early once a cost is not finite, or once the costs' moving average
    // (weight `beta` on the past, bias-corrected) exceeds stop_factor times its lowest.
    // One thread: the test is short.
    std::vector<double> lr_sweep(const T* X, const T* Y, const T* w, int64_t n, int64_t batch, double lr_first,
                                 double lr_last, int64_t steps, Loss loss, double stop_factor, double beta) {
        const Change change(*this, "lr_sweep");
        if (n <= 0 || batch <= 0 || steps < 2) throw std::invalid_argument("the sweep needs rows, a batch and 2+ steps");
        batch = std::min(batch, n);
        require_allocatable(checked_add(training_state_growth(), workspace_growth(batch, 1), "the sweep's buffers"),
                            "the learning-rate sweep (gradient, optimizer state and a batch workspace)");
        ensure_training_state();
        reserve(batch, 1);
        Workspace& ws = ws_[0];
        order_.resize(n);
        std::iota(order_.begin(), order_.end(), int64_t(0));
        count_bytes();
        std::vector<double> costs;
        costs.reserve(size_t(std::min<int64_t>(steps, 1 << 16)));
        double average = 0.0, lowest = INFINITY, correction = 1.0;
        int64_t start = n;  // forces a shuffle before the first batch
        const double ratio = std::log(lr_last / lr_first) / double(steps - 1);
        for (int64_t k = 0, weightless = 0; k < steps; ++k) {
            if (start + batch > n) {
                for (int64_t i = n - 1; i > 0; --i) std::swap(order_[i], order_[rng_.below(uint64_t(i) + 1)]);
                start = 0;
            }
            opt_.lr = lr_first * std::exp(ratio * double(k));
            const double weight = batch_weight(w, order_.data() + start, batch);
            if (!(weight > 0.0)) {  // a batch that weighs nothing has no mean cost: no step, the rate waits
                if (++weightless > n / batch + 1)
                    throw std::invalid_argument("the sample weights are all zero: the sweep has no cost to measure");
                start += batch;
                --k;
                continue;
            }
            weightless = 0;
            const double data_cost = part_gradient(ws, grads_, X, Y, w, order_.data() + start, batch, loss, weight,
                                                   true, ws.rng);
            start += batch;
            const StepResult step = optimizer_step(opt_, params_, grads_, state1_, state2_, n_params_, n_weights_,
                                                   ++steps_);
            const double cost = data_cost / weight + step.penalty;
            costs.push_back(cost);
            if (!std::isfinite(cost)) break;
            average = beta * average + (1.0 - beta) * cost;
            correction *= beta;
            const double smoothed = average / (1.0 - correction);
            if (smoothed > stop_factor * lowest) break;
            lowest = std::min(lowest, smoothed);
        }
        return costs;
    }

    // Cost (mean loss plus penalty) of X (n, inputs) against Y at the current
    // parameters; fills grads() with its full gradient, penalties included. Dropout,
    // when `dropout_seed` >= 0, uses masks drawn from that seed (the same seed gives
    // the same masks, so finite differences of this function are meaningful).
    double cost_and_gradient(const T* X, const T* Y, const T* w, int64_t n, Loss loss, int64_t dropout_seed) {
        const Change change(*this, "cost_and_gradient");
        if (n <= 0) throw std::invalid_argument("no rows");
        std::vector<int64_t> rows(n);
        std::iota(rows.begin(), rows.end(), int64_t(0));
        const double weight = batch_weight(w, rows.data(), n);
        if (!(weight > 0.0)) throw std::invalid_argument("the sample weights sum to zero: the cost is 0/0");
        require_allocatable(checked_add(training_state_growth(), workspace_growth(n, 1), "the gradient's buffers"),
                            "the gradient (its buffer, optimizer state and a workspace for every row)");
        ensure_training_state();
        reserve(n, 1);
        Rng masks(uint64_t(std::max<int64_t>(dropout_seed, 0)));
        const double cost = part_gradient(ws_[0], grads_, X, Y, w, rows.data(), n, loss, weight,
                                          dropout_seed >= 0, masks);
        for (int64_t i = 0; i < n_weights_; ++i)
            grads_[i] += T(opt_.l2) * params_[i] + T(opt_.l1) * detail::sign(params_[i]);
        return cost / weight + penalty();
    }

    // X (n, inputs) -> out (n, outputs): the output activation, no dropout. Returns
    // how many rows have a NaN or infinite output (values that overflowed inside the
    // network): an O(outputs) test per row, so callers can refuse them.
    // Thread-safe: uses only local buffers and reads the parameters.
    int64_t predict(const T* X, int64_t n, T* out) const {
        const int64_t O = outputs();
        std::atomic<int64_t> nonfinite{0};
        over_chunks(threads_for(n), n, [&](InferenceBuffers& buf, int, int64_t start, int64_t B) {
            T* a = out + start * O;
            forward_infer(X + start * inputs_, B, buf, nullptr, a);
            int64_t bad = 0;
            for (int64_t i = 0; i < B; ++i) bad += !row_is_finite(a + i * O, O);
            if (bad) nonfinite.fetch_add(bad, std::memory_order_relaxed);
        });
        return nonfinite.load();
    }

    // X (n, inputs) -> the index of each row's class: the arg-max of the output
    // activation, or with `threshold` (binary outputs) whether it exceeds 0.5. A row
    // whose outputs are not all finite has no class: it gets -1, and the number of
    // such rows is returned (an arg-max over NaN would silently say class 0).
    int64_t predict_classes(const T* X, int64_t n, int64_t* classes, bool threshold) const {
        const int64_t O = outputs();
        std::atomic<int64_t> nonfinite{0};
        over_chunks(threads_for(n), n, [&](InferenceBuffers& buf, int, int64_t start, int64_t B) {
            forward_infer(X + start * inputs_, B, buf, nullptr, buf.out);
            int64_t bad = 0;
            for (int64_t i = 0; i < B; ++i) {
                const T* row = buf.out + i * O;
                if (!row_is_finite(row, O)) {
                    classes[start + i] = -1;
                    ++bad;
                } else {
                    classes[start + i] =
                        threshold ? int64_t(row[0] > T(0.5)) : int64_t(std::max_element(row, row + O) - row);
                }
            }
            if (bad) nonfinite.fetch_add(bad, std::memory_order_relaxed);
        });
        return nonfinite.load();
    }

    // Sums of the loss and the metric over X, Y (no dropout, no penalty), and the
    // number of rows whose output or logits are NaN or infinite.
    MetricSums evaluate(const T* X, const T* Y, const T* w, int64_t n, Loss loss, Metric metric) const {
        const int64_t O = outputs();
        // the thread count is read once: set_num_threads in another thread meanwhile must not
        // run more threads than there are parts (it did: a heap overflow)
        const int threads = threads_for(n);
        std::vector<MetricSums> parts(static_cast<size_t>(threads));
        for (auto& part : parts) {
            part.reset(O);
            part.set_shift(Y);  // R^2's moments are kept relative to the first row's targets
        }
        const int used = over_chunks(threads, n, [&](InferenceBuffers& buf, int thread, int64_t start, int64_t B) {
            const T* ws = w ? w + start : nullptr;
            forward_infer(X + start * inputs_, B, buf, buf.z, buf.out);
            parts[thread].loss += loss_forward_backward(loss, layers_.back().activation, T(layers_.back().alpha),
                                                        buf.z, buf.out, Y + start * O, ws, B, O,
                                                        static_cast<T*>(nullptr), T(1));
            accumulate_metric(parts[thread], metric, buf.out, Y + start * O, ws, B, O);
            for (int64_t i = 0; i < B; ++i)
                parts[thread].nonfinite_rows += !(row_is_finite(buf.z + i * O, O) && row_is_finite(buf.out + i * O, O));
        });
        MetricSums total;
        total.reset(O);
        total.set_shift(Y);
        for (int t = 0; t < used; ++t) merge_metric_sums(total, parts[t]);
        return total;
    }

private:
    // Holds the busy flag for one change (see the file header); released on any exit.
    class Change {
    public:
        Change(const Network& net, const char* what) : flag_(net.changing_) {
            const char* running = nullptr;
            if (!flag_.compare_exchange_strong(running, what, std::memory_order_acquire))
                throw ModelBusy(std::string("the model is busy: ") + running +
                                " is changing it in another thread, and a model takes one change at a time (" + what +
                                " was refused); predict, evaluate and save may run alongside");
        }
        ~Change() { flag_.store(nullptr, std::memory_order_release); }
        Change(const Change&) = delete;
        Change& operator=(const Change&) = delete;

    private:
        std::atomic<const char*>& flag_;
    };

    // The gradient and the optimizer state, zeroed, on the first training call; in their
    // own arena, staggered against the parameters (slots 1-3 after the parameters' 0).
    void ensure_training_state() {
        if (has_training_state()) return;
        const auto buffers = state_arena_.carve(std::array<int64_t, 3>{n_params_, n_params_, n_params_});
        grads_ = buffers[0];
        state1_ = buffers[1];
        state2_ = buffers[2];
        count_bytes();
    }

    // Recounts bytes_ after an allocation (under a Change, or in the constructor).
    void count_bytes() {
        int64_t total = int64_t(param_arena_.bytes() + state_arena_.bytes() + order_.capacity() * sizeof(int64_t));
        if (scaling_storage_) total += 3 * inputs_ * int64_t(sizeof(T));
        for (const auto& ws : ws_) {
            total += int64_t(ws.arena.bytes());
            for (const auto& mask : ws.masks) total += int64_t(mask.capacity());
        }
        bytes_.store(total, std::memory_order_relaxed);
    }

    static constexpr int64_t kChunk = 256;  // rows per inference pass: activations stay in cache
    static constexpr int64_t kMinWorkPerThread = int64_t(1) << 20;  // multiply-adds per thread and batch

    // What one thread trains with: its rows of the batch, their activations and
    // gradients, and its own dropout stream.
    struct Workspace {
        int64_t capacity = 0;
        Arena<T> arena;
        T *xb = nullptr, *yb = nullptr, *wb = nullptr, *z = nullptr;
        std::vector<T*> acts;
        std::vector<std::vector<uint8_t>> masks;
        T* delta[2] = {nullptr, nullptr};
        T* grads = nullptr;  // the thread's gradient (thread 0 uses the network's)
        Rng rng;
        MetricSums sums;
        double cost = 0.0, penalty = 0.0, norm_sq = 0.0;  // this batch's, read by the others after a barrier
        bool dropout_active = false;
    };

    // Scratch for a forward pass, from storage kept per thread: once warm, predicting
    // allocates nothing (one row through a small network takes about a microsecond).
    struct InferenceBuffers {
        T *x, *h0, *h1, *z, *out;
        T* part;           // one row's half product through a wide layer (widest values)
        const T* scaling;  // the network's scaling() at the start of the call
        InferenceBuffers(const Network& net, int64_t rows, const T* scaling_snapshot) : scaling(scaling_snapshot) {
            thread_local Arena<T> arena;
            int64_t widest = 0;
            for (const auto& layer : net.layers_) widest = std::max(widest, layer.units);
            const int64_t O = net.outputs();
            const int64_t hidden = checked_mul(rows, widest, "an inference buffer");
            const auto buffers = arena.carve(std::array<int64_t, 6>{
                scaling ? checked_mul(rows, net.inputs_, "an inference buffer") : 0, hidden, hidden,
                checked_mul(rows, O, "an inference buffer"), checked_mul(rows, O, "an inference buffer"), widest});
            x = buffers[0];
            h0 = buffers[1];
            h1 = buffers[2];
            z = buffers[3];
            out = buffers[4];
            part = buffers[5];
        }
    };

    // body(buf, thread, start, B) for every chunk of kChunk rows of X (n rows), the
    // chunks dealt round-robin to at most `threads` threads (the caller's one reading of
    // threads_for, so that what it sized per thread matches); returns how many ran.
    template <class Body>
    int over_chunks(int threads, int64_t n, Body&& body) const {
        const T* scaling_snapshot = scaling();
        return ThreadPool::instance().run(threads, [&](const Region& region) {
            InferenceBuffers buf(*this, std::min(n, kChunk), scaling_snapshot);
            for (int64_t start = region.thread * kChunk; start < n; start += region.threads * kChunk)
                body(buf, region.thread, start, std::min(kChunk, n - start));
        });
    }

    uint64_t stream_seed(size_t t) const { return seed_ ^ 0x64726F706F7574ull ^ (uint64_t(t) * 0x9E3779B97F4A7C15ull); }

    // Bytes ensure_training_state() would allocate (0 once it has).
    int64_t training_state_growth() const {
        return has_training_state() ? 0 : checked_mul(checked_mul(n_params_, 3, "the training state"),
                                                      int64_t(sizeof(T)), "the training state");
    }

    // Bytes reserve(rows, threads) would allocate: the workspaces that must grow, each to
    // its new size (an estimate from above: the arenas' padding included).
    int64_t workspace_growth(int64_t rows, int threads) const {
        const int64_t have = ws_.empty() ? 0 : ws_[0].capacity;
        if (int(ws_.size()) >= threads && have >= rows) return 0;
        rows = std::max(rows, have);
        const char* what = "a training workspace (batch size x layer width)";
        int64_t widest = inputs_, per_row = checked_add(inputs_, 2 * outputs() + 1, what);
        for (const auto& layer : layers_) {
            widest = std::max(widest, layer.units);
            per_row = checked_add(per_row, layer.units, what);
        }
        per_row = checked_add(per_row, 2 * widest, what);
        const int64_t scalars = checked_add(checked_mul(rows, per_row, what), int64_t(layers_.size() + 9) * 4096, what);
        int64_t total = 0;
        for (int t = 0; t < std::max(threads, int(ws_.size())); ++t) {
            if (t < int(ws_.size()) && ws_[size_t(t)].capacity >= rows) continue;
            const int64_t mine = t > 0 ? checked_add(scalars, n_params_, what) : scalars;
            total = checked_add(total, checked_mul(mine, int64_t(sizeof(T)), what), what);
        }
        return total;
    }

    // Workspaces for `threads` threads of up to `rows` rows each; grows, never shrinks.
    void reserve(int64_t rows, int threads) {
        if (int(ws_.size()) >= threads && ws_[0].capacity >= rows) return;
        rows = std::max(rows, ws_.empty() ? int64_t(0) : ws_[0].capacity);
        int64_t widest = inputs_;
        for (const auto& layer : layers_) widest = std::max(widest, layer.units);
        // every size first, so that an impossible one throws before anything changes
        const char* what = "a training workspace (batch size x layer width)";
        std::vector<int64_t> sizes = {checked_mul(rows, inputs_, what), checked_mul(rows, outputs(), what), rows,
                                      checked_mul(rows, outputs(), what)};
        for (const auto& layer : layers_) sizes.push_back(checked_mul(rows, layer.units, what));
        const int64_t delta = checked_mul(rows, widest, what);
        sizes.insert(sizes.end(), {delta, delta, 0});
        std::vector<int64_t> mask_sizes(layers_.size());
        for (size_t l = 0; l < layers_.size(); ++l)
            mask_sizes[l] = layers_[l].input_dropout > 0.0 ? checked_mul(rows, layer_inputs(l), what) : 0;
        ws_.resize(std::max(size_t(threads), ws_.size()));
        const size_t L = layers_.size();
        for (size_t t = 0; t < ws_.size(); ++t) {
            Workspace& ws = ws_[t];
            if (ws.capacity >= rows) continue;
            // xb, yb, wb, z, the activations, two deltas and (threads > 0) a gradient
            sizes.back() = t > 0 ? n_params_ : 0;
            const auto buffers = ws.arena.carve(sizes);
            ws.xb = buffers[0];
            ws.yb = buffers[1];
            ws.wb = buffers[2];
            ws.z = buffers[3];
            ws.acts.assign(buffers.begin() + 4, buffers.begin() + 4 + L);
            ws.delta[0] = buffers[4 + L];
            ws.delta[1] = buffers[5 + L];
            ws.grads = buffers[6 + L];
            ws.masks.resize(L);
            for (size_t l = 0; l < L; ++l) ws.masks[l].assign(size_t(mask_sizes[l]), 0);
            // a new thread's dropout stream starts from the seed; a growing one carries on, so
            // that training continued with a larger batch does not replay its masks
            if (ws.capacity == 0) ws.rng.reseed(stream_seed(t));
            ws.capacity = rows;
        }
        ++workspace_allocations_;
        count_bytes();
    }

    // whether a row r (O) holds no NaN and no infinity
    static bool row_is_finite(const T* r, int64_t O) {
        bool finite = true;
        for (int64_t k = 0; k < O; ++k) finite &= std::isfinite(r[k]);
        return finite;
    }

    double batch_weight(const T* w, const int64_t* rows, int64_t B) const {
        if (!w) return double(B);
        double total = 0.0;
        for (int64_t i = 0; i < B; ++i) total += w[rows[i]];
        return total;
    }

    // Thread `region.thread`'s share of an epoch. Every thread walks all batches; a
    // batch's rows are split between threads, its parameters too. Without clipping,
    // each layer's parameters are updated as soon as every thread has that layer's
    // gradient (one barrier per layer), while the gradient is still in cache; with
    // clipping the global norm is needed first, so all layers wait for it.
    void train_part(const Region& region, const T* X, const T* Y, const T* w, int64_t n, int64_t batch, Loss loss,
                    Metric metric, int64_t first_step, EpochResult& result) {
        const int t = region.thread, threads = region.threads;
        const size_t L = layers_.size();
        Workspace& ws = ws_[t];
        ws.sums.reset(outputs());
        ws.sums.set_shift(Y + order_[0] * outputs());  // one shift for every thread's R^2 moments
        T* grads = t == 0 ? grads_ : ws.grads;
        const bool clipping = opt_.clip_norm > 0.0;
        int64_t taken = 0;  // steps taken (every thread counts the same)
        for (int64_t start = 0; start < n; start += batch) {
            const int64_t B = std::min(batch, n - start);
            const auto [lo, hi] = share(B, t, threads);
            const int64_t* rows = order_.data() + start + lo;
            const double weight = batch_weight(w, order_.data() + start, B);
            if (!(weight > 0.0)) {  // every row weighs zero: no mean cost, no gradient, no step (it was 0/0)
                if (t == 0) {
                    ++result.skipped;
                    ++result.batches;
                }
                continue;
            }
            const int64_t step = first_step + taken + 1;
            double penalty = 0.0;  // of this thread's slices; published in ws.penalty at the end
            double batch_loss = 0.0;  // sum_i w_i l_i over the batch, once every thread has its part
            bool finite = true;
            // after layer l's backward: once all threads have it, update this thread's slice of it
            auto update_layer = [&](size_t l) {
                region.sync();
                if (l + 1 == L) finite = std::isfinite(batch_loss = batch_cost(threads));  // before any update
                if (!finite) return;
                penalty += update_slice(t, threads, w_offset_[l], layer_inputs(l) * layers_[l].units, true, step, 1);
                penalty += update_slice(t, threads, b_offset_[l], layers_[l].units, false, step, 1);
            };
            ws.cost = hi > lo ? forward_cost(ws, X, Y, w, rows, hi - lo, loss, weight, true, ws.rng) : 0.0;
            if (clipping) {
                if (hi > lo)
                    backward(ws, grads, hi - lo, [](size_t) {});
                else
                    std::fill(grads, grads + n_params_, T(0));
                region.sync();  // every thread's gradient is ready
                finite = std::isfinite(batch_loss = batch_cost(threads));
                if (finite) {
                    const auto [a, e] = share(n_params_, t, threads);
                    reduce_slice(threads, a, e);
                    ws.norm_sq = gradient_norm_sq(opt_, params_ + a, grads_ + a, e - a,
                                                  std::clamp<int64_t>(n_weights_ - a, 0, e - a));
                    region.sync();
                    double norm_sq = 0.0;
                    for (int s = 0; s < threads; ++s) norm_sq += ws_[s].norm_sq;
                    const T scale = T(clip_scale(opt_, norm_sq));
                    penalty = optimizer_update(opt_, params_ + a, grads_ + a, state1_ + a, state2_ + a, e - a,
                                               std::clamp<int64_t>(n_weights_ - a, 0, e - a), step, scale);
                }
            } else if (hi > lo) {
                backward(ws, grads, hi - lo, update_layer);
            } else {  // no rows for this thread in a small last batch: a zero gradient
                std::fill(grads, grads + n_params_, T(0));
                for (size_t l = L; l-- > 0;) update_layer(l);
            }
            if (!finite) {  // every thread saw the same costs and stops here, before any update
                if (t == 0) result.finite = false;
                break;
            }
            ws.sums.loss += ws.cost;
            if (hi > lo)
                accumulate_metric(ws.sums, metric, ws.acts.back(), ws.yb, w ? ws.wb : nullptr, hi - lo, outputs());
            // read by thread 0 after the barrier; rewritten only after the next batch's first barrier
            ws.penalty = penalty;
            // whether to stop here: read by thread 0 alone, so that every thread agrees (they
            // read it after the barrier; thread 0 writes it again only after the next one)
            if (t == 0) stopping_ = stop_requested().load(std::memory_order_relaxed);
            region.sync();  // the parameters are updated everywhere
            if (t == 0) {
                double total = 0.0;
                for (int s = 0; s < threads; ++s) total += ws_[s].penalty;
                if (taken == 0) result.first_cost = batch_loss / weight + total;
                result.penalty += total * weight;
                ++result.batches;
            }
            ++taken;
            if (stopping_) {
                if (t == 0) result.stopped = true;
                break;
            }
        }
    }

    // After a barrier: the batch's sum_i w_i l_i, summed over threads.
    double batch_cost(int threads) const {
        double cost = 0.0;
        for (int s = 0; s < threads; ++s) cost += ws_[s].cost;
        return cost;
    }

    // grads_[a, e) += every other thread's gradient there
    void reduce_slice(int threads, int64_t a, int64_t e) {
        T* __restrict g = grads_;
        for (int s = 1; s < threads; ++s) {
            const T* __restrict other = ws_[s].grads;
            for (int64_t i = a; i < e; ++i) g[i] += other[i];
        }
    }

    // Part t of `size` parameters from `offset`: summed over threads, then updated.
    // Returns their penalty (weights) before the update.
    double update_slice(int t, int threads, int64_t offset, int64_t size, bool weights, int64_t step, T scale) {
        auto [a, e] = share(size, t, threads);
        a += offset;
        e += offset;
        reduce_slice(threads, a, e);
        return optimizer_update(opt_, params_ + a, grads_ + a, state1_ + a, state2_ + a, e - a, weights ? e - a : 0,
                                step, scale);
    }

    // Gathers `B` rows and runs forward: returns sum_i w_i l_i and leaves
    // ws.delta[0] = d(sum_i w_i l_i / weight)/dz of the output layer for backward.
    double forward_cost(Workspace& ws, const T* X, const T* Y, const T* w, const int64_t* rows, int64_t B, Loss loss,
                        double weight, bool dropout, Rng& rng) {
        gather(ws, X, Y, w, rows, B);
        forward_train(ws, B, dropout, rng);
        const LayerSpec& out = layers_.back();
        return loss_forward_backward(loss, out.activation, T(out.alpha), ws.z, ws.acts.back(), ws.yb,
                                     w ? ws.wb : nullptr, B, outputs(), ws.delta[0], T(1.0 / weight));
    }

    // Gathers `B` rows, runs forward and backward: grads (n_params) receive the gradient
    // of sum_i w_i l_i / weight over these rows. Returns sum_i w_i l_i.
    double part_gradient(Workspace& ws, T* grads, const T* X, const T* Y, const T* w, const int64_t* rows, int64_t B,
                         Loss loss, double weight, bool dropout, Rng& rng) {
        const double cost = forward_cost(ws, X, Y, w, rows, B, loss, weight, dropout, rng);
        backward(ws, grads, B, [](size_t) {});
        return cost;
    }

    // rows (B) of X, Y, w -> ws.xb (standardised), ws.yb, ws.wb
    void gather(Workspace& ws, const T* X, const T* Y, const T* w, const int64_t* rows, int64_t B) const {
        const int64_t I = inputs_, O = outputs();
        const T* scaling = this->scaling();
        for (int64_t i = 0; i < B; ++i) {
            const T* src = X + rows[i] * I;
            T* dst = ws.xb + i * I;
            if (scaling)
                for (int64_t j = 0; j < I; ++j) dst[j] = (src[j] - scaling[j]) * scaling[2 * I + j];
            else
                std::memcpy(dst, src, sizeof(T) * I);
            std::memcpy(ws.yb + i * O, Y + rows[i] * O, sizeof(T) * O);
            if (w) ws.wb[i] = w[rows[i]];
        }
    }

    // Forward over the gathered rows; with dropout, inputs of each layer are masked
    // (inverted dropout: kept values scaled by 1/keep) and the masks remembered.
    void forward_train(Workspace& ws, int64_t B, bool dropout, Rng& rng) const {
        T* in = ws.xb;
        const size_t L = layers_.size();
        for (size_t l = 0; l < L; ++l) {
            const LayerSpec& layer = layers_[l];
            const int64_t I = layer_inputs(l), O = layer.units;
            if (dropout && layer.input_dropout > 0.0)
                apply_dropout(in, ws.masks[l].data(), B * I, layer.input_dropout, rng);
            const T* W = params_ + w_offset_[l];
            const T* b = params_ + b_offset_[l];
            T* a = ws.acts[l];
            if (l + 1 < L) {
                dense_forward(a, in, W, B, I, O);
                bias_activation_forward(a, a, b, B, O, layer.activation, T(layer.alpha));
            } else {  // keep the logits z for a stable, fused cost
                dense_forward(ws.z, in, W, B, I, O);
                add_bias(ws.z, b, B, O);
                bias_activation_forward(a, ws.z, static_cast<const T*>(nullptr), B, O, layer.activation,
                                        T(layer.alpha));
            }
            in = a;
        }
        ws.dropout_active = dropout;
    }

    // Expects ws.delta[0] (B, outputs) = dcost/dz of the output layer; fills grads,
    // calling after_layer(l) once layer l's gradient is in and its weights are no
    // longer needed by this thread.
    template <class AfterLayer>
    void backward(Workspace& ws, T* grads, int64_t B, AfterLayer&& after_layer) const {
        T* dz = ws.delta[0];
        T* next = ws.delta[1];
        for (size_t l = layers_.size(); l-- > 0;) {
            const int64_t I = layer_inputs(l), O = layers_[l].units;
            const T* in = l == 0 ? ws.xb : ws.acts[l - 1];
            T* dx = l == 0 ? nullptr : next;
            dense_backward(dx, grads + w_offset_[l], grads + b_offset_[l], dz, in, params_ + w_offset_[l], B, I, O);
            after_layer(l);
            if (l == 0) break;
            const LayerSpec& below = layers_[l - 1];
            T* a = ws.acts[l - 1];
            if (ws.dropout_active && layers_[l].input_dropout > 0.0)
                undo_dropout(a, next, ws.masks[l].data(), B * I, layers_[l].input_dropout);
            activation_backward(next, next, a, B, I, below.activation, T(below.alpha));
            std::swap(dz, next);
        }
    }

    static void add_bias(T* z, const T* b, int64_t B, int64_t O) {
        for (int64_t i = 0; i < B; ++i)
            for (int64_t j = 0; j < O; ++j) z[i * O + j] += b[j];
    }

    // x (n) <- x * mask / keep, mask (n) drawn with P(keep)
    static void apply_dropout(T* x, uint8_t* mask, int64_t n, double rate, Rng& rng) {
        const double keep = 1.0 - rate;
        for (int64_t k = 0; k < n; ++k) mask[k] = rng.uniform() < keep;
        const T scale = T(1.0 / keep);
        for (int64_t k = 0; k < n; ++k) x[k] = mask[k] ? x[k] * scale : T(0);
    }

    // The layer below needs its activation without dropout (a = stored * keep where
    // kept) and the gradient through the mask (da * mask / keep).
    static void undo_dropout(T* a, T* da, const uint8_t* mask, int64_t n, double rate) {
        const T keep = T(1.0 - rate), scale = T(1.0 / (1.0 - rate));
        for (int64_t k = 0; k < n; ++k) {
            a[k] *= keep;
            da[k] = mask[k] ? da[k] * scale : T(0);
        }
    }

    // X (B, inputs) -> a (B, outputs); z (B, outputs) receives the logits when not null.
    void forward_infer(const T* X, int64_t B, InferenceBuffers& buf, T* z, T* a) const {
        const T* in = X;
        if (const T* scaling = buf.scaling) {
            const T* inv_std = scaling + 2 * inputs_;
            for (int64_t i = 0; i < B; ++i)
                for (int64_t j = 0; j < inputs_; ++j)
                    buf.x[i * inputs_ + j] = (X[i * inputs_ + j] - scaling[j]) * inv_std[j];
            in = buf.x;
        }
        T* hidden[2] = {buf.h0, buf.h1};
        const size_t L = layers_.size();
        for (size_t l = 0; l < L; ++l) {
            const LayerSpec& layer = layers_[l];
            const int64_t I = layer_inputs(l), O = layer.units;
            const T* W = params_ + w_offset_[l];
            const T* b = params_ + b_offset_[l];
            auto product = [&](T* out) {
                if (B == 1 && I >= 2 && I * O >= kSplitRowWeights)
                    wide_row_times_matrix(out, buf.part, in, W, I, O);
                else
                    dense_forward(out, in, W, B, I, O);
            };
            if (l + 1 < L) {
                T* h = hidden[l % 2];
                product(h);
                bias_activation_forward(h, h, b, B, O, layer.activation, T(layer.alpha));
                in = h;
            } else if (z) {
                product(z);
                add_bias(z, b, B, O);
                bias_activation_forward(a, z, static_cast<const T*>(nullptr), B, O, layer.activation, T(layer.alpha));
            } else {
                product(a);
                bias_activation_forward(a, a, b, B, O, layer.activation, T(layer.alpha));
            }
        }
    }

    int64_t inputs_;
    std::vector<LayerSpec> layers_;
    std::vector<int64_t> w_offset_, b_offset_;
    int64_t n_weights_ = 0, n_params_ = 0;
    int64_t macs_per_row_ = 0;
    Arena<T> param_arena_{0};  // params_ (page slot 0)
    Arena<T> state_arena_{1};  // grads_, state1_, state2_ (slots 1-3): the first training call
    T *params_ = nullptr, *grads_ = nullptr, *state1_ = nullptr, *state2_ = nullptr;
    int64_t steps_ = 0;
    OptimizerConfig opt_;
    std::unique_ptr<T[]> scaling_storage_;    // [mean | std | 1/std], allocated by the first set_standardization
    std::atomic<const T*> scaling_{nullptr};  // scaling_storage_ while standardised
    mutable std::atomic<const char*> changing_{nullptr};  // the change that runs (a literal), or null
    std::atomic<int64_t> bytes_{0};
    uint64_t seed_ = 0;
    Rng rng_{0};                  // shuffles
    std::vector<Workspace> ws_;   // one per thread
    std::vector<int64_t> order_;  // the epoch's row order
    int64_t workspace_allocations_ = 0;
    int last_threads_ = 1;
    bool stopping_ = false;  // an epoch's threads' shared reading of stop_requested()
};

}  // namespace nnfast
