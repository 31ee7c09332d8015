// Python binding of the G.722 encoder and decoder (polyptt._codec.G722Encoder/Decoder).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "bind_util.h"
#include "g722.h"

namespace py = pybind11;
using polyptt::bind::byte_view;
using polyptt::bind::bytes_data;
using polyptt::bind::new_bytes;
using polyptt::bind::new_pcm;
using polyptt::bind::Pcm;
using polyptt::bind::pcm_view;

namespace {

// The coding loops run with the GIL released, so two threads could otherwise run one
// coder at once and corrupt its state silently. A flag that is only read and written
// while the GIL is held turns that misuse into an exception instead.
class BusyGuard {
public:
    explicit BusyGuard(bool& busy) : busy_(busy) {
        if (busy_) throw std::runtime_error("G.722 coder used from two threads at once");
        busy_ = true;
    }
    ~BusyGuard() { busy_ = false; }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

private:
    bool& busy_;
};

struct Encoder {
    polyptt::g722::EncoderState state;
    bool busy = false;

    py::bytes encode(const Pcm& pcm) {
        const auto in = pcm_view(pcm);
        BusyGuard guard(busy);
        py::bytes out = new_bytes(state.encoded_size(in.size));
        uint8_t* dst = bytes_data(out);
        {
            py::gil_scoped_release release;
            state.encode(in.data, in.size, dst);
        }
        return out;
    }

    py::bytes flush() {
        BusyGuard guard(busy);
        py::bytes out = new_bytes(state.has_pending ? 1 : 0);
        state.flush(bytes_data(out));
        return out;
    }

    void reset() {
        BusyGuard guard(busy);
        state.reset();
    }
};

struct Decoder {
    polyptt::g722::DecoderState state;
    bool busy = false;

    explicit Decoder(int mode) : state(checked_mode(mode)) {}

    static int checked_mode(int mode) {
        if (!polyptt::g722::valid_mode(mode)) {
            throw py::value_error("G.722 mode must be 1 (64 kbit/s), 2 (56 kbit/s) or "
                                  "3 (48 kbit/s), got " + std::to_string(mode));
        }
        return mode;
    }

    Pcm decode(const py::buffer& data) {
        const auto in = byte_view(data);
        BusyGuard guard(busy);
        Pcm out = new_pcm(2 * in.size);
        int16_t* dst = out.mutable_data();
        {
            py::gil_scoped_release release;
            state.decode(in.data, in.size, dst);
        }
        return out;
    }

    void reset() {
        BusyGuard guard(busy);
        state.reset();
    }
};

}  // namespace

void bind_g722(py::module_& m) {
    py::class_<Encoder>(m, "G722Encoder",
                        "G.722 encoder at 64 kbit/s: 16 kHz int16 PCM in, one byte per two "
                        "samples out. Streaming: an odd trailing sample waits for the next "
                        "call, so chunk boundaries never change the output.")
        .def(py::init<>())
        .def("encode", &Encoder::encode, py::arg("pcm").noconvert(),
             "Encode a 1-D int16 array; returns (pending + len(pcm)) // 2 bytes. Only int16 "
             "is accepted, because a silent cast of float audio would code garbage.")
        .def("flush", &Encoder::flush,
             "Code a pending odd sample padded with one zero sample: 1 byte, or b'' when "
             "nothing is pending. For the end of a stream whose length may be odd.")
        .def("reset", &Encoder::reset,
             "Return to the initial state, as a new stream needs (drops a pending sample).")
        .def_property_readonly(
            "pending", [](const Encoder& self) { return self.state.has_pending ? 1 : 0; },
            "Samples (0 or 1) held back until their partner arrives.");

    py::class_<Decoder>(m, "G722Decoder",
                        "G.722 decoder: one byte in, two 16 kHz int16 samples out. mode 1, 2 "
                        "or 3 (64, 56, 48 kbit/s) sets how many low-band bits are trusted; "
                        "the byte stream format is the same in every mode.")
        .def(py::init<int>(), py::arg("mode") = 1)
        .def("decode", &Decoder::decode, py::arg("data"),
             "Decode any bytes-like object (bytes, bytearray, memoryview, uint8 array) into "
             "an int16 array of 2 * len(data) samples.")
        .def("reset", &Decoder::reset,
             "Return to the initial state (keeping the mode), as a new stream needs.")
        .def_property_readonly(
            "mode", [](const Decoder& self) { return self.state.mode; },
            "1, 2 or 3: 64, 56 or 48 kbit/s.");
}
