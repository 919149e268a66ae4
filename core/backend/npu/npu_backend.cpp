#include "backend/npu/npu_backend.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "mm_int8.h"
#include "ops/ops.h"
#include "util/error.h"

namespace npuscribe {

namespace {

// The one place that says which op runs where (kernels/README.md repeats it).
constexpr std::array kPlacement = {
    NpuOpPlacement{"conv stem (conv1, GELU, conv2, GELU)", "host", "CpuEncoderBackend::conv_stem",
                   "fp32, OpenBLAS"},
    NpuOpPlacement{"positional embedding", "host", "Encoder::encode", "fp32"},
    NpuOpPlacement{"LayerNorm + affine + quantise (attention, MLP)", "npu",
                   "layernorm_row_bf16, affine_row_bf16, quantize_row_i8", "fp32 in, bf16 out, int8 + scale"},
    NpuOpPlacement{"Q/K/V projections", "npu", "matmul_i8_i32, requantize_rows",
                   "int8 x int8 -> int32, requantised to bf16 (+bias)"},
    NpuOpPlacement{"attention scores Q.K^T per head", "npu", "matmul_i8_i32",
                   "int8 (per-token scales) x int8 -> int32"},
    NpuOpPlacement{"softmax (max-subtracted)", "npu", "attention_softmax_row (exp_bf16)",
                   "bf16, probabilities to int8 (scale 1/127)"},
    NpuOpPlacement{"probabilities x V per head", "npu", "matmul_i8_i32, requantize_rows",
                   "int8 x int8 (per-channel V scales) -> int32 -> bf16"},
    NpuOpPlacement{"attention output projection + residual", "npu", "matmul_i8_i32, requantize_rows",
                   "int8 x int8 -> int32, added to the fp32 residual"},
    NpuOpPlacement{"MLP up-projection", "npu", "matmul_i8_i32, requantize_rows",
                   "int8 x int8 -> int32 -> bf16"},
    NpuOpPlacement{"GELU (tanh form)", "npu", "gelu_bf16", "bf16, 32-segment tanh"},
    NpuOpPlacement{"MLP down-projection + residual", "npu", "matmul_i8_i32, requantize_rows",
                   "int8 x int8 -> int32, added to the fp32 residual"},
    NpuOpPlacement{"final LayerNorm (ln_post)", "host", "CpuEncoderBackend::post_norm", "fp32"},
};

template <typename T>
void put(std::vector<std::byte>& bytes, std::uint64_t offset, const T* values, std::size_t count) {
  std::memcpy(bytes.data() + offset, values, count * sizeof(T));
}

}  // namespace

std::span<const NpuOpPlacement> npu_op_placement() {
  return kPlacement;
}

void quantize_weight_matrix(const WeightMatrix& w, std::int8_t* q, float* scales) {
  constexpr int kRowsPerChunk = 64;
#pragma omp parallel
  {
    std::vector<float> rows(static_cast<std::size_t>(kRowsPerChunk) * w.cols);
#pragma omp for schedule(dynamic, 1)
    for (int r0 = 0; r0 < w.rows; r0 += kRowsPerChunk) {
      const int r1 = std::min(w.rows, r0 + kRowsPerChunk);
      ops::widen_rows(w, r0, r1, rows.data());
      for (int r = r0; r < r1; ++r) {
        const float* row = rows.data() + static_cast<std::size_t>(r - r0) * w.cols;
        float max_abs = 0.0f;
        for (int c = 0; c < w.cols; ++c) max_abs = std::max(max_abs, std::fabs(row[c]));
        scales[r] = max_abs / kernels::kInt8Max;
        kernels::quantize_row_i8(row, w.cols, scales[r], q + static_cast<std::size_t>(r) * w.cols);
      }
    }
  }
}

NpuLayerImage pack_encoder_layer(const WhisperModel& model, int layer, const NpuBackendOptions& options) {
  const EncoderBlockWeights& block = model.encoder().blocks.at(static_cast<std::size_t>(layer));
  const int d = model.hparams().n_audio_state;
  const int d_ff = block.mlp.up.rows;
  const kernels::EncoderLayerLayout l = kernels::encoder_layer_layout(d, d_ff);
  NpuLayerImage image;
  image.bytes.assign(l.total_bytes, std::byte{0});
  kernels::EncoderLayerHeader header;
  header.d_model = static_cast<std::uint32_t>(d);
  header.d_ff = static_cast<std::uint32_t>(d_ff);
  header.n_head = static_cast<std::uint32_t>(model.hparams().n_audio_head);
  header.activation_scaling = static_cast<std::uint32_t>(options.activation_scaling);
  header.total_bytes = static_cast<std::uint32_t>(l.total_bytes);
  put(image.bytes, 0, &header, 1);

  auto weights = [&](const WeightMatrix& w, std::uint64_t q_offset, std::uint64_t scale_offset) {
    quantize_weight_matrix(w, reinterpret_cast<std::int8_t*>(image.bytes.data() + q_offset),
                           reinterpret_cast<float*>(image.bytes.data() + scale_offset));
  };
  weights(block.attn.query, l.wq, l.sq);
  weights(block.attn.key, l.wk, l.sk);
  weights(block.attn.value, l.wv, l.sv);
  weights(block.attn.out, l.wo, l.so);
  weights(block.mlp.up, l.w_up, l.s_up);
  weights(block.mlp.down, l.w_down, l.s_down);
  const std::size_t dd = static_cast<std::size_t>(d), ff = static_cast<std::size_t>(d_ff);
  put(image.bytes, l.bq, block.attn.query_bias.data(), dd);  // bk stays zero: Whisper's key has no bias
  put(image.bytes, l.bv, block.attn.value_bias.data(), dd);
  put(image.bytes, l.bo, block.attn.out_bias.data(), dd);
  put(image.bytes, l.b_up, block.mlp.up_bias.data(), ff);
  put(image.bytes, l.b_down, block.mlp.down_bias.data(), dd);
  put(image.bytes, l.ln1_gamma, block.attn_ln.gamma.data(), dd);
  put(image.bytes, l.ln1_beta, block.attn_ln.beta.data(), dd);
  put(image.bytes, l.ln2_gamma, block.mlp_ln.gamma.data(), dd);
  put(image.bytes, l.ln2_beta, block.mlp_ln.beta.data(), dd);
  return image;
}

NpuEncoderBackend::NpuEncoderBackend(std::shared_ptr<const WhisperModel> model,
                                     std::unique_ptr<NpuDevice> device, const NpuBackendOptions& options)
    : model_(std::move(model)), device_(std::move(device)) {
  if (!model_ || !device_) throw Error("NPU backend: a model and a device are required.");
  const WhisperHparams& h = model_->hparams();
  NpuEncoderImage image;
  image.n_ctx = h.n_audio_ctx;
  image.d_model = h.n_audio_state;
  image.n_head = h.n_audio_head;
  image.d_ff = 4 * h.n_audio_state;
  image.layers.reserve(static_cast<std::size_t>(h.n_audio_layer));
  for (int layer = 0; layer < h.n_audio_layer; ++layer)
    image.layers.push_back(pack_encoder_layer(*model_, layer, options));
  device_->load(image);
}

void NpuEncoderBackend::check_input(const Activations& x) const {
  const WhisperHparams& h = model_->hparams();
  if (x.rows != h.n_audio_ctx || x.cols != h.n_audio_state ||
      x.values.size() != static_cast<std::size_t>(x.rows) * x.cols)
    throw Error("NPU backend: encoder activations are " + std::to_string(x.rows) + " x " +
                std::to_string(x.cols) + ", the model needs " + std::to_string(h.n_audio_ctx) + " x " +
                std::to_string(h.n_audio_state) + ".");
}

void NpuEncoderBackend::encoder_block(int layer, Activations& x) {
  check_input(x);
  int completed = 0;
  device_->run_layers(layer, 1, x.values, &completed, profile_sink_);
}

void NpuEncoderBackend::encoder_blocks(int first_layer, int layer_count, Activations& x,
                                       int* completed_layers) {
  check_input(x);
  int completed = 0;
  try {
    device_->run_layers(first_layer, layer_count, x.values, &completed, profile_sink_);
  } catch (...) {
    // x holds the output of the last completed layer (the device's contract): report how far it got.
    if (completed_layers) *completed_layers = completed;
    throw;
  }
  if (completed_layers) *completed_layers = completed;
}

std::unique_ptr<EncoderBackend> make_npu_backend(std::shared_ptr<const WhisperModel> model,
                                                 std::unique_ptr<NpuDevice> device) {
  return std::make_unique<NpuEncoderBackend>(std::move(model), std::move(device));
}

}  // namespace npuscribe
