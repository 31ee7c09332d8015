// G.722 sub-band ADPCM, written from ITU-T G.722 and checked bit for bit against the
// ITU-T G.191 STL vectors (encoder and decoder modes 1-3).
//
// Two things the recommendation leaves to the implementation are fixed by the STL, whose
// vectors are the reference:
// - 16-bit input: the transmit QMF takes 16-bit samples and scales its sums by 2^-14
//   (the 14-bit-input recommendation uses 2^-13 on samples 4 times smaller, plus rounding
//   loss in the 2 dropped bits), then limits each band to [-16384, 16383].
// - 16-bit output: the receive QMF scales its sums by 2^-11 and saturates to 16 bits.
//
// Speed: the recommendation is written in saturating 16-bit arithmetic. Most of those
// saturations provably never act, and are left out here; the ones that can act are kept
// (marked "saturates" below). The QMF filters run as a separate pass over a block so that
// the compiler can vectorize them apart from the sequential ADPCM recursion.
#include "g722.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace polyptt::g722 {
namespace {

constexpr int32_t clamp16(int32_t x) { return std::clamp<int32_t>(x, -32768, 32767); }
constexpr int32_t limit15(int32_t x) { return std::clamp<int32_t>(x, -16384, 16383); }

// ---------------------------------------------------------------------------------------
// Tables of the recommendation, and per-code tables derived from them.

// Lower-band quantizer decision levels (Table 6/G.722), index 1..29 used; 30 caps.
constexpr int32_t kQ6[31] = {0,    35,   72,   110,  150,  190,  233,  276,  323,  370,  422,
                             473,  530,  587,  650,  714,  786,  858,  940,  1023, 1121, 1219,
                             1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 3200};
// Inverse quantizer output levels for 6, 5 and 4 bits (Tables 6 and 7/G.722).
constexpr int32_t kOq6[31] = {0,   17,  54,  91,  130, 170, 211,  254,  300,  347,  396,
                              447, 501, 558, 618, 682, 750, 822,  899,  982,  1072, 1170,
                              1279, 1399, 1535, 1689, 1873, 2088, 2376, 2738, 3101};
constexpr int32_t kOq5[16] = {0,   35,  110, 190,  276,  370,  473,  587,
                              714, 858, 1023, 1219, 1458, 1765, 2195, 2919};
constexpr int32_t kOq4[8] = {0, 150, 323, 530, 786, 1121, 1612, 2557};
// Log scale factor multipliers, lower band (by 4-bit magnitude) and higher band.
constexpr int32_t kWl[8] = {-60, -30, 58, 172, 334, 538, 1198, 3042};
// Mantissas of the scale factor, 2048 * 2^(k/32) as the recommendation rounds them.
constexpr int32_t kIlb[32] = {2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543,
                              2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228,
                              3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008};
// QMF coefficients (Table 2/G.722), symmetric.
constexpr int32_t kQmf[24] = {3,    -11, -11,  53,   12,  -156, 32,   362, -210, -805, 951, 3876,
                              3876, 951, -805, -210, 362, 32,   -156, 12,  53,   -11,  -11, 3};

constexpr int32_t kLowNbMax = 18432;
constexpr int32_t kHighNbMax = 22528;

// A 6-bit lower-band code as (negative, magnitude index 1..30), the layout of Table 6.
struct SignMag {
    bool negative;
    int mag;
};
constexpr SignMag code6(int code) {
    if (code < 4) return {true, 1};  // not sent by encoders; decoded as the smallest level
    if (code < 32) return {true, 34 - code};
    if (code < 62) return {false, 62 - code};
    return {true, 64 - code};  // 62, 63: the two smallest negative levels
}
constexpr SignMag code5(int code) {  // 5-bit code (Table 7, 56 kbit/s)
    if (code < 2) return {true, 1};
    if (code < 16) return {true, 17 - code};
    if (code < 31) return {false, 31 - code};
    return {true, 1};
}
constexpr SignMag code4(int code) {  // 4-bit code (Table 7, 48 kbit/s and the predictor)
    if (code == 0 || code == 15) return {false, 0};
    if (code < 8) return {true, 8 - code};
    return {false, 15 - code};
}
constexpr int32_t signed_level(SignMag sm, const int32_t* levels) {
    return (sm.negative ? -8 : 8) * levels[sm.mag];
}

struct Tables {
    // Indexed by the 6-bit lower-band code: what the predictor uses (its 4 MSBs) ...
    std::array<int32_t, 64> low_dq{};   // signed inverse quantizer level (x8)
    std::array<int32_t, 64> low_wl{};   // log scale factor step
    // ... and the decoder output for modes 1, 2, 3.
    std::array<std::array<int32_t, 64>, 3> low_out{};
    // Encoder: (negative, magnitude index) -> 6-bit code.
    std::array<std::array<uint8_t, 31>, 2> low_code{};
    // Quantizer scale factor from nb >> 6 (lower band: + 64).
    std::array<int32_t, 353> scale{};
};

constexpr Tables make_tables() {
    Tables t{};
    for (int code = 0; code < 64; ++code) {
        const SignMag sm4 = code4(code >> 2);
        t.low_dq[code] = signed_level(sm4, kOq4);
        t.low_wl[code] = kWl[sm4.mag];
        t.low_out[0][code] = signed_level(code6(code), kOq6);
        t.low_out[1][code] = signed_level(code5(code >> 1), kOq5);
        t.low_out[2][code] = t.low_dq[code];
    }
    for (int code = 4; code < 64; ++code) {  // each (sign, magnitude) has one code >= 4
        const SignMag sm = code6(code);
        t.low_code[sm.negative ? 1 : 0][sm.mag] = static_cast<uint8_t>(code);
    }
    for (int i = 0; i < 353; ++i) {
        const int octave = i >> 5;
        const int32_t m = kIlb[i & 31];
        t.scale[i] = (octave <= 10 ? m >> (10 - octave) : m << (octave - 10)) << 2;
    }
    return t;
}
constexpr Tables kTables = make_tables();
static_assert(kTables.scale[64] == 32 && kTables.scale[0] == 8 && kTables.scale[352] == 16384);
static_assert(kTables.low_code[1][1] == 63 && kTables.low_code[1][2] == 62 &&
              kTables.low_code[1][3] == 31 && kTables.low_code[0][30] == 32);

// Lower-band decision levels scaled by each possible quantizer scale factor: row
// nb >> 6, entry k is (Q6[k] * det) >> 12 (the recommendation's MULT(Q6 << 3, DETL)).
struct LowLevels {
    std::array<std::array<int16_t, 32>, kLowNbMax / 64 + 1> rows{};
};
constexpr LowLevels make_low_levels() {
    LowLevels t{};
    for (size_t r = 0; r < t.rows.size(); ++r) {
        const int32_t det = kTables.scale[r + 64];
        for (int k = 0; k < 32; ++k) {
            t.rows[r][k] = static_cast<int16_t>(k < 30 ? (kQ6[k] * det) >> 12 : 32767);
        }
    }
    return t;
}
constexpr LowLevels kLowLevels = make_low_levels();
static_assert(kLowLevels.rows.back()[29] == 11676);  // the largest level any wd is held to

// Higher band (2 bits): signed level (x8) and log scale factor step per code.
constexpr int32_t kHighDq[4] = {-8 * 926, -8 * 202, 8 * 926, 8 * 202};
constexpr int32_t kHighWh[4] = {798, -214, 798, -214};

// ---------------------------------------------------------------------------------------
// ADPCM: quantizer scale adaptation and the pole-zero predictor (blocks 3-6).

inline int32_t mul15(int32_t a, int32_t b) { return (a * b) >> 15; }

// Advances a band's log scale factor and quantizer scale.
inline void adapt_scale(Band& band, int32_t step, int32_t nb_max, int scale_offset) {
    band.nb = std::clamp(mul15(band.nb, 32512) + step, 0, nb_max);
    band.det = kTables.scale[(band.nb >> 6) + scale_offset];
}

// Updates the predictor with the quantized difference dq and computes the next estimate.
//
// Saturation, which the recommendation applies on every 16-bit operation, is kept only
// where it can act: the partial reconstruction p only contributes its sign, which
// saturation keeps; the reconstructed signal r is only used doubled and saturated, and
// sat(2 sat(x)) == sat(2x), so it is stored in that form; the b updates stay in range.
inline void adapt_predictor(Band& band, int32_t dq) {
    const int32_t p0 = dq + band.sz;
    const int32_t r0x2 = clamp16(2 * (band.s + dq));  // saturates

    // Zero section (UPZERO): sign-sign update, then the delay line moves on.
    const int32_t step = dq == 0 ? 0 : 128;
    for (int i = 5; i >= 0; --i) {
        const bool same = (band.d[i] < 0) == (dq < 0);
        band.b[i] = (same ? step : -step) + mul15(band.b[i], 32640);
    }
    for (int i = 5; i > 0; --i) band.d[i] = band.d[i - 1];
    band.d[0] = dq;

    // Pole section (UPPOL2 then UPPOL1, which uses the new a2).
    const bool sg0 = p0 < 0;
    const bool same01 = sg0 == (band.p1 < 0);
    const bool same02 = sg0 == (band.p2 < 0);
    const int32_t a1x4 = clamp16(band.a1 * 4);                       // saturates
    const int32_t wd2 = same01 ? std::min(-a1x4, int32_t{32767}) : a1x4;  // saturates
    band.a2 = std::clamp((wd2 >> 7) + (same02 ? 128 : -128) + mul15(band.a2, 32512), -12288,
                         12288);
    const int32_t a1_limit = 15360 - band.a2;
    band.a1 = std::clamp((same01 ? 192 : -192) + mul15(band.a1, 32640), -a1_limit, a1_limit);
    band.p2 = band.p1;
    band.p1 = p0;

    // Zero-section prediction (FILTEZ): a saturating sum in the recommendation's order.
    // Saturation acts only if a partial sum leaves 16 bits, which almost never happens:
    // the plain sum is taken, offset by 32768 so that one OR over the partial sums
    // shows whether any left [0, 65535].
    int32_t partial = 32768;
    int32_t seen = 0;
    for (int i = 5; i >= 0; --i) {
        partial += mul15(2 * band.d[i], band.b[i]);
        seen |= partial;
    }
    if ((seen >> 16) == 0) {
        band.sz = partial - 32768;
    } else {
        int32_t sz = 0;
        for (int i = 5; i >= 0; --i) sz = clamp16(sz + mul15(2 * band.d[i], band.b[i]));
        band.sz = sz;
    }

    // Pole-section prediction (FILTEP) and the signal estimate.
    band.r2 = band.r1;
    band.r1 = r0x2;
    const int32_t sp = clamp16(mul15(band.a1, band.r1) + mul15(band.a2, band.r2));  // saturates
    band.s = clamp16(sp + band.sz);                                     // saturates
}

// The lower-band encoder: quantizes x - s to a 6-bit code and adapts.
inline int32_t encode_low(Band& band, int32_t x) {
    // The error is not saturated: only its sign and whether it passes the largest
    // decision level (at most 11676) matter, and saturation keeps both.
    const int32_t e = x - band.s;
    const int32_t wd = e < 0 ? ~e : e;
    // Magnitude index (1..30): how many of the row's levels, the always-passed zero
    // included, are at or below wd. A count over a fixed-size row has no branches and
    // vectorizes; levels 30 and 31 are padding that no wd reaches.
    const int16_t* levels = kLowLevels.rows[static_cast<size_t>(band.nb >> 6)].data();
    const int32_t w = std::min(wd, int32_t{16383});
    int32_t m = 0;
    for (int k = 0; k < 32; ++k) m += levels[k] <= w ? 1 : 0;
    const int32_t code = kTables.low_code[e < 0 ? 1 : 0][static_cast<size_t>(m)];
    const int32_t dq = mul15(band.det, kTables.low_dq[code]);
    adapt_scale(band, kTables.low_wl[code], kLowNbMax, 64);
    adapt_predictor(band, dq);
    return code;
}

// The higher-band encoder: a 2-bit code for x - s.
inline int32_t encode_high(Band& band, int32_t x) {
    const int32_t e = x - band.s;  // unsaturated, as in encode_low
    const int32_t wd = e < 0 ? ~e : e;
    const bool large = wd >= ((564 * band.det) >> 12);
    const int32_t code = e < 0 ? (large ? 0 : 1) : (large ? 2 : 3);
    const int32_t dq = mul15(band.det, kHighDq[code]);
    adapt_scale(band, kHighWh[code], kHighNbMax, 0);
    adapt_predictor(band, dq);
    return code;
}

// The lower-band decoder: the output sample for the mode's level table, then adaptation
// from the code's 4 MSBs.
inline int32_t decode_low(Band& band, int32_t code, const int32_t* out_levels) {
    const int32_t out = limit15(band.s + mul15(band.det, out_levels[code]));
    const int32_t dq = mul15(band.det, kTables.low_dq[code]);
    adapt_scale(band, kTables.low_wl[code], kLowNbMax, 64);
    adapt_predictor(band, dq);
    return out;
}

inline int32_t decode_high(Band& band, int32_t code) {
    const int32_t dq = mul15(band.det, kHighDq[code]);
    const int32_t out = limit15(band.s + dq);
    adapt_scale(band, kHighWh[code], kHighNbMax, 0);
    adapt_predictor(band, dq);
    return out;
}

void reset_band(Band& band, int32_t det) {
    band = Band{};
    band.det = det;
}

// ---------------------------------------------------------------------------------------
// QMF. A window w[0..23] holds the 16 kHz stream, w[23] newest. Per pair of samples the
// filters need two 24-tap dot products with fixed coefficient patterns.

struct QmfCoefs {
    // int16_t, like the window, so that the dot products map onto 16x16->32 bit
    // multiply-add instructions.
    std::array<int16_t, 24> sum{};   // all taps: lower band (transmit)
    std::array<int16_t, 24> diff{};  // alternating signs: higher band (transmit)
    std::array<int16_t, 24> odd{};   // odd-indexed taps only: first output (receive)
    std::array<int16_t, 24> even{};  // even-indexed taps only: second output (receive)
};
constexpr QmfCoefs make_qmf_coefs() {
    QmfCoefs c{};
    for (int m = 0; m < 24; ++m) {
        const bool odd = (m & 1) != 0;
        const auto h = static_cast<int16_t>(kQmf[m]);
        c.sum[m] = h;
        c.diff[m] = static_cast<int16_t>(odd ? h : -h);
        c.odd[m] = odd ? h : int16_t{0};
        c.even[m] = odd ? int16_t{0} : h;
    }
    return c;
}
constexpr QmfCoefs kQmfCoefs = make_qmf_coefs();

inline int32_t dot24(const int16_t* w, const std::array<int16_t, 24>& c) {
    int32_t acc = 0;
    for (int m = 0; m < 24; ++m) acc += c[m] * w[m];
    return acc;
}

// Codes per block: the QMF pass and the ADPCM pass alternate over blocks of this size.
constexpr size_t kBlock = 256;

}  // namespace

