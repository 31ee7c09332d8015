// Python face of G.726: stateful encoder and decoder objects that pair the ADPCM state
// with a streaming bit packer, so that a stream can be fed in chunks of any size.
#include <memory>
#include <mutex>
#include <string>

#include "bind_util.h"
#include "g726.h"
#include "packing.h"

namespace py = pybind11;
using polyptt::bind::ByteView;
using polyptt::bind::Pcm;
using polyptt::g726::Law;
using polyptt::packing::Packing;

namespace {

struct Names {
    const char* name;
    int value;
};

constexpr Names kPackings[] = {{"unpacked", static_cast<int>(Packing::unpacked)},
                               {"rfc3551", static_cast<int>(Packing::rfc3551)},
                               {"aal2", static_cast<int>(Packing::aal2)},
                               {"qi", static_cast<int>(Packing::qi)}};
constexpr Names kLaws[] = {{"linear", static_cast<int>(Law::linear)},
                           {"alaw", static_cast<int>(Law::alaw)},
                           {"ulaw", static_cast<int>(Law::ulaw)}};

template <size_t N>
int parse_name(const std::string& given, const Names (&names)[N], const char* what) {
    std::string choices;
    for (const Names& n : names) {
        if (given == n.name) return n.value;
        choices += choices.empty() ? "" : ", ";
        choices += std::string("'") + n.name + "'";
    }
    throw py::value_error(std::string("unknown G.726 ") + what + " '" + given + "' (choose " +
                          choices + ")");
}

template <size_t N>
const char* name_of(int value, const Names (&names)[N]) {
    for (const Names& n : names) {
        if (n.value == value) return n.name;
    }
    return "?";
}

int checked_bits(int bits) {
    if (!polyptt::g726::valid_bits(bits)) {
        throw py::value_error("G.726 bits must be 2, 3, 4 or 5 (16, 24, 32 or 40 kbit/s), got " +
                              std::to_string(bits));
    }
    return bits;
}

// The coding loops run without the GIL, so two threads could enter the same object at
// once; that is refused rather than left to corrupt the state.
class BusyGuard {
public:
    explicit BusyGuard(std::mutex& m) : lock_(m, std::try_to_lock) {
        if (!lock_.owns_lock()) {
            throw std::runtime_error("a G.726 coder object is in use by another thread");
        }
    }

private:
    std::unique_lock<std::mutex> lock_;
};

// A strict int16 PCM view of x: TypeError for anything but an int16 ndarray.
Pcm strict_pcm(const py::object& x) {
    if (Pcm::check_(x)) return py::reinterpret_borrow<Pcm>(x);
    if (py::isinstance<py::array>(x) &&
        py::reinterpret_borrow<py::array>(x).dtype().is(py::dtype::of<int16_t>())) {
        throw py::value_error("pcm must be C-contiguous");
    }
    throw py::type_error("pcm must be a numpy int16 array for law 'linear', got " +
                         std::string(py::str(py::type::of(x).attr("__name__"))));
}

ByteView strict_bytes(const py::object& x, const char* what) {
    if (!py::isinstance<py::buffer>(x)) {
        throw py::type_error(std::string(what) + " must be bytes-like, got " +
                             std::string(py::str(py::type::of(x).attr("__name__"))));
    }
    return polyptt::bind::byte_view(py::reinterpret_borrow<py::buffer>(x), what);
}

std::unique_ptr<uint8_t[]> scratch(size_t n) { return std::unique_ptr<uint8_t[]>(new uint8_t[n]); }

class Encoder {
public:
    Encoder(int bits, const std::string& packing, const std::string& law)
        : coder_(checked_bits(bits), static_cast<Law>(parse_name(law, kLaws, "law"))),
          packer_(bits, static_cast<Packing>(parse_name(packing, kPackings, "packing"))) {}

    py::bytes encode(const py::object& x) {
        BusyGuard busy(mutex_);
        if (coder_.law() == Law::linear) {
            const Pcm pcm = strict_pcm(x);
            const auto in = polyptt::bind::pcm_view(pcm);
            return run(in.data, in.size);
        }
        const ByteView in = strict_bytes(x, "law codes");
        return run(in.data, in.size);
    }

    py::bytes flush() {
        BusyGuard busy(mutex_);
        uint8_t byte = 0;
        const size_t n = packer_.flush(&byte);
        return py::bytes(reinterpret_cast<const char*>(&byte), n);
    }

    void reset() {
        BusyGuard busy(mutex_);
        coder_.reset();
        packer_.reset();
    }

    int bits() const { return coder_.bits(); }
    const char* packing() const { return name_of(static_cast<int>(packer_.packing()), kPackings); }
    const char* law() const { return name_of(static_cast<int>(coder_.law()), kLaws); }
    int pending_bits() const { return packer_.pending_bits(); }

private:
    template <typename Sample>
    py::bytes run(const Sample* in, size_t n) {
        py::bytes out = polyptt::bind::new_bytes(packer_.packed_size(n));
        uint8_t* dst = polyptt::bind::bytes_data(out);
        {
            py::gil_scoped_release nogil;
            if (packer_.packing() == Packing::unpacked) {
                coder_.encode(in, n, dst);
            } else {
                const auto codes = scratch(n);
                coder_.encode(in, n, codes.get());
                packer_.pack(codes.get(), n, dst);
            }
        }
        return out;
    }

