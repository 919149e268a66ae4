#include "test_support.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace npuscribe::test {

std::filesystem::path fixtures_dir() {
  if (const char* from_env = std::getenv("NPUSCRIBE_FIXTURES_DIR"); from_env && *from_env) return from_env;
  return std::filesystem::path(NPUSCRIBE_SOURCE_DIR) / ".." / "shared" / "fixtures";
}

std::filesystem::path fixture(const std::string& name) {
  return fixtures_dir() / name;
}

std::vector<float> read_f32_file(const std::filesystem::path& path, std::size_t expected_count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<float> values(expected_count);
  in.read(reinterpret_cast<char*>(values.data()),
          static_cast<std::streamsize>(expected_count * sizeof(float)));
  if (static_cast<std::size_t>(in.gcount()) != expected_count * sizeof(float) || in.peek() != EOF)
    throw std::runtime_error(path.string() + " does not hold exactly " + std::to_string(expected_count) +
                             " floats");
  return values;
}

std::vector<GreedyStep> read_greedy_steps(const std::string& fixture_name) {
  std::ifstream in(fixture(fixture_name));
  if (!in) throw std::runtime_error("cannot open fixture " + fixture_name);
  std::vector<GreedyStep> steps;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    GreedyStep step;
    fields >> step.step >> step.token >> step.top1_logit >> step.margin;
    if (fields) steps.push_back(step);
  }
  return steps;
}

std::vector<int> read_greedy_tokens(const std::string& fixture_name) {
  std::vector<int> tokens;
  for (const GreedyStep& step : read_greedy_steps(fixture_name)) tokens.push_back(step.token);
  return tokens;
}

Difference compare(std::span<const float> actual, std::span<const float> reference) {
  if (actual.size() != reference.size()) throw std::runtime_error("compare: sizes differ");
  double diff_sq = 0, ref_sq = 0, act_sq = 0, dot = 0, max_abs = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], r = reference[i], d = a - r;
    diff_sq += d * d;
    ref_sq += r * r;
    act_sq += a * a;
    dot += a * r;
    max_abs = std::max(max_abs, std::abs(d));
    if (!std::isfinite(a)) max_abs = INFINITY;
  }
  Difference result;
  result.max_abs = max_abs;
  result.rel_l2 = ref_sq > 0 ? std::sqrt(diff_sq / ref_sq) : std::sqrt(diff_sq);
  result.cosine = (act_sq > 0 && ref_sq > 0) ? dot / std::sqrt(act_sq * ref_sq) : 0.0;
  return result;
}

TempDir::TempDir() {
  std::random_device random;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("npuscribe-test-" + std::to_string(random()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace npuscribe::test
