// The Python binding of the core: binding only. Every function reads the same
// way: check shapes, get pointers, allocate the output, release the GIL, run
// the kernel, return. Arrays must arrive with the right dtype and C order
// (.noconvert()): nnfast's Python layer converts once, where input enters.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "activations.hpp"
#include "blas.hpp"
#include "checked.hpp"
#include "initializers.hpp"
#include "losses.hpp"
#include "model_file.hpp"
#include "network.hpp"
#include "optimizers.hpp"

namespace py = pybind11;
using namespace nnfast;

#ifndef NNFAST_VERSION
#define NNFAST_VERSION "0+unknown"
#endif

// For threadpoolctl (nnfast/_threadpoolctl.py finds the module by these symbols): plain C,
// exported although the module is built with hidden visibility. The setter clamps instead
// of throwing: no exception may cross a C boundary.
extern "C" __attribute__((visibility("default"))) int nnfast_get_num_threads() { return thread_setting().load(); }
extern "C" __attribute__((visibility("default"))) void nnfast_set_num_threads(int n) {
    thread_setting().store(std::clamp(n, 1, max_threads()));
}
extern "C" __attribute__((visibility("default"))) const char* nnfast_version() { return NNFAST_VERSION; }

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

template <class T>
using OptionalArray = std::optional<Array<T>>;

void require(bool ok, const char* message) {
    if (!ok) throw py::value_error(message);
}

// A C-ordered 2-D array of T, seen through the buffer protocol without copying: a
// third of the cost of pybind11's array caster, which matters for one-row predictions.
// Anything else is a TypeError, on which nnfast's Python layer converts and retries.
template <class T>
class MatrixView {
public:
    explicit MatrixView(py::handle obj) {
        if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
            PyErr_Clear();
            throw py::type_error("expected a C-ordered array");
        }
        const char* f = view_.format;
        const char code = std::is_same<T, float>::value ? 'f' : 'd';
        const bool native = f[0] == code || ((f[0] == '<' || f[0] == '=' || f[0] == '@') && f[1] == code);
        if (view_.ndim != 2 || view_.itemsize != sizeof(T) || !native || (f[0] != code && f[2] != '\0')) {
            PyBuffer_Release(&view_);
            throw py::type_error("expected a 2-D array of the model's dtype");
        }
        if (reinterpret_cast<uintptr_t>(view_.buf) % alignof(T) != 0) {  // reading it would be undefined
            PyBuffer_Release(&view_);
            throw py::type_error("expected an aligned array");
        }
    }
    ~MatrixView() { PyBuffer_Release(&view_); }
    MatrixView(const MatrixView&) = delete;
    MatrixView& operator=(const MatrixView&) = delete;
    int64_t rows() const { return view_.shape[0]; }
    int64_t cols() const { return view_.shape[1]; }
    const T* data() const { return static_cast<const T*>(view_.buf); }

private:
    Py_buffer view_{};
};

// Calls that run without the GIL, counted, and whether the interpreter is exiting.
// A thread that takes the GIL back while the interpreter finalizes is ended inside
// PyEval_RestoreThread, which unwinds through this binding's frames and aborts the
// process ("terminate called without an active exception"). So nnfast's atexit hook
// (nnfast/_lifecycle.py) calls stop_for_exit(): training stops at its next batch, no call
// releases the GIL any more, and the hook waits (bounded) until gil_free_calls() is 0.
std::atomic<int64_t>& gil_free_calls() {
    static std::atomic<int64_t> count{0};
    return count;
}
std::atomic<bool>& exiting() {
    static std::atomic<bool> flag{false};
    return flag;
}

