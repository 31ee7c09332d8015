// ITU-T G.722: 7 kHz audio coding at 64 kbit/s (sub-band ADPCM), bit-exact to the
// ITU-T G.191 STL reference and its conformance vectors.
//
// Linear PCM is 16 kHz, 16-bit. The encoder codes at 64 kbit/s (mode 1): each code byte
// carries two input samples, 6 bits of lower band and 2 bits of higher band. The decoder
// reads modes 1, 2 and 3 (64, 56, 48 kbit/s), which differ only in how many low-band bits
// it trusts (6, 5 or 4); the predictors use the 4 most significant bits in every mode,
// which is what keeps encoder and decoder in step whatever the mode.
//
// The states are plain copyable structs: copying one forks the stream.
#pragma once

#include <cstddef>
#include <cstdint>

namespace polyptt::g722 {

// The adaptive quantizer and predictor of one sub-band (G.722 blocks 2-6). Fields hold
// 16-bit quantities in int32_t so that the hot loop needs no conversions.
struct Band {
    int32_t s = 0;          // signal estimate (pole + zero prediction)
    int32_t sz = 0;         // zero-section prediction
    int32_t nb = 0;         // logarithmic scale factor
    int32_t det = 0;        // quantizer scale factor
    int32_t a1 = 0, a2 = 0; // pole-section coefficients
    int32_t b[6] = {};      // zero-section coefficients b1..b6
    int32_t d[6] = {};      // past quantized differences d(n-1)..d(n-6)
    int32_t p1 = 0, p2 = 0; // past partial reconstructions (only their signs are used)
    int32_t r1 = 0, r2 = 0; // past reconstructed signals, doubled and saturated
};

// The QMF history: the last 22 values of the 16 kHz stream, oldest first.
inline constexpr int kQmfHistory = 22;

struct EncoderState {
    int16_t qmf[kQmfHistory] = {};
    Band low;
    Band high;
    int16_t pending_sample = 0;  // an odd sample waiting for its partner
    bool has_pending = false;

    EncoderState() { reset(); }
    void reset();

    // Bytes that encode() will write for n more samples.
    size_t encoded_size(size_t n) const { return (n + (has_pending ? 1 : 0)) / 2; }

    // Codes n samples after any pending one; an odd sample left over stays pending, so a
    // signal coded in pieces gives the same bytes as coded whole. out must hold
    // encoded_size(n) bytes; returns that count.
    size_t encode(const int16_t* pcm, size_t n, uint8_t* out);

    // Pads a pending sample with one zero sample and codes the pair: returns 1 byte
    // written to out, or 0 when nothing was pending.
    size_t flush(uint8_t* out);
};

struct DecoderState {
    int16_t qmf[kQmfHistory] = {};
    Band low;
    Band high;
    int mode = 1;  // 1, 2 or 3: 64, 56 or 48 kbit/s

    // mode must be 1, 2 or 3 (see valid_mode(); the caller checks it).
    explicit DecoderState(int mode_ = 1) : mode(mode_) { reset(); }
    // The initial state, keeping the mode.
    void reset();

    // Decodes n code bytes into 2 * n samples.
    void decode(const uint8_t* codes, size_t n, int16_t* pcm);
};

inline bool valid_mode(int mode) { return mode >= 1 && mode <= 3; }

}  // namespace polyptt::g722
