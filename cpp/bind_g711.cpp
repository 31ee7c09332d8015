// Python face of G.711: four stateless whole-buffer functions.
#include "bind_util.h"
#include "g711.h"

namespace py = pybind11;
using polyptt::bind::ByteView;
using polyptt::bind::Pcm;

namespace {

using EncodeFn = void (*)(const int16_t*, size_t, uint8_t*);
using DecodeFn = void (*)(const uint8_t*, size_t, int16_t*);

py::bytes encode(const Pcm& pcm, EncodeFn fn) {
    const auto in = polyptt::bind::pcm_view(pcm);
    py::bytes out = polyptt::bind::new_bytes(in.size);
    uint8_t* dst = polyptt::bind::bytes_data(out);
    {
        py::gil_scoped_release nogil;
        fn(in.data, in.size, dst);
    }
    return out;
}

Pcm decode(const py::buffer& data, DecodeFn fn) {
    const ByteView in = polyptt::bind::byte_view(data);
    Pcm out = polyptt::bind::new_pcm(in.size);
    int16_t* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        fn(in.data, in.size, dst);
    }
    return out;
}

}  // namespace

void bind_g711(py::module_& m) {
    namespace g711 = polyptt::g711;
    m.def(
        "ulaw_encode", [](const Pcm& pcm) { return encode(pcm, g711::ulaw_encode); },
        py::arg("pcm").noconvert(),
        "mu-law codes of 16-bit PCM (top 14 bits used, bit-exact to the G.191 STL).");
    m.def(
        "ulaw_decode", [](const py::buffer& data) { return decode(data, g711::ulaw_decode); },
        py::arg("data"), "16-bit PCM of mu-law codes, as the G.191 STL expands them.");
    m.def(
        "alaw_encode", [](const Pcm& pcm) { return encode(pcm, g711::alaw_encode); },
        py::arg("pcm").noconvert(),
        "A-law codes of 16-bit PCM (top 13 bits used, bit-exact to the G.191 STL).");
    m.def(
        "alaw_decode", [](const py::buffer& data) { return decode(data, g711::alaw_decode); },
        py::arg("data"), "16-bit PCM of A-law codes, as the G.191 STL expands them.");
}
