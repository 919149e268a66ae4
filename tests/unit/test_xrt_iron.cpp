// kernels/iron/: the IRON designs cannot run here (no mlir-aie, no NPU), so this checks what can be checked:
// every Python file compiles, the byte layouts the design streams agree with the C++ (layer image, scratch
// buffer, padded activation and weight buffers) for every official shape, every tile entry point the design
// names exists, its phases are the layer program's steps in order, every tile stays within 64 KiB, its
// message streams survive their compression into DMA transfers, and the glue entry points composed block by
// block as the design runs them give the host program's results bit for bit.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../../kernels/iron/layer_glue.cc"  // the AIE glue entry points, built for the host
#include "attention.h"
#include "backend/npu/xrt/xrt_layer_design.h"
#include "encoder_layer.h"
#include "layernorm.h"
#include "test_support.h"

// The block GEMM entry points of kernels/mm_int8.cc (defined there, in the kernels library).
extern "C" {
void zero_i32_64x64(std::int32_t* c);
void matmul_i8_i32_64x64x64(const std::int8_t* a, const std::int8_t* w, std::int32_t* c);
}

namespace {

const std::filesystem::path kIronDir = std::filesystem::path(NPUSCRIBE_SOURCE_DIR) / "kernels" / "iron";

struct PythonResult {
  int exit_code = -1;
  QByteArray out, err;
};

PythonResult run_python(const QStringList& arguments) {
  PythonResult result;
  const QString python = QStandardPaths::findExecutable("python3");
  if (python.isEmpty()) return result;
  QProcess process;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("PYTHONDONTWRITEBYTECODE", "1");  // never litter the source tree with __pycache__
  process.setProcessEnvironment(env);
  process.setWorkingDirectory(QString::fromStdString(kIronDir.string()));
  process.start(python, arguments);
  if (!process.waitForFinished(60000)) return result;
  result.exit_code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
  result.out = process.readAllStandardOutput();
  result.err = process.readAllStandardError();
  return result;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

class TestXrtIron : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    if (QStandardPaths::findExecutable("python3").isEmpty()) QSKIP("python3 is not installed");
  }

