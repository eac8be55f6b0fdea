// The network: a stack of dense layers over one flat parameter buffer.
//
// Layout of the parameter (and gradient, and optimizer state) buffer:
//   W1 (n0,n1) | W2 (n1,n2) | ... | WL | b1 (n1) | ... | bL
// all weights first, so penalties and weight decay cover one prefix.
//
// Training keeps, per layer, only the layer's output A_l (after the dropout of
// the next layer, if any): every activation derivative is a function of A_l.
// Workspaces are sized for the largest batch once; the batch loop allocates nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "activations.hpp"
#include "blas.hpp"
#include "initializers.hpp"
#include "losses.hpp"
#include "optimizers.hpp"
#include "rng.hpp"

namespace nnfast {

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
};

// z (B,O) = x (B,I) W (I,O); one sample goes through GEMV
template <class T>
inline void dense_forward(T* z, const T* x, const T* w, int64_t B, int64_t I, int64_t O) {
    if (B == 1)
        blas::gemv(true, I, O, T(1), w, O, x, T(0), z);
    else
        blas::gemm(false, false, B, O, I, T(1), x, I, w, O, T(0), z, O);
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
    Network(int64_t inputs, std::vector<LayerSpec> layers) : inputs_(inputs), layers_(std::move(layers)) {
        if (inputs_ <= 0) throw std::invalid_argument("a network needs at least one input");
        if (layers_.empty()) throw std::invalid_argument("a network needs at least one layer");
        int64_t fan_in = inputs_, n_weights = 0, n_biases = 0;
        for (const auto& layer : layers_) {
            if (layer.units <= 0) throw std::invalid_argument("every layer needs at least one unit");
            if (!(layer.input_dropout >= 0.0 && layer.input_dropout < 1.0))
                throw std::invalid_argument("dropout must be in [0, 1)");
            w_offset_.push_back(n_weights);
            n_weights += fan_in * layer.units;
            n_biases += layer.units;
            fan_in = layer.units;
        }
        for (size_t l = 0, offset = n_weights; l < layers_.size(); offset += layers_[l].units, ++l)
            b_offset_.push_back(offset);
        n_weights_ = n_weights;
        params_.assign(n_weights + n_biases, T(0));
        grads_.assign(params_.size(), T(0));
        configure(OptimizerConfig{});
    }

    int64_t inputs() const { return inputs_; }
    int64_t outputs() const { return layers_.back().units; }
    const std::vector<LayerSpec>& layers() const { return layers_; }
    int64_t layer_inputs(size_t l) const { return l == 0 ? inputs_ : layers_[l - 1].units; }
    int64_t n_params() const { return int64_t(params_.size()); }
    int64_t n_weights() const { return n_weights_; }
    int64_t w_offset(size_t l) const { return w_offset_[l]; }
    int64_t b_offset(size_t l) const { return b_offset_[l]; }
    T* params() { return params_.data(); }
    const T* params() const { return params_.data(); }
    T* grads() { return grads_.data(); }
    int64_t steps() const { return steps_; }
    int64_t workspace_allocations() const { return workspace_allocations_; }

    // Weights drawn by per-layer initialisers from a generator seeded with `seed`; biases zero.
    void initialize(const std::vector<Init>& inits, const std::vector<double>& scales, uint64_t seed) {
        if (inits.size() != layers_.size() || scales.size() != layers_.size())
            throw std::invalid_argument("one initialiser per layer is needed");
        Rng rng(seed);
        for (size_t l = 0; l < layers_.size(); ++l)
            init_weights(params_.data() + w_offset_[l], layer_inputs(l), layers_[l].units, inits[l], scales[l], rng);
        std::fill(params_.begin() + n_weights_, params_.end(), T(0));
    }

    // Seeds the stream that shuffles batches and draws dropout masks.
    void reseed(uint64_t seed) { rng_.reseed(seed ^ 0x7472616E696E67ull); }

    // Input standardisation x' = (x - mean) / std, applied where rows are gathered; empty = off.
    void set_standardization(const std::vector<T>& mean, const std::vector<T>& std) {
        if (mean.empty() && std.empty()) {
            mean_.clear();
            std_.clear();
            inv_std_.clear();
            return;
        }
        if (int64_t(mean.size()) != inputs_ || int64_t(std.size()) != inputs_)
            throw std::invalid_argument("standardisation needs one mean and one std per input");
        inv_std_.resize(inputs_);
        for (int64_t j = 0; j < inputs_; ++j) {
            if (!(std[j] > T(0)) || !std::isfinite(std[j]) || !std::isfinite(mean[j]))
                throw std::invalid_argument("standardisation std must be positive and finite");
            inv_std_[j] = T(1) / std[j];
        }
        mean_ = mean;
        std_ = std;
    }
    bool standardized() const { return !mean_.empty(); }
    const std::vector<T>& mean() const { return mean_; }
    const std::vector<T>& stdev() const { return std_; }

    // A fresh optimizer: state zeroed, step count reset.
    void configure(const OptimizerConfig& config) {
        opt_ = config;
        state1_.assign(params_.size(), T(0));
        state2_.assign(params_.size(), T(0));
        steps_ = 0;
    }
    const OptimizerConfig& optimizer() const { return opt_; }
    void set_learning_rate(double lr) { opt_.lr = lr; }

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

    // One pass over X (n, inputs), Y (n, outputs), sample weights w (n) or null, in
    // batches of `batch`: shuffle, gather, forward, cost, backward, optimizer step.
    EpochResult train_epoch(const T* X, const T* Y, const T* w, int64_t n, int64_t batch, bool shuffle, Loss loss,
                            Metric metric) {
        if (n <= 0 || batch <= 0) throw std::invalid_argument("training needs rows and a positive batch size");
        batch = std::min(batch, n);
        reserve(batch);
        if (int64_t(order_.size()) != n) {
            order_.resize(n);
            std::iota(order_.begin(), order_.end(), int64_t(0));
        }
        if (shuffle)
            for (int64_t i = n - 1; i > 0; --i) std::swap(order_[i], order_[rng_.below(uint64_t(i) + 1)]);
        else
            std::iota(order_.begin(), order_.end(), int64_t(0));

        EpochResult result;
        result.sums.reset(outputs());
        const int64_t O = outputs();
        for (int64_t start = 0; start < n; start += batch) {
            const int64_t B = std::min(batch, n - start);
            gather(X, Y, w, order_.data() + start, B);
            const double batch_weight = w ? std::accumulate(wb_.begin(), wb_.begin() + B, 0.0) : double(B);
            forward_train(B, true, rng_);
            const double cost = loss_forward_backward(loss, layers_.back().activation, T(layers_.back().alpha),
                                                      z_.data(), acts_.back().data(), yb_.data(),
                                                      w ? wb_.data() : nullptr, B, O, delta_[0].data(),
                                                      T(1.0 / batch_weight));
            if (!std::isfinite(cost)) {
                result.finite = false;
                break;
            }
            backward(B);
            const StepResult step = optimizer_step(opt_, params_.data(), grads_.data(), state1_.data(),
                                                   state2_.data(), n_params(), n_weights_, ++steps_);
            result.sums.loss += cost;
            result.penalty += step.penalty * batch_weight;
            accumulate_metric(result.sums, metric, acts_.back().data(), yb_.data(), w ? wb_.data() : nullptr, B, O);
            ++result.batches;
        }
        return result;
    }

    // The learning-rate range test: `steps` optimizer steps on consecutive shuffled
    // batches (cycling through X), the rate rising geometrically from lr_first to
    // lr_last. Returns the cost (mean loss plus penalty) of each batch before its step.
    // Stops early once a cost is not finite, or once the costs' moving average
    // (weight `beta` on the past, bias-corrected) exceeds stop_factor times its lowest.
    std::vector<double> lr_sweep(const T* X, const T* Y, const T* w, int64_t n, int64_t batch, double lr_first,
                                 double lr_last, int64_t steps, Loss loss, double stop_factor, double beta) {
        if (n <= 0 || batch <= 0 || steps < 2) throw std::invalid_argument("the sweep needs rows, a batch and 2+ steps");
        batch = std::min(batch, n);
        reserve(batch);
        order_.resize(n);
        std::iota(order_.begin(), order_.end(), int64_t(0));
        std::vector<double> costs;
        costs.reserve(steps);
        double average = 0.0, lowest = INFINITY, correction = 1.0;
        int64_t start = n;  // forces a shuffle before the first batch
        const double ratio = std::log(lr_last / lr_first) / double(steps - 1);
        for (int64_t k = 0; k < steps; ++k) {
            if (start + batch > n) {
                for (int64_t i = n - 1; i > 0; --i) std::swap(order_[i], order_[rng_.below(uint64_t(i) + 1)]);
                start = 0;
            }
            opt_.lr = lr_first * std::exp(ratio * double(k));
            gather(X, Y, w, order_.data() + start, batch);
            start += batch;
            const double weight = w ? std::accumulate(wb_.begin(), wb_.begin() + batch, 0.0) : double(batch);
            forward_train(batch, true, rng_);
            const double data_cost = loss_forward_backward(loss, layers_.back().activation, T(layers_.back().alpha),
                                                           z_.data(), acts_.back().data(), yb_.data(),
                                                           w ? wb_.data() : nullptr, batch, outputs(),
                                                           delta_[0].data(), T(1.0 / weight));
            backward(batch);
            const StepResult step = optimizer_step(opt_, params_.data(), grads_.data(), state1_.data(),
                                                   state2_.data(), n_params(), n_weights_, ++steps_);
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
        if (n <= 0) throw std::invalid_argument("no rows");
        reserve(n);
        std::vector<int64_t> rows(n);
        std::iota(rows.begin(), rows.end(), int64_t(0));
        gather(X, Y, w, rows.data(), n);
        const double weight = w ? std::accumulate(wb_.begin(), wb_.begin() + n, 0.0) : double(n);
        Rng masks(uint64_t(std::max<int64_t>(dropout_seed, 0)));
        forward_train(n, dropout_seed >= 0, masks);
        const double cost = loss_forward_backward(loss, layers_.back().activation, T(layers_.back().alpha), z_.data(),
                                                  acts_.back().data(), yb_.data(), w ? wb_.data() : nullptr, n,
                                                  outputs(), delta_[0].data(), T(1.0 / weight));
        backward(n);
        for (int64_t i = 0; i < n_weights_; ++i)
            grads_[i] += T(opt_.l2) * params_[i] + T(opt_.l1) * detail::sign(params_[i]);
        return cost / weight + penalty();
    }

    // X (n, inputs) -> out (n, outputs): the output activation, no dropout.
    // Thread-safe: uses only local buffers and reads the parameters.
    void predict(const T* X, int64_t n, T* out) const {
        InferenceBuffers buf(*this, std::min(n, kChunk));
        for (int64_t start = 0; start < n; start += kChunk) {
            const int64_t B = std::min(kChunk, n - start);
            forward_infer(X + start * inputs_, B, buf, nullptr, out + start * outputs());
        }
    }

    // Sums of the loss and the metric over X, Y (no dropout, no penalty).
    MetricSums evaluate(const T* X, const T* Y, const T* w, int64_t n, Loss loss, Metric metric) const {
        const int64_t O = outputs();
        const int64_t chunk = std::min(n, kChunk);
        InferenceBuffers buf(*this, chunk);
        std::vector<T> z(chunk * O), a(chunk * O);
        MetricSums sums;
        sums.reset(O);
        for (int64_t start = 0; start < n; start += kChunk) {
            const int64_t B = std::min(kChunk, n - start);
            const T* ws = w ? w + start : nullptr;
            forward_infer(X + start * inputs_, B, buf, z.data(), a.data());
            sums.loss += loss_forward_backward(loss, layers_.back().activation, T(layers_.back().alpha), z.data(),
                                               a.data(), Y + start * O, ws, B, O, static_cast<T*>(nullptr), T(1));
            accumulate_metric(sums, metric, a.data(), Y + start * O, ws, B, O);
        }
        return sums;
    }

private:
    static constexpr int64_t kChunk = 256;  // rows per inference pass: activations stay in cache

    struct InferenceBuffers {
        std::vector<T> x, h0, h1;
        InferenceBuffers(const Network& net, int64_t rows) {
            int64_t widest = 0;
            for (const auto& layer : net.layers_) widest = std::max(widest, layer.units);
            if (net.standardized()) x.resize(rows * net.inputs_);
            h0.resize(rows * widest);
            h1.resize(rows * widest);
        }
    };

    void reserve(int64_t batch) {
        if (batch <= capacity_) return;
        int64_t widest = inputs_;
        for (const auto& layer : layers_) widest = std::max(widest, layer.units);
        xb_.assign(batch * inputs_, T(0));
        yb_.assign(batch * outputs(), T(0));
        wb_.assign(batch, T(0));
        z_.assign(batch * outputs(), T(0));
        acts_.resize(layers_.size());
        masks_.resize(layers_.size());
        for (size_t l = 0; l < layers_.size(); ++l) {
            acts_[l].assign(batch * layers_[l].units, T(0));
            masks_[l].assign(layers_[l].input_dropout > 0.0 ? batch * layer_inputs(l) : 0, 0);
        }
        for (auto& d : delta_) d.assign(batch * widest, T(0));
        capacity_ = batch;
        ++workspace_allocations_;
    }

    // rows (B) of X, Y, w -> xb_ (standardised), yb_, wb_
    void gather(const T* X, const T* Y, const T* w, const int64_t* rows, int64_t B) {
        const int64_t I = inputs_, O = outputs();
        for (int64_t i = 0; i < B; ++i) {
            const T* src = X + rows[i] * I;
            T* dst = xb_.data() + i * I;
            if (standardized())
                for (int64_t j = 0; j < I; ++j) dst[j] = (src[j] - mean_[j]) * inv_std_[j];
            else
                std::memcpy(dst, src, sizeof(T) * I);
            std::memcpy(yb_.data() + i * O, Y + rows[i] * O, sizeof(T) * O);
            if (w) wb_[i] = w[rows[i]];
        }
    }

    // Forward over the gathered batch; with dropout, inputs of each layer are masked
    // (inverted dropout: kept values scaled by 1/keep) and the masks remembered.
    void forward_train(int64_t B, bool dropout, Rng& rng) {
        T* in = xb_.data();
        const size_t L = layers_.size();
        for (size_t l = 0; l < L; ++l) {
            const LayerSpec& layer = layers_[l];
            const int64_t I = layer_inputs(l), O = layer.units;
            if (dropout && layer.input_dropout > 0.0) apply_dropout(in, masks_[l].data(), B * I, layer.input_dropout, rng);
            const T* W = params_.data() + w_offset_[l];
            const T* b = params_.data() + b_offset_[l];
            T* a = acts_[l].data();
            if (l + 1 < L) {
                dense_forward(a, in, W, B, I, O);
                bias_activation_forward(a, a, b, B, O, layer.activation, T(layer.alpha));
            } else {  // keep the logits z for a stable, fused cost
                dense_forward(z_.data(), in, W, B, I, O);
                add_bias(z_.data(), b, B, O);
                bias_activation_forward(a, z_.data(), static_cast<const T*>(nullptr), B, O, layer.activation,
                                        T(layer.alpha));
            }
            in = a;
        }
        dropout_active_ = dropout;
    }

    // Expects delta_[0] (B, outputs) = dcost/dz of the output layer; fills grads_.
    void backward(int64_t B) {
        T* dz = delta_[0].data();
        T* next = delta_[1].data();
        for (size_t l = layers_.size(); l-- > 0;) {
            const int64_t I = layer_inputs(l), O = layers_[l].units;
            const T* in = l == 0 ? xb_.data() : acts_[l - 1].data();
            T* dx = l == 0 ? nullptr : next;
            dense_backward(dx, grads_.data() + w_offset_[l], grads_.data() + b_offset_[l], dz,
                           in, params_.data() + w_offset_[l], B, I, O);
            if (l == 0) break;
            const LayerSpec& below = layers_[l - 1];
            T* a = acts_[l - 1].data();
            if (dropout_active_ && layers_[l].input_dropout > 0.0)
                undo_dropout(a, next, masks_[l].data(), B * I, layers_[l].input_dropout);
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
        if (standardized()) {
            for (int64_t i = 0; i < B; ++i)
                for (int64_t j = 0; j < inputs_; ++j)
                    buf.x[i * inputs_ + j] = (X[i * inputs_ + j] - mean_[j]) * inv_std_[j];
            in = buf.x.data();
        }
        T* hidden[2] = {buf.h0.data(), buf.h1.data()};
        const size_t L = layers_.size();
        for (size_t l = 0; l < L; ++l) {
            const LayerSpec& layer = layers_[l];
            const int64_t I = layer_inputs(l), O = layer.units;
            const T* W = params_.data() + w_offset_[l];
            const T* b = params_.data() + b_offset_[l];
            if (l + 1 < L) {
                T* h = hidden[l % 2];
                dense_forward(h, in, W, B, I, O);
                bias_activation_forward(h, h, b, B, O, layer.activation, T(layer.alpha));
                in = h;
            } else if (z) {
                dense_forward(z, in, W, B, I, O);
                add_bias(z, b, B, O);
                bias_activation_forward(a, z, static_cast<const T*>(nullptr), B, O, layer.activation, T(layer.alpha));
            } else {
                dense_forward(a, in, W, B, I, O);
                bias_activation_forward(a, a, b, B, O, layer.activation, T(layer.alpha));
            }
        }
    }

    int64_t inputs_;
    std::vector<LayerSpec> layers_;
    std::vector<int64_t> w_offset_, b_offset_;
    int64_t n_weights_ = 0;
    std::vector<T> params_, grads_, state1_, state2_;
    int64_t steps_ = 0;
    OptimizerConfig opt_;
    std::vector<T> mean_, std_, inv_std_;
    Rng rng_{0};

    // training workspace, sized for `capacity_` rows
    int64_t capacity_ = 0;
    int64_t workspace_allocations_ = 0;
    std::vector<T> xb_, yb_, wb_, z_;
    std::vector<std::vector<T>> acts_;
    std::vector<std::vector<uint8_t>> masks_;
    std::vector<T> delta_[2];
    std::vector<int64_t> order_;
    bool dropout_active_ = false;
};

}  // namespace nnfast