// Releases the GIL for its scope (counted; not once the interpreter is exiting: the call
// then runs holding it, to its end).
class Released {
public:
    Released() {
        if (exiting().load()) return;
        gil_free_calls().fetch_add(1);
        release_.emplace();
    }
    ~Released() {
        if (!release_) return;
        release_.reset();  // the GIL is back
        gil_free_calls().fetch_sub(1);
    }
    Released(const Released&) = delete;
    Released& operator=(const Released&) = delete;

private:
    std::optional<py::gil_scoped_release> release_;
};

// Releases the GIL for work of more than ~20 us (multiply-adds), keeps it for less:
// releasing and taking it back costs more than a small network's one-row prediction.
class Unlocked {
public:
    explicit Unlocked(int64_t macs) {
        if (macs > 100000) release_.emplace();
    }

private:
    std::optional<Released> release_;
};

template <class T>
bool all_finite(const T* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return false;
    return true;
}

// Raised when a prediction's outputs overflowed: how many rows, and what to do about it.
template <class T>
void require_finite_outputs(int64_t nonfinite, int64_t rows) {
    if (nonfinite == 0) return;
    const bool single = std::is_same<T, float>::value;
    throw py::value_error("the model's outputs are NaN or infinite for " + std::to_string(nonfinite) + " of " +
                          std::to_string(rows) + " rows of X: values overflow " + (single ? "float32" : "float64") +
                          " inside the network (or its parameters are not finite); scale the inputs" +
                          (single ? " or use dtype float64" : ""));
}

// Every array the core reads starts at an address aligned for T: a contiguous NumPy array
// need not (np.frombuffer on a byte slice), and loading floats from it is undefined
// behaviour (UBSan caught one from a process pool's worker). nnfast's Python layer
// copies such arrays where input enters (_validation.c_array); other callers get this.
template <class T>
void require_aligned(const Array<T>& a) {
    if (reinterpret_cast<uintptr_t>(a.data()) % alignof(T) != 0)
        throw py::type_error("arrays must be aligned for their dtype (np.require(a, requirements='A') copies one)");
}

template <class T>
void require_matrix(const Array<T>& a, int64_t rows, int64_t cols, const char* message) {
    require(a.ndim() == 2 && (rows < 0 || a.shape(0) == rows) && (cols < 0 || a.shape(1) == cols), message);
    require_aligned(a);
}

template <class T>
const T* optional_data(const OptionalArray<T>& w, int64_t n) {
    if (!w) return nullptr;
    require(w->ndim() == 1 && w->shape(0) == n, "sample weights must have one entry per row");
    require_aligned(*w);
    return w->data();
}

// A NumPy view of net-owned memory that keeps the network object alive.
template <class T>
py::array view(py::object owner, T* data, std::vector<py::ssize_t> shape) {
    return Array<T>(shape, data, owner);
}

