// ggml's quantised block types as whisper.cpp's quantizer writes them (q4_0, q4_1, q5_0, q5_1, q8_0) and
// their exact conversion to float32. A block covers 32 consecutive elements of a row; the f16 fields widen
// exactly, the integer times the scale is exact in float32, and only the "+ m" of q4_1/q5_1 rounds (once,
// to nearest even), so the results are bit-identical to ggml's to_float.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/ggml_file.h"

namespace npuscribe {

inline constexpr int kQuantBlockElements = 32;

// On-disk layouts, little-endian, packed (every field is 1- or 2-byte aligned, so no padding). Data in the
// file mapping is unaligned: copy a block out (std::memcpy) before reading it through these structs.
struct BlockQ4_0 {
  std::uint16_t d;      // f16 scale
  std::uint8_t qs[16];  // byte i: element i (low nibble), element i + 16 (high nibble)
};
struct BlockQ4_1 {
  std::uint16_t d;  // f16 scale
  std::uint16_t m;  // f16 offset
  std::uint8_t qs[16];
};
struct BlockQ5_0 {
  std::uint16_t d;
  std::uint8_t qh[4];  // little-endian uint32: bit j is the fifth bit of element j
  std::uint8_t qs[16];
};
struct BlockQ5_1 {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
struct BlockQ8_0 {
  std::uint16_t d;
  std::int8_t qs[32];
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);

// True for the block-quantised types above (not f32/f16).
bool is_quantized(GgmlType type);

// Converts element_count elements (a multiple of 32 for quantised types) stored as `type` at source (any
// alignment) to float32, exactly as ggml's to_float does. Also accepts f32 (copy) and f16 (exact widening).
void dequantize_row(GgmlType type, const std::byte* source, float* destination, std::int64_t element_count);

}  // namespace npuscribe

#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <immintrin.h>

#include <cstring>

// AVX2 block decoders shared by dequantize_row and the fused small-m product in ops.cpp. Only visible to
// code compiled for x86-64-v3 (core/); the tests use the portable API above.
namespace npuscribe::quant_simd {

// One block as 32 signed bytes in element order (the integer ggml multiplies by d: nibble - 8 for q4_0,
// q - 16 for q5_0, q for the others), its scale d and, for q4_1/q5_1, its offset m.
struct DecodedBlock {
  __m256i q;
  float d;
  float m;
};

inline float load_f16(const std::byte* p) {
  std::uint16_t half;
  std::memcpy(&half, p, 2);
  return _cvtsh_ss(half);
}

// 16 nibble bytes -> 32 bytes: elements 0-15 from the low nibbles, 16-31 from the high nibbles.
inline __m256i unpack_nibbles(const std::byte* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i low = _mm_and_si128(packed, mask);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
  return _mm256_set_m128i(high, low);
}

// The 32 bits of qh as 32 bytes: 0x10 where bit j is set, 0 elsewhere.
inline __m256i fifth_bits(const std::byte* qh) {
  std::uint32_t bits;
  std::memcpy(&bits, qh, 4);
  // Byte j takes byte j / 8 of the word, then isolates bit j % 8.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i select = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

template <GgmlType kType>
inline DecodedBlock decode_block(const std::byte* block) {
  DecodedBlock out;
  out.d = load_f16(block);
  out.m = 0.0f;
  if constexpr (kType == GgmlType::q8_0) {
    out.q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
  } else if constexpr (kType == GgmlType::q4_0) {
    out.q = _mm256_sub_epi8(unpack_nibbles(block + 2), _mm256_set1_epi8(8));
  } else if constexpr (kType == GgmlType::q4_1) {
    out.m = load_f16(block + 2);
    out.q = unpack_nibbles(block + 4);
  } else if constexpr (kType == GgmlType::q5_0) {
    out.q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(block + 6), fifth_bits(block + 2)),
                            _mm256_set1_epi8(16));
  } else {
    static_assert(kType == GgmlType::q5_1);
    out.m = load_f16(block + 2);
    out.q = _mm256_or_si256(unpack_nibbles(block + 8), fifth_bits(block + 4));
  }
  return out;
}

// Elements 8 i .. 8 i + 7 of a decoded block as float32 integers (exact).
template <int kChunk>
inline __m256 chunk_as_float(__m256i q) {
  const __m128i half = kChunk < 2 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
  const __m128i bytes = (kChunk % 2) == 0 ? half : _mm_srli_si128(half, 8);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
}

template <GgmlType kType>
inline constexpr bool has_offset = kType == GgmlType::q4_1 || kType == GgmlType::q5_1;

template <GgmlType kType>
inline constexpr int block_bytes = kType == GgmlType::q4_0   ? 18
                                   : kType == GgmlType::q4_1 ? 20
                                   : kType == GgmlType::q5_0 ? 22
                                   : kType == GgmlType::q5_1 ? 24
                                                             : 34;

}  // namespace npuscribe::quant_simd
#endif
