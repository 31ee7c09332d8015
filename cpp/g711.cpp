// G.711 tables, computed at compile time from the arithmetic of ITU-T G.711 as the G.191
// STL states it, so that the run-time cost of a conversion is one load.
#include "g711.h"

namespace polyptt::g711 {
namespace {

// Number of significant bits of v (0 for 0).
constexpr int bit_length(int v) {
    int n = 0;
    while (v > 0) {
        ++n;
        v >>= 1;
    }
    return n;
}

// A-law of a 16-bit sample: 12-bit magnitude (one's complement for negatives), a 3-bit
// segment and a 4-bit mantissa, even bits inverted (XOR 0x55).
constexpr uint8_t alaw_of(int x) {
    const int mag = x < 0 ? (~x) >> 4 : x >> 4;
    int code = mag;
    if (mag > 15) {
        const int segment = bit_length(mag) - 4;
        code = (segment << 4) | ((mag >> (segment - 1)) & 0x0F);
    }
    if (x >= 0) code |= 0x80;
    return static_cast<uint8_t>(code ^ 0x55);
}

// mu-law of a 16-bit sample: 13-bit biased magnitude (one's complement for negatives,
// bias 33, clipped), segment and mantissa stored inverted.
constexpr uint8_t ulaw_of(int x) {
    int biased = (x < 0 ? (~x) >> 2 : x >> 2) + 33;
    if (biased > 0x1FFF) biased = 0x1FFF;
    const int segment = bit_length(biased >> 6) + 1;
    const int mantissa = (biased >> segment) & 0x0F;
    int code = ((8 - segment) << 4) | (0x0F - mantissa);
    if (x >= 0) code |= 0x80;
    return static_cast<uint8_t>(code);
}

constexpr int16_t linear_of_alaw(int code) {
    const int v = (code ^ 0x55) & 0x7F;
    const int segment = v >> 4;
    int mag = v & 0x0F;
    if (segment > 0) mag += 16;
    mag = (mag << 4) + 8;
    if (segment > 1) mag <<= segment - 1;
    return static_cast<int16_t>(code > 127 ? mag : -mag);
}

constexpr int16_t linear_of_ulaw(int code) {
    const int v = ~code & 0xFF;
    const int segment = (v >> 4) & 0x07;
    const int step = 8 << segment;
    const int mag = (0x80 << segment) + step * (v & 0x0F) + step / 2 - 4 * 33;
    return static_cast<int16_t>(code < 0x80 ? -mag : mag);
}

// The index is the sample's top bits, so rebuild a representative sample from it.
template <size_t N, int Shift, typename F>
constexpr std::array<uint8_t, N> encode_table(F law) {
    std::array<uint8_t, N> table{};
    for (size_t i = 0; i < N; ++i) {
        const int x = static_cast<int16_t>(static_cast<uint16_t>(i << Shift));
        table[i] = law(x);
    }
    return table;
}

template <typename F>
constexpr std::array<int16_t, 256> decode_table(F law) {
    std::array<int16_t, 256> table{};
    for (int code = 0; code < 256; ++code) table[static_cast<size_t>(code)] = law(code);
    return table;
}

}  // namespace

const std::array<uint8_t, 8192> kAlawFromLinear = encode_table<8192, 3>(alaw_of);
const std::array<uint8_t, 16384> kUlawFromLinear = encode_table<16384, 2>(ulaw_of);
const std::array<int16_t, 256> kLinearFromAlaw = decode_table(linear_of_alaw);
const std::array<int16_t, 256> kLinearFromUlaw = decode_table(linear_of_ulaw);

void alaw_encode(const int16_t* pcm, size_t n, uint8_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = alaw_encode(pcm[i]);
}

void ulaw_encode(const int16_t* pcm, size_t n, uint8_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = ulaw_encode(pcm[i]);
}

void alaw_decode(const uint8_t* codes, size_t n, int16_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = alaw_decode(codes[i]);
}

void ulaw_decode(const uint8_t* codes, size_t n, int16_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = ulaw_decode(codes[i]);
}

}  // namespace polyptt::g711
