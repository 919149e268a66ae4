#include "util/f16.h"

#include <immintrin.h>

namespace npuscribe {

std::uint16_t f32_to_f16(float value) {
  // _cvtss_sh rounds to nearest even (imm 0) and handles subnormals, inf and nan.
  return static_cast<std::uint16_t>(_cvtss_sh(value, 0));
}

void convert_f16_to_f32(const void* f16_source, float* destination, std::size_t count) {
  const auto* source = static_cast<const std::uint8_t*>(f16_source);
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(source + 2 * i));
    _mm256_storeu_ps(destination + i, _mm256_cvtph_ps(halves));
  }
  for (; i < count; ++i) {
    std::uint16_t half;
    std::memcpy(&half, source + 2 * i, sizeof(half));
    destination[i] = f16_to_f32(half);
  }
}

}  // namespace npuscribe
