#include "io/transcript_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "util/error.h"

namespace npuscribe {

namespace {

constexpr std::array<OutputFormat, 4> kAllFormats = {OutputFormat::txt, OutputFormat::srt, OutputFormat::vtt,
                                                     OutputFormat::json};

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

// Subtitle cue text: trimmed, line breaks normalised to "\n", and no blank (or whitespace-only) lines,
// because a blank line ends a cue in both SRT and WebVTT.
std::string cue_text(std::string_view raw) {
  std::string text(trim(raw));
  replace_all(text, "\r\n", "\n");
  replace_all(text, "\r", "\n");
  std::string out;
  out.reserve(text.size());
  std::size_t line_start = 0;
  while (line_start <= text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    const std::string_view line = trim(std::string_view(text).substr(line_start, line_end - line_start));
    if (!line.empty()) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    line_start = line_end + 1;
  }
  return out;
}

// "-->" separates a cue's times; inside text it breaks parsers. Repeated because "--->" becomes "-->".
std::string escape_srt(std::string text) {
  while (text.find("-->") != std::string::npos) replace_all(text, "-->", "->");
  return text;
}

// WebVTT cue text is markup: & and < must be escaped, and escaping > also rules out "-->".
std::string escape_vtt(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string cue_times(const Segment& segment, char decimal_separator) {
  // Players reject cues that end before they start.
  const double end_s = std::max(segment.end_s, segment.start_s);
  return format_timestamp(segment.start_s, decimal_separator, true) + " --> " +
         format_timestamp(end_s, decimal_separator, true);
}

std::string format_txt(const TranscriptResult& result) {
  std::string out;
  for (const Segment& segment : result.segments) {
    const std::string_view text = trim(segment.text);
    if (text.empty()) continue;
    out += text;
    out += '\n';
  }
  return out;
}

std::string format_srt(const TranscriptResult& result) {
  std::string out;
  int cue_number = 0;
  for (const Segment& segment : result.segments) {
    const std::string text = escape_srt(cue_text(segment.text));
    if (text.empty()) continue;
    if (cue_number > 0) out += '\n';
    out += std::to_string(++cue_number) + '\n' + cue_times(segment, ',') + '\n' + text + '\n';
  }
  return out;
}

std::string format_vtt(const TranscriptResult& result) {
  std::string out = "WEBVTT\n";
  for (const Segment& segment : result.segments) {
    const std::string text = escape_vtt(cue_text(segment.text));
    if (text.empty()) continue;
    out += '\n' + cue_times(segment, '.') + '\n' + text + '\n';
  }
  return out;
}

// Times to the millisecond: finer digits are noise and only make the file longer.
double json_seconds(double seconds) {
  return std::round(seconds * 1000.0) / 1000.0;
}

// The float's shortest decimal form as a double (0.9f -> 0.9, not 0.89999997615814209).
double json_probability(float probability) {
  std::array<char, 32> digits{};
  const auto [end, error] = std::to_chars(digits.data(), digits.data() + digits.size() - 1, probability);
  if (error != std::errc() || !std::isfinite(probability)) return probability;
  *end = '\0';
  return std::strtod(digits.data(), nullptr);
}

// TranscriptResult::text(): segment texts joined, without the first segment's leading space.

std::string format_json(const TranscriptResult& result) {
  using nlohmann::ordered_json;  // keeps the documented key order in the file
  ordered_json detected = ordered_json::array();
  for (const LanguageProbability& language : result.detected_languages) {
    detected.push_back({{"code", language.code}, {"probability", json_probability(language.probability)}});
  }
  ordered_json segments = ordered_json::array();
  for (std::size_t i = 0; i < result.segments.size(); ++i) {
    const Segment& segment = result.segments[i];
    ordered_json tokens = ordered_json::array();
    for (const TokenTiming& token : segment.tokens) {
      ordered_json entry = {
          {"id", token.id}, {"text", token.text}, {"probability", json_probability(token.probability)}};
      // Token times exist only with word timestamps (-1 otherwise).
      if (token.start_s >= 0.0) entry["start"] = json_seconds(token.start_s);
      if (token.end_s >= 0.0) entry["end"] = json_seconds(token.end_s);
      tokens.push_back(std::move(entry));
    }
    ordered_json entry = {{"id", i},
                          {"start", json_seconds(segment.start_s)},
                          {"end", json_seconds(segment.end_s)},
                          {"text", segment.text},
                          {"avg_logprob", segment.avg_logprob},
                          {"no_speech_prob", segment.no_speech_probability},
                          {"compression_ratio", segment.compression_ratio},
                          {"temperature", segment.temperature},
                          {"tokens", std::move(tokens)}};
    if (!segment.words.empty()) {
      ordered_json words = ordered_json::array();
      for (const WordTiming& word : segment.words) {
        words.push_back({{"word", word.text},
                         {"start", json_seconds(word.start_s)},
                         {"end", json_seconds(word.end_s)},
                         {"probability", json_probability(word.probability)}});
      }
      entry["words"] = std::move(words);
    }
    segments.push_back(std::move(entry));
  }
  ordered_json document = ordered_json::object();
  document["language"] = result.language;
  document["detected_languages"] = std::move(detected);
  document["task"] = result.task;
  document["duration"] = json_seconds(result.duration_s);
  document["model"] = result.model_name;
  document["text"] = result.text();
  document["warnings"] = result.warnings;
  document["segments"] = std::move(segments);
  // Token texts can be a fraction of a UTF-8 character; replace such bytes with U+FFFD instead of throwing.
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

std::string quoted(const std::filesystem::path& path) {
  return '"' + path.string() + '"';
}

// What went wrong with errno during `action`, phrased for the user, with what to do about it.
[[noreturn]] void throw_write_error(const std::filesystem::path& path, const std::filesystem::path& directory,
                                    const char* action, int error_number) {
  std::string reason;
  switch (error_number) {
    case ENOSPC:
      reason = "no space left on device. Free some space and run again.";
      break;
    case EDQUOT:
      reason = "disk quota exceeded. Free some space and run again.";
      break;
    case ENOENT:
      reason =
          "the folder " + quoted(directory) + " does not exist. Create it or choose another output folder.";
      break;
    case ENOTDIR:
      reason = quoted(directory) + " is not a folder. Choose another output folder.";
      break;
    case EACCES:
    case EPERM:
      reason = "permission denied in " + quoted(directory) + ". Choose an output folder you can write to.";
      break;
    case EROFS:
      reason = "the file system is read-only. Choose another output folder.";
      break;
    case EISDIR:
      reason = "it is a folder. Choose another output file name.";
      break;
    default:
      reason = std::string(action) + " failed: " + std::generic_category().message(error_number) + '.';
  }
  throw Error("Cannot write " + quoted(path) + ": " + reason);
}

// A name no other writer (thread or process) uses at the same time; creation still uses O_EXCL.
std::filesystem::path temporary_name(const std::filesystem::path& path) {
  static std::atomic<std::uint64_t> counter{0};
  const auto now_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  const std::string suffix = std::to_string(::getpid()) + '-' + std::to_string(counter.fetch_add(1)) + '-' +
                             std::to_string(static_cast<std::uint64_t>(now_ns) % 1000000007u);
  // Hidden, and named after the target so a leftover from a power cut is recognisable; shortened so the
  // name stays within NAME_MAX (255 bytes).
  return path.parent_path() / ('.' + path.filename().string().substr(0, 200) + ".tmp-" + suffix);
}

// Owns the temporary file until it has been renamed: closes and removes it on every failure path.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // Returns close()'s errno, or 0.
  int close() {
    const int result = ::close(std::exchange(fd_, -1));
    return result == 0 ? 0 : errno;
  }
  void release() { path_.clear(); }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

void write_all(int fd, std::string_view data, const std::filesystem::path& path,
               const std::filesystem::path& directory) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_write_error(path, directory, "writing", errno);
    }
    // Some file systems report a full disk as a short write of zero bytes.
    if (written == 0) throw_write_error(path, directory, "writing", ENOSPC);
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

// Makes the rename itself durable. Best effort: the file's data is already on disk.
void sync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

OutputFormat parse_output_format(std::string_view name) {
  std::string lower;
  for (char c : name) lower += ascii_lower(c);
  for (OutputFormat format : kAllFormats) {
    if (lower == format_name(format)) return format;
  }
  throw Error("Unknown output format \"" + std::string(name) + "\": use txt, srt, vtt or json.");
}

std::string_view format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::txt:
      return "txt";
    case OutputFormat::srt:
      return "srt";
    case OutputFormat::vtt:
      return "vtt";
    case OutputFormat::json:
      return "json";
  }
  throw std::invalid_argument("invalid OutputFormat value " + std::to_string(static_cast<int>(format)));
}

std::string_view file_extension(OutputFormat format) {
  switch (format) {
    case OutputFormat::txt:
      return ".txt";
    case OutputFormat::srt:
      return ".srt";
    case OutputFormat::vtt:
      return ".vtt";
    case OutputFormat::json:
      return ".json";
  }
  throw std::invalid_argument("invalid OutputFormat value " + std::to_string(static_cast<int>(format)));
}

std::string format_transcript(const TranscriptResult& result, OutputFormat format) {
  switch (format) {
    case OutputFormat::txt:
      return format_txt(result);
    case OutputFormat::srt:
      return format_srt(result);
    case OutputFormat::vtt:
      return format_vtt(result);
    case OutputFormat::json:
      return format_json(result);
  }
  throw std::invalid_argument("invalid OutputFormat value " + std::to_string(static_cast<int>(format)));
}

void write_transcript(const std::filesystem::path& path, const TranscriptResult& result,
                      OutputFormat format) {
  const std::string contents = format_transcript(result, format);
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";

  int fd = -1;
  std::filesystem::path temporary;
  for (int attempt = 0; fd < 0; ++attempt) {
    temporary = temporary_name(path);
    // 0666 before the umask, like any newly created file.
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt >= 100)) {
      throw_write_error(path, directory, "creating a temporary file", errno);
    }
  }
  TemporaryFile file(temporary, fd);

  // Replacing a file should not change who may read it.
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
    if (::fchmod(file.fd(), existing.st_mode & 07777) != 0) {
      // Not fatal: the transcript is still written, with default permissions.
    }
  }

  write_all(file.fd(), contents, path, directory);
  // Without fsync a crash after the rename could leave an empty file where the old one was.
  while (::fsync(file.fd()) != 0) {
    if (errno != EINTR) throw_write_error(path, directory, "flushing to disk", errno);
  }
  if (const int close_error = file.close(); close_error != 0) {
    throw_write_error(path, directory, "closing the file", close_error);
  }
  if (::rename(file.path().c_str(), path.c_str()) != 0) {
    throw_write_error(path, directory, "replacing the file", errno);
  }
  file.release();
  sync_directory(directory);
}

