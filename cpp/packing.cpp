// Streaming bit packers. Each loop is a shift register of at most 7 + 5 pending bits, so
// a 32-bit accumulator is always wide enough.
#include "packing.h"

#include <array>
#include <stdexcept>
#include <string>

namespace polyptt::packing {
namespace {

constexpr std::array<uint8_t, 256> make_reversed() {
    std::array<uint8_t, 256> table{};
    for (int b = 0; b < 256; ++b) {
        int r = 0;
        for (int i = 0; i < 8; ++i) r |= ((b >> i) & 1) << (7 - i);
        table[static_cast<size_t>(b)] = static_cast<uint8_t>(r);
    }
    return table;
}

constexpr std::array<uint8_t, 256> kReversed = make_reversed();

void check_bits(int bits) {
    if (bits < 2 || bits > 5) {
        throw std::invalid_argument("code words have 2 to 5 bits, got " + std::to_string(bits));
    }
}

// Most significant bit first; Reverse also mirrors every byte (G.726QI).
template <bool Reverse>
size_t pack_msb_first(uint32_t& acc, int& pending, int bits, const uint8_t* codes, size_t n,
                      uint8_t* out) {
    const uint32_t mask = (1U << bits) - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        acc = (acc << bits) | (codes[i] & mask);
        pending += bits;
        if (pending >= 8) {
            pending -= 8;
            const auto byte = static_cast<uint8_t>(acc >> pending);
            out[k++] = Reverse ? kReversed[byte] : byte;
        }
    }
    acc &= (1U << pending) - 1;
    return k;
}

size_t pack_lsb_first(uint32_t& acc, int& pending, int bits, const uint8_t* codes, size_t n,
                      uint8_t* out) {
    const uint32_t mask = (1U << bits) - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        acc |= (codes[i] & mask) << pending;
        pending += bits;
        if (pending >= 8) {
            out[k++] = static_cast<uint8_t>(acc);
            acc >>= 8;
            pending -= 8;
        }
    }
    return k;
}

template <bool Reverse>
size_t unpack_msb_first(uint32_t& acc, int& pending, int bits, const uint8_t* data, size_t n,
                        uint8_t* codes) {
    const uint32_t mask = (1U << bits) - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        acc = (acc << 8) | (Reverse ? kReversed[data[i]] : data[i]);
        pending += 8;
        while (pending >= bits) {
            pending -= bits;
            codes[k++] = static_cast<uint8_t>((acc >> pending) & mask);
        }
        acc &= (1U << pending) - 1;
    }
    return k;
}

size_t unpack_lsb_first(uint32_t& acc, int& pending, int bits, const uint8_t* data, size_t n,
                        uint8_t* codes) {
    const uint32_t mask = (1U << bits) - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        acc |= static_cast<uint32_t>(data[i]) << pending;
        pending += 8;
        while (pending >= bits) {
            codes[k++] = static_cast<uint8_t>(acc & mask);
            acc >>= bits;
            pending -= bits;
        }
    }
    return k;
}

}  // namespace

Packer::Packer(int bits, Packing packing) : bits_(bits), packing_(packing) { check_bits(bits); }

size_t Packer::packed_size(size_t n) const {
    if (packing_ == Packing::unpacked) return n;
    return (static_cast<size_t>(pending_) + n * static_cast<size_t>(bits_)) / 8;
}

size_t Packer::pack(const uint8_t* codes, size_t n, uint8_t* out) {
    switch (packing_) {
        case Packing::unpacked: {
            const auto mask = static_cast<uint8_t>((1U << bits_) - 1);
            for (size_t i = 0; i < n; ++i) out[i] = codes[i] & mask;
            return n;
        }
        case Packing::rfc3551: return pack_lsb_first(acc_, pending_, bits_, codes, n, out);
        case Packing::aal2: return pack_msb_first<false>(acc_, pending_, bits_, codes, n, out);
        case Packing::qi: return pack_msb_first<true>(acc_, pending_, bits_, codes, n, out);
    }
    return 0;
}

size_t Packer::flush(uint8_t* out) {
    if (pending_ == 0) return 0;
    uint8_t byte = 0;
    if (packing_ == Packing::rfc3551) {
        byte = static_cast<uint8_t>(acc_);
    } else {
        byte = static_cast<uint8_t>(acc_ << (8 - pending_));
        if (packing_ == Packing::qi) byte = kReversed[byte];
    }
    out[0] = byte;
    reset();
    return 1;
}

Unpacker::Unpacker(int bits, Packing packing) : bits_(bits), packing_(packing) {
    check_bits(bits);
}

size_t Unpacker::unpacked_size(size_t n) const {
    if (packing_ == Packing::unpacked) return n;
    return (static_cast<size_t>(pending_) + 8 * n) / static_cast<size_t>(bits_);
}

size_t Unpacker::unpack(const uint8_t* data, size_t n, uint8_t* codes) {
    switch (packing_) {
        case Packing::unpacked: {
            const auto mask = static_cast<uint8_t>((1U << bits_) - 1);
            for (size_t i = 0; i < n; ++i) codes[i] = data[i] & mask;
            return n;
        }
        case Packing::rfc3551: return unpack_lsb_first(acc_, pending_, bits_, data, n, codes);
        case Packing::aal2: return unpack_msb_first<false>(acc_, pending_, bits_, data, n, codes);
        case Packing::qi: return unpack_msb_first<true>(acc_, pending_, bits_, data, n, codes);
    }
    return 0;
}

}  // namespace polyptt::packing
