// Activations: forward fused with the bias add, backward from the activation
// value alone (every derivative here can be written in terms of a = f(z), so a
// layer stores only its output).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "vmath.hpp"

namespace nnfast {

enum class Activation : int32_t { identity = 0, relu = 1, leaky_relu = 2, elu = 3, sigmoid = 4, tanh = 5, softmax = 6 };

namespace detail {
// a (B,O) = op(z + b) element-wise, b (O) or null for no bias; a may alias z
template <class T, class Op>
inline void map_bias(T* a, const T* z, const T* b, int64_t B, int64_t O, Op op) {
    if (!b) {
        for (int64_t k = 0; k < B * O; ++k) a[k] = op(z[k]);
        return;
    }
    for (int64_t i = 0; i < B; ++i) {
        const T* zi = z + i * O;
        T* ai = a + i * O;
        for (int64_t j = 0; j < O; ++j) ai[j] = op(zi[j] + b[j]);
    }
}

// dz (B,O) = da * op(a) element-wise; dz may alias da
template <class T, class Op>
inline void map_grad(T* dz, const T* da, const T* a, int64_t n, Op op) {
    for (int64_t k = 0; k < n; ++k) dz[k] = da[k] * op(a[k]);
}
}  // namespace detail

// z (B,O), b (O) or null -> a (B,O) = f(z + b); a may alias z. alpha: leaky_relu slope, elu scale.
template <class T>
void bias_activation_forward(T* a, const T* z, const T* b, int64_t B, int64_t O, Activation f, T alpha) {
    using detail::map_bias;
    switch (f) {
        case Activation::identity: map_bias(a, z, b, B, O, [](T x) { return x; }); break;
        case Activation::relu: map_bias(a, z, b, B, O, [](T x) { return x > T(0) ? x : T(0); }); break;
        case Activation::leaky_relu: map_bias(a, z, b, B, O, [alpha](T x) { return x > T(0) ? x : alpha * x; }); break;
        case Activation::elu:
            map_bias(a, z, b, B, O, [alpha](T x) { return x > T(0) ? x : alpha * vmath::expm1(x); });
            break;
        case Activation::sigmoid: map_bias(a, z, b, B, O, [](T x) { return vmath::sigmoid(x); }); break;
        case Activation::tanh: map_bias(a, z, b, B, O, [](T x) { return vmath::tanh(x); }); break;
        case Activation::softmax:
            for (int64_t i = 0; i < B; ++i) {
                const T* zi = z + i * O;
                T* ai = a + i * O;
                T m = zi[0] + (b ? b[0] : T(0));
                for (int64_t j = 0; j < O; ++j) {
                    ai[j] = zi[j] + (b ? b[j] : T(0));
                    m = std::max(m, ai[j]);
                }
                T sum = 0;
                for (int64_t j = 0; j < O; ++j) {
                    ai[j] = vmath::exp(ai[j] - m);
                    sum += ai[j];
                }
                const T inv = T(1) / sum;
                for (int64_t j = 0; j < O; ++j) ai[j] *= inv;
            }
            break;
    }
}

// da (B,O), a = f(z) (B,O) -> dz (B,O) = da * f'(z); dz may alias da.
template <class T>
void activation_backward(T* dz, const T* da, const T* a, int64_t B, int64_t O, Activation f, T alpha) {
    using detail::map_grad;
    const int64_t n = B * O;
    switch (f) {
        case Activation::identity:
            if (dz != da) std::copy(da, da + n, dz);
            break;
        case Activation::relu: map_grad(dz, da, a, n, [](T y) { return y > T(0) ? T(1) : T(0); }); break;
        case Activation::leaky_relu: map_grad(dz, da, a, n, [alpha](T y) { return y > T(0) ? T(1) : alpha; }); break;
        case Activation::elu: map_grad(dz, da, a, n, [alpha](T y) { return y > T(0) ? T(1) : y + alpha; }); break;
        case Activation::sigmoid: map_grad(dz, da, a, n, [](T y) { return y * (T(1) - y); }); break;
        case Activation::tanh: map_grad(dz, da, a, n, [](T y) { return T(1) - y * y; }); break;
        case Activation::softmax:
            // Jacobian-vector product of softmax: dz_j = a_j (da_j - sum_k da_k a_k)
            for (int64_t i = 0; i < B; ++i) {
                const T* ai = a + i * O;
                const T* dai = da + i * O;
                T* dzi = dz + i * O;
                T dot = 0;
                for (int64_t j = 0; j < O; ++j) dot += dai[j] * ai[j];
                for (int64_t j = 0; j < O; ++j) dzi[j] = ai[j] * (dai[j] - dot);
            }
            break;
    }
}

}  // namespace nnfast
