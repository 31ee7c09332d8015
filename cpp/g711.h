// G.711 A-law and mu-law, bit-exact to the ITU-T G.191 STL (alaw_compress, ulaw_compress,
// alaw_expand, ulaw_expand).
//
// Linear samples are 16-bit. The encoders look at the top 13 (A-law) or 14 (mu-law) bits
// and treat negative values as one's complement, exactly as the STL does; the decoders
// return the STL's left-justified 16-bit values. Every conversion is one table lookup,
// so the per-sample functions are inline here and the tables live in g711.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace polyptt::g711 {

// Indexed by the top 13 bits (A-law) / 14 bits (mu-law) of the sample as unsigned.
extern const std::array<uint8_t, 8192> kAlawFromLinear;
extern const std::array<uint8_t, 16384> kUlawFromLinear;
extern const std::array<int16_t, 256> kLinearFromAlaw;
extern const std::array<int16_t, 256> kLinearFromUlaw;

inline uint8_t alaw_encode(int16_t x) { return kAlawFromLinear[static_cast<uint16_t>(x) >> 3]; }
inline uint8_t ulaw_encode(int16_t x) { return kUlawFromLinear[static_cast<uint16_t>(x) >> 2]; }
inline int16_t alaw_decode(uint8_t code) { return kLinearFromAlaw[code]; }
inline int16_t ulaw_decode(uint8_t code) { return kLinearFromUlaw[code]; }

void alaw_encode(const int16_t* pcm, size_t n, uint8_t* out);
void ulaw_encode(const int16_t* pcm, size_t n, uint8_t* out);
void alaw_decode(const uint8_t* codes, size_t n, int16_t* out);
void ulaw_decode(const uint8_t* codes, size_t n, int16_t* out);

}  // namespace polyptt::g711
