// The encoder layer program on the host: parses a layer image (encoder_layer.h) and runs one layer with the
// tile kernels in the order the layer design runs them on the array. The emulator runs it with its exact
// fast GEMM; tests run it with the tile GEMM to prove both identical. Host only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "attention.h"
#include "mm_int8.h"

namespace npuscribe::kernels {

// Checks the header and size of a layer image and fills the view. Returns an empty string on success, else
// what is wrong.
std::string parse_encoder_layer(const std::byte* bytes, std::size_t size, EncoderLayerView* view);

struct EncoderLayerScratch {
  std::vector<float> normed, q, k, v, attended, hidden;
  std::vector<std::int8_t> a8;
  std::vector<float> a_scales;
  std::vector<std::int32_t> acc;
  std::vector<AttentionScratch> heads;
};

// x [n_ctx][d] fp32 in place: x += attn(LN1(x)); x += mlp(LN2(x)), every step on the tile kernels (see
// kernels/README.md for the formats); GEMMs through `gemm`.
void run_encoder_layer(const EncoderLayerView& layer, float* x, int n_ctx, const GemmI8& gemm,
                       EncoderLayerScratch& scratch);

}  // namespace npuscribe::kernels