// ---------------------------------------------------------------------------------------

void EncoderState::reset() {
    std::fill(std::begin(qmf), std::end(qmf), int16_t{0});
    reset_band(low, 32);
    reset_band(high, 8);
    pending_sample = 0;
    has_pending = false;
}

size_t EncoderState::encode(const int16_t* pcm, size_t n, uint8_t* out) {
    const size_t total = encoded_size(n);
    int16_t buf[kQmfHistory + 2 * kBlock];
    int32_t xl[kBlock];
    int32_t xh[kBlock];
    std::memcpy(buf, qmf, sizeof qmf);
    Band lo = low;
    Band hi = high;

    size_t done = 0;
    while (done < total) {
        const size_t codes = std::min(kBlock, total - done);
        int16_t* dst = buf + kQmfHistory;
        size_t take = 2 * codes;
        if (has_pending) {
            *dst++ = pending_sample;
            --take;
            has_pending = false;
        }
        std::memcpy(dst, pcm, take * sizeof(int16_t));
        pcm += take;
        n -= take;

        // Transmit QMF: the sums scale by 2^-14 for 16-bit input (see the top).
        for (size_t i = 0; i < codes; ++i) {
            const int16_t* w = buf + 2 * i;
            xl[i] = limit15(dot24(w, kQmfCoefs.sum) >> 14);
            xh[i] = limit15(dot24(w, kQmfCoefs.diff) >> 14);
        }
        for (size_t i = 0; i < codes; ++i) {
            const int32_t il = encode_low(lo, xl[i]);
            const int32_t ih = encode_high(hi, xh[i]);
            out[done + i] = static_cast<uint8_t>((ih << 6) | il);
        }
        std::memmove(buf, buf + 2 * codes, sizeof qmf);
        done += codes;
    }
    if (n != 0) {  // one sample left over: keep it for the next call
        pending_sample = *pcm;
        has_pending = true;
    }
    std::memcpy(qmf, buf, sizeof qmf);
    low = lo;
    high = hi;
    return total;
}

