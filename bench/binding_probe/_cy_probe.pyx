# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, always_allow_keywords=False
"""The Cython probe binding (bench/binding_probe/README.md): one-row classification
over a network of its own, taking the row two ways, plus a whole one-row
``model.predict`` (checks, core call, label decoding) in Cython. Not part of nnfast."""

from libc.stdint cimport int64_t
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS, PyBUF_FORMAT
cimport numpy as cnp
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cnp.import_array()

cdef extern from "probe.hpp" namespace "probe":
    cdef cppclass Net:
        int64_t inputs() const
        int64_t macs_per_row() const
    Net* make_network(int64_t inputs, int64_t n_layers, const int64_t* units, const int* activations,
                      const double* alphas, const float* params, int64_t n_params, const float* mean,
                      const float* std) except +
    bint all_finite(const float* x, int64_t n) noexcept nogil
    int64_t classify_row(const Net& net, const float* x) except + nogil
    int64_t kReleaseAbove

cdef extern from "probe.hpp" namespace "nnfast":
    void set_thread_count(int64_t n) except +
    void blas_set_num_threads "nnfast::blas::set_num_threads"(int n) except +

blas_set_num_threads(1)  # as nnfast's core does at import


def set_num_threads(int64_t n):
    set_thread_count(n)


cdef inline int64_t classify(const Net* net, const float* x, Py_ssize_t rows, Py_ssize_t cols) except -2:
    """The row, checked as nnfast's binding checks it, then classified (GIL kept for small work)."""
    cdef int64_t c
    if rows != 1 or cols != net.inputs():
        raise ValueError("x must be (1, inputs)")
    if not all_finite(x, cols):
        raise ValueError("x contains NaN or infinite values")
    if net.macs_per_row() > kReleaseAbove:
        with nogil:
            c = classify_row(net[0], x)
    else:
        c = classify_row(net[0], x)
    if c < 0:
        raise ValueError("the model's outputs are NaN or infinite")
    return c


cdef inline int64_t classify_buffer(const Net* net, object x) except -2:
    """(c') the row through the buffer protocol, as nnfast's binding takes it."""
    cdef Py_buffer view
    if PyObject_GetBuffer(x, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0:
        raise TypeError("expected a C-ordered array")
    cdef const char* f = view.format
    try:
        if not (view.ndim == 2 and view.itemsize == 4 and
                (f[0] == b'f' or ((f[0] == b'<' or f[0] == b'=' or f[0] == b'@') and f[1] == b'f' and f[2] == 0))):
            raise TypeError("expected a 2-D float32 array")
        return classify(net, <const float*>view.buf, view.shape[0], view.shape[1])
    finally:
        PyBuffer_Release(&view)


cdef class CyProbe:
    cdef Net* net

    def __cinit__(self, int64_t inputs, units, activations, alphas, const float[::1] params,
                  const float[::1] mean=None, const float[::1] std=None):
        cdef int64_t[::1] u = cnp.PyArray_FROMANY(units, cnp.NPY_INT64, 1, 1, cnp.NPY_ARRAY_C_CONTIGUOUS)
        cdef int[::1] a = cnp.PyArray_FROMANY(activations, cnp.NPY_INT32, 1, 1, cnp.NPY_ARRAY_C_CONTIGUOUS)
        cdef double[::1] al = cnp.PyArray_FROMANY(alphas, cnp.NPY_FLOAT64, 1, 1, cnp.NPY_ARRAY_C_CONTIGUOUS)
        if u.shape[0] != a.shape[0] or u.shape[0] != al.shape[0]:
            raise ValueError("one entry per layer")
        self.net = make_network(inputs, u.shape[0], &u[0], &a[0], &al[0], &params[0], params.shape[0],
                                &mean[0] if mean is not None else NULL, &std[0] if std is not None else NULL)

    def __dealloc__(self):
        del self.net

    def predict_row_memoryview(self, const float[:, ::1] x):
        """(c) the row as a typed memoryview."""
        return classify(self.net, &x[0, 0], x.shape[0], x.shape[1])

    def predict_row(self, x):
        """(c') the row through the buffer protocol."""
        return classify_buffer(self.net, x)

    def predict(self, x, classes):
        """(e) model.predict of one row in Cython: the label array, ``classes[index]`` or the
        index itself (classes None), shape (1,), as nnfast's model.predict returns it."""
        cdef cnp.npy_intp one = 1
        cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &one, cnp.NPY_INT64, 0)
        (<int64_t*>cnp.PyArray_DATA(out))[0] = classify_buffer(self.net, x)
        return out if classes is None else classes[out]

    def time_forward(self, const float[:, ::1] x, Py_ssize_t n):
        """The floor under every binding: mean ns of n one-row classify_row calls on x's
        first row, in a C loop (no Python, no checks)."""
        cdef timespec t0, t1
        cdef int64_t total = 0
        cdef Py_ssize_t i
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &t0)
            for i in range(n):
                total += classify_row(self.net[0], &x[0, 0])
            clock_gettime(CLOCK_MONOTONIC, &t1)
        if total != classify_row(self.net[0], &x[0, 0]) * n:
            raise AssertionError("classify_row is not deterministic")
        return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n
