#include "model/model_registry.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <vector>

#include "util/error.h"

namespace npuscribe {

namespace {

constexpr std::uint64_t kMiB = 1024ull * 1024ull;
constexpr std::uint64_t kGiB = 1024ull * kMiB;

constexpr std::uint64_t mib(std::uint64_t count) {
  return count * kMiB;
}
// "1.5 GiB" is gib_tenths(15).
constexpr std::uint64_t gib_tenths(std::uint64_t tenths) {
  return tenths * kGiB / 10;
}

// whisper.cpp's size labels are rounded loosely (medium, 1.43 GiB on disk, is listed as "1.5 GiB";
// large-v2-q5_0, 1.01 GiB, as "1.1 GiB"), so an approximate size only bounds the file within this fraction.
constexpr double kApproximateSizeTolerance = 0.15;

OfficialModel entry(std::string name, std::uint64_t size_bytes, std::string sha1) {
  std::string file_name = "ggml-" + name + ".bin";
  return OfficialModel{std::move(name), std::move(file_name), size_bytes, std::move(sha1), false};
}

// Sources (names, sizes and SHA-1 exactly as published there):
//  - ggml-org/whisper.cpp models/README.md, "Available models" table: the non-quantized models and the
//    -q5_0 builds of large-v2, large-v3 and large-v3-turbo.
//  - the model card (README.md) of the Hugging Face repository ggerganov/whisper.cpp these files are
//    downloaded from, same table extended with every -q5_1/-q8_0 (and medium -q5_0) build; the names match
//    whisper.cpp's models/download-ggml-model.sh.
// small.en-tdrz is left out: it is hosted in another repository (akashmjn/tinydiarize-whisper.cpp) and needs
// speaker-turn decoding npuscribe does not do.
const std::vector<OfficialModel>& table() {
  static const std::vector<OfficialModel> models = {
      entry("tiny", mib(75), "bd577a113a864445d4c299885e0cb97d4ba92b5f"),
      entry("tiny-q5_1", mib(31), "2827a03e495b1ed3048ef28a6a4620537db4ee51"),
      entry("tiny-q8_0", mib(42), "19e8118f6652a650569f5a949d962154e01571d9"),
      entry("tiny.en", mib(75), "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"),
      entry("tiny.en-q5_1", mib(31), "3fb92ec865cbbc769f08137f22470d6b66e071b6"),
      entry("tiny.en-q8_0", mib(42), "802d6668e7d411123e672abe4cb6c18f12306abb"),
      entry("base", mib(142), "465707469ff3a37a2b9b8d8f89f2f99de7299dac"),
      entry("base-q5_1", mib(57), "a3733eda680ef76256db5fc5dd9de8629e62c5e7"),
      entry("base-q8_0", mib(78), "7bb89bb49ed6955013b166f1b6a6c04584a20fbe"),
      entry("base.en", mib(142), "137c40403d78fd54d454da0f9bd998f78703390c"),
      entry("base.en-q5_1", mib(57), "d26d7ce5a1b6e57bea5d0431b9c20ae49423c94a"),
      entry("base.en-q8_0", mib(78), "bb1574182e9b924452bf0cd1510ac034d323e948"),
      entry("small", mib(466), "55356645c2b361a969dfd0ef2c5a50d530afd8d5"),
      entry("small-q5_1", mib(181), "6fe57ddcfdd1c6b07cdcc73aaf620810ce5fc771"),
      entry("small-q8_0", mib(252), "bcad8a2083f4e53d648d586b7dbc0cd673d8afad"),
      entry("small.en", mib(466), "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"),
      entry("small.en-q5_1", mib(181), "20f54878d608f94e4a8ee3ae56016571d47cba34"),
      entry("small.en-q8_0", mib(252), "9d75ff4ccfa0a8217870d7405cf8cef0a5579852"),
      entry("medium", gib_tenths(15), "fd9727b6e1217c2f614f9b698455c4ffd82463b4"),
      entry("medium-q5_0", mib(514), "7718d4c1ec62ca96998f058114db98236937490e"),
      entry("medium-q8_0", mib(785), "e66645948aff4bebbec71b3485c576f3d63af5d6"),
      entry("medium.en", gib_tenths(15), "8c30f0e44ce9560643ebd10bbe50cd20eafd3723"),
      entry("medium.en-q5_0", mib(514), "bb3b5281bddd61605d6fc76bc5b92d8f20284c3b"),
      entry("medium.en-q8_0", mib(785), "b1cf48c12c807e14881f634fb7b6c6ca867f6b38"),
      entry("large-v1", gib_tenths(29), "b1caaf735c4cc1429223d5a74f0f4d0b9b59a299"),
      entry("large-v2", gib_tenths(29), "0f4c8e34f21cf1a914c59d8b3ce882345ad349d6"),
      entry("large-v2-q5_0", gib_tenths(11), "00e39f2196344e901b3a2bd5814807a769bd1630"),
      entry("large-v2-q8_0", gib_tenths(15), "da97d6ca8f8ffbeeb5fd147f79010eeea194ba38"),
      entry("large-v3", gib_tenths(29), "ad82bf6a9043ceed055076d0fd39f5f186ff8062"),
      entry("large-v3-q5_0", gib_tenths(11), "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de"),
      entry("large-v3-turbo", gib_tenths(15), "4af2b29d7ec73d781377bfd1758ca957a807e941"),
      entry("large-v3-turbo-q5_0", mib(547), "e050f7970618a659205450ad97eb95a18d69c9ee"),
      entry("large-v3-turbo-q8_0", mib(834), "01bf15bedffe9f39d65c1b6ff9b687ea91f59e0e"),
  };
  return models;
}

std::filesystem::path home_directory() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  if (const passwd* user = ::getpwuid(::getuid()); user && user->pw_dir && *user->pw_dir) return user->pw_dir;
  throw Error(
      "cannot find the models directory: HOME is not set. Set NPUSCRIBE_MODELS_DIR to the directory that "
      "holds (or should hold) the ggml model files.");
}

bool regular_file_exists(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

std::uint64_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<std::uint64_t>(size);
}

std::string suggested_names() {
  return "tiny.en, base.en, small.en, medium.en (English-only), tiny, base, small, medium, large-v3, "
         "large-v3-turbo (multilingual), and quantized builds such as base.en-q5_1 or large-v3-turbo-q5_0";
}

}  // namespace

