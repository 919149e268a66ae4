// What every tile kernel source shares: the AIE2 guard, trace markers and bf16 emulation.
//
// One source per kernel builds twice:
//  - for AIE2 with Peano (clang++ --target=aie2-none-unknown-elf), where __AIE_ARCH__ is predefined (20 for
//    AIE2, 21 for AIE2P): aie_api vector code and event0()/event1() trace markers around the compute;
//  - for the host (this repository's build): portable scalar code with the same arithmetic, which the
//    emulator runs and the tests check.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__AIE_ARCH__)
#define NPU_AIE 1
#include <aie_api/aie.hpp>
#define NPU_TRACE_BEGIN() event0()
#define NPU_TRACE_END() event1()
#else
#define NPU_AIE 0
#define NPU_TRACE_BEGIN() ((void)0)
#define NPU_TRACE_END() ((void)0)
#endif

namespace npuscribe::kernels {

// bfloat16 as its 16 bits. Conversion from float rounds to nearest, ties to even (the AIE2 default is
// round toward floor unless round-to-nearest-even is selected; the kernels select RNE, aie::set_rounding
// (aie::rounding_mode::conv_even), and the host emulation does the same bit for bit). NaN stays NaN.
struct bf16 {
  std::uint16_t bits = 0;
};

inline bf16 to_bf16(float value) {
  std::uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0)
    return bf16{static_cast<std::uint16_t>((u >> 16) | 0x40u)};
  const std::uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return bf16{static_cast<std::uint16_t>((u + rounding) >> 16)};
}

inline float to_float(bf16 value) {
  const std::uint32_t u = static_cast<std::uint32_t>(value.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Rounds a float to the nearest bf16 value, returned as float.
inline float round_bf16(float value) {
  return to_float(to_bf16(value));
}

// Symmetric int8 range used everywhere: -127..127 (never -128, so |a * b| <= 127 * 127).
inline constexpr int kInt8Max = 127;

}  // namespace npuscribe::kernels