std::filesystem::path output_path_for(const std::filesystem::path& input,
                                      const std::filesystem::path& output_dir, OutputFormat format) {
  std::filesystem::path name = input.stem();
  name += file_extension(format);
  return output_dir / name;
}

std::string format_timestamp(double seconds, char decimal_separator, bool always_hours) {
  if (!std::isfinite(seconds) || seconds < 0.0) seconds = 0.0;
  seconds = std::min(seconds, 1e12);  // keeps llround in range; no recording is 30000 years long
  const long long total_ms = std::llround(seconds * 1000.0);
  const long long hours = total_ms / 3'600'000;
  const int minutes = static_cast<int>(total_ms / 60'000 % 60);
  const int secs = static_cast<int>(total_ms / 1000 % 60);
  const int millis = static_cast<int>(total_ms % 1000);
  std::array<char, 48> buffer{};
  int length = 0;
  if (always_hours || hours > 0) {
    length = std::snprintf(buffer.data(), buffer.size(), "%02lld:%02d:%02d%c%03d", hours, minutes, secs,
                           decimal_separator, millis);
  } else {
    length = std::snprintf(buffer.data(), buffer.size(), "%02d:%02d%c%03d", minutes, secs, decimal_separator,
                           millis);
  }
  return std::string(buffer.data(), static_cast<std::size_t>(length));
}

}  // namespace npuscribe
