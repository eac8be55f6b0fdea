// Cost functions and their gradients, plus the per-batch statistics behind the
// reported metrics (accuracy, R^2).
//
// Per-sample losses l_i (the cost of a batch is sum_i w_i l_i / sum_i w_i):
//   mse                   (1/O) sum_k (a_k - y_k)^2
//   mae                   (1/O) sum_k |a_k - y_k|
//   binary_cross_entropy  (1/O) sum_k -[y_k log a_k + (1 - y_k) log(1 - a_k)]
//   cross_entropy         sum_k -y_k log a_k
// With a sigmoid output (binary) or softmax output (categorical) the loss is
// computed from the logits z, stably, and its gradient is taken with respect to z
// directly; otherwise probabilities are clipped to [eps, 1 - eps].
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "activations.hpp"

namespace nnfast {

enum class Loss : int32_t { mse = 0, mae = 1, binary_cross_entropy = 2, cross_entropy = 3 };

template <class T>
constexpr T probability_clip() {
    return std::is_same<T, float>::value ? T(1e-7) : T(1e-12);
}

inline bool loss_fuses_with(Loss loss, Activation out) {
    return (loss == Loss::cross_entropy && out == Activation::softmax) ||
           (loss == Loss::binary_cross_entropy && out == Activation::sigmoid);
}

// z (B,O) output logits (read only when the loss fuses with `out`), a (B,O) = out(z),
// y (B,O), w (B) or null -> returns sum_i w_i l_i. If dz is not null it receives
// dz (B,O) = scale * w_i * dl_i/dz, through the output activation.
template <class T>
double loss_forward_backward(Loss loss, Activation out, T alpha, const T* z, const T* a, const T* y, const T* w,
                             int64_t B, int64_t O, T* dz, T scale) {
    const bool fused = loss_fuses_with(loss, out);
    const T inv_o = T(1) / T(O);
    const T eps = probability_clip<T>();
    double total = 0.0;
    for (int64_t i = 0; i < B; ++i) {
        const T* ai = a + i * O;
        const T* yi = y + i * O;
        const T* zi = z ? z + i * O : nullptr;
        T* di = dz ? dz + i * O : nullptr;
        const T wi = w ? w[i] : T(1);
        const T g = scale * wi;
        double li = 0.0;
        if (loss == Loss::mse) {
            for (int64_t k = 0; k < O; ++k) {
                const T d = ai[k] - yi[k];
                li += double(d) * d;
                if (di) di[k] = g * T(2) * inv_o * d;
            }
            li *= inv_o;
        } else if (loss == Loss::mae) {
            for (int64_t k = 0; k < O; ++k) {
                const T d = ai[k] - yi[k];
                li += std::abs(double(d));
                if (di) di[k] = g * inv_o * T((d > T(0)) - (d < T(0)));
            }
            li *= inv_o;
        } else if (loss == Loss::binary_cross_entropy && fused) {
            for (int64_t k = 0; k < O; ++k) {
                const T x = zi[k];
                // softplus(x) - y x, written so neither exp overflows
                li += double(std::max(x, T(0)) - yi[k] * x + std::log1p(std::exp(-std::abs(x))));
                if (di) di[k] = g * inv_o * (ai[k] - yi[k]);
            }
            li *= inv_o;
        } else if (loss == Loss::binary_cross_entropy) {
            for (int64_t k = 0; k < O; ++k) {
                const T p = std::min(std::max(ai[k], eps), T(1) - eps);
                li -= double(yi[k]) * std::log(double(p)) + double(T(1) - yi[k]) * std::log(double(T(1) - p));
                if (di) {
                    const bool inside = ai[k] > eps && ai[k] < T(1) - eps;
                    di[k] = inside ? g * inv_o * (-yi[k] / p + (T(1) - yi[k]) / (T(1) - p)) : T(0);
                }
            }
            li *= inv_o;
        } else if (fused) {  // cross_entropy with softmax: l = sum_k y_k (logsumexp(z) - z_k)
            T m = zi[0];
            for (int64_t k = 1; k < O; ++k) m = std::max(m, zi[k]);
            double s = 0.0;
            for (int64_t k = 0; k < O; ++k) s += std::exp(double(zi[k] - m));
            const double lse = double(m) + std::log(s);
            T ysum = 0;
            for (int64_t k = 0; k < O; ++k) {
                li += double(yi[k]) * (lse - double(zi[k]));
                ysum += yi[k];
            }
            if (di)
                for (int64_t k = 0; k < O; ++k) di[k] = g * (ai[k] * ysum - yi[k]);
        } else {  // cross_entropy on probabilities
            for (int64_t k = 0; k < O; ++k) {
                const T p = std::max(ai[k], eps);
                li -= double(yi[k]) * std::log(double(p));
                if (di) di[k] = ai[k] > eps ? -g * yi[k] / p : T(0);
            }
        }
        total += double(wi) * li;
    }
    if (dz && !fused) activation_backward(dz, dz, a, B, O, out, alpha);
    return total;
}

// accuracy: the arg-max of a matches the arg-max of y (one-hot classes);
// threshold_accuracy: every output thresholded at 0.5 matches (binary and multi-label).
enum class Metric : int32_t { none = 0, accuracy = 1, threshold_accuracy = 2, r2 = 3 };

// Sums from which accuracy and R^2 are formed, accumulated over batches.
struct MetricSums {
    double loss = 0.0;     // sum_i w_i l_i
    double weight = 0.0;   // sum_i w_i
    double correct = 0.0;  // sum_i w_i [prediction i is right]
    std::vector<double> sse, ysum, ysq;  // per output: sum w (y - a)^2, sum w y, sum w y^2
    int64_t nonfinite_rows = 0;  // rows whose outputs (or logits) were NaN or infinite; counted by evaluate only

    void reset(int64_t outputs) {
        loss = weight = correct = 0.0;
        nonfinite_rows = 0;
        sse.assign(outputs, 0.0);
        ysum.assign(outputs, 0.0);
        ysq.assign(outputs, 0.0);
    }
};

// a (B,O) predictions, y (B,O) targets, w (B) or null: adds weight and the metric's sums.
template <class T>
void accumulate_metric(MetricSums& s, Metric metric, const T* a, const T* y, const T* w, int64_t B, int64_t O) {
    for (int64_t i = 0; i < B; ++i) {
        const T* ai = a + i * O;
        const T* yi = y + i * O;
        const double wi = w ? double(w[i]) : 1.0;
        s.weight += wi;
        if (metric == Metric::accuracy) {
            if (std::max_element(ai, ai + O) == ai + (std::max_element(yi, yi + O) - yi)) s.correct += wi;
        } else if (metric == Metric::threshold_accuracy) {
            bool right = true;
            for (int64_t k = 0; k < O; ++k) right = right && ((ai[k] > T(0.5)) == (yi[k] > T(0.5)));
            if (right) s.correct += wi;
        } else if (metric == Metric::r2) {
            for (int64_t k = 0; k < O; ++k) {
                const double d = double(yi[k]) - double(ai[k]);
                s.sse[k] += wi * d * d;
                s.ysum[k] += wi * yi[k];
                s.ysq[k] += wi * double(yi[k]) * yi[k];
            }
        }
    }
}

}  // namespace nnfast
