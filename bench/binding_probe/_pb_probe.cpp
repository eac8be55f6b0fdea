// The pybind11 probe binding (bench/binding_probe/README.md): one-row classification
// over a network of its own, taking the row two ways. Not part of nnfast.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "probe.hpp"

namespace py = pybind11;
using probe::Net;

namespace {

void require(bool ok, const char* message) {
    if (!ok) throw py::value_error(message);
}

// the row, checked as nnfast's binding checks it, then classified (GIL kept for small work)
int64_t classify(const Net& net, const float* x, int64_t rows, int64_t cols) {
    require(rows == 1 && cols == net.inputs(), "x must be (1, inputs)");
    require(probe::all_finite(x, cols), "x contains NaN or infinite values");
    int64_t c;
    if (net.macs_per_row() > probe::kReleaseAbove) {
        py::gil_scoped_release release;
        c = probe::classify_row(net, x);
    } else {
        c = probe::classify_row(net, x);
    }
    require(c >= 0, "the model's outputs are NaN or infinite");
    return c;
}

// The network, in a type of the probe's own: nnfast's core has registered Network<float>
// with pybind11 (same pybind11, same registry), and a type may be registered once.
struct Probe {
    std::unique_ptr<Net> net;

    // (b) the row through the buffer protocol, as nnfast's binding takes it (MatrixView)
    int64_t predict_buffer(py::handle x) const {
        Py_buffer view;
        if (PyObject_GetBuffer(x.ptr(), &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
            PyErr_Clear();
            throw py::type_error("expected a C-ordered array");
        }
        const char* f = view.format;
        const bool ok = view.ndim == 2 && view.itemsize == 4 &&
                        (f[0] == 'f' || ((f[0] == '<' || f[0] == '=' || f[0] == '@') && f[1] == 'f' && !f[2]));
        const int64_t rows = ok ? view.shape[0] : 0, cols = ok ? view.shape[1] : 0;
        const float* data = static_cast<const float*>(view.buf);
        if (!ok) {
            PyBuffer_Release(&view);
            throw py::type_error("expected a 2-D float32 array");
        }
        try {
            const int64_t c = classify(*net, data, rows, cols);
            PyBuffer_Release(&view);
            return c;
        } catch (...) {
            PyBuffer_Release(&view);
            throw;
        }
    }
};

}  // namespace

PYBIND11_MODULE(_pb_probe, m) {
    py::class_<Probe>(m, "PbProbe")
        .def(py::init([](int64_t inputs, const std::vector<int64_t>& units, const std::vector<int>& activations,
                         const std::vector<double>& alphas, const py::array_t<float, py::array::c_style>& params,
                         std::optional<py::array_t<float, py::array::c_style>> mean,
                         std::optional<py::array_t<float, py::array::c_style>> std) {
                 require(units.size() == activations.size() && units.size() == alphas.size(), "one entry per layer");
                 return Probe{std::unique_ptr<Net>(probe::make_network(
                     inputs, int64_t(units.size()), units.data(), activations.data(), alphas.data(), params.data(),
                     params.size(), mean ? mean->data() : nullptr, std ? std->data() : nullptr))};
             }),
             py::arg("inputs"), py::arg("units"), py::arg("activations"), py::arg("alphas"), py::arg("params"),
             py::arg("mean") = py::none(), py::arg("std") = py::none())
        // (b) the row through the buffer protocol, as nnfast's binding takes it (MatrixView)
        .def("predict_row", [](const Probe& p, py::handle x) { return p.predict_buffer(x); })
        // (b') the row through pybind11's array caster
        .def(
            "predict_row_array_t",
            [](const Probe& p, const py::array_t<float, py::array::c_style>& x) {
                require(x.ndim() == 2, "x must be 2-D");
                return classify(*p.net, x.data(), x.shape(0), x.shape(1));
            },
            py::arg("x").noconvert())
        // (e') model.predict's one-row path whole in pybind11: the label array, classes[index]
        // or the index itself (classes None), shape (1,), as model.predict returns it
        .def("predict", [](const Probe& p, py::handle x, py::handle classes) -> py::object {
            py::array_t<int64_t> out(1);
            *out.mutable_data() = p.predict_buffer(x);
            if (classes.is_none()) return std::move(out);
            return classes[out];
        });
    m.def("set_num_threads", &nnfast::set_thread_count, py::arg("n"));
    nnfast::blas::set_num_threads(1);  // as nnfast's core does at import
}
