// G.726 ADPCM, written from the block descriptions of ITU-T G.726 (section 4). Block
// names in comments (FMULT, QUAN, ...) are the standard's. Each sample step is
// instantiated per rate, so the rate tables become constants of the inner loop.
#include "g726.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "g711.h"

// The per-sample steps must be inlined into the coding loops; GCC otherwise keeps the
// large update step out of line.
#if defined(__GNUC__)
#define POLYPTT_INLINE inline __attribute__((always_inline))
#else
#define POLYPTT_INLINE inline
#endif

namespace polyptt::g726 {
namespace {

// ---- Rate tables (G.726 tables 1-4 and the FUNCTW / FUNCTF / RECONST blocks) ----------
// All indexed by the code word's magnitude |I| (0 .. 2^(bits-1) - 1).
// quan: lower DLN bound of each magnitude 1.. (log2 domain, 1/128 units);
// dqln: reconstruction level (log2, 1/128 units; -2048 stands for minus infinity);
// w: scale factor multiplier W(I) (1/16 units); f: F(I) for the speed control.
template <int Bits>
struct Rate;

template <>
struct Rate<2> {
    static constexpr std::array<int, 1> quan{261};
    static constexpr std::array<int, 2> dqln{116, 365};
    static constexpr std::array<int, 2> w{-22, 439};
    static constexpr std::array<int, 2> f{0, 7};
};

template <>
struct Rate<3> {
    static constexpr std::array<int, 3> quan{8, 218, 331};
    static constexpr std::array<int, 4> dqln{-2048, 135, 273, 373};
    static constexpr std::array<int, 4> w{-4, 30, 137, 582};
    static constexpr std::array<int, 4> f{0, 1, 2, 7};
};

template <>
struct Rate<4> {
    static constexpr std::array<int, 7> quan{-124, 80, 178, 246, 300, 349, 400};
    static constexpr std::array<int, 8> dqln{-2048, 4, 135, 213, 273, 323, 373, 425};
    static constexpr std::array<int, 8> w{-12, 18, 41, 64, 112, 198, 355, 1122};
    static constexpr std::array<int, 8> f{0, 0, 0, 1, 1, 1, 3, 7};
};

template <>
struct Rate<5> {
    static constexpr std::array<int, 15> quan{-122, -16, 68,  139, 198, 250, 298, 339,
                                              378,  413, 445, 475, 502, 528, 553};
    static constexpr std::array<int, 16> dqln{-2048, -66, 28,  104, 169, 224, 274, 318,
                                              358,   395, 429, 459, 488, 514, 539, 566};
    static constexpr std::array<int, 16> w{14,  14,  24,  39,  40,  41,  58,  100,
                                           141, 179, 219, 280, 358, 440, 529, 696};
    static constexpr std::array<int, 16> f{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6};
};

// Number of significant bits of v >= 0 (0 for 0), without branching on v == 0.
inline int bit_length(uint32_t v) { return 31 - __builtin_clz((v << 1) | 1U); }

// v for s == 0, -v for s == 1. Signs of differences are data, so a branch on them would
// be mispredicted half of the time; the hot paths use this and masks instead.
inline int negate_if(int v, int s) { return (v ^ -s) + s; }

// v for c true, 0 for c false.
inline int keep_if(int v, bool c) { return v & -static_cast<int>(c); }

// The 6-bit mantissa of a magnitude with exp significant bits (32 for zero).
inline int mantissa(int mag, int exp) { return ((mag << 6) >> exp) | (mag == 0 ? 32 : 0); }

// ---- Per-rate quantizer: QUAN as a table over every possible DLN ---------------------
// DLN is a 12-bit two's complement value, so |I| for every DLN fits in 4096 bytes.
template <int Bits>
struct Quantizer {
    static constexpr int kCodes = 1 << Bits;
    std::array<uint8_t, 4096> magnitude{};

