#include "model/quant.h"

#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "util/error.h"
#include "util/f16.h"

namespace npuscribe {

bool is_quantized(GgmlType type) {
  switch (type) {
    case GgmlType::q4_0:
    case GgmlType::q4_1:
    case GgmlType::q5_0:
    case GgmlType::q5_1:
    case GgmlType::q8_0:
      return true;
    case GgmlType::f32:
    case GgmlType::f16:
      return false;
  }
  return false;
}

namespace {

#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)

template <GgmlType kType>
void dequantize_blocks(const std::byte* source, float* destination, std::int64_t block_count) {
  using namespace quant_simd;
  for (std::int64_t b = 0; b < block_count; ++b) {
    const DecodedBlock block = decode_block<kType>(source + b * block_bytes<kType>);
    float* out = destination + b * kQuantBlockElements;
    const __m256 d = _mm256_set1_ps(block.d);
    // q * d is exact in float32 (at most 8 integer bits times an 11-bit significand); with an offset the
    // fused multiply-add rounds once, exactly like ggml's q * d + m.
    auto convert = [&](__m256 q) {
      if constexpr (has_offset<kType>) {
        return _mm256_fmadd_ps(q, d, _mm256_set1_ps(block.m));
      } else {
        return _mm256_mul_ps(q, d);
      }
    };
    _mm256_storeu_ps(out + 0, convert(chunk_as_float<0>(block.q)));
    _mm256_storeu_ps(out + 8, convert(chunk_as_float<1>(block.q)));
    _mm256_storeu_ps(out + 16, convert(chunk_as_float<2>(block.q)));
    _mm256_storeu_ps(out + 24, convert(chunk_as_float<3>(block.q)));
  }
}

#else

// Portable version: the same arithmetic, one element at a time.
template <GgmlType kType>
void dequantize_blocks(const std::byte* source, float* destination, std::int64_t block_count) {
  for (std::int64_t b = 0; b < block_count; ++b) {
    float* out = destination + b * kQuantBlockElements;
    if constexpr (kType == GgmlType::q8_0) {
      BlockQ8_0 block;
      std::memcpy(&block, source + b * sizeof(block), sizeof(block));
      const float d = f16_to_f32(block.d);
      for (int j = 0; j < 32; ++j) out[j] = static_cast<float>(block.qs[j]) * d;
    } else if constexpr (kType == GgmlType::q4_0 || kType == GgmlType::q4_1) {
      using Block = std::conditional_t<kType == GgmlType::q4_0, BlockQ4_0, BlockQ4_1>;
      Block block;
      std::memcpy(&block, source + b * sizeof(block), sizeof(block));
      const float d = f16_to_f32(block.d);
      for (int i = 0; i < 16; ++i) {
        if constexpr (kType == GgmlType::q4_0) {
          out[i] = static_cast<float>((block.qs[i] & 0x0F) - 8) * d;
          out[i + 16] = static_cast<float>((block.qs[i] >> 4) - 8) * d;
        } else {
          const float m = f16_to_f32(block.m);
          out[i] = std::fma(static_cast<float>(block.qs[i] & 0x0F), d, m);
          out[i + 16] = std::fma(static_cast<float>(block.qs[i] >> 4), d, m);
        }
      }
    } else {
      using Block = std::conditional_t<kType == GgmlType::q5_0, BlockQ5_0, BlockQ5_1>;
      Block block;
      std::memcpy(&block, source + b * sizeof(block), sizeof(block));
      std::uint32_t high;
      std::memcpy(&high, block.qh, 4);
      const float d = f16_to_f32(block.d);
      for (int i = 0; i < 16; ++i) {
        const int q_low = (block.qs[i] & 0x0F) | static_cast<int>(((high >> i) & 1u) << 4);
        const int q_high = (block.qs[i] >> 4) | static_cast<int>(((high >> (i + 16)) & 1u) << 4);
        if constexpr (kType == GgmlType::q5_0) {
          out[i] = static_cast<float>(q_low - 16) * d;
          out[i + 16] = static_cast<float>(q_high - 16) * d;
        } else {
          const float m = f16_to_f32(block.m);
          out[i] = std::fma(static_cast<float>(q_low), d, m);
          out[i + 16] = std::fma(static_cast<float>(q_high), d, m);
        }
      }
    }
  }
}

#endif

}  // namespace

void dequantize_row(GgmlType type, const std::byte* source, float* destination, std::int64_t element_count) {
  if (type == GgmlType::f32) {
    std::memcpy(destination, source, static_cast<std::size_t>(element_count) * sizeof(float));
    return;
  }
  if (type == GgmlType::f16) {
    convert_f16_to_f32(source, destination, static_cast<std::size_t>(element_count));
    return;
  }
  if (element_count % kQuantBlockElements != 0) {
    throw Error("dequantize_row: " + std::to_string(element_count) + " elements of type " +
                std::string(ggml_type_name(type)) + " are not whole 32-element blocks");
  }
  const std::int64_t blocks = element_count / kQuantBlockElements;
  switch (type) {
    case GgmlType::q4_0:
      dequantize_blocks<GgmlType::q4_0>(source, destination, blocks);
      return;
    case GgmlType::q4_1:
      dequantize_blocks<GgmlType::q4_1>(source, destination, blocks);
      return;
    case GgmlType::q5_0:
      dequantize_blocks<GgmlType::q5_0>(source, destination, blocks);
      return;
    case GgmlType::q5_1:
      dequantize_blocks<GgmlType::q5_1>(source, destination, blocks);
      return;
    case GgmlType::q8_0:
      dequantize_blocks<GgmlType::q8_0>(source, destination, blocks);
      return;
    default:
      break;
  }
  throw Error("dequantize_row: unsupported ggml type " + std::string(ggml_type_name(type)));
}

}  // namespace npuscribe
