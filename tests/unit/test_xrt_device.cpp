// The XRT host code (core/backend/npu/xrt/) against a test double of the XRT objects: the call sequence
// of docs/npu.md, kernel arguments, buffer sizes, flags and groups, sync directions and their order,
// instruction words, dummy buffers, buffer reuse, runlist batching, failures mid-batch, and the reasons
// open_xrt_device() gives when something is missing.
//
// The double keeps a host and a device copy of every buffer: sync copies between them and a launch
// computes on the device copies only (out = 2 * in + w, w being the first float of the layer's weights),
// so a missing or misdirected sync, or a wrong ping-pong slot, gives wrong numbers.
#include <QCoreApplication>
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "backend/backend.h"
#include "backend/npu/xrt/xrt_device.h"
#include "backend/npu/xrt/xrt_layer_design.h"
#include "encoder_layer.h"
#include "test_support.h"

namespace {

using namespace npuscribe;

// ---- the test double ---------------------------------------------------------------------------------

struct FakeBuffer;

using FakeArg = std::variant<std::monostate, std::uint64_t, std::uint32_t, const FakeBuffer*>;

struct FakeState {
  std::vector<std::string> calls;    // every call, in order
  std::vector<FakeBuffer*> buffers;  // every allocation, in order (owned by the host code)
  std::map<int, int> group_ids{{1, 11}, {3, 13}, {4, 14}, {5, 14}, {6, 16}, {7, 17}};
  std::vector<std::string> kernel_names{"MLIR_AIE"};
  std::string xclbin_path;

  // Failure injection.
  std::optional<std::string> read_xclbin_error;
  // Runlist: runs [0, runlist_stop_at) execute, then the list ends with runlist_status (failed_index =
  // runlist_stop_at when failed).
  int runlist_stop_at = -1;
  XrtWaitStatus runlist_status = XrtWaitStatus::completed;
  // Individual launches: launch number (counted over the test) that times out.
  int launch_timeout_at = -1;
  bool fail_sync_from_device = false;

  int launches_started = 0;
  std::vector<std::map<int, FakeArg>> executed;  // arguments of every launch that ran, in order
  std::vector<long long> runlist_timeouts_ms;
  std::vector<long long> run_timeouts_ms;
};

struct FakeBuffer final : XrtBuffer {
  FakeBuffer(FakeState& state, std::size_t size, XrtBoFlags flags, int group)
      : state(state), host(size), device(size), flags(flags), group(group) {}
  ~FakeBuffer() override { std::erase(state.buffers, this); }
  std::size_t size_bytes() const override { return host.size(); }
  std::byte* map() override { return host.data(); }
  void sync(XrtSyncDirection direction) override {
    state.calls.push_back(std::string(direction == XrtSyncDirection::to_device ? "sync_to " : "sync_from ") +
                          std::to_string(id));
    if (direction == XrtSyncDirection::to_device) {
      device = host;
      ++syncs_to;
    } else {
      if (state.fail_sync_from_device) throw XrtError("device lost");
      host = device;
      ++syncs_from;
    }
  }
  FakeState& state;
  std::vector<std::byte> host, device;
  XrtBoFlags flags;
  int group;
  int id = -1;
  int syncs_to = 0, syncs_from = 0;
};

// One launch on the device copies: out = 2 * in + w.
void execute_launch(FakeState& state, const std::map<int, FakeArg>& args) {
  const auto* weights = std::get<const FakeBuffer*>(args.at(3));
  const auto* in = std::get<const FakeBuffer*>(args.at(4));
  auto* out = const_cast<FakeBuffer*>(std::get<const FakeBuffer*>(args.at(5)));
  float w;
  std::memcpy(&w, weights->device.data(), sizeof(w));
  const std::size_t n = in->device.size() / sizeof(float);
  for (std::size_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, in->device.data() + i * sizeof(float), sizeof(v));
    v = 2.0f * v + w;
    std::memcpy(out->device.data() + i * sizeof(float), &v, sizeof(v));
  }
  state.executed.push_back(args);
}

