// G.726 ADPCM at 16, 24, 32 and 40 kbit/s (2, 3, 4, 5 bits per code word), bit-exact to
// ITU-T G.726 (reproduces the Appendix II / G.191 STL test sequences).
//
// Code words are handled unpacked here, one per byte in the low bits; packing.h turns
// them into bytes. Three sample formats ("laws") are supported:
//  - linear: 16-bit PCM. The algorithm works on 14 significant bits: the encoder takes
//    x >> 2, the decoder returns the reconstructed signal SR << 2 (saturated), without
//    the synchronous-coding adjustment, which only exists for law-coded output. This is
//    also what spandsp does.
//  - alaw, ulaw: G.711 code bytes in and out, the decoder with the SYNC adjustment of the
//    standard, as the conformance sequences require.
//
// The whole coder state is the plain struct State, so a coder can be copied, stored or
// compared; Encoder and Decoder just pair it with the rate and law.
#pragma once

#include <cstddef>
#include <cstdint>

namespace polyptt::g726 {

enum class Law : uint8_t { linear, alaw, ulaw };

// A value in the standard's 11-bit floating-point form (used for DQ and SR in the
// predictor), kept split so that FMULT does not have to unpack it for every product.
// Four bytes, so that the delay line moves each one with a single copy.
struct Float {
    uint8_t mant;  // 6 bits, top bit set unless the value is 0 (then 32 by definition)
    uint8_t exp;   // 0..15
    int8_t neg;    // 0, or -1 for a negative value: a mask, so FMULT negates without a branch
    uint8_t unused = 0;

    bool operator==(const Float& o) const {
        return neg == o.neg && exp == o.exp && mant == o.mant;
    }
};

// The coder state, named after the standard's variables (G.726 section 4).
struct State {
    int32_t yu;      // YU: fast quantizer scale factor (13 bits)
    int32_t yl;      // YL: slow quantizer scale factor (19 bits)
    int32_t dms;     // DMS: short-term average of F(I)
    int32_t dml;     // DML: long-term average of F(I)
    int32_t ap;      // AP: speed control parameter
    int32_t a[2];    // A1, A2: pole predictor coefficients
    int32_t pk[2];   // PK1, PK2: signs of DQ + SEZ for the two previous samples
    int32_t td;      // TD: tone detected
    Float sr[2];     // SR1, SR2: previous reconstructed signals

    // The zero predictor: B1..B6 and DQ1..DQ6, the previous quantized differences in
    // floating-point form (the fields of Float as parallel arrays). Every sample updates
    // all six B and shifts the DQ delay line, so these are arrays of 8 lanes in which the
    // compiler does that with a few vector instructions; lanes 6 and 7 are scratch and
    // never read.
    int16_t b[8];         // B1..B6 (16-bit two's complement)
    int16_t dq_neg[8];    // DQ1..DQ6: sign as a mask (see Float::neg)
    uint8_t dq_mant[8];   // DQ1..DQ6: mantissa
    uint8_t dq_exp[8];    // DQ1..DQ6: exponent

    bool operator==(const State& o) const;
    bool operator!=(const State& o) const { return !(*this == o); }
};

// The reset state of the standard.
State initial_state();

// True for 2..5 (16, 24, 32, 40 kbit/s).
constexpr bool valid_bits(int bits) { return bits >= 2 && bits <= 5; }

// What an encoder and a decoder both are: a rate, a law and the ADPCM state that
// evolves identically on both sides of the channel.
class Coder {
public:
    void reset() { state_ = initial_state(); }
    int bits() const { return bits_; }
    Law law() const { return law_; }
    const State& state() const { return state_; }

protected:
    // bits must satisfy valid_bits().
    Coder(int bits, Law law);

    State state_;
    int bits_;
    Law law_;
};

class Encoder : public Coder {
public:
    // The law says what encode() takes.
    Encoder(int bits, Law law) : Coder(bits, law) {}

    // law linear: n 16-bit samples; law alaw/ulaw: n G.711 code bytes (as uint8_t).
    // Writes n code words, one per byte.
    void encode(const int16_t* pcm, size_t n, uint8_t* codes);
    void encode(const uint8_t* law_codes, size_t n, uint8_t* codes);
};

class Decoder : public Coder {
public:
    Decoder(int bits, Law law) : Coder(bits, law) {}

    // Reads n code words (low `bits` bits of each byte; higher bits are ignored).
    // law linear: writes n 16-bit samples; law alaw/ulaw: n G.711 code bytes.
    void decode(const uint8_t* codes, size_t n, int16_t* pcm);
    void decode(const uint8_t* codes, size_t n, uint8_t* law_codes);
};

}  // namespace polyptt::g726
