// The C++ side of the binding probe (bench/binding_probe/README.md): what both probe
// bindings call, so that they differ only in the binding. Free of Python.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "network.hpp"

namespace probe {

using Net = nnfast::Network<float>;

// A float32 network of the given layers holding a copy of `params` (n_params) and, when
// mean and std (inputs each) are given, the same input standardization: the weights of
// an nnfast model, copied from its core (Network32.params, .standardization()).
inline Net* make_network(int64_t inputs, int64_t n_layers, const int64_t* units, const int* activations,
                         const double* alphas, const float* params, int64_t n_params, const float* mean,
                         const float* std) {
    std::vector<nnfast::LayerSpec> specs;
    for (int64_t l = 0; l < n_layers; ++l)
        specs.push_back(nnfast::LayerSpec{units[l], nnfast::Activation(activations[l]), alphas[l], 0.0});
    auto net = std::make_unique<Net>(inputs, specs);
    if (net->n_params() != n_params) throw std::invalid_argument("params do not fit these layers");
    std::copy(params, params + n_params, net->params());
    if (mean && std)
        net->set_standardization(std::vector<float>(mean, mean + inputs), std::vector<float>(std, std + inputs));
    return net.release();
}

inline bool all_finite(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return false;
    return true;
}

// One row x (inputs) -> its class, the arg-max of the output (-1: outputs not finite),
// through the same Network::predict_classes that nnfast's binding calls.
inline int64_t classify_row(const Net& net, const float* x) {
    int64_t c = -1;
    net.predict_classes(x, 1, &c, false);
    return c;
}

// nnfast's binding keeps the GIL for work under this many multiply-adds (class Unlocked
// in csrc/bindings.cpp); both probe bindings follow the same rule.
constexpr int64_t kReleaseAbove = 100000;

}  // namespace probe
