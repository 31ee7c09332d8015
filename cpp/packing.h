// Bit packings of G.726 code words (2..5 bits each) into bytes, for streams cut into
// arbitrary chunks: a Packer keeps the bits that do not fill a byte yet, an Unpacker the
// bits that do not form a code word yet.
//
//  - unpacked: one code word per byte, in the low bits.
//  - rfc3551:  RFC 3551 "G726-xx" for RTP: least significant bit first, the first code
//              word in the low bits of the first byte.
//  - aal2:     ITU-T I.366.2 "big-endian": most significant bit first, the first code word
//              in the top bits of the first byte.
//  - qi:       G.726QI of the paging protocol: aal2, then the 8 bits of every byte reversed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace polyptt::packing {

enum class Packing : uint8_t { unpacked, rfc3551, aal2, qi };

class Packer {
public:
    Packer(int bits, Packing packing);

    // Bytes pack() will produce for n more code words.
    size_t packed_size(size_t n) const;
    // Appends n code words (low bits of each byte); writes packed_size(n) bytes to out.
    size_t pack(const uint8_t* codes, size_t n, uint8_t* out);
    // Writes the pending partial byte, zero-padded, if any (0 or 1 bytes) and empties.
    size_t flush(uint8_t* out);
    void reset() { acc_ = 0; pending_ = 0; }
    int pending_bits() const { return pending_; }
    int bits() const { return bits_; }
    Packing packing() const { return packing_; }

private:
    uint32_t acc_ = 0;  // pending bits (rfc3551: at the bottom; aal2/qi: the low pending_)
    int pending_ = 0;   // always < 8
    int bits_;
    Packing packing_;
};

class Unpacker {
public:
    Unpacker(int bits, Packing packing);

    // Code words unpack() will produce for n more bytes.
    size_t unpacked_size(size_t n) const;
    // Writes unpacked_size(n) code words (one per byte) to codes.
    size_t unpack(const uint8_t* data, size_t n, uint8_t* codes);
    void reset() { acc_ = 0; pending_ = 0; }
    int pending_bits() const { return pending_; }
    int bits() const { return bits_; }
    Packing packing() const { return packing_; }

private:
    uint32_t acc_ = 0;
    int pending_ = 0;  // always < bits
    int bits_;
    Packing packing_;
};

}  // namespace polyptt::packing