struct FakeRun final : XrtRun {
  explicit FakeRun(FakeState& state) : state(state) {}
  void set_arg_u64(int index, std::uint64_t value) override { args[index] = value; }
  void set_arg_u32(int index, std::uint32_t value) override { args[index] = value; }
  void set_arg_buffer(int index, XrtBuffer& buffer) override {
    args[index] = &dynamic_cast<FakeBuffer&>(buffer);
  }
  void start() override {
    state.calls.push_back("run_start");
    launch_number = state.launches_started++;
  }
  XrtWaitResult wait(std::chrono::milliseconds timeout) override {
    state.calls.push_back("run_wait");
    state.run_timeouts_ms.push_back(timeout.count());
    if (launch_number == state.launch_timeout_at) return {XrtWaitStatus::timeout, -1, "timed out"};
    execute_launch(state, args);
    return {};
  }
  FakeState& state;
  std::map<int, FakeArg> args;
  int launch_number = -1;
};

struct FakeRunlist final : XrtRunlist {
  explicit FakeRunlist(FakeState& state) : state(state) {}
  void add(XrtRun& run) override {
    state.calls.push_back("runlist_add");
    runs.push_back(&dynamic_cast<FakeRun&>(run));
  }
  void execute() override { state.calls.push_back("runlist_execute"); }
  XrtWaitResult wait(std::chrono::milliseconds timeout) override {
    state.calls.push_back("runlist_wait");
    state.runlist_timeouts_ms.push_back(timeout.count());
    const int stop = state.runlist_stop_at < 0 ? static_cast<int>(runs.size()) : state.runlist_stop_at;
    for (int i = 0; i < stop && i < static_cast<int>(runs.size()); ++i) execute_launch(state, runs[i]->args);
    if (state.runlist_stop_at < 0) return {};
    if (state.runlist_status == XrtWaitStatus::failed) return {XrtWaitStatus::failed, stop, "command error"};
    return {state.runlist_status, -1, "timed out"};
  }
  FakeState& state;
  std::vector<FakeRun*> runs;
};

struct FakeKernel final : XrtKernel {
  explicit FakeKernel(FakeState& state) : state(state) {}
  int group_id(int arg_index) override { return state.group_ids.at(arg_index); }
  std::unique_ptr<XrtRun> make_run() override { return std::make_unique<FakeRun>(state); }
  FakeState& state;
};

struct FakeXclbin final : XrtXclbin {
  explicit FakeXclbin(FakeState& state) : state(state) {}
  std::string uuid() const override { return "0123-uuid"; }
  std::vector<std::string> kernel_names() const override { return state.kernel_names; }
  FakeState& state;
};

struct FakeContext final : XrtHwContext {
  explicit FakeContext(FakeState& state) : state(state) {}
  std::unique_ptr<XrtKernel> open_kernel(const std::string& name) override {
    state.calls.push_back("kernel " + name);
    return std::make_unique<FakeKernel>(state);
  }
  std::unique_ptr<XrtRunlist> make_runlist() override {
    state.calls.push_back("runlist");
    return std::make_unique<FakeRunlist>(state);
  }
  FakeState& state;
};

struct FakeDevice final : XrtDevice {
  explicit FakeDevice(FakeState& state) : state(state) {}
  std::string name() const override { return "NPU Phoenix"; }
  std::unique_ptr<XrtXclbin> read_xclbin(const std::string& path) override {
    state.calls.push_back("xclbin");
    state.xclbin_path = path;
    if (state.read_xclbin_error) throw XrtError(*state.read_xclbin_error);
    return std::make_unique<FakeXclbin>(state);
  }
  void register_xclbin(const XrtXclbin& xclbin) override {
    state.calls.push_back("register " + xclbin.uuid());
  }
  std::unique_ptr<XrtHwContext> make_hw_context(const XrtXclbin& xclbin) override {
    state.calls.push_back("hw_context " + xclbin.uuid());
    return std::make_unique<FakeContext>(state);
  }
  std::unique_ptr<XrtBuffer> alloc_buffer(std::size_t size_bytes, XrtBoFlags flags, int group_id) override {
    auto buffer = std::make_unique<FakeBuffer>(state, size_bytes, flags, group_id);
    buffer->id = next_id++;
    state.buffers.push_back(buffer.get());
    state.calls.push_back("alloc " + std::to_string(buffer->id));
    return buffer;
  }
  FakeState& state;
  int next_id = 0;
};

