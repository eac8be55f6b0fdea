// Embedding nnfast without Python: load a saved model with csrc/ alone and predict.
//
// Build against an installed nnfast (no checkout needed): examples/CMakeLists.txt, or by hand
// (default BLAS from the scipy-openblas32 wheel; any CBLAS works with -DNNFAST_BLAS_CBLAS):
//   NF=$(python -I -c "import nnfast; print(nnfast.get_include())")   # -I: not a checkout's nnfast/ folder
//   OB=$(python -I -c "import scipy_openblas32 as s; print(s.get_lib_dir())")
//   g++ -std=c++17 -O2 -I"$NF" -I"$OB/../include" -DNNFAST_BLAS_SCIPY_OPENBLAS \
//       examples/predict.cpp -L"$OB" -lscipy_openblas -Wl,-rpath,"$OB" -o predict
// Run: ./predict model.nnf < rows.txt   (one sample per line, numbers separated by spaces)
// Prints one line per sample: the output activations (class probabilities or values).
#include <cstdio>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "model_file.hpp"

template <class T>
int run(const nnfast::ModelFile& file) {
    const auto net = nnfast::network_from_file<T>(file);
    std::vector<T> x, y(net->outputs());
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream fields(line);
        x.clear();
        double v;
        while (fields >> v) x.push_back(T(v));
        if (x.empty()) continue;
        if (int64_t(x.size()) != net->inputs()) {
            std::fprintf(stderr, "expected %lld numbers per line, got %zu\n", (long long)net->inputs(), x.size());
            return 1;
        }
        net->predict(x.data(), 1, y.data());
        // max_digits10 (9 for float, 17 for double): each value reads back exactly
        const int digits = std::numeric_limits<T>::max_digits10;
        for (size_t k = 0; k < y.size(); ++k) std::printf(k ? " %.*g" : "%.*g", digits, double(y[k]));
        std::printf("\n");
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL_FILE < rows\n", argv[0]);
        return 2;
    }
    try {
        const nnfast::ModelFile file = nnfast::read_model_file(argv[1]);
        return file.scalar_bytes == 4 ? run<float>(file) : run<double>(file);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[1], e.what());
        return 1;
    }
}
