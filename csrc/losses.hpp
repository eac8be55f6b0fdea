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

// Sums from which accuracy and R^2 are formed, accumulated over chunks of rows (batches,
// inference chunks) and merged over threads, all in double whatever T is.
//
// R^2 = 1 - sse / sst needs the targets' centred sum of squares sst. The textbook
// sum(y^2) - sum(y)^2 / W cancels catastrophically once the spread of y is small next to
// its mean (y = 1e7 + N(0, 1): every digit of sst is lost), so each chunk is reduced to
// its weight, mean and centred sum of squares M2 (two passes over the chunk, which is in
// cache), and chunks are merged with Chan, Golub & LeVeque's pairwise formula. Means are
// kept relative to one shift per output (the pass's first target row), so they stay
// small numbers whose rounding does not swamp the spread when the offset is 1e12.
struct MetricSums {
    double loss = 0.0;     // sum_i w_i l_i
    double weight = 0.0;   // sum_i w_i
    double correct = 0.0;  // sum_i w_i [prediction i is right]
    // per output k: sse = sum_i w_i (y_ik - a_ik)^2; y_shift = the shift s_k;
    // y_mean = weighted mean of (y_ik - s_k); y_m2 = sum_i w_i (y_ik - mean_k)^2
    std::vector<double> sse, y_shift, y_mean, y_m2;
    int64_t nonfinite_rows = 0;  // rows whose outputs (or logits) were NaN or infinite; counted by evaluate only

    void reset(int64_t outputs) {
        loss = weight = correct = 0.0;
        nonfinite_rows = 0;
        sse.assign(outputs, 0.0);
        y_shift.assign(outputs, 0.0);
        y_mean.assign(outputs, 0.0);
        y_m2.assign(outputs, 0.0);
    }

    // The shift of every output, from one target row y0 (outputs); every part merged into
    // another must share it (a pass sets it once, from its first row, in every part).
    template <class T>
    void set_shift(const T* y0) {
        for (size_t k = 0; k < y_shift.size(); ++k) y_shift[k] = double(y0[k]);
    }
};

// Adds a part (weight wb, mean mb, centred sum of squares m2b) to the running (wa, ma, m2a):
// Chan, Golub & LeVeque's update, exact in exact arithmetic for any split of the rows.
inline void merge_moments(double wa, double& ma, double& m2a, double wb, double mb, double m2b) {
    if (!(wb > 0.0)) return;
    const double w = wa + wb;
    const double delta = mb - ma;
    const double share = wb / w;
    ma += delta * share;
    m2a += m2b + delta * delta * wa * share;
}

// part's sums added into `into` (both reset to the same outputs and shift).
inline void merge_metric_sums(MetricSums& into, const MetricSums& part) {
    for (size_t k = 0; k < into.sse.size(); ++k) {
        into.sse[k] += part.sse[k];
        merge_moments(into.weight, into.y_mean[k], into.y_m2[k], part.weight, part.y_mean[k], part.y_m2[k]);
    }
    into.loss += part.loss;
    into.weight += part.weight;
    into.correct += part.correct;
    into.nonfinite_rows += part.nonfinite_rows;
}

// a (B,O) predictions, y (B,O) targets, w (B) or null: adds the chunk's weight and the
// metric's sums to s. For R^2 the chunk's moments come from two passes over it (the
// second corrected for the rounding of the first's mean), merged into s as above.
template <class T>
void accumulate_metric(MetricSums& s, Metric metric, const T* a, const T* y, const T* w, int64_t B, int64_t O) {
    double chunk_weight = 0.0;
    for (int64_t i = 0; i < B; ++i) chunk_weight += w ? double(w[i]) : 1.0;
    if (metric == Metric::accuracy || metric == Metric::threshold_accuracy) {
        for (int64_t i = 0; i < B; ++i) {
            const T* ai = a + i * O;
            const T* yi = y + i * O;
            bool right;
            if (metric == Metric::accuracy) {
                right = std::max_element(ai, ai + O) == ai + (std::max_element(yi, yi + O) - yi);
            } else {
                right = true;
                for (int64_t k = 0; k < O; ++k) right = right && ((ai[k] > T(0.5)) == (yi[k] > T(0.5)));
            }
            if (right) s.correct += w ? double(w[i]) : 1.0;
        }
    } else if (metric == Metric::r2 && chunk_weight > 0.0) {
        for (int64_t k = 0; k < O; ++k) {
            const double shift = s.y_shift[k];
            double first = 0.0, sse = 0.0;  // sum w (y - shift), sum w (y - a)^2
            for (int64_t i = 0; i < B; ++i) {
                const double wi = w ? double(w[i]) : 1.0;
                const double yik = double(y[i * O + k]);
                const double e = yik - double(a[i * O + k]);
                first += wi * (yik - shift);
                sse += wi * e * e;
            }
            const double guess = first / chunk_weight;
            double c = 0.0, q = 0.0;  // sum w d, sum w d^2 with d = y - shift - guess
            for (int64_t i = 0; i < B; ++i) {
                const double wi = w ? double(w[i]) : 1.0;
                const double d = (double(y[i * O + k]) - shift) - guess;
                c += wi * d;
                q += wi * d * d;
            }
            const double mean = guess + c / chunk_weight;
            const double m2 = std::max(q - c * c / chunk_weight, 0.0);
            s.sse[k] += sse;
            merge_moments(s.weight, s.y_mean[k], s.y_m2[k], chunk_weight, mean, m2);
        }
    }
    s.weight += chunk_weight;
}

}  // namespace nnfast
