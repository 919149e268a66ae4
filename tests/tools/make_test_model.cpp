// npuscribe-make-test-model SHAPE OUT.bin [--f32 | --q8_0] [--seed N] [--sparse]
// Writes a random-weight whisper.cpp ggml model of an official shape (see tests/support/model_writer.h), for
// trying the loader and the engine on model sizes nobody wants to download. Usage errors exit 2.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "model_writer.h"

namespace {

constexpr int kUsageError = 2;

int usage(const char* message) {
  if (message) std::fprintf(stderr, "npuscribe-make-test-model: %s\n", message);
  std::string shapes;
  for (const std::string& name : npuscribe::test::official_shape_names()) shapes += " " + name;
  std::fprintf(stderr,
               "usage: npuscribe-make-test-model SHAPE OUT.bin [--f32 | --q8_0] [--seed N] [--sparse]\n"
               "  SHAPE    one of:%s\n"
               "  --f32    float32 weight matrices (default f16, as convert-pt-to-ggml.py writes)\n"
               "  --q8_0   q8_0 weight matrices, as whisper-quantize makes them\n"
               "  --seed N random seed (default 1)\n"
               "  --sparse leave the tensor data as zero-filled file holes (instant, no disk space)\n",
               shapes.c_str());
  return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> positional;
  npuscribe::test::WriteOptions options;
  bool type_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(nullptr);
      return 0;
    } else if (arg == "--f32" || arg == "--q8_0") {
      if (type_given) return usage("--f32 and --q8_0 are exclusive");
      type_given = true;
      options.matrix_type = arg == "--f32" ? npuscribe::GgmlType::f32 : npuscribe::GgmlType::q8_0;
    } else if (arg == "--sparse") {
      options.sparse_data = true;
    } else if (arg == "--seed") {
      if (++i == argc) return usage("--seed needs a value");
      const std::string_view value = argv[i];
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), options.seed);
      if (error != std::errc() || end != value.data() + value.size())
        return usage("--seed needs a non-negative integer");
    } else if (arg.starts_with("-") && arg.size() > 1) {
      return usage(("unknown option " + std::string(arg)).c_str());
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) return usage("expected SHAPE and OUT.bin");

  npuscribe::test::ModelShape shape;
  try {
    shape = npuscribe::test::official_shape(positional[0]);
  } catch (const std::invalid_argument& error) {
    return usage(error.what());
  }

  const std::filesystem::path out_path(positional[1]);
  try {
    npuscribe::test::write_random_model(out_path, shape, options);
    std::printf("%s: %s, %ju bytes\n", out_path.c_str(), shape.name.c_str(),
                static_cast<std::uintmax_t>(std::filesystem::file_size(out_path)));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "npuscribe-make-test-model: %s\n", error.what());
    return 1;
  }
  return 0;
}