template <class T>
void bind_kernels(py::module_& m) {
    m.def(
        "bias_activation_forward",
        [](const Array<T>& z, const Array<T>& b, Activation f, double alpha) {
            require_matrix(z, -1, -1, "z must be 2-D");
            require(b.ndim() == 1 && b.shape(0) == z.shape(1), "b must have one entry per column of z");
            require_aligned(b);
            Array<T> a({z.shape(0), z.shape(1)});
            {
                const Released release;
                bias_activation_forward(a.mutable_data(), z.data(), b.data(), z.shape(0), z.shape(1), f, T(alpha));
            }
            return a;
        },
        py::arg("z").noconvert(), py::arg("b").noconvert(), py::arg("activation"), py::arg("alpha") = 0.0,
        R"doc(a (B,O) = f(z + b) for z (B,O), b (O).)doc");
    m.def(
        "activation_backward",
        [](const Array<T>& da, const Array<T>& a, Activation f, double alpha) {
            require_matrix(da, a.ndim() == 2 ? a.shape(0) : -2, a.ndim() == 2 ? a.shape(1) : -2,
                           "da and a must be 2-D arrays of one shape");
            require_aligned(a);
            Array<T> dz({da.shape(0), da.shape(1)});
            {
                const Released release;
                activation_backward(dz.mutable_data(), da.data(), a.data(), da.shape(0), da.shape(1), f, T(alpha));
            }
            return dz;
        },
        py::arg("da").noconvert(), py::arg("a").noconvert(), py::arg("activation"), py::arg("alpha") = 0.0,
        R"doc(dz (B,O) = da * f'(z), the derivative taken from the activation a = f(z).)doc");
    m.def(
        "dense_forward",
        [](const Array<T>& x, const Array<T>& w) {
            require_matrix(x, -1, -1, "x must be 2-D");
            require_matrix(w, x.shape(1), -1, "w must be (inputs, outputs) with inputs = x.shape[1]");
            Array<T> z({x.shape(0), w.shape(1)});
            {
                const Released release;
                dense_forward(z.mutable_data(), x.data(), w.data(), x.shape(0), x.shape(1), w.shape(1));
            }
            return z;
        },
        py::arg("x").noconvert(), py::arg("w").noconvert(), R"doc(z (B,O) = x (B,I) w (I,O).)doc");
    m.def(
        "dense_backward",
        [](const Array<T>& dz, const Array<T>& x, const Array<T>& w, bool want_dx) {
            require_matrix(x, -1, -1, "x must be 2-D");
            require_matrix(w, x.shape(1), -1, "w must be (inputs, outputs) with inputs = x.shape[1]");
            require_matrix(dz, x.shape(0), w.shape(1), "dz must be (rows of x, outputs of w)");
            const int64_t B = x.shape(0), I = x.shape(1), O = w.shape(1);
            Array<T> dw({I, O}), db({O});
            std::optional<Array<T>> dx;
            if (want_dx) dx.emplace(std::vector<py::ssize_t>{B, I});
            T* dx_data = dx ? dx->mutable_data() : nullptr;
            {
                const Released release;
                dense_backward(dx_data, dw.mutable_data(), db.mutable_data(), dz.data(), x.data(), w.data(), B, I, O);
            }
            return py::make_tuple(dx ? py::object(*dx) : py::none(), dw, db);
        },
        py::arg("dz").noconvert(), py::arg("x").noconvert(), py::arg("w").noconvert(), py::arg("want_dx") = true,
        R"doc((dx (B,I) or None, dw (I,O), db (O)) for dz (B,O), x (B,I), w (I,O).)doc");
    m.def(
        "loss_forward_backward",
        [](Loss loss, Activation out, double alpha, const OptionalArray<T>& z, const Array<T>& a, const Array<T>& y,
           const OptionalArray<T>& w, bool want_grad, double scale) {
            require_matrix(a, -1, -1, "predictions must be 2-D");
            require_matrix(y, a.shape(0), a.shape(1), "targets and predictions must have the same shape");
            if (z) require_matrix(*z, a.shape(0), a.shape(1), "logits and predictions must have the same shape");
            require(z || !loss_fuses_with(loss, out), "this loss needs the logits z for this output activation");
            const int64_t B = a.shape(0), O = a.shape(1);
            const T* wd = optional_data(w, B);
            std::optional<Array<T>> dz;
            if (want_grad) dz.emplace(std::vector<py::ssize_t>{B, O});
            T* dz_data = dz ? dz->mutable_data() : nullptr;
            const T* z_data = z ? z->data() : nullptr;
            double total;
            {
                const Released release;
                total = loss_forward_backward(loss, out, T(alpha), z_data, a.data(), y.data(), wd, B, O, dz_data,
                                              T(scale));
            }
            return py::make_tuple(total, dz ? py::object(*dz) : py::none());
        },
        py::arg("loss"), py::arg("activation"), py::arg("alpha"), py::arg("z").noconvert(), py::arg("a").noconvert(),
        py::arg("y").noconvert(), py::arg("sample_weight").noconvert(), py::arg("want_grad"), py::arg("scale") = 1.0,
        R"doc((sum_i w_i l_i, dz or None): the loss of a (B,O) = f(z) against y (B,O) and its
gradient with respect to z, scaled by scale * w_i per row.)doc");
    m.def(
        "optimizer_step",
        [](const OptimizerConfig& config, Array<T>& p, const Array<T>& g, Array<T>& s1, Array<T>& s2,
           int64_t n_decay, int64_t t) {
            const int64_t n = p.size();
            require(p.ndim() == 1 && g.ndim() == 1 && s1.ndim() == 1 && s2.ndim() == 1, "buffers must be 1-D");
            require(g.size() == n && s1.size() == n && s2.size() == n, "buffers must have one length");
            for (const Array<T>* buffer : std::initializer_list<const Array<T>*>{&p, &g, &s1, &s2})
                require_aligned(*buffer);
            require(n_decay >= 0 && n_decay <= n && t >= 1, "need 0 <= n_decay <= n and t >= 1");
            StepResult r;
            {
                const Released release;
                r = optimizer_step(config, p.mutable_data(), g.data(), s1.mutable_data(), s2.mutable_data(), n,
                                   n_decay, t);
            }
            return py::make_tuple(r.penalty, r.grad_norm);
        },
        py::arg("config"), py::arg("params").noconvert(), py::arg("grads").noconvert(), py::arg("state1").noconvert(),
        py::arg("state2").noconvert(), py::arg("n_decay"), py::arg("t"),
        R"doc(One in-place optimizer step over flat buffers; returns (penalty, grad_norm).)doc");
}

