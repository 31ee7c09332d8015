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

    // How this binary was compiled, so that a test can refuse an unoptimised or
    // assert-enabled build shipped by accident (the codecs are the hot path).
    py::dict build;
#if defined(__OPTIMIZE__)
    build["optimized"] = true;
#else
    build["optimized"] = false;
#endif
#if defined(NDEBUG)
    build["asserts"] = false;
#else
    build["asserts"] = true;
#endif
    build["compiler"] = __VERSION__;
    m.attr("_build") = build;
    bind_g711(m);
    bind_g722(m);
    bind_g726(m);
}