    constexpr Quantizer() {
        for (int dln = -2048; dln < 2048; ++dln) {
            int mag = 0;
            for (int level : Rate<Bits>::quan) mag += dln >= level ? 1 : 0;
            magnitude[static_cast<size_t>(dln + 2048)] = static_cast<uint8_t>(mag);
        }
    }
};

template <int Bits>
constexpr Quantizer<Bits> kQuantizer{};

// Code word layout: the sign is the top bit; negative magnitudes count down from the
// top (I = 2^bits - 1 - |I|). With an odd number of levels (24, 32, 40 kbit/s) the
// positive zero is sent as the all-ones word too, as the standard's QUAN tables say.
template <int Bits>
inline int code_sign(int code) {
    return code >> (Bits - 1);
}

template <int Bits>
inline int code_magnitude(int code) {
    constexpr int kMask = (1 << Bits) - 1;
    return code_sign<Bits>(code) ? kMask - code : code;
}

// LOG, SUBTB, QUAN: the code word for difference d at scale factor y.
template <int Bits>
inline int quantize(int d, int y) {
    constexpr int kMask = (1 << Bits) - 1;
    const int negative = d < 0 ? 1 : 0;
    const int dqm = negate_if(d, negative);
    const int exp = std::max(bit_length(static_cast<uint32_t>(dqm)) - 1, 0);
    const int dl = (exp << 7) + (((dqm << 7) >> exp) & 127);
    const int dln = dl - (y >> 2);  // stays within 12 bits for every reachable d and y
    const int mag = kQuantizer<Bits>.magnitude[static_cast<size_t>(dln + 2048)];
    // Negative: all-ones minus |I|, i.e. |I| with the bits flipped (|I| < the sign bit).
    int code = mag ^ (-negative & kMask);
    if constexpr (Bits > 2) code += code == 0 ? kMask : 0;  // a positive zero
    return code;
}

// RECONST, ADDA, ANTILOG: magnitude of the quantized difference DQ.
template <int Bits>
inline int dequantize(int mag, int y) {
    const int dql = Rate<Bits>::dqln[static_cast<size_t>(mag)] + (y >> 2);
    // dql >= -2048 + (544 >> 2), so dex stays below 15 even when dql < 0 (DQ = 0 then).
    const int dex = (dql >> 7) & 15;
    return keep_if(((128 + (dql & 127)) << 7) >> (14 - dex), dql >= 0);
}

// FLOATA / FLOATB: a sign (0 or 1) and a 15-bit magnitude in floating-point form.
inline Float to_float(int sign, int mag) {
    const int exp = bit_length(static_cast<uint32_t>(mag));
    return {static_cast<uint8_t>(mantissa(mag, exp)), static_cast<uint8_t>(exp),
            static_cast<int8_t>(-sign)};
}

// The predictor coefficient's half of FMULT (its magnitude's exponent and mantissa) for
// every coefficient, indexed by the coefficient's top 14 bits as an unsigned number. The
// coefficients change with every sample, so this cannot be cached per coefficient; a
// 16 KiB table replaces the absolute value, the bit count and the variable shift of the
// mantissa, about a third of FMULT's instructions.
struct CoefFloat {
    uint8_t mant;
    uint8_t exp;
};

constexpr std::array<CoefFloat, 16384> make_coef_floats() {
    std::array<CoefFloat, 16384> table{};
    for (int top = 0; top < 16384; ++top) {
        const int value = top >= 8192 ? top - 16384 : top;  // coef >> 2, 14 bits signed
        const int mag = (value < 0 ? -value : value) & 8191;  // -8192: magnitude 0 in 13 bits
        int exp = 0;
        while ((mag >> exp) != 0) ++exp;
        const int mant = mag == 0 ? 32 : (mag << 6) >> exp;
        table[static_cast<size_t>(top)] = {static_cast<uint8_t>(mant), static_cast<uint8_t>(exp)};
    }
    return table;
}

constexpr std::array<CoefFloat, 16384> kCoefFloats = make_coef_floats();

// FMULT: coefficient (16-bit two's complement, 14 fraction bits) times a value in
// floating-point form (mantissa, exponent, sign mask), the result as 16-bit two's
// complement.
inline int fmult(int coef, int mant, int exp, int neg) {
    // By reference: a copy is loaded as one 16-bit word and split in registers, which
    // takes more instructions than two byte loads.
    const CoefFloat& c = kCoefFloats[static_cast<size_t>((coef >> 2) & 16383)];
    // Unsigned, so that widening to 64 bits costs no instruction.
    const uint32_t prod = (c.mant * static_cast<uint32_t>(mant) + 48) >> 4;
    // (prod << 7) scaled by 2^(c.exp + exp - 26), kept to 15 bits, without branching.
    const int wmag = static_cast<int>(
        (static_cast<uint64_t>(prod) << (c.exp + exp + 7)) >> 26 & 32767);
    const int diff = (coef >> 31) ^ neg;  // a mask: the signs differ
    return (wmag ^ diff) - diff;
}

inline int fmult(int coef, const Float& x) { return fmult(coef, x.mant, x.exp, x.neg); }

// Shifts a delay line by one place (the last element falls off) and puts v first.
// Unrolled on purpose: GCC turns the loop into a memmove library call otherwise.
template <typename T, size_t N>
inline void push_front(T (&line)[N], T v) {
#pragma GCC unroll 8
    for (size_t i = N - 1; i > 0; --i) line[i] = line[i - 1];
    line[0] = v;
}

inline int16_t wrap16(int v) { return static_cast<int16_t>(static_cast<uint16_t>(v)); }

// What the predictor and the scale factor say before a sample is coded.
struct Estimate {
    int se;   // SE: signal estimate (15 bits)
    int sez;  // SEZ: the zero predictor's part of it
    int y;    // Y: quantizer scale factor
};

// FMULT, ACCUM, MIX (with LIMA).
POLYPTT_INLINE Estimate estimate(const State& s) {
    int sezi = 0;
    for (int i = 0; i < 6; ++i) sezi += fmult(s.b[i], s.dq_mant[i], s.dq_exp[i], s.dq_neg[i]);
    sezi = wrap16(sezi);
    const int sei = wrap16(sezi + fmult(s.a[1], s.sr[1]) + fmult(s.a[0], s.sr[0]));

    const int al = s.ap >= 256 ? 64 : s.ap >> 2;
    const int slow = s.yl >> 6;
    const int dif = s.yu - slow;
    const int prod = negate_if((std::abs(dif) * al) >> 6, dif < 0 ? 1 : 0);
    return {sei >> 1, sezi >> 1, slow + prod};
}

// Everything after the code word is known: reconstruction and every adaptation.
// Returns SR, the reconstructed signal (16-bit two's complement).
template <int Bits>
POLYPTT_INLINE int update(State& s, int code, const Estimate& e) {
    const int sign = code_sign<Bits>(code);
    const int mag = code_magnitude<Bits>(code);
    const int dq = dequantize<Bits>(mag, e.y);  // magnitude; sign separately

    // ADDB, ADDC
    const int dqi = negate_if(dq, sign);
    const int sr = wrap16(e.se + dqi);
    const int dqsez = wrap16(dqi + e.sez);
    const int pk0 = dqsez < 0 ? 1 : 0;
    const bool sigpk = dqsez == 0;

    // TRANS: a large difference while a tone was detected means a data transition.
    const int ylint = s.yl >> 15;
    const int ylfrac = (s.yl >> 10) & 31;
    const int thr = ylint > 9 ? 31 << 10 : (32 + ylfrac) << ylint;
    const int dqthr = (thr + (thr >> 1)) >> 1;
    const bool tr = s.td != 0 && dq > dqthr;

    // FUNCTW, FILTD, LIMB, FILTE
    const int w = Rate<Bits>::w[static_cast<size_t>(mag)];
    s.yu = std::clamp(e.y + (((w << 5) - e.y) >> 5), 544, 5120);
    s.yl += s.yu + ((-s.yl) >> 6);

    // UPA2, LIMC, UPA1, LIMD, UPB, XOR, TRIGB, TONE
    int a2p = 0;
    if (tr) {
        s.a[0] = s.a[1] = 0;
        std::fill(std::begin(s.b), std::end(s.b), int16_t{0});
    } else {
        const int pks1 = pk0 ^ s.pk[0];
        const int pks2 = pk0 ^ s.pk[1];
        // No gradient step when DQ + SEZ is exactly zero (SIGPK).
        const int fa1 = std::clamp(s.a[0], -8191, 8191);
        const int ua2 = 128 - (pks2 << 8) + (negate_if(fa1, pks1 ^ 1) >> 5);
        a2p = s.a[1] - (s.a[1] >> 7) + keep_if(ua2, !sigpk);
        const int a1p = s.a[0] - (s.a[0] >> 8) + keep_if(192 - 384 * pks1, !sigpk);
        a2p = std::clamp(a2p, -12288, 12288);
        const int a1ul = 15360 - a2p;
        s.a[0] = std::clamp(a1p, -a1ul, a1ul);
        s.a[1] = a2p;

        // All eight lanes (see State), in 16-bit arithmetic, which wraps as B does.
        constexpr int kLeak = Bits == 5 ? 9 : 8;
        const int neg = -sign;
        const int step = -static_cast<int>(dq != 0);  // no step when DQ is zero
        // Kept a loop (not unrolled early) so that GCC's loop vectorizer takes it.
#pragma GCC unroll 1
        for (int i = 0; i < 8; ++i) {
            const int dir = 128 + ((neg ^ s.dq_neg[i]) & -256);  // +128 same sign, else -128
            s.b[i] = static_cast<int16_t>(s.b[i] - (s.b[i] >> kLeak) + (step & dir));
        }
    }
    s.td = (!tr && a2p < -11776) ? 1 : 0;

    // FUNCTF, FILTA, FILTB, SUBTC, FILTC, TRIGA
    const int f = Rate<Bits>::f[static_cast<size_t>(mag)];
    s.dms += ((f << 9) - s.dms) >> 5;
    s.dml += ((f << 11) - s.dml) >> 7;
    if (tr) {
        s.ap = 256;
    } else {
        const int diff = (s.dms << 2) - s.dml;
        const bool fast = e.y < 1536 || s.td != 0 || (diff < 0 ? -diff : diff) >= (s.dml >> 3);
        s.ap += ((static_cast<int>(fast) << 9) - s.ap) >> 4;
    }

    // DELAY, FLOATA, FLOATB
    const Float dqf = to_float(sign, dq);
    push_front(s.dq_mant, dqf.mant);
    push_front(s.dq_exp, dqf.exp);
    push_front(s.dq_neg, int16_t{dqf.neg});
    s.sr[1] = s.sr[0];
    s.sr[0] = to_float(sr < 0 ? 1 : 0, std::abs(sr) & 32767);  // -32768: magnitude 0
    s.pk[1] = s.pk[0];
    s.pk[0] = pk0;
    return sr;
}

// ---- Law conversions around the core (EXPAND, COMPRESS, SYNC) -------------------------

// EXPAND: a G.711 code to 14-bit linear.
template <Law L>
inline int expand(uint8_t code) {
    if constexpr (L == Law::alaw) {
        return g711::alaw_decode(code) >> 2;
    } else {
        return g711::ulaw_decode(code) >> 2;
    }
}

inline int16_t saturate16(int v) { return static_cast<int16_t>(std::clamp(v, -32768, 32767)); }

// COMPRESS: SR (16-bit two's complement, 14-bit scale) to a G.711 code. The standard
// takes the magnitude of a negative SR by negation (SR = -32768 has magnitude 0); A-law
// then rounds the 13-bit magnitude up, which is the one's complement the G.711 tables use,
// while mu-law keeps the negated magnitude.
template <Law L>
inline uint8_t compress(int sr) {
    if constexpr (L == Law::alaw) {
        return g711::alaw_encode(sr == -32768 ? int16_t{-1} : saturate16(sr * 4));
    } else {
        if (sr >= 0) return g711::ulaw_encode(saturate16(sr * 4));
        return g711::ulaw_encode(sr == -32768 ? int16_t{-1} : saturate16(sr * 4 - 1));
    }
}

// The neighbouring G.711 code one step down (or up) in value. mu-law has two zeros, and a
// step from either lands on +1 / -1; A-law's smallest steps are +-1 around zero.
template <Law L>
inline uint8_t step_code(uint8_t code, bool down) {
    constexpr int kSignBit = 0x80;
    constexpr int kFlip = L == Law::alaw ? 0x55 : 0x7F;  // makes magnitude count up
    constexpr int kZeroCross = L == Law::alaw ? 0 : 1;   // magnitude after crossing zero
    const bool positive = (code & kSignBit) != 0;
    int mag = (code ^ kFlip) & 0x7F;
    bool pos = positive;
    if (positive == down) {  // towards zero
        if (mag > 0) {
            --mag;
        } else {
            pos = !pos;
            mag = kZeroCross;
        }
    } else if (mag < 127) {
        ++mag;
    }
    return static_cast<uint8_t>(((pos ? kSignBit : 0) | mag) ^ kFlip);
}

// SYNC: nudges the output code so that a tandem encoder would send the same code word
// again (synchronous tandem coding, G.726 section 4.2.8).
template <int Bits, Law L>
inline uint8_t sync(int code, int sr, const Estimate& e) {
    const uint8_t sp = compress<L>(sr);
    const int id = quantize<Bits>(expand<L>(sp) - e.se, e.y);
    if (id == code) return sp;
    // Code words ordered by value: flip the sign bit to get an unsigned order.
    constexpr int kSign = 1 << (Bits - 1);
    return step_code<L>(sp, (id ^ kSign) > (code ^ kSign));
}

// ---- Loops ------------------------------------------------------------------------

template <int Bits, typename Input, typename ToLinear>
void encode_loop(State& s, const Input* in, size_t n, uint8_t* codes, ToLinear to_linear) {
    State st = s;  // a local copy lets the compiler keep it out of memory
    for (size_t i = 0; i < n; ++i) {
        const Estimate e = estimate(st);
        const int code = quantize<Bits>(to_linear(in[i]) - e.se, e.y);
        update<Bits>(st, code, e);
        codes[i] = static_cast<uint8_t>(code);
    }
    s = st;
}

template <int Bits, typename Output, typename FromState>
void decode_loop(State& s, const uint8_t* codes, size_t n, Output* out, FromState output) {
    constexpr int kMask = (1 << Bits) - 1;
    State st = s;
    for (size_t i = 0; i < n; ++i) {
        const int code = codes[i] & kMask;
        const Estimate e = estimate(st);
        const int sr = update<Bits>(st, code, e);
        out[i] = output(code, sr, e);
    }
    s = st;
}

template <int Bits>
void encode_rate(State& s, Law law, const int16_t* pcm, size_t n, uint8_t* codes) {
    (void)law;
    encode_loop<Bits>(s, pcm, n, codes, [](int16_t x) { return x >> 2; });
}

template <int Bits>
void encode_rate(State& s, Law law, const uint8_t* in, size_t n, uint8_t* codes) {
    if (law == Law::alaw) {
        encode_loop<Bits>(s, in, n, codes, expand<Law::alaw>);
    } else {
        encode_loop<Bits>(s, in, n, codes, expand<Law::ulaw>);
    }
}

template <int Bits>
void decode_rate(State& s, Law law, const uint8_t* codes, size_t n, int16_t* pcm) {
    (void)law;
    decode_loop<Bits>(s, codes, n, pcm,
                      [](int, int sr, const Estimate&) { return saturate16(sr * 4); });
}

template <int Bits>
void decode_rate(State& s, Law law, const uint8_t* codes, size_t n, uint8_t* out) {
    if (law == Law::alaw) {
        decode_loop<Bits>(s, codes, n, out, sync<Bits, Law::alaw>);
    } else {
        decode_loop<Bits>(s, codes, n, out, sync<Bits, Law::ulaw>);
    }
}

// Calls fn.template operator()<Bits>() for the run-time rate: the one switch per call.
template <typename Fn>
void with_rate(int bits, Fn&& fn) {
    switch (bits) {
        case 2: fn(std::integral_constant<int, 2>{}); break;
        case 3: fn(std::integral_constant<int, 3>{}); break;
        case 4: fn(std::integral_constant<int, 4>{}); break;
        default: fn(std::integral_constant<int, 5>{}); break;
    }
}

void check_bits(int bits) {
    if (!valid_bits(bits)) {
        throw std::invalid_argument("G.726 code words have 2 to 5 bits (16 to 40 kbit/s), got " +
                                    std::to_string(bits));
    }
}

void check_law(Law law, bool want_linear, const char* what) {
    if ((law == Law::linear) != want_linear) {
        throw std::invalid_argument(std::string(what) + ": the coder's law does not match the "
                                    "sample type (linear takes 16-bit PCM, alaw/ulaw bytes)");
    }
}

}  // namespace

bool State::operator==(const State& o) const {
    // Lanes 6 and 7 of the zero predictor arrays are scratch (see State).
    return yu == o.yu && yl == o.yl && dms == o.dms && dml == o.dml && ap == o.ap &&
           std::equal(a, a + 2, o.a) && std::equal(pk, pk + 2, o.pk) && td == o.td &&
           std::equal(sr, sr + 2, o.sr) && std::equal(b, b + 6, o.b) &&
           std::equal(dq_neg, dq_neg + 6, o.dq_neg) &&
           std::equal(dq_mant, dq_mant + 6, o.dq_mant) &&
           std::equal(dq_exp, dq_exp + 6, o.dq_exp);
}

State initial_state() {
    State s{};
    s.yu = 544;
    s.yl = 34816;
    std::fill(std::begin(s.dq_mant), std::end(s.dq_mant), uint8_t{32});
    for (Float& f : s.sr) f = {32, 0, 0, 0};
    return s;
}

Coder::Coder(int bits, Law law) : state_(initial_state()), bits_(bits), law_(law) {
    check_bits(bits);
}

void Encoder::encode(const int16_t* pcm, size_t n, uint8_t* codes) {
    check_law(law_, true, "G.726 encode");
    with_rate(bits_, [&](auto rate) { encode_rate<decltype(rate)::value>(state_, law_, pcm, n, codes); });
}

void Encoder::encode(const uint8_t* law_codes, size_t n, uint8_t* codes) {
    check_law(law_, false, "G.726 encode");
    with_rate(bits_, [&](auto rate) {
        encode_rate<decltype(rate)::value>(state_, law_, law_codes, n, codes);
    });
}

void Decoder::decode(const uint8_t* codes, size_t n, int16_t* pcm) {
    check_law(law_, true, "G.726 decode");
    with_rate(bits_, [&](auto rate) { decode_rate<decltype(rate)::value>(state_, law_, codes, n, pcm); });
}

void Decoder::decode(const uint8_t* codes, size_t n, uint8_t* law_codes) {
    check_law(law_, false, "G.726 decode");
    with_rate(bits_, [&](auto rate) {
        decode_rate<decltype(rate)::value>(state_, law_, codes, n, law_codes);
    });
}

}  // namespace polyptt::g726