template <class T>
void bind_network(py::module_& m, const char* name) {
    using Net = Network<T>;
    py::class_<Net>(m, name, R"doc(A dense network over one flat parameter buffer (see csrc/network.hpp).)doc")
        .def(py::init<int64_t, std::vector<LayerSpec>>(), py::arg("inputs"), py::arg("layers"))
        .def_property_readonly("inputs", &Net::inputs)
        .def_property_readonly("outputs", &Net::outputs)
        .def_property_readonly("layers", &Net::layers)
        .def_property_readonly("n_params", &Net::n_params)
        .def_property_readonly("n_weights", &Net::n_weights)
        .def_property_readonly("steps", &Net::steps)
        .def_property_readonly("workspace_allocations", &Net::workspace_allocations)
        .def_property_readonly("nbytes", &Net::bytes,
                               R"doc(Bytes of the buffers the network holds: its parameters, and once it has
trained, its gradient, optimizer state and workspaces.)doc")
        .def_property_readonly("last_threads", &Net::last_threads)
        .def_property_readonly("optimizer", &Net::optimizer)
        .def("initialize", &Net::initialize, py::arg("inits"), py::arg("scales"), py::arg("seed"))
        .def("reseed", &Net::reseed, py::arg("seed"))
        .def("configure", &Net::configure, py::arg("config"), py::arg("reset") = true,
             R"doc(Set the optimizer; reset=True zeroes its state and step count (a fresh optimizer), reset=False
keeps them to continue training (same optimizer kind only).)doc")
        .def("set_learning_rate", &Net::set_learning_rate, py::arg("lr"))
        .def("penalty", &Net::penalty)
        .def(
            "set_standardization",
            [](Net& net, const Array<T>& mean, const Array<T>& std) {
                require(mean.ndim() == 1 && std.ndim() == 1, "mean and std must be 1-D");
                require_aligned(mean);
                require_aligned(std);
                net.set_standardization(std::vector<T>(mean.data(), mean.data() + mean.size()),
                                        std::vector<T>(std.data(), std.data() + std.size()));
            },
            py::arg("mean").noconvert(), py::arg("std").noconvert())
        .def("standardization",
             [](const Net& net) -> py::object {
                 const T* scaling = net.scaling();
                 if (!scaling) return py::none();
                 return py::make_tuple(Array<T>(net.inputs(), scaling), Array<T>(net.inputs(), scaling + net.inputs()));
             })
        .def_property_readonly("params",
                               [](py::object self) {
                                   Net& net = self.cast<Net&>();
                                   return view<T>(self, net.params(), {net.n_params()});
                               })
        .def_property_readonly("grads",
                               [](py::object self) -> py::object {
                                   Net& net = self.cast<Net&>();
                                   if (!net.has_training_state()) return py::none();
                                   return view<T>(self, net.grads(), {net.n_params()});
                               },
                               R"doc(The gradient of the last training call (a view); None before the first.)doc")
        .def(
            "layer_views",
            [](py::object self, size_t l) {
                Net& net = self.cast<Net&>();
                require(l < net.layers().size(), "no such layer");
                const int64_t I = net.layer_inputs(l), O = net.layers()[l].units;
                return py::make_tuple(view<T>(self, net.params() + net.w_offset(l), {I, O}),
                                      view<T>(self, net.params() + net.b_offset(l), {O}));
            },
            py::arg("layer"), R"doc((W (inputs, units), b (units)): writable views of one layer's parameters.)doc")
        .def(
            "train_epoch",
            [](Net& net, const Array<T>& X, const Array<T>& Y, const OptionalArray<T>& w, int64_t batch, bool shuffle,
               Loss loss, Metric metric, const OptionalArray<int64_t>& rows) {
                require_matrix(X, -1, net.inputs(), "X must be (rows, inputs)");
                require_matrix(Y, X.shape(0), net.outputs(), "Y must be (rows of X, outputs)");
                const T* wd = optional_data(w, X.shape(0));
                if (rows) require(rows->ndim() == 1, "rows must be 1-D");
                const int64_t* rows_data = rows ? rows->data() : nullptr;
                const int64_t n_rows = rows ? rows->shape(0) : 0;
                const Released release;
                return net.train_epoch(X.data(), Y.data(), wd, X.shape(0), batch, shuffle, loss, metric, rows_data,
                                       n_rows);
            },
            py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
            py::arg("batch_size"), py::arg("shuffle"), py::arg("loss"), py::arg("metric"),
            py::arg("rows").noconvert() = py::none(),
            R"doc(One epoch of mini-batch training in C++, without the GIL; on the given rows of X only, when set.)doc")
        .def(
            "lr_sweep",
            [](Net& net, const Array<T>& X, const Array<T>& Y, const OptionalArray<T>& w, int64_t batch,
               double lr_first, double lr_last, int64_t steps, Loss loss, double stop_factor, double beta) {
                require_matrix(X, -1, net.inputs(), "X must be (rows, inputs)");
                require_matrix(Y, X.shape(0), net.outputs(), "Y must be (rows of X, outputs)");
                require(lr_first > 0 && lr_last > lr_first, "need 0 < lr_first < lr_last");
                require(beta >= 0 && beta < 1, "need 0 <= beta < 1");
                const T* wd = optional_data(w, X.shape(0));
                std::vector<double> costs;
                {
                    const Released release;
                    costs = net.lr_sweep(X.data(), Y.data(), wd, X.shape(0), batch, lr_first, lr_last, steps, loss,
                                         stop_factor, beta);
                }
                return py::array_t<double>(py::ssize_t(costs.size()), costs.data());
            },
            py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
            py::arg("batch_size"), py::arg("lr_first"), py::arg("lr_last"), py::arg("steps"), py::arg("loss"),
            py::arg("stop_factor"), py::arg("beta"),
            R"doc(Learning-rate range test: the cost of each batch as the rate rises geometrically.)doc")
        .def(
            "cost_and_gradient",
            [](Net& net, const Array<T>& X, const Array<T>& Y, const OptionalArray<T>& w, Loss loss,
               int64_t dropout_seed) {
                require_matrix(X, -1, net.inputs(), "X must be (rows, inputs)");
                require_matrix(Y, X.shape(0), net.outputs(), "Y must be (rows of X, outputs)");
                const T* wd = optional_data(w, X.shape(0));
                const Released release;
                return net.cost_and_gradient(X.data(), Y.data(), wd, X.shape(0), loss, dropout_seed);
            },
            py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(), py::arg("loss"),
            py::arg("dropout_seed") = -1,
            R"doc(The cost (mean loss + penalty) on X, Y; fills grads with its gradient.)doc")
        .def(
            "predict",
            [](const Net& net, py::handle X_obj, bool check_finite) {
                const MatrixView<T> X(X_obj);
                require(X.cols() == net.inputs(), "X must be (rows, inputs)");
                require(X.rows() > 0, "X has no samples");
                require(!check_finite || all_finite(X.data(), X.rows() * X.cols()), "X contains NaN or infinite values");
                Array<T> out({X.rows(), net.outputs()});
                T* out_data = out.mutable_data();
                int64_t nonfinite;
                {
                    const Unlocked unlocked(saturating_mul(X.rows(), net.macs_per_row()));
                    nonfinite = net.predict(X.data(), X.rows(), out_data);
                }
                require_finite_outputs<T>(nonfinite, X.rows());
                return out;
            },
            py::arg("X"), py::arg("check_finite") = false,
            R"doc(The output activation for X (rows, inputs), no dropout; ValueError if a row's outputs are not finite.)doc")
        .def(
            "predict_classes",
            [](const Net& net, py::handle X_obj, bool threshold, bool check_finite) {
                const MatrixView<T> X(X_obj);
                require(X.cols() == net.inputs(), "X must be (rows, inputs)");
                require(X.rows() > 0, "X has no samples");
                require(!check_finite || all_finite(X.data(), X.rows() * X.cols()), "X contains NaN or infinite values");
                py::array_t<int64_t> out(X.rows());
                int64_t* out_data = out.mutable_data();
                int64_t nonfinite;
                {
                    const Unlocked unlocked(saturating_mul(X.rows(), net.macs_per_row()));
                    nonfinite = net.predict_classes(X.data(), X.rows(), out_data, threshold);
                }
                require_finite_outputs<T>(nonfinite, X.rows());
                return out;
            },
            py::arg("X"), py::arg("threshold"), py::arg("check_finite") = false,
            R"doc(Each row's class index: the arg-max of the output, or (threshold) output > 0.5; ValueError if a row's
outputs are not finite.)doc")
        .def(
            "evaluate",
            [](const Net& net, const Array<T>& X, const Array<T>& Y, const OptionalArray<T>& w, Loss loss,
               Metric metric) {
                require_matrix(X, -1, net.inputs(), "X must be (rows, inputs)");
                require_matrix(Y, X.shape(0), net.outputs(), "Y must be (rows of X, outputs)");
                const T* wd = optional_data(w, X.shape(0));
                const Released release;
                return net.evaluate(X.data(), Y.data(), wd, X.shape(0), loss, metric);
            },
            py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(), py::arg("loss"),
            py::arg("metric"), R"doc(Loss and metric sums over X, Y (no dropout, no penalty).)doc")
        .def(
            "save",
            [](const Net& net, const std::string& path, const std::string& json) {
                const Released release;
                write_model_file(path, net, json);
            },
            py::arg("path"), py::arg("json"), R"doc(Write the model file atomically (see csrc/model_file.hpp).)doc");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "nnfast's compiled core: kernels and the network, bound without logic.";
    m.attr("__version__") = NNFAST_VERSION;
    // SizeError (a std::length_error) becomes ValueError and OutOfMemory (a std::bad_alloc
    // with a sentence) MemoryError through pybind11's standard translations.
    py::register_exception<ModelBusy>(m, "ModelBusyError", PyExc_RuntimeError);
    // FileError: the OSError of its errno (FileNotFoundError, PermissionError, ...), its
    // message one line naming the path
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const FileError& e) {
            py::object error = py::reinterpret_borrow<py::object>(PyExc_OSError)(e.error(), e.what());
            PyErr_SetObject(PyExc_OSError, error.ptr());
        }
    });

    py::enum_<Activation>(m, "Activation")
        .value("identity", Activation::identity)
        .value("relu", Activation::relu)
        .value("leaky_relu", Activation::leaky_relu)
        .value("elu", Activation::elu)
        .value("sigmoid", Activation::sigmoid)
        .value("tanh", Activation::tanh)
        .value("softmax", Activation::softmax);
    py::enum_<Loss>(m, "Loss")
        .value("mse", Loss::mse)
        .value("mae", Loss::mae)
        .value("binary_cross_entropy", Loss::binary_cross_entropy)
        .value("cross_entropy", Loss::cross_entropy);
    py::enum_<Metric>(m, "Metric")
        .value("none", Metric::none)
        .value("accuracy", Metric::accuracy)
        .value("threshold_accuracy", Metric::threshold_accuracy)
        .value("r2", Metric::r2);
    py::enum_<Init>(m, "Init")
        .value("zeros", Init::zeros)
        .value("constant", Init::constant)
        .value("normal", Init::normal)
        .value("uniform", Init::uniform)
        .value("xavier_normal", Init::xavier_normal)
        .value("xavier_uniform", Init::xavier_uniform)
        .value("he_normal", Init::he_normal)
        .value("he_uniform", Init::he_uniform)
        .value("lecun_normal", Init::lecun_normal)
        .value("lecun_uniform", Init::lecun_uniform);
    py::enum_<Optimizer>(m, "Optimizer")
        .value("sgd", Optimizer::sgd)
        .value("adagrad", Optimizer::adagrad)
        .value("rmsprop", Optimizer::rmsprop)
        .value("adam", Optimizer::adam)
        .value("adamw", Optimizer::adamw);

    py::class_<OptimizerConfig>(m, "OptimizerConfig", R"doc(Settings of the fused optimizer step.)doc")
        .def(py::init<>())
        .def_readwrite("kind", &OptimizerConfig::kind)
        .def_readwrite("lr", &OptimizerConfig::lr)
        .def_readwrite("momentum", &OptimizerConfig::momentum)
        .def_readwrite("nesterov", &OptimizerConfig::nesterov)
        .def_readwrite("beta1", &OptimizerConfig::beta1)
        .def_readwrite("beta2", &OptimizerConfig::beta2)
        .def_readwrite("rho", &OptimizerConfig::rho)
        .def_readwrite("eps", &OptimizerConfig::eps)
        .def_readwrite("weight_decay", &OptimizerConfig::weight_decay)
        .def_readwrite("l1", &OptimizerConfig::l1)
        .def_readwrite("l2", &OptimizerConfig::l2)
        .def_readwrite("clip_norm", &OptimizerConfig::clip_norm);

    py::class_<LayerSpec>(m, "LayerSpec", R"doc(One dense layer: units, activation, alpha, input dropout.)doc")
        .def(py::init([](int64_t units, Activation activation, double alpha, double input_dropout) {
                 return LayerSpec{units, activation, alpha, input_dropout};
             }),
             py::arg("units"), py::arg("activation"), py::arg("alpha") = 0.0, py::arg("input_dropout") = 0.0)
        .def_readonly("units", &LayerSpec::units)
        .def_readonly("activation", &LayerSpec::activation)
        .def_readonly("alpha", &LayerSpec::alpha)
        .def_readonly("input_dropout", &LayerSpec::input_dropout);

    py::class_<MetricSums>(m, "MetricSums", R"doc(Sums behind the cost and the metric of a pass over data.)doc")
        .def_readonly("loss", &MetricSums::loss)
        .def_readonly("weight", &MetricSums::weight)
        .def_readonly("correct", &MetricSums::correct)
        .def_readonly("sse", &MetricSums::sse, R"doc(Per output: sum_i w_i (y_ik - a_ik)^2.)doc")
        .def_readonly("y_shift", &MetricSums::y_shift,
                      R"doc(Per output: the shift the targets' mean is kept relative to.)doc")
        .def_readonly("y_mean", &MetricSums::y_mean, R"doc(Per output: the weighted mean of y_ik - y_shift_k.)doc")
        .def_readonly("y_m2", &MetricSums::y_m2, R"doc(Per output: sum_i w_i (y_ik - mean_k)^2, computed centred.)doc")
        .def_readonly("nonfinite_rows", &MetricSums::nonfinite_rows);
    py::class_<EpochResult>(m, "EpochResult", R"doc(What one training epoch measured.)doc")
        .def_readonly("sums", &EpochResult::sums)
        .def_readonly("penalty", &EpochResult::penalty)
        .def_readonly("batches", &EpochResult::batches)
        .def_readonly("finite", &EpochResult::finite)
        .def_readonly("first_cost", &EpochResult::first_cost)
        .def_readonly("stopped", &EpochResult::stopped)
        .def_readonly("skipped", &EpochResult::skipped);

    bind_kernels<float>(m);
    bind_kernels<double>(m);
    bind_network<float>(m, "Network32");
    bind_network<double>(m, "Network64");

    m.def(
        "load",
        [](const std::string& path) {
            ModelFile file;
            {
                const Released release;
                file = read_model_file(path);
            }
            py::object net = file.scalar_bytes == 4 ? py::cast(network_from_file<float>(file))
                                                    : py::cast(network_from_file<double>(file));
            return py::make_tuple(net, py::bytes(file.json));
        },
        py::arg("path"), R"doc((network, json bytes) read from a model file.)doc");
    // nnfast parallelises over rows itself; its BLAS runs single-threaded in each thread
    blas::set_num_threads(1);
    // the thread pool starts and OpenBLAS is primed on first use (ThreadPool::warm_once)
    m.def(
        "stop_for_exit",
        [] {
            exiting().store(true);
            stop_requested().store(true);
        },
        R"doc(The interpreter is exiting: training stops at its next batch, and no call releases the GIL any more.)doc");
    m.def(
        "gil_free_calls", [] { return gil_free_calls().load(); },
        R"doc(How many calls into the core are running without the GIL.)doc");
    m.def("set_num_threads", &set_thread_count, py::arg("n"),
          R"doc(Threads nnfast's kernels may use (process-wide), 1 to max_threads().)doc");
    m.def(
        "partner_tasks", [] { return Partner::instance().tasks(); },
        R"doc(Half products of one-row predictions that the partner core has run (see Partner in parallel.hpp).)doc");
    m.def("usable_cpus", &usable_cpus, R"doc(CPUs this process may use: affinity mask and cgroup CPU quota.)doc");
    m.def("max_threads", &max_threads, R"doc(The most threads set_num_threads accepts.)doc");
    m.def("cgroup_cpu_limit", &cpu_detail::cgroup_cpu_limit, py::arg("root") = "",
          R"doc(CPUs' worth of time the cgroup quota allows (0: none), reading /proc and the
cgroup files under `root` (a test points it at a made-up tree).)doc");
    m.def(
        "get_num_threads", [] { return thread_setting().load(); }, R"doc(Threads nnfast's kernels may use.)doc");
    m.def("require_allocatable", &require_allocatable, py::arg("bytes"), py::arg("what"),
          R"doc(MemoryError naming `what` when `bytes` cannot be had (csrc/checked.hpp); None otherwise.)doc");
    m.def("blas_threads", &blas::num_threads, R"doc(Threads of the BLAS library underneath (kept at 1).)doc");
    m.def("blas_info", &blas::describe, R"doc(Which BLAS is linked, its build and the kernel it picked.)doc");
}