std::span<const OfficialModel> official_models() {
  return table();
}

const OfficialModel* find_official_model(std::string_view name) {
  for (const OfficialModel& model : table())
    if (name == model.name || name == model.file_name) return &model;
  return nullptr;
}

std::string format_size(std::uint64_t size_bytes) {
  char text[32];
  if (size_bytes >= kGiB)
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(size_bytes) / static_cast<double>(kGiB));
  else if (size_bytes >= 10 * kMiB)
    std::snprintf(text, sizeof text, "%llu MiB",
                  static_cast<unsigned long long>((size_bytes + kMiB / 2) / kMiB));
  else if (size_bytes >= kMiB)
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(size_bytes) / static_cast<double>(kMiB));
  else
    std::snprintf(text, sizeof text, "%llu KiB", static_cast<unsigned long long>((size_bytes + 1023) / 1024));
  return text;
}

bool size_plausible(const OfficialModel& model, std::uint64_t actual_bytes) {
  if (model.size_is_exact) return actual_bytes == model.size_bytes;
  const double published = static_cast<double>(model.size_bytes);
  const double actual = static_cast<double>(actual_bytes);
  return actual >= published * (1.0 - kApproximateSizeTolerance) &&
         actual <= published * (1.0 + kApproximateSizeTolerance);
}

std::filesystem::path models_directory() {
  if (const char* dir = std::getenv("NPUSCRIBE_MODELS_DIR"); dir && *dir) return dir;
  // The XDG base directory spec says to ignore a relative XDG_DATA_HOME.
  if (const char* data_home = std::getenv("XDG_DATA_HOME"); data_home && *data_home == '/')
    return std::filesystem::path(data_home) / "npuscribe" / "models";
  return home_directory() / ".local" / "share" / "npuscribe" / "models";
}

std::filesystem::path installed_model_path(const OfficialModel& model) {
  return models_directory() / model.file_name;
}

std::filesystem::path partial_model_path(const OfficialModel& model) {
  return models_directory() / (model.file_name + ".part");
}

std::filesystem::path resolve_model(std::string_view name_or_path) {
  const std::filesystem::path as_path{std::string(name_or_path)};
  std::error_code error;
  if (!name_or_path.empty() && std::filesystem::exists(as_path, error)) {
    if (std::filesystem::is_directory(as_path, error))
      throw Error("'" + std::string(name_or_path) +
                  "' is a directory; pass the path of a ggml model file (.bin) or an official model name.");
    return as_path;
  }

  if (const OfficialModel* model = find_official_model(name_or_path)) {
    const std::filesystem::path installed = installed_model_path(*model);
    if (regular_file_exists(installed)) return installed;
    std::string message = "model '" + model->name +
                          "' is not installed. Download it with `npuscribe models download " + model->name +
                          "` (" + format_size(model->size_bytes) + "), or pass the path of a ggml .bin file.";
    if (regular_file_exists(partial_model_path(*model)))
      message += " An interrupted download is present; the same command resumes it.";
    throw Error(message);
  }

  const bool looks_like_path =
      name_or_path.find('/') != std::string_view::npos ||
      (name_or_path.size() > 4 && name_or_path.substr(name_or_path.size() - 4) == ".bin");
  if (looks_like_path)
    throw Error("model file '" + std::string(name_or_path) +
                "' does not exist. Check the path, or give an official model name such as " +
                suggested_names() + ".");
  throw Error("unknown model '" + std::string(name_or_path) +
              "': not a file and not an official model name. " + "Official models: " + suggested_names() +
              ". Or pass the path of a ggml .bin file.");
}

InstalledState installed_state(const OfficialModel& model) {
  InstalledState state;
  const std::filesystem::path installed = installed_model_path(model);
  const std::filesystem::path partial = partial_model_path(model);
  state.installed = regular_file_exists(installed);
  state.partial = regular_file_exists(partial);
  if (state.installed)
    state.size_bytes_on_disk = file_size_or_zero(installed);
  else if (state.partial)
    state.size_bytes_on_disk = file_size_or_zero(partial);
  return state;
}

}  // namespace npuscribe