  void python_sources_compile() {
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(kIronDir)) {
      if (entry.path().extension() != ".py") continue;
      ++files;
      const PythonResult r =
          run_python({"-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')",
                      QString::fromStdString(entry.path().string())});
      QVERIFY2(r.exit_code == 0, (entry.path().string() + ": " + r.err.toStdString()).c_str());
    }
    QVERIFY(files >= 3);  // layout.py, encoder_layer_design.py, build_designs.py
  }

  void layouts_match_the_cpp_for_every_official_shape() {
    const PythonResult r = run_python({"layout.py", "--json"});
    QVERIFY2(r.exit_code == 0, r.err.constData());
    const QJsonObject shapes = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(shapes.size(), 5);
    for (const QString& shape : shapes.keys()) {
      const QJsonObject s = shapes[shape].toObject();
      const int d = s["d_model"].toInt();
      const int n_head = s["n_head"].toInt();
      const int n_ctx = s["n_ctx"].toInt();
      QCOMPARE(n_ctx, 1500);
      QCOMPARE(s["design"].toString().toStdString(), npuscribe::xrt_design_name(d, n_head, n_ctx));

      const auto l = npuscribe::kernels::encoder_layer_layout(d, 4 * d);
      const QJsonObject layer = s["layer"].toObject();
      const std::pair<const char*, std::uint64_t> layer_offsets[] = {{"wq", l.wq},
                                                                     {"wk", l.wk},
                                                                     {"wv", l.wv},
                                                                     {"wo", l.wo},
                                                                     {"w_up", l.w_up},
                                                                     {"w_down", l.w_down},
                                                                     {"sq", l.sq},
                                                                     {"sk", l.sk},
                                                                     {"sv", l.sv},
                                                                     {"so", l.so},
                                                                     {"s_up", l.s_up},
                                                                     {"s_down", l.s_down},
                                                                     {"bq", l.bq},
                                                                     {"bk", l.bk},
                                                                     {"bv", l.bv},
                                                                     {"bo", l.bo},
                                                                     {"b_up", l.b_up},
                                                                     {"b_down", l.b_down},
                                                                     {"ln1_gamma", l.ln1_gamma},
                                                                     {"ln1_beta", l.ln1_beta},
                                                                     {"ln2_gamma", l.ln2_gamma},
                                                                     {"ln2_beta", l.ln2_beta},
                                                                     {"total_bytes", l.total_bytes}};
      QCOMPARE(layer.size(), static_cast<qsizetype>(std::size(layer_offsets)));
      for (const auto& [name, offset] : layer_offsets) {
        QVERIFY2(layer.contains(name), name);
        QCOMPARE(static_cast<std::uint64_t>(layer[name].toDouble()), offset);
      }

      const auto sc = npuscribe::xrt_scratch_layout(n_ctx, d, n_head, 4 * d);
      const QJsonObject scratch = s["scratch"].toObject();
      const std::pair<const char*, std::uint64_t> scratch_offsets[] = {{"a8", sc.a8},
                                                                       {"q", sc.q},
                                                                       {"k", sc.k},
                                                                       {"v", sc.v},
                                                                       {"q8", sc.q8},
                                                                       {"k8", sc.k8},
                                                                       {"q_scales", sc.q_scales},
                                                                       {"k_scales", sc.k_scales},
                                                                       {"v8t", sc.v8t},
                                                                       {"v_scales", sc.v_scales},
                                                                       {"attn", sc.attn},
                                                                       {"hidden", sc.hidden},
                                                                       {"total_bytes", sc.total_bytes}};
      QCOMPARE(scratch.size(), static_cast<qsizetype>(std::size(scratch_offsets)));
      for (const auto& [name, offset] : scratch_offsets) {
        QVERIFY2(scratch.contains(name), name);
        QCOMPARE(static_cast<std::uint64_t>(scratch[name].toDouble()), offset);
      }
      QCOMPARE(static_cast<std::uint64_t>(s["activation_bytes"].toDouble()),
               npuscribe::xrt_activation_bytes(n_ctx, d));
      QCOMPARE(static_cast<std::uint64_t>(s["layer_buffer_bytes"].toDouble()),
               npuscribe::xrt_layer_buffer_bytes(l.total_bytes));
    }
    // Figures worked by hand for n_ctx=8, d=16, 2 heads, d_ff=64: rows padded to 256, 4 row blocks; a8 rows
    // of 4096 bytes (64 + 4 rounded up to a message) = 1048576; q, k, v, attn 2*256*16 = 8192 each; q8, k8,
    // v8t 256*16 = 4096 each; q/k scales 2*4 messages = 32768 each; v scales 2*4 messages = 32768; hidden
    // 2*256*64 = 32768; 3 messages of slack.
    const auto small = npuscribe::xrt_scratch_layout(8, 16, 2, 64);
    QCOMPARE(small.q, std::uint64_t(1048576));
    QCOMPARE(small.hidden, std::uint64_t(1048576 + 3 * 8192 + 2 * 4096 + 2 * 32768 + 4096 + 32768 + 8192));
    QCOMPARE(small.total_bytes, std::uint64_t(1236992));
    QCOMPARE(npuscribe::xrt_activation_bytes(8, 16), std::uint64_t(4 * 256 * 16 + 8192));
    QCOMPARE(npuscribe::xrt_activation_bytes(1500, 512), std::uint64_t(4 * 1536 * 512 + 8192));
  }

  void every_entry_point_the_design_names_exists() {
    const PythonResult r =
        run_python({"-c", "import json, encoder_layer_design as d; print(json.dumps(d.KERNEL_OBJECTS))"});
    QVERIFY2(r.exit_code == 0, r.err.constData());
    const QJsonObject entry_points = QJsonDocument::fromJson(r.out).object();
    QVERIFY(entry_points.size() >= 5);
    for (const QString& name : entry_points.keys()) {
      const std::string object = entry_points[name].toString().toStdString();
      const std::string stem = object.substr(0, object.size() - 2);  // "mm_int8.o" -> "mm_int8"
      const std::filesystem::path source =
          stem == "layer_glue" ? kIronDir / "layer_glue.cc" : kIronDir.parent_path() / (stem + ".cc");
      const std::string text = read_text(source);
      QVERIFY2(!text.empty(), source.string().c_str());
      QVERIFY2(text.find("extern \"C\"") != std::string::npos, source.string().c_str());
      QVERIFY2(text.find("void " + name.toStdString() + "(") != std::string::npos,
               (name.toStdString() + " not defined in " + source.string()).c_str());
    }
  }

  void design_builds_the_whole_layer() {
    // Without mlir-aie the design stops at the missing package, not at a missing part of the layer.
    const PythonResult r = run_python(
        {"-c",
         "import encoder_layer_design as d, sys; sys.exit(d.main(['--d-model', '512', '--n-head', '8']))"});
    QCOMPARE(r.exit_code, 1);
    QVERIFY2(r.err.contains("aie.iron"), r.err.constData());
    QVERIFY2(!r.err.contains("not placed"), r.err.constData());
    QVERIFY(r.out.isEmpty());
    const QString source = QString::fromStdString(read_text(kIronDir / "encoder_layer_design.py"));
    QVERIFY(!source.contains("NotImplementedError"));
    const PythonResult bad = run_python(
        {"-c",
         "import encoder_layer_design as d, sys; sys.exit(d.main(['--d-model', '500', '--n-head', '8']))"});
    QCOMPARE(bad.exit_code, 1);
    QVERIFY2(bad.err.contains("multiple of 64"), bad.err.constData());
  }

  void phases_follow_the_layer_program() {
    // The host program's calls, read from its sources: run_encoder_layer with attention_head expanded.
    const auto calls_in = [](const std::string& text, const std::string& function,
                             const std::vector<std::string>& names) {
      const std::size_t start = text.find("void " + function + "(");
      std::vector<std::pair<std::size_t, std::string>> found;
      if (start == std::string::npos) return std::vector<std::string>{};
      for (const std::string& name : names)
        for (std::size_t at = text.find(name + "(", start); at != std::string::npos;
             at = text.find(name + "(", at + 1))
          found.emplace_back(at, name);
      std::sort(found.begin(), found.end());
      std::vector<std::string> calls;
      for (const auto& [at, name] : found) calls.push_back(name);
      return calls;
    };
    const std::filesystem::path kernels = kIronDir.parent_path();
    const std::string program = read_text(kernels / "encoder_layer_program.cc");
    const std::string attention = read_text(kernels / "attention.cc");
    QVERIFY(program.find("for (int p = 0; p < 3; ++p)") != std::string::npos);  // the Q, K, V loop
    const std::vector<std::string> layer_calls =
        calls_in(program, "run_encoder_layer",
                 {"normalise_and_quantise", "gemm.run", "requantize_rows", "attention_head",
                  "quantize_rows_i8", "gelu_rows_bf16"});
    const std::vector<std::string> head_calls =
        calls_in(attention, "attention_head",
                 {"quantize_rows_i8", "gemm.run", "attention_softmax_row", "requantize_rows"});
    QCOMPARE(head_calls.size(), std::size_t(7));
    std::vector<std::string> expected;
    for (const std::string& call : layer_calls) {
      if (call == "attention_head")
        expected.insert(expected.end(), head_calls.begin(), head_calls.end());
      else
        expected.push_back(call);
    }
    QCOMPARE(expected.size(), std::size_t(14 + 7 - 1));  // 14 calls in the layer, attention_head expanded

    for (const auto& shape : {std::pair{384, 6}, {512, 8}, {768, 12}, {1024, 16}, {1280, 20}}) {
      const PythonResult r = run_python(
          {"-c", QString("import json, encoder_layer_design as d; print(json.dumps(d.phases(%1, %2)))")
                     .arg(shape.first)
                     .arg(shape.second)});
      QVERIFY2(r.exit_code == 0, r.err.constData());
      const QJsonArray phases = QJsonDocument::fromJson(r.out).array();
      std::vector<std::string> design;
      int qkv_repeat = 0;
      QStringList kernel_names;
      for (const QJsonValue& value : phases) {
        const QJsonObject phase = value.toObject();
        for (const QJsonValue& call : phase["host_calls"].toArray())
          design.push_back(call.toString().toStdString());
        if (phase["name"].toString().startsWith("qkv_projection")) ++qkv_repeat;
        for (const QJsonValue& kernel : phase["kernels"].toArray()) kernel_names << kernel.toString();
        // The attention steps belong to attention_head, the rest to run_encoder_layer.
        const bool attention_phase = phase["name"].toString().startsWith("attention_");
        QCOMPARE(phase["host_function"].toString(),
                 QString(attention_phase ? "attention_head" : "run_encoder_layer"));
      }
      QCOMPARE(design, expected);
      QCOMPARE(qkv_repeat, 3);  // the loop's two calls listed once, run for Q, K and V
      // Every kernel a phase calls is a declared entry point.
      const PythonResult declared = run_python(
          {"-c", "import json, encoder_layer_design as d; print(json.dumps(list(d.KERNEL_OBJECTS)))"});
      const QJsonArray names = QJsonDocument::fromJson(declared.out).array();
      for (const QString& name : kernel_names) QVERIFY2(names.contains(name), name.toUtf8().constData());
    }
  }

  void every_tile_fits_its_64_kib() {
    // Three fifos of two 4 KiB messages, work 16 KiB + acc 16 KiB + p8 4 KiB + 4 x 256 bytes, 1 KiB stack.
    const PythonResult r = run_python({"-c",
                                       "import encoder_layer_design as d, layout\n"
                                       "print(d.tile_memory_bytes())\n"
                                       "for name, (dm, h, _) in layout.OFFICIAL_SHAPES.items():\n"
                                       "    for p in d.phases(dm, h):\n"
                                       "        for buf, used in p['local_bytes'].items(): assert used <= "
                                       "d.TILE_BUFFERS[buf], (name, p['name'])\n"
                                       "print('ok')"});
    QVERIFY2(r.exit_code == 0, r.err.constData());
    QCOMPARE(r.out.split('\n').value(0).toInt(), 3 * 2 * 4096 + 2 * 16384 + 4096 + 4 * 256 + 1024);
    QVERIFY(r.out.split('\n').value(0).toInt() <= 65536);
    QVERIFY(r.out.contains("ok"));
    // The design asserts the budget itself: a bigger buffer makes the module refuse to load.
    const PythonResult over = run_python(
        {"-c",
         "import sys, types; src = open('encoder_layer_design.py').read().replace('\"acc\": 16 * 1024', "
         "'\"acc\": 24 * 1024'); exec(compile(src, 'x', 'exec'), {'__name__': 'x'})"});
    QVERIFY(over.exit_code != 0);
    QVERIFY2(over.err.contains("64 KiB"), over.err.constData());
  }

  void message_streams_compress_exactly() {
    // A small context keeps this quick; the stream logic is the same for every n_ctx.
    const PythonResult r = run_python({"-c",
                                       "import encoder_layer_design as d\n"
                                       "s = d.Shape(384, 6, 300)\n"
                                       "print(sum(d.check_streams(s, p) for p in d.phases(384, 6, 300)))"});
    QVERIFY2(r.exit_code == 0, r.err.constData());
    QVERIFY(r.out.trimmed().toInt() > 0);
  }

  void glue_attention_blocks_equal_the_host_attention_head() {
    // One head (head_dim 64) over 100 tokens, padded to two 64-token blocks whose padding rows hold junk:
    // the design's block-by-block calls must reproduce attention_head exactly.
    using namespace npuscribe::kernels;
    constexpr int n = 100, hd = 64, blocks = 2, padded = blocks * 64;
    std::vector<float> q(n * hd), k(n * hd), v(n * hd);
    std::vector<std::uint16_t> qb(padded * hd, to_bf16(300.0f).bits), kb(qb), vb(qb);
    std::uint32_t seed = 12345;
    auto next = [&seed] {
      seed = seed * 1664525u + 1013904223u;
      return static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) * 4.0f - 2.0f;
    };
    for (int i = 0; i < n * hd; ++i) {
      q[i] = round_bf16(next());
      k[i] = round_bf16(next());
      v[i] = round_bf16(next());
      qb[i] = to_bf16(q[i]).bits;
      kb[i] = to_bf16(k[i]).bits;
      vb[i] = to_bf16(v[i]).bits;
    }
    std::vector<float> expected(n * hd);
    AttentionScratch scratch;
    attention_head(q.data(), k.data(), v.data(), hd, n, hd, TiledGemmI8{}, ActivationScaling::per_token,
                   scratch, expected.data(), hd);

    auto valid = [](int first) { return std::clamp(n - first, 0, 64); };
    std::vector<std::int8_t> q8(blocks * 4096), k8(blocks * 4096), vt8(blocks * 4096), p8(4096);
    std::vector<float> qs(blocks * 64), ks(blocks * 64), tmp(64), absmax(64), row_max(64);
    for (int b = 0; b < blocks; ++b)
      for (int half = 0; half < 2; ++half) {
        const int row = 64 * b + 32 * half;
        quantize_head_rows(qb.data() + row * hd, 32 * half, 32, valid(64 * b), hd, tmp.data(),
                           q8.data() + 4096 * b, qs.data() + 64 * b);
        quantize_head_rows(kb.data() + row * hd, 32 * half, 32, valid(64 * b), hd, tmp.data(),
                           k8.data() + 4096 * b, ks.data() + 64 * b);
      }
    zero_floats(absmax.data(), hd);
    for (int piece = 0; piece < 2 * blocks; ++piece)
      v_absmax_rows(vb.data() + 32 * piece * hd, std::clamp(n - 32 * piece, 0, 32), hd, absmax.data());
    scales_from_absmax(absmax.data(), hd);
    for (int b = 0; b < blocks; ++b)
      for (int half = 0; half < 2; ++half)
        v_transpose_quantize_rows(vb.data() + (64 * b + 32 * half) * hd, 32 * half, 32,
                                  std::clamp(valid(64 * b) - 32 * half, 0, 32), hd, absmax.data(), tmp.data(),
                                  vt8.data() + 4096 * b);
    std::vector<std::int32_t> scores(4096), pv(4096), sums(64);
    std::vector<std::uint16_t> out(padded * hd);
    for (int qblock = 0; qblock < blocks; ++qblock) {
      attention_init_rows(row_max.data(), sums.data());
      for (int kblock = 0; kblock < blocks; ++kblock) {
        zero_i32_64x64(scores.data());
        matmul_i8_i32_64x64x64(q8.data() + 4096 * qblock, k8.data() + 4096 * kblock, scores.data());
        attention_row_max(scores.data(), valid(64 * kblock), qs.data() + 64 * qblock, ks.data() + 64 * kblock,
                          hd, row_max.data());
      }
      zero_i32_64x64(pv.data());
      for (int kblock = 0; kblock < blocks; ++kblock) {
        zero_i32_64x64(scores.data());
        matmul_i8_i32_64x64x64(q8.data() + 4096 * qblock, k8.data() + 4096 * kblock, scores.data());
        attention_probabilities(scores.data(), valid(64 * kblock), qs.data() + 64 * qblock,
                                ks.data() + 64 * kblock, hd, row_max.data(), p8.data(), sums.data());
        matmul_i8_i32_64x64x64(p8.data(), vt8.data() + 4096 * kblock, pv.data());
      }
      for (int half = 0; half < 2; ++half)
        attention_output_rows(pv.data(), sums.data(), absmax.data(), 32 * half, 32, hd, tmp.data(),
                              out.data() + (64 * qblock + 32 * half) * hd);
    }
    int differing = 0;
    for (int i = 0; i < n * hd; ++i) differing += to_float(bf16{out[i]}) != expected[i];
    QCOMPARE(differing, 0);
    QVERIFY(std::fabs(expected[0]) > 0.0f);
  }

  void glue_rows_equal_the_host_quantisation() {
    using namespace npuscribe::kernels;
    constexpr int d = 256, stride = 4096, out_offset = 1024;
    std::vector<float> x(d), gamma(d), beta(d);
    for (int i = 0; i < d; ++i) {
      x[i] = std::sin(0.37f * i) * 3.0f + 0.5f;
      gamma[i] = 1.0f + 0.01f * (i % 7);
      beta[i] = 0.02f * (i % 5) - 0.04f;
    }
    // Host program: layernorm_affine_rows then quantize_rows_i8 per token.
    std::vector<float> normed(d);
    layernorm_affine_rows(x.data(), 1, d, d, gamma.data(), beta.data(), normed.data(), d);
    std::vector<std::int8_t> q(d);
    float scale = 0;
    quantize_rows_i8(normed.data(), 1, d, d, q.data(), d, &scale, ActivationScaling::per_token);
    // Design: x in work, gamma and beta in params, the a8 row (scale in its last 4 bytes) at out_offset.
    std::vector<std::int8_t> work(out_offset + stride), params(2 * 4 * d);
    std::memcpy(work.data(), x.data(), 4 * d);
    std::memcpy(params.data(), gamma.data(), 4 * d);
    std::memcpy(params.data() + 4 * d, beta.data(), 4 * d);
    ln_row_to_a8(work.data(), params.data(), 4 * d, d, out_offset, stride);
    QVERIFY(std::equal(q.begin(), q.end(), work.begin() + out_offset));
    float got_scale = 0;
    std::memcpy(&got_scale, work.data() + out_offset + stride - 4, 4);
    QCOMPARE(got_scale, scale);
    QVERIFY(scale > 0.0f);

    // A bf16 row of 300 values (not a whole number of 64-value chunks).
    constexpr int n = 300;
    std::vector<float> row(n);
    std::vector<std::uint16_t> row_bits(n);
    for (int i = 0; i < n; ++i) {
      row[i] = round_bf16(std::cos(0.11f * i) * (i % 13 == 0 ? 9.0f : 1.0f));
      row_bits[i] = to_bf16(row[i]).bits;
    }
    std::vector<std::int8_t> q2(n), a8(stride);
    float scale2 = 0;
    quantize_rows_i8(row.data(), 1, n, n, q2.data(), n, &scale2, ActivationScaling::per_token);
    std::vector<float> tmp(64);
    quantize_bf16_row_to_a8(row_bits.data(), tmp.data(), a8.data(), n, stride);
    QVERIFY(std::equal(q2.begin(), q2.end(), a8.begin()));
    std::memcpy(&got_scale, a8.data() + stride - 4, 4);
    QCOMPARE(got_scale, scale2);
  }

  void build_script_names_the_missing_toolchain() {
    npuscribe::test::TempDir dir;
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PYTHONDONTWRITEBYTECODE", "1");
    env.insert("PATH", "/usr/bin:/bin");  // no aiecc.py
    process.setProcessEnvironment(env);
    process.start(QStandardPaths::findExecutable("python3"),
                  {QString::fromStdString((kIronDir / "build_designs.py").string()), "--out",
                   QString::fromStdString(dir.path().string())});
    QVERIFY(process.waitForFinished(60000));
    QCOMPARE(process.exitCode(), 1);
    QVERIFY2(process.readAllStandardError().contains("aiecc.py not found"), "no clear toolchain message");
  }

  void glue_layernorm_quantise_row() {
    // x = 1, 2, 3, 4: mean 2.5, variance 1.25, normalised +-1.3416, +-0.4472 (bf16: 1.34375, 0.447266);
    // scale = 1.34375 / 127; q = round(0.447266 / scale) = 42.27 -> 42.
    const float x[4] = {1, 2, 3, 4};
    const float gamma[4] = {1, 1, 1, 1};
    const float beta[4] = {0, 0, 0, 0};
    float normed[4];
    std::int8_t q[4];
    float scale = 0;
    ln_affine_quantize_row_i8(x, gamma, beta, normed, q, &scale, 4);
    QVERIFY(std::fabs(scale - 1.34375f / 127.0f) < 1e-6f);
    QCOMPARE(int(q[0]), -127);
    QCOMPARE(int(q[1]), -42);
    QCOMPARE(int(q[2]), 42);
    QCOMPARE(int(q[3]), 127);
  }

  void glue_requantise_block() {
    std::vector<std::int32_t> acc(64 * 64, 2);
    std::vector<float> row_scales(64, 0.5f), col_scales(64, 0.25f), bias(64, 1.0f);
    std::vector<float> out(64 * 64, 10.0f);
    requantize_block_64x64(acc.data(), row_scales.data(), col_scales.data(), bias.data(), out.data(), 64, 1);
    QCOMPARE(out[0], 1.25f);  // 2 * 0.5 * 0.25 + 1
    QCOMPARE(out[64 * 64 - 1], 1.25f);
    requantize_block_64x64(acc.data(), row_scales.data(), col_scales.data(), bias.data(), out.data(), 64, 3);
    QCOMPARE(out[100], 2.5f);  // accumulated into the residual
  }
};

QTEST_GUILESS_MAIN(TestXrtIron)
#include "test_xrt_iron.moc"
