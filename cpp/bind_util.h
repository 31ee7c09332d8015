// Shared argument handling for the pybind11 layer: strict inputs, fresh outputs.
//
// Inputs are taken strictly (exact dtype, C-contiguous, one dimension) instead of being
// silently converted: a float array passed as PCM is a TypeError, not a quiet cast
// that would turn 0.5 into 0. Outputs are new objects, so they can be written with the
// GIL released.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace polyptt::bind {

namespace py = pybind11;

// 16-bit linear PCM; bind with py::arg("pcm").noconvert() so the dtype is enforced.
using Pcm = py::array_t<int16_t, py::array::c_style>;

// A read-only view of a one-dimensional PCM array.
struct PcmView {
    const int16_t* data;
    size_t size;
};

inline PcmView pcm_view(const Pcm& pcm) {
    if (pcm.ndim() != 1) {
        throw py::value_error("pcm must be a one-dimensional int16 array (mono), got " +
                              std::to_string(pcm.ndim()) + " dimensions");
    }
    return {pcm.data(), static_cast<size_t>(pcm.shape(0))};
}

// A read-only view of any bytes-like object with one-byte items: bytes, bytearray,
// memoryview, a uint8/int8 numpy array. Keeps the buffer alive while it is used.
struct ByteView {
    py::buffer_info info;
    const uint8_t* data;
    size_t size;
};

inline ByteView byte_view(const py::buffer& buffer, const char* what = "data") {
    py::buffer_info info = buffer.request();
    if (info.itemsize != 1) {
        throw py::type_error(std::string(what) + " must be bytes-like (one byte per item), got items of " +
                             std::to_string(info.itemsize) + " bytes");
    }
    if (info.ndim != 1) {
        throw py::value_error(std::string(what) + " must be one-dimensional, got " +
                              std::to_string(info.ndim) + " dimensions");
    }
    if (info.strides[0] != 1) {
        throw py::value_error(std::string(what) + " must be contiguous");
    }
    const auto* data = static_cast<const uint8_t*>(info.ptr);
    const auto size = static_cast<size_t>(info.shape[0]);
    return {std::move(info), data, size};
}

// A new, uninitialised PCM array of n samples.
inline Pcm new_pcm(size_t n) { return Pcm(static_cast<py::ssize_t>(n)); }

// A new bytes object of n bytes whose contents the caller fills in before returning it.
inline py::bytes new_bytes(size_t n) {
    PyObject* obj = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n));
    if (obj == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::bytes>(obj);
}

inline uint8_t* bytes_data(py::bytes& b) {
    return reinterpret_cast<uint8_t*>(PyBytes_AS_STRING(b.ptr()));
}

// The coding loops run with the GIL released, so two threads could otherwise run one
// coder at once and corrupt its state silently. A flag that is only read and written
// while the GIL is held turns that misuse into an exception instead, at no cost.
class BusyGuard {
public:
    BusyGuard(bool& busy, const char* what) : busy_(busy) {
        if (busy_) throw std::runtime_error(std::string(what) + " used from two threads at once");
        busy_ = true;
    }
    ~BusyGuard() { busy_ = false; }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

private:
    bool& busy_;
};

}  // namespace polyptt::bind
