// The one place that knows which BLAS is underneath.
//
// Default build: scipy-openblas32 from PyPI (the OpenBLAS that NumPy and SciPy
// ship), whose symbols carry the prefix `scipy_`. With NNFAST_BLAS=openblas the
// build links a system OpenBLAS (unprefixed names); with NNFAST_BLAS=cblas any
// CBLAS (reference, BLIS, ...) without thread control.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <cblas.h>

#if defined(NNFAST_BLAS_SCIPY_OPENBLAS)
#define NNFAST_CBLAS(name) scipy_cblas_##name
#define NNFAST_OPENBLAS(name) scipy_openblas_##name
#define NNFAST_HAS_OPENBLAS 1
#elif defined(NNFAST_BLAS_OPENBLAS)
#define NNFAST_CBLAS(name) cblas_##name
#define NNFAST_OPENBLAS(name) openblas_##name
#define NNFAST_HAS_OPENBLAS 1
#else
#define NNFAST_CBLAS(name) cblas_##name
#endif

namespace nnfast::blas {

// CBLAS takes 32-bit sizes in the LP64 builds we link; refuse anything larger
// instead of letting it wrap.
inline int checked(int64_t n) {
    if (n < 0 || n > INT32_MAX) throw std::length_error("matrix dimension exceeds the BLAS 32-bit index range");
    return static_cast<int>(n);
}

inline CBLAS_TRANSPOSE op(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }

// Row-major C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C
inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    NNFAST_CBLAS(sgemm)(CblasRowMajor, op(ta), op(tb), checked(M), checked(N), checked(K), alpha, A, checked(lda), B,
                        checked(ldb), beta, C, checked(ldc));
}
inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                 const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
    NNFAST_CBLAS(dgemm)(CblasRowMajor, op(ta), op(tb), checked(M), checked(N), checked(K), alpha, A, checked(lda), B,
                        checked(ldb), beta, C, checked(ldc));
}

// Row-major y (N) = alpha * op(A) x + beta * y, A (M,N) with leading dimension lda
inline void gemv(bool ta, int64_t M, int64_t N, float alpha, const float* A, int64_t lda, const float* x, float beta,
                 float* y) {
    NNFAST_CBLAS(sgemv)(CblasRowMajor, op(ta), checked(M), checked(N), alpha, A, checked(lda), x, 1, beta, y, 1);
}
inline void gemv(bool ta, int64_t M, int64_t N, double alpha, const double* A, int64_t lda, const double* x,
                 double beta, double* y) {
    NNFAST_CBLAS(dgemv)(CblasRowMajor, op(ta), checked(M), checked(N), alpha, A, checked(lda), x, 1, beta, y, 1);
}

inline int num_threads() {
#if defined(NNFAST_HAS_OPENBLAS)
    return NNFAST_OPENBLAS(get_num_threads)();
#else
    return 1;
#endif
}

// Process-wide BLAS thread count.
inline void set_num_threads(int n) {
#if defined(NNFAST_HAS_OPENBLAS)
    NNFAST_OPENBLAS(set_num_threads)(n);
#else
    (void)n;
#endif
}

// OpenBLAS 0.3.31-0.3.34 on Zen (seen here) runs a 128x784 @ 784x256 SGEMM about 3x
// slower in a fresh process than after any SGEMM with at least 384 output columns and
// ~128 rows has run; the state is process-wide and lasts. One such product (2 ms) at
// load puts every later call on the fast path. DGEMM shows no such effect.
inline void prime() {
    constexpr int64_t M = 128, K = 256, N = 384;
    std::vector<float> a(M * K, 0.0f), b(K * N, 0.0f), c(M * N);
    gemm(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
}

inline std::string describe() {
#if defined(NNFAST_BLAS_SCIPY_OPENBLAS)
    return std::string("scipy-openblas32: ") + NNFAST_OPENBLAS(get_config)() + " (core " +
           NNFAST_OPENBLAS(get_corename)() + ")";
#elif defined(NNFAST_BLAS_OPENBLAS)
    return std::string("system OpenBLAS: ") + NNFAST_OPENBLAS(get_config)() + " (core " +
           NNFAST_OPENBLAS(get_corename)() + ")";
#else
    return "system CBLAS (no thread control)";
#endif
}

}  // namespace nnfast::blas
