#include "backend/npu/sim/phoenix_model.h"

#include <algorithm>
#include <cmath>

namespace npuscribe {

namespace {

int input_bytes(NpuDataType type) {
  return type == NpuDataType::int8 ? 1 : 2;
}

double macs_per_cycle(const PhoenixParameters& p, NpuDataType type) {
  switch (type) {
    case NpuDataType::int8:
      return p.int8_macs_per_cycle;
    case NpuDataType::int16:
      return p.int16_macs_per_cycle;
    case NpuDataType::bf16:
      return p.bf16_macs_per_cycle;
  }
  return p.int8_macs_per_cycle;
}

// Cycles of one block step (one kernel call): MACs at the kernel efficiency, or the operand streams if slower
// (double-buffered, so the two overlap).
double block_step_cycles(const PhoenixParameters& p, const GemmBlocking& b, NpuDataType type) {
  const double compute =
      static_cast<double>(b.m) * b.n * b.k / (macs_per_cycle(p, type) * p.kernel_efficiency);
  const double operands =
      static_cast<double>(b.m * b.k + b.k * b.n) * input_bytes(type) / p.tile_operand_bytes_per_cycle;
  return std::max(compute, operands) + p.kernel_call_overhead_cycles;
}

int ceil_div(long a, long b) {
  return static_cast<int>((a + b - 1) / b);
}

// Host transfer rate: the host bandwidth or the shim streams, whichever is lower.
double host_rate(const PhoenixParameters& p) {
  const double shim_streams = p.columns * p.shim_dma_in * p.stream_bytes_per_cycle * p.clock_hz;
  return std::min(p.host_bytes_per_second, shim_streams);
}

}  // namespace

std::uint32_t gemm_tile_memory_bytes(const GemmBlocking& b, NpuDataType type) {
  const std::uint32_t in = static_cast<std::uint32_t>(input_bytes(type));
  return 2u * static_cast<std::uint32_t>(b.m * b.k + b.k * b.n) * in +
         static_cast<std::uint32_t>(b.m * b.n) * 4u;
}

GemmBlocking choose_gemm_blocking(const PhoenixParameters& p, NpuDataType type) {
  const std::uint32_t budget = p.tile_data_memory_bytes - p.tile_stack_reserve_bytes;
  GemmBlocking best{32, 32, 32};
  double best_cycles_per_mac = 1e30;
  for (int m : {32, 64, 96, 128})
    for (int n : {32, 64, 96, 128})
      for (int k : {32, 64, 128}) {
        const GemmBlocking b{m, k, n};
        if (gemm_tile_memory_bytes(b, type) > budget) continue;
        const double per_mac = block_step_cycles(p, b, type) / (static_cast<double>(m) * n * k);
        if (per_mac < best_cycles_per_mac * (1.0 - 1e-9)) {
          best_cycles_per_mac = per_mac;
          best = b;
        }
      }
  return best;
}

GemmTiming model_gemm(const PhoenixParameters& p, int m, int n, int k, NpuDataType type, int out_bytes,
                      const GemmBlocking& b, int repeat, GemmTraffic traffic) {
  GemmTiming t;
  t.blocking = b;
  t.macs = static_cast<double>(m) * n * k * repeat;
  t.peak_macs_per_second = macs_per_cycle(p, type) * p.compute_tiles() * p.clock_hz;
  const int blocks_m = ceil_div(m, b.m), blocks_n = ceil_div(n, b.n), steps_k = ceil_div(k, b.k);
  const long blocks = static_cast<long>(blocks_m) * blocks_n * repeat;
  const int tiles = std::min(p.compute_tiles(), 16);
  const double drain_cycles =
      static_cast<double>(b.m) * b.n * std::min(out_bytes, 4) / p.stream_bytes_per_cycle;
  const double block_cycles = steps_k * block_step_cycles(p, b, type) + drain_cycles;
  for (int tile = 0; tile < tiles; ++tile) {
    const long count = blocks / tiles + (tile < blocks % tiles ? 1 : 0);  // round-robin placement
    t.tile_busy_s[static_cast<std::size_t>(tile)] = count * block_cycles / p.clock_hz;
    t.compute_s = std::max(t.compute_s, t.tile_busy_s[static_cast<std::size_t>(tile)]);
  }
  // A row-block is broadcast along an array row (one read feeds `columns` n-blocks); B column slices are
  // held in the memtile while all row-blocks stream past if half a memtile holds one, else re-read per
  // group of `compute_rows` row-blocks.
  const double in = input_bytes(type);
  const double a_reads = ceil_div(blocks_n, p.columns);
  const double b_slice = static_cast<double>(k) * b.n * in;
  const double b_reads = b_slice <= p.memtile_bytes / 2.0 ? 1.0 : ceil_div(blocks_m, p.compute_rows);
  double read_bytes = 0, write_bytes = 0;
  if (traffic.a_from_host) read_bytes += static_cast<double>(m) * k * in * a_reads * repeat;
  if (traffic.b_from_host) read_bytes += static_cast<double>(n) * k * in * b_reads * repeat;
  if (traffic.c_to_host) {
    // A read-modify-write (out_bytes 8) reads the fp32 residual and writes it back.
    write_bytes += static_cast<double>(m) * n * std::min(out_bytes, 4) * repeat;
    if (out_bytes > 4) read_bytes += static_cast<double>(m) * n * (out_bytes - 4) * repeat;
  }
  t.host_bytes = read_bytes + write_bytes;
  t.data_movement_s = std::max(read_bytes, write_bytes) / host_rate(p);
  t.total_s = std::max(t.compute_s, t.data_movement_s);
  return t;
}

GemmTiming model_gemm(const PhoenixParameters& p, int m, int n, int k, NpuDataType type, int out_bytes,
                      int repeat, GemmTraffic traffic) {
  // Small problems use blocks no larger than themselves (rounded up to the aie::mmul 4x8x8 shape).
  GemmBlocking b = choose_gemm_blocking(p, type);
  b.m = std::min(b.m, (m + 3) / 4 * 4);
  b.k = std::min(b.k, (k + 7) / 8 * 8);
  b.n = std::min(b.n, (n + 7) / 8 * 8);
  return model_gemm(p, m, n, k, type, out_bytes, b, repeat, traffic);
}

namespace {

PhoenixStage gemm_stage(const PhoenixParameters& p, const char* kernel, int m, int n, int k, int out_bytes,
                        int repeat = 1, GemmTraffic traffic = {}) {
  const GemmTiming t = model_gemm(p, m, n, k, NpuDataType::int8, out_bytes, repeat, traffic);
  PhoenixStage s;
  s.kernel = kernel;
  s.compute_s = t.compute_s;
  s.data_movement_s = t.data_movement_s;
  s.host_bytes = t.host_bytes;
  s.operations = 2.0 * t.macs;
  s.tile_busy_s = t.tile_busy_s;
  s.is_gemm = true;
  s.blocking = t.blocking;
  return s;
}

PhoenixStage vector_stage(const PhoenixParameters& p, const char* kernel, double elements,
                          double cycles_per_element, double read_bytes, double write_bytes) {
  PhoenixStage s;
  s.kernel = kernel;
  const int tiles = p.compute_tiles();
  const double per_tile = std::ceil(elements / tiles);
  for (int tile = 0; tile < std::min(tiles, 16); ++tile)
    s.tile_busy_s[static_cast<std::size_t>(tile)] = per_tile * cycles_per_element / p.clock_hz;
  s.compute_s = s.tile_busy_s[0];
  s.data_movement_s = std::max(read_bytes, write_bytes) / host_rate(p);
  s.host_bytes = read_bytes + write_bytes;
  s.operations = elements;
  return s;
}

}  // namespace

PhoenixLayerSchedule model_encoder_layer(const PhoenixParameters& p, int n_ctx, int d, int n_head, int d_ff) {
  PhoenixLayerSchedule schedule;
  schedule.launch_s = p.launch_overhead_s;
  const double n = n_ctx, nd = static_cast<double>(n_ctx) * d, nf = static_cast<double>(n_ctx) * d_ff;
  const int head_dim = d / n_head;
  std::vector<PhoenixStage>& st = schedule.stages;
  // LN1 + affine + quantise: fp32 residual in, int8 + per-row scales out.
  st.push_back(vector_stage(p, "npu.layernorm", nd, p.layernorm_cycles_per_element, nd * 4, nd + n * 4));
  st.push_back(gemm_stage(p, "npu.gemm.qkv", n_ctx, 3 * d, d, 2));
  st.push_back(
      vector_stage(p, "npu.attn.quantize", 3 * nd, p.quantize_cycles_per_element, 3 * nd * 2, 3 * nd));
  // Scores and probabilities stay on chip (memtiles): a tile's query block meets every key block there.
  st.push_back(gemm_stage(p, "npu.attn.scores", n_ctx, n_ctx, head_dim, 4, n_head, {true, true, false}));
  st.push_back(vector_stage(p, "npu.attn.softmax", n * n * n_head, p.softmax_cycles_per_element, 0, 0));
  st.push_back(gemm_stage(p, "npu.attn.pv", n_ctx, head_dim, n_ctx, 2, n_head, {false, true, true}));
  st.push_back(vector_stage(p, "npu.quantize", nd, p.quantize_cycles_per_element, nd * 2, nd));
  st.push_back(gemm_stage(p, "npu.gemm.attn_out", n_ctx, d, d, 8));
  st.push_back(vector_stage(p, "npu.layernorm", nd, p.layernorm_cycles_per_element, nd * 4, nd + n * 4));
  st.push_back(gemm_stage(p, "npu.gemm.mlp_up", n_ctx, d_ff, d, 2));
  st.push_back(vector_stage(p, "npu.gelu", nf, p.gelu_cycles_per_element, nf * 2, nf));
  st.push_back(gemm_stage(p, "npu.gemm.mlp_down", n_ctx, d, d_ff, 8));
  double at = schedule.launch_s;
  for (PhoenixStage& s : st) {
    s.start_s = at;
    s.duration_s = std::max(s.compute_s, s.data_movement_s) + p.stage_sync_s;
    at += s.duration_s;
  }
  schedule.total_s = at;
  return schedule;
}

PhoenixEncoderEstimate estimate_encoder(const WhisperHparams& h, const PhoenixParameters& p) {
  PhoenixEncoderEstimate e;
  e.layers = h.n_audio_layer;
  e.layer = model_encoder_layer(p, h.n_audio_ctx, h.n_audio_state, h.n_audio_head, 4 * h.n_audio_state);
  double layer_compute = 0, layer_data = 0, layer_bytes = 0, layer_ops = 0;
  std::array<double, 16> busy{};
  for (const PhoenixStage& s : e.layer.stages) {
    layer_compute += s.compute_s + p.stage_sync_s;
    layer_data += std::max(0.0, s.data_movement_s - s.compute_s);
    layer_bytes += s.host_bytes;
    if (s.is_gemm) layer_ops += s.operations;
    for (std::size_t t = 0; t < busy.size(); ++t) busy[t] += s.tile_busy_s[t];
  }
  e.compute_s = layer_compute * e.layers;
  e.data_movement_s = layer_data * e.layers;
  e.launch_s = e.layer.launch_s * e.layers;
  e.total_s = e.layer.total_s * e.layers;
  e.host_bytes = layer_bytes * e.layers;
  e.operations = layer_ops * e.layers;
  for (std::size_t t = 0; t < busy.size(); ++t)
    e.tile_utilisation[t] = e.layer.total_s > 0 ? busy[t] / e.layer.total_s : 0.0;
  return e;
}

double model_noop_launch_s(const PhoenixParameters& p) {
  return p.launch_overhead_s;
}

double model_single_gemm_launch_s(const PhoenixParameters& p, int m, int n, int k) {
  return p.launch_overhead_s + model_gemm(p, m, n, k, NpuDataType::int8, 4).total_s + p.stage_sync_s;
}

}  // namespace npuscribe
