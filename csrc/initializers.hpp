// Weight initialisation. Biases always start at zero; these fill a weight matrix.
#pragma once

#include <cmath>
#include <cstdint>

#include "rng.hpp"

namespace nnfast {

enum class Init : int32_t {
    zeros = 0,
    constant = 1,        // every weight = scale
    normal = 2,          // N(0, scale^2)
    uniform = 3,         // U(-scale, scale)
    xavier_normal = 4,   // N(0, 2 / (fan_in + fan_out))      Glorot & Bengio 2010
    xavier_uniform = 5,  // U(+-sqrt(6 / (fan_in + fan_out)))
    he_normal = 6,       // N(0, 2 / fan_in)                  He et al. 2015
    he_uniform = 7,      // U(+-sqrt(6 / fan_in))
    lecun_normal = 8,    // N(0, 1 / fan_in)                  LeCun et al. 1998
    lecun_uniform = 9,   // U(+-sqrt(3 / fan_in))
};

// w (fan_in, fan_out) <- draws of `init`; `scale` is used by constant, normal and uniform only.
template <class T>
void init_weights(T* w, int64_t fan_in, int64_t fan_out, Init init, double scale, Rng& rng) {
    const int64_t n = fan_in * fan_out;
    const double in = double(fan_in), sum = double(fan_in + fan_out);
    double std = 0.0, limit = 0.0;
    switch (init) {
        case Init::zeros:
            for (int64_t k = 0; k < n; ++k) w[k] = T(0);
            return;
        case Init::constant:
            for (int64_t k = 0; k < n; ++k) w[k] = T(scale);
            return;
        case Init::normal: std = scale; break;
        case Init::uniform: limit = scale; break;
        case Init::xavier_normal: std = std::sqrt(2.0 / sum); break;
        case Init::xavier_uniform: limit = std::sqrt(6.0 / sum); break;
        case Init::he_normal: std = std::sqrt(2.0 / in); break;
        case Init::he_uniform: limit = std::sqrt(6.0 / in); break;
        case Init::lecun_normal: std = std::sqrt(1.0 / in); break;
        case Init::lecun_uniform: limit = std::sqrt(3.0 / in); break;
    }
    if (limit > 0.0) {
        for (int64_t k = 0; k < n; ++k) w[k] = T(limit * (2.0 * rng.uniform() - 1.0));
    } else {
        for (int64_t k = 0; k < n; ++k) w[k] = T(std * rng.normal());
    }
}

}  // namespace nnfast
