// Self-attention of one head built from the tile kernels (host composition of what the design runs on the
// array): int8 Q and K (dynamic scales), int8 x int8 -> int32 scores, the bf16 softmax row kernel with int8
// probabilities, int8 P x int8 V -> int32, requantised to bf16.
#pragma once

#include <cstdint>
#include <vector>

#include "encoder_layer.h"
#include "mm_int8.h"

namespace npuscribe::kernels {

struct AttentionScratch {
  std::vector<std::int8_t> q8, k8, v8t, p8;
  std::vector<float> q_scales, k_scales, v_scales, row_scales, vt;
  std::vector<std::int32_t> scores, pv;
};

// out[i][c] (c < head_dim) = sum_j softmax_j(q_i . k_j / sqrt(head_dim)) v[j][c] for n rows; q, k, v and
// out are row-major with row strides ld and ld_out (floats). Scales: Q and K per token (or per tensor),
// V per channel (contraction runs over tokens), probabilities fixed 1/127 with the row sum of the int8
// probabilities as the normaliser.
void attention_head(const float* q, const float* k, const float* v, int ld, int n, int head_dim,
                    const GemmI8& gemm, ActivationScaling scaling, AttentionScratch& scratch, float* out,
                    int ld_out);

}  // namespace npuscribe::kernels
