// Shared helpers for the Qt Test suites: fixture lookup and numeric comparison.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace npuscribe::test {

// ../shared/fixtures beside the repository, or $NPUSCRIBE_FIXTURES_DIR when set.
std::filesystem::path fixtures_dir();
std::filesystem::path fixture(const std::string& name);

// Reads a raw little-endian float32 dump; fails the calling test (via exception) if the size is not
// expected_count floats.
std::vector<float> read_f32_file(const std::filesystem::path& path, std::size_t expected_count);

// One step of a whisper.cpp greedy dump (jfk*.greedy.txt: "step token_id top1_logit top1_minus_top2").
struct GreedyStep {
  int step = 0;
  int token = 0;
  double top1_logit = 0;
  double margin = 0;
};
std::vector<GreedyStep> read_greedy_steps(const std::string& fixture_name);
std::vector<int> read_greedy_tokens(const std::string& fixture_name);

struct Difference {
  double max_abs = 0.0;
  double rel_l2 = 0.0;  // ||a - b|| / ||b||
  double cosine = 0.0;
};
Difference compare(std::span<const float> actual, std::span<const float> reference);

// A fresh temporary directory removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace npuscribe::test
