// The private extension module polyptt._codec. Each codec family binds itself in its own
// bind_*.cpp; the public face is polyptt.codecs (plain Python).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_g711(py::module_& m);
void bind_g722(py::module_& m);
void bind_g726(py::module_& m);

PYBIND11_MODULE(_codec, m) {
    m.doc() = "polyptt's compiled codec core (private: use polyptt.codecs).";
    m.attr("__version__") = POLYPTT_VERSION;
    bind_g711(m);
    bind_g722(m);
    bind_g726(m);
}