struct FakeApi final : XrtApi {
  explicit FakeApi(FakeState& state) : state(state) {}
  std::string runtime_version() const override { return "2.18.0"; }
  std::unique_ptr<XrtDevice> open_device(unsigned index) override {
    state.calls.push_back("device " + std::to_string(index));
    return std::make_unique<FakeDevice>(state);
  }
  FakeState& state;
};

// ---- helpers -----------------------------------------------------------------------------------------

constexpr int kCtx = 8;
constexpr int kModel = 16;
constexpr int kHeads = 2;
constexpr int kLayers = 4;
const std::vector<std::uint32_t> kInstructionWords{0x01020304u, 0xDEADBEEFu, 7u, 0x80000000u, 42u};

void write_bytes(const std::filesystem::path& path, const std::vector<unsigned char>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// insts.bin as little-endian bytes, written out by hand.
std::vector<unsigned char> instruction_file_bytes(const std::vector<std::uint32_t>& words) {
  std::vector<unsigned char> bytes;
  for (std::uint32_t w : words) {
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<unsigned char>((w >> (8 * b)) & 0xFF));
  }
  return bytes;
}

XrtDeviceOptions test_options(const test::TempDir& dir) {
  XrtDeviceOptions options;
  options.d_model = kModel;
  options.n_head = kHeads;
  options.n_ctx = kCtx;
  options.n_layer = kLayers;
  options.designs_dir = dir.path() / "designs";
  options.launch_timeout = std::chrono::milliseconds(250);
  return options;
}

std::filesystem::path design_dir(const test::TempDir& dir) {
  return dir.path() / "designs" / "encoder_layer_d16_h2_ctx8";
}

void write_design(const test::TempDir& dir, const std::vector<unsigned char>& instructions) {
  write_bytes(design_dir(dir) / "final.xclbin", {'x', 'c', 'l', 'b', 'i', 'n', '2', 0});
  write_bytes(design_dir(dir) / "insts.bin", instructions);
}

// Layer l's image: 640 bytes whose first float is the layer's "weight" 0.5 * (l + 1).
NpuEncoderImage test_image() {
  NpuEncoderImage image;
  image.n_ctx = kCtx;
  image.d_model = kModel;
  image.n_head = kHeads;
  image.d_ff = 4 * kModel;
  for (int l = 0; l < kLayers; ++l) {
    NpuLayerImage layer;
    layer.bytes.resize(640);
    for (std::size_t i = 0; i < layer.bytes.size(); ++i) layer.bytes[i] = static_cast<std::byte>(i * 7 + l);
    const float w = 0.5f * static_cast<float>(l + 1);
    std::memcpy(layer.bytes.data(), &w, sizeof(w));
    image.layers.push_back(std::move(layer));
  }
  return image;
}

std::vector<float> test_input() {
  std::vector<float> x(kCtx * kModel);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) - 6.0f;
  return x;
}

// The expected output after layers [first, first + count), computed here independently.
std::vector<float> expected_after(std::vector<float> x, int first, int count) {
  for (int l = first; l < first + count; ++l) {
    for (float& v : x) v = 2.0f * v + 0.5f * static_cast<float>(l + 1);
  }
  return x;
}

int count_calls(const FakeState& state, const std::string& prefix) {
  return static_cast<int>(std::count_if(state.calls.begin(), state.calls.end(),
                                        [&](const std::string& c) { return c.rfind(prefix, 0) == 0; }));
}

const FakeBuffer* buffer_with_id(const FakeState& state, int id) {
  for (const FakeBuffer* b : state.buffers) {
    if (b->id == id) return b;
  }
  return nullptr;
}

struct Opened {
  FakeState state;
  test::TempDir dir;
  std::unique_ptr<NpuDevice> device;
  std::string why;
};

void open_fake(Opened& opened,
               const std::vector<unsigned char>& instructions = instruction_file_bytes(kInstructionWords)) {
  write_design(opened.dir, instructions);
  opened.device =
      open_xrt_device_with(std::make_shared<FakeApi>(opened.state), test_options(opened.dir), &opened.why);
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class VectorSink final : public ProfileSink {
 public:
  void record(const KernelEvent& event) override { events.push_back(event); }
  std::vector<KernelEvent> events;
};

}  // namespace

class TestXrtDevice : public QObject {
  Q_OBJECT

