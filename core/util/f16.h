// IEEE binary16 <-> float32. The widening conversion is exact, so f16 weights used in float32 arithmetic
// are the very values whisper.cpp multiplies with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace npuscribe {

inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

// Round-to-nearest-even float32 -> binary16 (used by tests and the model writer).
std::uint16_t f32_to_f16(float value);

// Converts count values from possibly unaligned f16 storage; vectorised with F16C.
void convert_f16_to_f32(const void* f16_source, float* destination, std::size_t count);

}  // namespace npuscribe