    polyptt::g726::Encoder coder_;
    polyptt::packing::Packer packer_;
    std::mutex mutex_;
};

class Decoder {
public:
    Decoder(int bits, const std::string& packing, const std::string& law)
        : coder_(checked_bits(bits), static_cast<Law>(parse_name(law, kLaws, "law"))),
          unpacker_(bits, static_cast<Packing>(parse_name(packing, kPackings, "packing"))) {}

    py::object decode(const py::object& data) {
        BusyGuard busy(mutex_);
        const ByteView in = strict_bytes(data, "data");
        const size_t n = unpacker_.unpacked_size(in.size);
        if (coder_.law() == Law::linear) {
            Pcm out = polyptt::bind::new_pcm(n);
            run(in, out.mutable_data());
            return std::move(out);
        }
        py::bytes out = polyptt::bind::new_bytes(n);
        run(in, polyptt::bind::bytes_data(out));
        return std::move(out);
    }

    void reset() {
        BusyGuard busy(mutex_);
        coder_.reset();
        unpacker_.reset();
    }

    int bits() const { return coder_.bits(); }
    const char* packing() const {
        return name_of(static_cast<int>(unpacker_.packing()), kPackings);
    }
    const char* law() const { return name_of(static_cast<int>(coder_.law()), kLaws); }
    int pending_bits() const { return unpacker_.pending_bits(); }

private:
    template <typename Sample>
    void run(const ByteView& in, Sample* out) {
        py::gil_scoped_release nogil;
        if (unpacker_.packing() == Packing::unpacked) {
            coder_.decode(in.data, in.size, out);
        } else {
            const auto codes = scratch(unpacker_.unpacked_size(in.size));
            const size_t n = unpacker_.unpack(in.data, in.size, codes.get());
            coder_.decode(codes.get(), n, out);
        }
    }

    polyptt::g726::Decoder coder_;
    polyptt::packing::Unpacker unpacker_;
    std::mutex mutex_;
};

template <typename Coder>
std::string repr(const char* cls, const Coder& c) {
    return std::string(cls) + "(bits=" + std::to_string(c.bits()) + ", packing='" +
           c.packing() + "', law='" + c.law() + "')";
}

}  // namespace

void bind_g726(py::module_& m) {
    py::class_<Encoder>(m, "G726Encoder",
                        "Stateful G.726 encoder (16-40 kbit/s) with a streaming bit packer.\n\n"
                        "State and pending bits are kept between calls, so a stream can be "
                        "encoded in chunks of any size with the same bytes as in one call.")
        .def(py::init<int, const std::string&, const std::string&>(), py::arg("bits"),
             py::arg("packing") = "rfc3551", py::arg("law") = "linear")
        .def("encode", &Encoder::encode, py::arg("x"),
             "Encode int16 PCM (law 'linear') or G.711 code bytes (law 'alaw'/'ulaw').\n\n"
             "Returns only whole bytes; bits of an incomplete byte wait for the next call "
             "or flush().")
        .def("flush", &Encoder::flush,
             "The pending partial byte, zero-padded (b'' if none); ends a stream without "
             "resetting the ADPCM state.")
        .def("reset", &Encoder::reset, "Back to the standard's reset state, packer emptied.")
        .def_property_readonly("bits", &Encoder::bits, "Bits per code word (2..5).")
        .def_property_readonly("packing", &Encoder::packing, "Bit packing name.")
        .def_property_readonly("law", &Encoder::law, "Input format: linear, alaw or ulaw.")
        .def_property_readonly("pending_bits", &Encoder::pending_bits,
                               "Bits waiting in the packer for a full byte.")
        .def("__repr__", [](const Encoder& e) { return repr("G726Encoder", e); });

    py::class_<Decoder>(m, "G726Decoder",
                        "Stateful G.726 decoder (16-40 kbit/s) with a streaming bit unpacker.\n\n"
                        "Bits that do not form a whole code word wait for the next call, so a "
                        "stream can be decoded in chunks of any size.")
        .def(py::init<int, const std::string&, const std::string&>(), py::arg("bits"),
             py::arg("packing") = "rfc3551", py::arg("law") = "linear")
        .def("decode", &Decoder::decode, py::arg("data"),
             "Decode bytes-like data: int16 PCM for law 'linear' (SR << 2, no tandem "
             "adjustment), G.711 code bytes with the standard's SYNC for 'alaw'/'ulaw'.\n\n"
             "Bits short of a whole code word wait for the next call. With packing "
             "'unpacked' the bits above the code word in each byte are ignored.")
        .def("reset", &Decoder::reset, "Back to the standard's reset state, unpacker emptied.")
        .def_property_readonly("bits", &Decoder::bits, "Bits per code word (2..5).")
        .def_property_readonly("packing", &Decoder::packing, "Bit packing name.")
        .def_property_readonly("law", &Decoder::law, "Output format: linear, alaw or ulaw.")
        .def_property_readonly("pending_bits", &Decoder::pending_bits,
                               "Bits waiting for a whole code word.")
        .def("__repr__", [](const Decoder& d) { return repr("G726Decoder", d); });
}