 private slots:
  void opens_in_the_documented_order() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    // device(0) -> xclbin(path) -> register_xclbin -> hw_context(device, uuid) -> kernel(ctx, "MLIR_AIE").
    const std::vector<std::string> expected{"device 0", "xclbin", "register 0123-uuid",
                                            "hw_context 0123-uuid", "kernel MLIR_AIE"};
    QVERIFY(o.state.calls.size() >= expected.size());
    QVERIFY(std::equal(expected.begin(), expected.end(), o.state.calls.begin()));
    QCOMPARE(o.state.xclbin_path, (design_dir(o.dir) / "final.xclbin").string());
    QCOMPARE(o.device->backend_name(), std::string_view("npu"));
    QVERIFY(o.device->timing_source() == TimingSource::measured);
    QVERIFY(o.device->description().find("XRT 2.18.0") != std::string::npos);
    QCOMPARE(o.device->topology().compute_tiles(), 16);
  }

  void instruction_buffer_holds_the_words() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    const FakeBuffer* instr = buffer_with_id(o.state, 0);
    QVERIFY(instr);
    QVERIFY(instr->flags == XrtBoFlags::cacheable);
    QCOMPARE(instr->group, 11);  // kernel.group_id(1)
    QCOMPARE(instr->host.size(), kInstructionWords.size() * 4);
    // The device copy (after sync) holds the words in host order.
    for (std::size_t i = 0; i < kInstructionWords.size(); ++i) {
      std::uint32_t word;
      std::memcpy(&word, instr->device.data() + 4 * i, 4);
      QCOMPARE(word, kInstructionWords[i]);
    }
    QCOMPARE(instr->syncs_to, 1);
  }

  void data_buffers_sizes_flags_and_groups() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    QCOMPARE(o.state.buffers.size(), std::size_t(5));  // instructions, 2 activations, scratch, dummy
    // float32 rows padded to 256 plus 2 messages of slack: 4 * 256 * 16 + 8192.
    const std::size_t activation_bytes = 4 * 256 * 16 + 8192;
    const FakeBuffer* a0 = o.state.buffers[1];
    const FakeBuffer* a1 = o.state.buffers[2];
    const FakeBuffer* scratch = o.state.buffers[3];
    const FakeBuffer* dummy = o.state.buffers[4];
    QCOMPARE(a0->host.size(), activation_bytes);
    QCOMPARE(a1->host.size(), activation_bytes);
    QCOMPARE(a0->group, 14);
    QCOMPARE(a1->group, 14);
    QCOMPARE(scratch->group, 16);
    QCOMPARE(dummy->group, 17);
    for (const FakeBuffer* b : {a0, a1, scratch, dummy}) QVERIFY(b->flags == XrtBoFlags::host_only);
    // Scratch for 8 rows (padded to 256), d=16, 2 heads, d_ff=64 (worked out in test_xrt_iron.cpp).
    QCOMPARE(scratch->host.size(), std::size_t(1236992));
    QVERIFY(dummy->host.size() > 0 && dummy->host.size() <= 4096);

    o.device->load(test_image());
    QCOMPARE(o.state.buffers.size(), std::size_t(5 + kLayers));
    const NpuEncoderImage image = test_image();
    for (int l = 0; l < kLayers; ++l) {
      const FakeBuffer* w = o.state.buffers[5 + l];
      QCOMPARE(w->host.size(), image.layers[l].bytes.size() + 8192);  // 2 messages of slack
      QVERIFY(w->flags == XrtBoFlags::host_only);
      QCOMPARE(w->group, 13);
      QCOMPARE(w->syncs_to, 1);
      // The image, then the slack (never read as weights).
      QVERIFY(std::equal(image.layers[l].bytes.begin(), image.layers[l].bytes.end(), w->device.begin()));
    }
  }

  void per_tensor_images_are_refused() {
    // The design quantises per token; a real layer image asking for per-tensor scaling must not run on it.
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    NpuEncoderImage image = test_image();
    for (NpuLayerImage& layer : image.layers) {
      npuscribe::kernels::EncoderLayerHeader header;
      header.activation_scaling =
          static_cast<std::uint32_t>(npuscribe::kernels::ActivationScaling::per_tensor);
      std::memcpy(layer.bytes.data(), &header, sizeof header);
    }
    bool refused = false;
    try {
      o.device->load(image);
    } catch (const npuscribe::Error& error) {
      refused = std::string(error.what()).find("per-tensor") != std::string::npos;
    }
    QVERIFY(refused);
    QCOMPARE(o.state.buffers.size(), std::size_t(5));  // no weights uploaded
  }

  void kernel_arguments_in_order() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    std::vector<float> x = test_input();
    int completed = -1;
    o.device->run_layers(0, 3, x, &completed, nullptr);
    QCOMPARE(completed, 3);
    QCOMPARE(o.state.executed.size(), std::size_t(3));
    const FakeBuffer* instr = buffer_with_id(o.state, 0);
    const FakeBuffer* a0 = buffer_with_id(o.state, 1);
    const FakeBuffer* a1 = buffer_with_id(o.state, 2);
    for (int l = 0; l < 3; ++l) {
      const auto& args = o.state.executed[l];
      QCOMPARE(args.size(), std::size_t(8));
      QVERIFY(std::holds_alternative<std::uint64_t>(args.at(0)));
      QCOMPARE(std::get<std::uint64_t>(args.at(0)), std::uint64_t(3));  // opcode
      QVERIFY(std::get<const FakeBuffer*>(args.at(1)) == instr);
      QVERIFY(std::holds_alternative<std::uint32_t>(args.at(2)));
      QCOMPARE(std::get<std::uint32_t>(args.at(2)),
               std::uint32_t(kInstructionWords.size()));                                   // words, not bytes
      QVERIFY(std::get<const FakeBuffer*>(args.at(3)) == buffer_with_id(o.state, 5 + l));  // layer l weights
      // Ping-pong: even layers a0 -> a1, odd layers a1 -> a0.
      QVERIFY(std::get<const FakeBuffer*>(args.at(4)) == (l % 2 == 0 ? a0 : a1));
      QVERIFY(std::get<const FakeBuffer*>(args.at(5)) == (l % 2 == 0 ? a1 : a0));
      QVERIFY(std::get<const FakeBuffer*>(args.at(6)) == buffer_with_id(o.state, 3));
      const FakeBuffer* dummy = std::get<const FakeBuffer*>(args.at(7));
      QVERIFY(dummy != nullptr);
      QVERIFY(dummy == buffer_with_id(o.state, 4));
    }
    const std::vector<float> expected = expected_after(test_input(), 0, 3);
    QVERIFY(x == expected);
  }

  void one_runlist_per_batch_with_syncs_around_it() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    const std::size_t before = o.state.calls.size();
    std::vector<float> x = test_input();
    int completed = -1;
    o.device->run_layers(0, kLayers, x, &completed, nullptr);
    QCOMPARE(completed, kLayers);
    const std::vector<std::string> batch(o.state.calls.begin() + static_cast<long>(before),
                                         o.state.calls.end());
    // Input to the device, one runlist of every layer, executed once, waited, output back.
    const std::vector<std::string> expected{"sync_to 1",   "runlist",     "runlist_add",     "runlist_add",
                                            "runlist_add", "runlist_add", "runlist_execute", "runlist_wait",
                                            "sync_from 1"};  // 4 layers: the output is back in a0
    QCOMPARE(batch, expected);
    QCOMPARE(o.state.runlist_timeouts_ms, std::vector<long long>{250 * kLayers});
    QCOMPARE(o.state.launches_started, 0);  // never started one by one
    QVERIFY(x == expected_after(test_input(), 0, kLayers));
  }

  void partial_batches_use_their_layers() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    std::vector<float> x = test_input();
    int completed = -1;
    o.device->run_layers(1, 2, x, &completed, nullptr);
    QCOMPARE(completed, 2);
    QVERIFY(x == expected_after(test_input(), 1, 2));
    QVERIFY(std::get<const FakeBuffer*>(o.state.executed[0].at(3)) == buffer_with_id(o.state, 6));
    // An odd count leaves the output in a1.
    x = test_input();
    o.device->run_layers(3, 1, x, &completed, nullptr);
    QCOMPARE(completed, 1);
    QCOMPARE(o.state.calls.back(), std::string("sync_from 2"));
    QVERIFY(x == expected_after(test_input(), 3, 1));
  }

  void buffers_are_reused_across_windows() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    std::vector<float> x = test_input();
    int completed = -1;
    o.device->run_layers(0, kLayers, x, &completed, nullptr);
    const int allocations = count_calls(o.state, "alloc");
    const std::size_t weight_syncs = static_cast<std::size_t>(buffer_with_id(o.state, 5)->syncs_to);
    x = test_input();
    o.device->run_layers(0, kLayers, x, &completed, nullptr);
    QCOMPARE(count_calls(o.state, "alloc"), allocations);  // no reallocation on the second window
    QCOMPARE(allocations, 5 + kLayers);
    QCOMPARE(static_cast<std::size_t>(buffer_with_id(o.state, 5)->syncs_to), weight_syncs);  // weights once
    QCOMPARE(buffer_with_id(o.state, 0)->syncs_to, 1);  // instructions once
    QVERIFY(x == expected_after(test_input(), 0, kLayers));
  }

  void failure_mid_batch_keeps_completed_layers() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    o.state.runlist_stop_at = 2;  // layers 0 and 1 complete, layer 2 fails (device lost)
    o.state.runlist_status = XrtWaitStatus::failed;
    std::vector<float> x = test_input();
    int completed = -1;
    bool threw = false;
    try {
      o.device->run_layers(0, kLayers, x, &completed, nullptr);
    } catch (const DeviceFailure& failure) {
      threw = true;
      QVERIFY2(std::string(failure.what()).find("layer 2") != std::string::npos, failure.what());
    }
    QVERIFY(threw);
    QCOMPARE(completed, 2);
    QVERIFY(x == expected_after(test_input(), 0, 2));  // the output of layer 1, read from a0
    QCOMPARE(o.state.calls.back(), std::string("sync_from 1"));

    // The device is tried again on the next window (a command error is not a hang).
    o.state.runlist_stop_at = -1;
    x = test_input();
    o.device->run_layers(0, kLayers, x, &completed, nullptr);
    QCOMPARE(completed, kLayers);
    QVERIFY(x == expected_after(test_input(), 0, kLayers));
  }

  void failure_that_loses_the_buffers_reports_nothing_completed() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    o.state.runlist_stop_at = 3;
    o.state.runlist_status = XrtWaitStatus::failed;
    o.state.fail_sync_from_device = true;  // the device is gone: nothing can be read back
    std::vector<float> x = test_input();
    int completed = -1;
    QVERIFY_THROWS_EXCEPTION(DeviceFailure, o.device->run_layers(0, kLayers, x, &completed, nullptr));
    QCOMPARE(completed, 0);
    QVERIFY(x == test_input());  // untouched: the CPU reruns every layer
  }

  void timeout_reports_nothing_completed_and_retires_the_device() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    o.state.runlist_stop_at = 1;  // one layer ran, but a runlist timeout cannot say so
    o.state.runlist_status = XrtWaitStatus::timeout;
    std::vector<float> x = test_input();
    int completed = -1;
    QVERIFY_THROWS_EXCEPTION(DeviceFailure, o.device->run_layers(0, kLayers, x, &completed, nullptr));
    QCOMPARE(completed, 0);
    QVERIFY(x == test_input());
    // A hung device may still write its buffers: it is never launched again.
    o.state.runlist_stop_at = -1;
    const int runlists = count_calls(o.state, "runlist");
    completed = -1;
    try {
      o.device->run_layers(0, kLayers, x, &completed, nullptr);
      QFAIL("a timed-out device ran again");
    } catch (const DeviceFailure& failure) {
      QVERIFY2(std::string(failure.what()).find("stopped responding") != std::string::npos, failure.what());
    }
    QCOMPARE(completed, 0);
    QCOMPARE(count_calls(o.state, "runlist"), runlists);
  }

  void profiling_times_each_launch() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    VectorSink sink;
    std::vector<float> x = test_input();
    int completed = -1;
    o.device->run_layers(1, 3, x, &completed, &sink);
    QCOMPARE(completed, 3);
    QVERIFY(x == expected_after(test_input(), 1, 3));
    QCOMPARE(o.state.launches_started, 3);
    QCOMPARE(count_calls(o.state, "runlist"), 0);
    QCOMPARE(o.state.run_timeouts_ms, (std::vector<long long>{250, 250, 250}));
    QCOMPARE(sink.events.size(), std::size_t(3));
    // 2 x multiply-adds of one layer, n=8, d=16, d_ff=64: q,k,v,o 4*n*d*d = 8192, QK^T and PV 2*n*n*d = 2048,
    // MLP 2*n*d*d_ff = 16384.
    const std::uint64_t operations = 2 * (8192 + 2048 + 16384);
    for (int i = 0; i < 3; ++i) {
      const KernelEvent& e = sink.events[i];
      QCOMPARE(e.kernel, std::string("npu.launch"));
      QCOMPARE(e.backend, std::string("npu"));
      QVERIFY(e.source == TimingSource::measured);
      QCOMPARE(e.layer, 1 + i);
      QCOMPARE(e.operations, operations);
      // Weights 640 + x in and out 2 * 512 + scratch written and read 2 * 1236992.
      QCOMPARE(e.bytes_moved, std::uint64_t(640 + 1024 + 2 * 1236992));
      QVERIFY(e.duration_ns >= 0);
      if (i > 0) QVERIFY(e.start_ns >= sink.events[i - 1].start_ns + sink.events[i - 1].duration_ns);
    }
  }

  void profiled_launch_timeout_keeps_completed_layers() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    o.device->load(test_image());
    o.state.launch_timeout_at = 2;  // the third launch hangs
    VectorSink sink;
    std::vector<float> x = test_input();
    int completed = -1;
    QVERIFY_THROWS_EXCEPTION(DeviceFailure, o.device->run_layers(0, kLayers, x, &completed, &sink));
    QCOMPARE(completed, 2);
    QVERIFY(x == expected_after(test_input(), 0, 2));
    QCOMPARE(sink.events.size(), std::size_t(2));
  }

  void bad_arguments_are_errors() {
    Opened o;
    open_fake(o);
    QVERIFY2(o.device, o.why.c_str());
    std::vector<float> x = test_input();
    int completed = -1;
    QVERIFY_THROWS_EXCEPTION(Error, o.device->run_layers(0, 1, x, &completed, nullptr));  // nothing loaded
    o.device->load(test_image());
    QVERIFY_THROWS_EXCEPTION(Error, o.device->run_layers(2, 3, x, &completed, nullptr));
    std::vector<float> short_x(x.size() - 1);
    QVERIFY_THROWS_EXCEPTION(Error, o.device->run_layers(0, 1, short_x, &completed, nullptr));
    NpuEncoderImage other = test_image();
    other.d_model = 32;
    QVERIFY_THROWS_EXCEPTION(Error, o.device->load(other));
    QCOMPARE(o.state.executed.size(), std::size_t(0));
  }

  void malformed_instructions_are_rejected() {
    Opened o;
    std::vector<unsigned char> bytes = instruction_file_bytes(kInstructionWords);
    bytes.pop_back();  // 19 bytes
    open_fake(o, bytes);
    QVERIFY(!o.device);
    QVERIFY2(o.why.find("not a whole number of 32-bit words") != std::string::npos, o.why.c_str());
    QCOMPARE(count_calls(o.state, "device"), 0);  // rejected before touching XRT

    Opened empty;
    open_fake(empty, {});
    QVERIFY(!empty.device);
    QVERIFY2(empty.why.find("empty") != std::string::npos, empty.why.c_str());

    QVERIFY_THROWS_EXCEPTION(Error, read_npu_instructions(o.dir.path() / "no-such-insts.bin"));
    write_bytes(o.dir.path() / "le.bin", {0x78, 0x56, 0x34, 0x12, 0x01, 0, 0, 0});
    QCOMPARE(read_npu_instructions(o.dir.path() / "le.bin"), (std::vector<std::uint32_t>{0x12345678u, 1u}));
  }

  void xclbin_refused_mentions_unsigned_loading() {
    ScopedEnv env("XRT_HACK_UNSECURE_LOADING_XCLBIN", nullptr);
    Opened o;
    o.state.read_xclbin_error = "permission denied";
    open_fake(o);
    QVERIFY(!o.device);
    QVERIFY2(o.why.find("permission denied") != std::string::npos, o.why.c_str());
    QVERIFY2(o.why.find("XRT_HACK_UNSECURE_LOADING_XCLBIN=1") != std::string::npos, o.why.c_str());
  }

  void design_without_the_kernel_or_with_split_groups_is_refused() {
    Opened o;
    o.state.kernel_names = {"other"};
    open_fake(o);
    QVERIFY(!o.device);
    QVERIFY2(o.why.find("MLIR_AIE") != std::string::npos, o.why.c_str());

    Opened split;
    split.state.group_ids[5] = 15;
    open_fake(split);
    QVERIFY(!split.device);
    QVERIFY2(split.why.find("memory groups") != std::string::npos, split.why.c_str());
  }

  void reasons_when_something_is_missing() {
    test::TempDir dir;
    XrtDeviceOptions options = test_options(dir);
    std::string why;

    // No module beside the program: this build has no XRT support.
    options.module_path = dir.path() / "lib" / "libnpuscribe_xrt.so";
    QVERIFY(!open_xrt_device(options, &why));
    QVERIFY2(why.find("this build has no XRT support") != std::string::npos, why.c_str());

    // A module but no device node.
    write_bytes(options.module_path, {0x7f, 'E', 'L', 'F'});
    options.accel_device = dir.path() / "accel0";
    why.clear();
    QVERIFY(!open_xrt_device(options, &why));
    QVERIFY2(why.find("no NPU: " + options.accel_device.string() + " not found") != std::string::npos,
             why.c_str());
    QVERIFY2(why.find("amdxdna") != std::string::npos, why.c_str());

    // A device node but no design for this shape.
    write_bytes(options.accel_device, {0});
    why.clear();
    QVERIFY(!open_xrt_device(options, &why));
    QVERIFY2(why.find("no NPU design for this model shape (d_model=16, 4 layers)") != std::string::npos,
             why.c_str());
    QVERIFY2(why.find("NPUSCRIBE_BUILD_NPU_KERNELS=ON") != std::string::npos, why.c_str());
    QVERIFY2(why.find("NPUSCRIBE_NPU_DESIGNS") != std::string::npos, why.c_str());

    // Everything present but the module is not a loadable library.
    write_design(dir, instruction_file_bytes(kInstructionWords));
    why.clear();
    QVERIFY(!open_xrt_device(options, &why));
    QVERIFY2(why.find("could not load the NPU module") != std::string::npos, why.c_str());

    // The test double itself needs the design too.
    FakeState state;
    options.designs_dir = dir.path() / "elsewhere";
    why.clear();
    QVERIFY(!open_xrt_device_with(std::make_shared<FakeApi>(state), options, &why));
    QVERIFY2(why.find("no NPU design") != std::string::npos, why.c_str());
    QVERIFY(state.calls.empty());
  }

  void this_build_reports_its_xrt_support() {
    // The default options on this machine: without the module in the build tree the reason is the build's.
    XrtDeviceOptions options;
    options.d_model = 384;
    options.n_head = 6;
    options.n_ctx = 1500;
    options.n_layer = 4;
    std::string why;
    std::unique_ptr<NpuDevice> device = open_xrt_device(options, &why);
    const std::filesystem::path module =
        QCoreApplication::applicationDirPath().toStdString() + "/../lib/npuscribe/libnpuscribe_xrt.so";
    if (std::filesystem::exists(module) || std::getenv("NPUSCRIBE_XRT_MODULE")) {
      QSKIP("this build has the XRT module: the reason depends on the machine");
    }
    QVERIFY(!device);
    QVERIFY2(why.find("this build has no XRT support") != std::string::npos, why.c_str());
  }

  void designs_directory_comes_from_the_environment() {
    XrtDeviceOptions options;
    options.d_model = 512;
    options.n_head = 8;
    options.n_ctx = 1500;
    options.n_layer = 6;
    {
      ScopedEnv env("NPUSCRIBE_NPU_DESIGNS", "/opt/designs");
      QCOMPARE(xrt_design_dir(options), std::filesystem::path("/opt/designs/encoder_layer_d512_h8_ctx1500"));
    }
    {
      ScopedEnv env("NPUSCRIBE_NPU_DESIGNS", nullptr);
      const std::filesystem::path exe_dir = QCoreApplication::applicationDirPath().toStdString();
      QCOMPARE(
          xrt_design_dir(options).lexically_normal(),
          (exe_dir.parent_path() / "share/npuscribe/npu/encoder_layer_d512_h8_ctx1500").lexically_normal());
    }
    options.designs_dir = "/explicit";
    QCOMPARE(xrt_design_dir(options), std::filesystem::path("/explicit/encoder_layer_d512_h8_ctx1500"));
  }
};

QTEST_GUILESS_MAIN(TestXrtDevice)
#include "test_xrt_device.moc"