size_t EncoderState::flush(uint8_t* out) {
    if (!has_pending) return 0;
    const int16_t zero = 0;
    return encode(&zero, 1, out);
}

void DecoderState::reset() {
    std::fill(std::begin(qmf), std::end(qmf), int16_t{0});
    reset_band(low, 32);
    reset_band(high, 8);
}

void DecoderState::decode(const uint8_t* codes, size_t n, int16_t* pcm) {
    const int32_t* out_levels = kTables.low_out[static_cast<size_t>(mode - 1)].data();
    int16_t buf[kQmfHistory + 2 * kBlock];
    std::memcpy(buf, qmf, sizeof qmf);
    Band lo = low;
    Band hi = high;

    for (size_t done = 0; done < n;) {
        const size_t count = std::min(kBlock, n - done);
        int16_t* dst = buf + kQmfHistory;
        for (size_t i = 0; i < count; ++i) {
            const int32_t code = codes[done + i];
            const int32_t rl = decode_low(lo, code & 0x3F, out_levels);
            const int32_t rh = decode_high(hi, code >> 6);
            // Both within 15 bits, so the sum and difference fit 16 bits.
            dst[2 * i] = static_cast<int16_t>(rl + rh);
            dst[2 * i + 1] = static_cast<int16_t>(rl - rh);
        }
        // Receive QMF: the sums scale by 2^-11 and saturate for 16-bit output.
        int16_t* o = pcm + 2 * done;
        for (size_t i = 0; i < count; ++i) {
            const int16_t* w = buf + 2 * i;
            o[2 * i] = static_cast<int16_t>(clamp16(dot24(w, kQmfCoefs.odd) >> 11));
            o[2 * i + 1] = static_cast<int16_t>(clamp16(dot24(w, kQmfCoefs.even) >> 11));
        }
        std::memmove(buf, buf + 2 * count, sizeof qmf);
        done += count;
    }
    std::memcpy(qmf, buf, sizeof qmf);
    low = lo;
    high = hi;
}

}  // namespace polyptt::g722
