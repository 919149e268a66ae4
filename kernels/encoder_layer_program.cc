#include "encoder_layer_program.h"

#include <cstring>

#include "gelu_bf16.h"
#include "layernorm.h"

namespace npuscribe::kernels {

std::string parse_encoder_layer(const std::byte* bytes, std::size_t size, EncoderLayerView* view) {
  if (size < sizeof(EncoderLayerHeader)) return "the layer image is shorter than its header";
  EncoderLayerHeader header;
  std::memcpy(&header, bytes, sizeof header);
  if (header.magic != kEncoderLayerMagic) return "the layer image has a wrong magic number";
  if (header.version != kEncoderLayerVersion) return "the layer image has an unsupported version";
  if (header.d_model == 0 || header.d_ff == 0 || header.n_head == 0 || header.d_model % header.n_head != 0)
    return "the layer image has inconsistent dimensions";
  if (header.activation_scaling > static_cast<std::uint32_t>(ActivationScaling::per_tensor))
    return "the layer image has an unknown activation scaling";
  const EncoderLayerLayout l = encoder_layer_layout(header.d_model, header.d_ff);
  if (header.total_bytes != l.total_bytes || size != l.total_bytes)
    return "the layer image size does not match its dimensions";
  if (reinterpret_cast<std::uintptr_t>(bytes) % 4 != 0) return "the layer image is not 4-byte aligned";
  auto i8 = [bytes](std::uint64_t offset) { return reinterpret_cast<const std::int8_t*>(bytes + offset); };
  auto f32 = [bytes](std::uint64_t offset) { return reinterpret_cast<const float*>(bytes + offset); };
  *view = EncoderLayerView{header,          i8(l.wq),         i8(l.wk),       i8(l.wv),      i8(l.wo),
                           i8(l.w_up),      i8(l.w_down),     f32(l.sq),      f32(l.sk),     f32(l.sv),
                           f32(l.so),       f32(l.s_up),      f32(l.s_down),  f32(l.bq),     f32(l.bk),
                           f32(l.bv),       f32(l.bo),        f32(l.b_up),    f32(l.b_down), f32(l.ln1_gamma),
                           f32(l.ln1_beta), f32(l.ln2_gamma), f32(l.ln2_beta)};
  return {};
}

namespace {

// LN(x) -> int8 rows with dynamic scales, into scratch.a8 / a_scales.
void normalise_and_quantise(const float* x, int n, int d, const float* gamma, const float* beta,
                            ActivationScaling scaling, EncoderLayerScratch& s) {
  s.normed.resize(static_cast<std::size_t>(n) * d);
  layernorm_affine_rows(x, n, d, d, gamma, beta, s.normed.data(), d);
  quantize_rows_i8(s.normed.data(), n, d, d, s.a8.data(), d, s.a_scales.data(), scaling);
}

}  // namespace

void run_encoder_layer(const EncoderLayerView& layer, float* x, int n, const GemmI8& gemm,
                       EncoderLayerScratch& s) {
  const int d = static_cast<int>(layer.header.d_model);
  const int d_ff = static_cast<int>(layer.header.d_ff);
  const int heads = static_cast<int>(layer.header.n_head);
  const int head_dim = d / heads;
  const auto scaling = static_cast<ActivationScaling>(layer.header.activation_scaling);
  const std::size_t nd = static_cast<std::size_t>(n) * d;
  s.a8.resize(static_cast<std::size_t>(n) * d_ff);
  s.a_scales.resize(static_cast<std::size_t>(n));
  s.acc.resize(static_cast<std::size_t>(n) * d_ff);
  s.q.resize(nd);
  s.k.resize(nd);
  s.v.resize(nd);
  s.attended.resize(nd);
  s.hidden.resize(static_cast<std::size_t>(n) * d_ff);

  // Attention: LN1 + affine + quantise, the three projections requantised to bf16.
  normalise_and_quantise(x, n, d, layer.ln1_gamma, layer.ln1_beta, scaling, s);
  const std::int8_t* weights[3] = {layer.wq, layer.wk, layer.wv};
  const float* scales[3] = {layer.sq, layer.sk, layer.sv};
  const float* biases[3] = {layer.bq, layer.bk, layer.bv};
  float* outputs[3] = {s.q.data(), s.k.data(), s.v.data()};
  for (int p = 0; p < 3; ++p) {
    gemm.run(s.a8.data(), d, weights[p], d, s.acc.data(), d, n, d, d);
    requantize_rows(s.acc.data(), n, d, d, s.a_scales.data(), scales[p], biases[p], outputs[p], d,
                    RequantOutput::store_bf16);
  }
  // Heads are independent: on the array they go to different tiles; here to different threads.
  if (s.heads.size() < static_cast<std::size_t>(heads)) s.heads.resize(static_cast<std::size_t>(heads));
#pragma omp parallel for schedule(dynamic, 1)
  for (int h = 0; h < heads; ++h) {
    const std::size_t offset = static_cast<std::size_t>(h) * head_dim;
    attention_head(s.q.data() + offset, s.k.data() + offset, s.v.data() + offset, d, n, head_dim, gemm,
                   scaling, s.heads[static_cast<std::size_t>(h)], s.attended.data() + offset, d);
  }
  quantize_rows_i8(s.attended.data(), n, d, d, s.a8.data(), d, s.a_scales.data(), scaling);
  gemm.run(s.a8.data(), d, layer.wo, d, s.acc.data(), d, n, d, d);
  requantize_rows(s.acc.data(), n, d, d, s.a_scales.data(), layer.so, layer.bo, x, d,
                  RequantOutput::accumulate_f32);

  // MLP: LN2 + affine + quantise, up-projection to bf16, GELU (bf16), quantise, down-projection into x.
  normalise_and_quantise(x, n, d, layer.ln2_gamma, layer.ln2_beta, scaling, s);
  gemm.run(s.a8.data(), d, layer.w_up, d, s.acc.data(), d_ff, n, d_ff, d);
  requantize_rows(s.acc.data(), n, d_ff, d_ff, s.a_scales.data(), layer.s_up, layer.b_up, s.hidden.data(),
                  d_ff, RequantOutput::store_bf16);
  gelu_rows_bf16(s.hidden.data(), s.hidden.size());
  quantize_rows_i8(s.hidden.data(), n, d_ff, d_ff, s.a8.data(), d_ff, s.a_scales.data(), scaling);
  gemm.run(s.a8.data(), d_ff, layer.w_down, d_ff, s.acc.data(), d, n, d, d_ff);
  requantize_rows(s.acc.data(), n, d, d, s.a_scales.data(), layer.s_down, layer.b_down, x, d,
                  RequantOutput::accumulate_f32);
}

}  // namespace npuscribe::kernels
