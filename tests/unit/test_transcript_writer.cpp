// Transcript writers: timestamps, full txt/srt/vtt documents typed out by hand, escaping, JSON fields and
// UTF-8 repair, format names, output paths, and the atomic write with its failure paths.
#include <QByteArray>
#include <QObject>
#include <QTest>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/transcript.h"
#include "io/transcript_writer.h"
#include "test_support.h"
#include "util/error.h"

namespace {

using npuscribe::Error;
using npuscribe::format_timestamp;
using npuscribe::format_transcript;
using npuscribe::OutputFormat;
using npuscribe::Segment;
using npuscribe::TranscriptResult;
namespace fs = std::filesystem;

// Readable QCOMPARE operands.
QByteArray text(const std::string& s) {
  return QByteArray::fromStdString(s);
}

Segment segment(double start_s, double end_s, std::string text) {
  Segment s;
  s.start_s = start_s;
  s.end_s = end_s;
  s.text = std::move(text);
  return s;
}

// Three segments, the last one past the first hour.
TranscriptResult three_segments() {
  TranscriptResult result;
  result.language = "en";
  result.duration_s = 3663.0;
  result.model_name = "tiny.en";
  result.segments = {segment(0.0, 2.5, " Hello world."), segment(2.5, 5.25, " This is a test."),
                     segment(3661.5, 3663.0, " After an hour.")};
  return result;
}

// Markup, a cue separator, empty and blank texts, blank lines inside a text.
TranscriptResult awkward_segments() {
  TranscriptResult result;
  result.segments = {segment(0.0, 1.0, " <b>bold</b> & more"), segment(1.0, 2.0, ""),
                     segment(2.0, 3.0, " a --> b ---> c"), segment(3.0, 4.0, "   "),
                     segment(4.0, 5.0, " line one\n\n \nline two\r\nline three")};
  return result;
}

std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

std::set<std::string> directory_entries(const fs::path& directory) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.insert(entry.path().filename().string());
  return names;
}

// A tmpfs mounted for the test's lifetime (needs CAP_SYS_ADMIN); ok() is false when mounting failed.
class TmpfsMount {
 public:
  TmpfsMount(fs::path directory, const std::string& options) : directory_(std::move(directory)) {
    fs::create_directories(directory_);
    mounted_ = ::mount("tmpfs", directory_.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (mounted_ && ::umount(directory_.c_str()) != 0) ::umount2(directory_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool ok() const { return mounted_; }
  std::string skip_reason() const {
    return "cannot mount a tmpfs (" + error_ + "); needs root in a privileged container";
  }

 private:
  fs::path directory_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace

class TestTranscriptWriter : public QObject {
  Q_OBJECT

 private slots:
  void timestamps();
  void txtDocument();
  void srtDocument();
  void vttDocument();
  void srtEscaping();
  void vttEscaping();
  void emptyTranscript();
  void jsonFields();
  void jsonWordsOnlyWhenGiven();
  void jsonInvalidUtf8Replaced();
  void parseOutputFormat();
  void fileExtensions();
  void outputPathFor();
  void writeAndReplace();
  void writeIntoMissingDirectory();
  void writeOverDirectory();
  void writeIntoReadOnlyDirectory();
  void writeIntoReadOnlyFileSystem();
  void writeOnFullDisk();
};

void TestTranscriptWriter::timestamps() {
  QCOMPARE(text(format_timestamp(0.0, ',', true)), text("00:00:00,000"));
  QCOMPARE(text(format_timestamp(3.9995, ',', true)), text("00:00:04,000"));
  QCOMPARE(text(format_timestamp(0.0005, ',', true)), text("00:00:00,001"));
  QCOMPARE(text(format_timestamp(59.9996, ',', true)), text("00:01:00,000"));  // rounding carries
  QCOMPARE(text(format_timestamp(3661.5, ',', true)), text("01:01:01,500"));
  QCOMPARE(text(format_timestamp(3661.5, '.', true)), text("01:01:01.500"));
  QCOMPARE(text(format_timestamp(360000.0, ',', true)), text("100:00:00,000"));
  QCOMPARE(text(format_timestamp(360000.0 + 59 * 60 + 59.25, ',', true)), text("100:59:59,250"));
  QCOMPARE(text(format_timestamp(-5.0, ',', true)), text("00:00:00,000"));
  QCOMPARE(text(format_timestamp(std::nan(""), '.', true)), text("00:00:00.000"));
  // Without always_hours the hours appear only when there are some.
  QCOMPARE(text(format_timestamp(61.25, '.', false)), text("01:01.250"));
  QCOMPARE(text(format_timestamp(3661.5, '.', false)), text("01:01:01.500"));
}

void TestTranscriptWriter::txtDocument() {
  TranscriptResult result = three_segments();
  result.segments.insert(result.segments.begin() + 1, segment(2.5, 2.5, " "));
  QCOMPARE(text(format_transcript(result, OutputFormat::txt)),
           text("Hello world.\nThis is a test.\nAfter an hour.\n"));
}

void TestTranscriptWriter::srtDocument() {
  QCOMPARE(text(format_transcript(three_segments(), OutputFormat::srt)),
           text("1\n"
                "00:00:00,000 --> 00:00:02,500\n"
                "Hello world.\n"
                "\n"
                "2\n"
                "00:00:02,500 --> 00:00:05,250\n"
                "This is a test.\n"
                "\n"
                "3\n"
                "01:01:01,500 --> 01:01:03,000\n"
                "After an hour.\n"));
}

void TestTranscriptWriter::vttDocument() {
  QCOMPARE(text(format_transcript(three_segments(), OutputFormat::vtt)),
           text("WEBVTT\n"
                "\n"
                "00:00:00.000 --> 00:00:02.500\n"
                "Hello world.\n"
                "\n"
                "00:00:02.500 --> 00:00:05.250\n"
                "This is a test.\n"
                "\n"
                "01:01:01.500 --> 01:01:03.000\n"
                "After an hour.\n"));
}

void TestTranscriptWriter::srtEscaping() {
  // SRT keeps simple markup as is; empty cues are skipped and the numbering stays consecutive.
  QCOMPARE(text(format_transcript(awkward_segments(), OutputFormat::srt)),
           text("1\n"
                "00:00:00,000 --> 00:00:01,000\n"
                "<b>bold</b> & more\n"
                "\n"
                "2\n"
                "00:00:02,000 --> 00:00:03,000\n"
                "a -> b -> c\n"
                "\n"
                "3\n"
                "00:00:04,000 --> 00:00:05,000\n"
                "line one\n"
                "line two\n"
                "line three\n"));
}

void TestTranscriptWriter::vttEscaping() {
  QCOMPARE(text(format_transcript(awkward_segments(), OutputFormat::vtt)),
           text("WEBVTT\n"
                "\n"
                "00:00:00.000 --> 00:00:01.000\n"
                "&lt;b&gt;bold&lt;/b&gt; &amp; more\n"
                "\n"
                "00:00:02.000 --> 00:00:03.000\n"
                "a --&gt; b ---&gt; c\n"
                "\n"
                "00:00:04.000 --> 00:00:05.000\n"
                "line one\n"
                "line two\n"
                "line three\n"));
}

void TestTranscriptWriter::emptyTranscript() {
  const TranscriptResult empty;
  QCOMPARE(text(format_transcript(empty, OutputFormat::txt)), text(""));
  QCOMPARE(text(format_transcript(empty, OutputFormat::srt)), text(""));
  QCOMPARE(text(format_transcript(empty, OutputFormat::vtt)), text("WEBVTT\n"));
  const auto json = nlohmann::json::parse(format_transcript(empty, OutputFormat::json));
  QVERIFY(json.at("segments").is_array());
  QVERIFY(json.at("segments").empty());
  QCOMPARE(text(json.at("text").get<std::string>()), text(""));
}

void TestTranscriptWriter::jsonFields() {
  TranscriptResult result = three_segments();
  result.detected_languages = {{"en", 0.875f}, {"de", 0.0625f}};
  result.warnings = {"the file is truncated"};
  Segment& first = result.segments[0];
  first.avg_logprob = -0.25;
  first.no_speech_probability = 0.125;
  first.compression_ratio = 1.5;
  first.temperature = 0.2;
  first.tokens = {{.id = 2425, .text = " Hello", .probability = 0.9f, .start_s = 0.0, .end_s = 0.5},
                  {.id = 1002, .text = " world.", .probability = 0.75f}};
  first.words = {{.text = " Hello", .start_s = 0.0, .end_s = 0.5, .probability = 0.9f},
                 {.text = " world.", .start_s = 0.5, .end_s = 1.2344, .probability = 0.75f}};

  const auto json = nlohmann::json::parse(format_transcript(result, OutputFormat::json));
  QCOMPARE(text(json.at("language").get<std::string>()), text("en"));
  QCOMPARE(json.at("detected_languages").size(), std::size_t{2});
  QCOMPARE(text(json.at("detected_languages")[1].at("code").get<std::string>()), text("de"));
  QCOMPARE(json.at("detected_languages")[0].at("probability").get<double>(), 0.875);
  QCOMPARE(text(json.at("task").get<std::string>()), text("transcribe"));
  QCOMPARE(json.at("duration").get<double>(), 3663.0);
  QCOMPARE(text(json.at("model").get<std::string>()), text("tiny.en"));
  QCOMPARE(text(json.at("text").get<std::string>()), text("Hello world. This is a test. After an hour."));
  QCOMPARE(json.at("warnings").size(), std::size_t{1});
  QCOMPARE(text(json.at("warnings")[0].get<std::string>()), text("the file is truncated"));

  const auto& segments = json.at("segments");
  QCOMPARE(segments.size(), std::size_t{3});
  QCOMPARE(segments[2].at("id").get<int>(), 2);
  QCOMPARE(segments[2].at("start").get<double>(), 3661.5);
  QCOMPARE(segments[2].at("end").get<double>(), 3663.0);
  QCOMPARE(text(segments[1].at("text").get<std::string>()), text(" This is a test."));

  const auto& s0 = segments[0];
  QCOMPARE(s0.at("id").get<int>(), 0);
  QCOMPARE(s0.at("end").get<double>(), 2.5);
  QCOMPARE(s0.at("avg_logprob").get<double>(), -0.25);
  QCOMPARE(s0.at("no_speech_prob").get<double>(), 0.125);
  QCOMPARE(s0.at("compression_ratio").get<double>(), 1.5);
  QCOMPARE(s0.at("temperature").get<double>(), 0.2);
  const auto& tokens = s0.at("tokens");
  QCOMPARE(tokens.size(), std::size_t{2});
  QCOMPARE(tokens[0].at("id").get<int>(), 2425);
  QCOMPARE(text(tokens[0].at("text").get<std::string>()), text(" Hello"));
  // The float's own decimal value, not 0.89999997615814209.
  QCOMPARE(tokens[0].at("probability").get<double>(), 0.9);
  QCOMPARE(tokens[0].at("end").get<double>(), 0.5);
  // Token times are present only when known.
  QVERIFY(tokens[0].contains("start"));
  QVERIFY(!tokens[1].contains("start"));
  QVERIFY(!tokens[1].contains("end"));
  const auto& words = s0.at("words");
  QCOMPARE(words.size(), std::size_t{2});
  QCOMPARE(text(words[1].at("word").get<std::string>()), text(" world."));
  QCOMPARE(words[1].at("start").get<double>(), 0.5);
  QCOMPARE(words[1].at("end").get<double>(), 1.234);  // to the millisecond
  QCOMPARE(words[1].at("probability").get<double>(), 0.75);

  // Keys in the documented order.
  const auto ordered = nlohmann::ordered_json::parse(format_transcript(result, OutputFormat::json));
  std::vector<std::string> keys;
  for (const auto& item : ordered.items()) keys.push_back(item.key());
  const std::vector<std::string> expected_keys = {
      "language", "detected_languages", "task", "duration", "model", "text", "warnings", "segments"};
  QVERIFY(keys == expected_keys);
}

void TestTranscriptWriter::jsonWordsOnlyWhenGiven() {
  TranscriptResult result = three_segments();
  result.segments[1].words = {{.text = " This", .start_s = 2.5, .end_s = 2.75, .probability = 0.5f}};
  const auto json = nlohmann::json::parse(format_transcript(result, OutputFormat::json));
  QVERIFY(!json.at("segments")[0].contains("words"));
  QVERIFY(json.at("segments")[1].contains("words"));
  QCOMPARE(json.at("segments")[1].at("words").size(), std::size_t{1});
  QVERIFY(!json.at("segments")[2].contains("words"));
  QVERIFY(json.at("segments")[0].at("tokens").is_array());
}

void TestTranscriptWriter::jsonInvalidUtf8Replaced() {
  TranscriptResult result;
  Segment s = segment(0.0, 1.0, " 5 \xE2\x82\xAC");  // " 5 €"
  // "€" (E2 82 AC) split across two tokens, as byte-level BPE does.
  s.tokens = {{.id = 1, .text = " 5 \xE2\x82", .probability = 0.5f},
              {.id = 2, .text = "\xAC", .probability = 0.5f}};
  result.segments = {s};
  std::string dumped;
  try {
    dumped = format_transcript(result, OutputFormat::json);
  } catch (const std::exception& e) {
    QFAIL(e.what());
  }
  const auto json = nlohmann::json::parse(dumped);  // throws on invalid UTF-8
  const auto& tokens = json.at("segments")[0].at("tokens");
  QCOMPARE(text(tokens[0].at("text").get<std::string>()), text(" 5 \xEF\xBF\xBD"));
  QCOMPARE(text(tokens[1].at("text").get<std::string>()), text("\xEF\xBF\xBD"));
  QCOMPARE(text(json.at("segments")[0].at("text").get<std::string>()), text(" 5 \xE2\x82\xAC"));
}

void TestTranscriptWriter::parseOutputFormat() {
  QCOMPARE(npuscribe::parse_output_format("txt"), OutputFormat::txt);
  QCOMPARE(npuscribe::parse_output_format("SRT"), OutputFormat::srt);
  QCOMPARE(npuscribe::parse_output_format("Vtt"), OutputFormat::vtt);
  QCOMPARE(npuscribe::parse_output_format("json"), OutputFormat::json);
  for (const char* bad : {"docx", "", ".srt", "srt "}) {
    const std::string message = error_message([&] { npuscribe::parse_output_format(bad); });
    QVERIFY2(!message.empty(), bad);
    QVERIFY2(message.find('"' + std::string(bad) + '"') != std::string::npos, message.c_str());
    for (const char* valid : {"txt", "srt", "vtt", "json"}) {
      QVERIFY2(message.find(valid) != std::string::npos, message.c_str());
    }
  }
}

void TestTranscriptWriter::fileExtensions() {
  QCOMPARE(text(std::string(npuscribe::file_extension(OutputFormat::txt))), text(".txt"));
  QCOMPARE(text(std::string(npuscribe::file_extension(OutputFormat::srt))), text(".srt"));
  QCOMPARE(text(std::string(npuscribe::file_extension(OutputFormat::vtt))), text(".vtt"));
  QCOMPARE(text(std::string(npuscribe::file_extension(OutputFormat::json))), text(".json"));
  QCOMPARE(text(std::string(npuscribe::format_name(OutputFormat::json))), text("json"));
}

void TestTranscriptWriter::outputPathFor() {
  using npuscribe::output_path_for;
  QCOMPARE(text(output_path_for("/music/talk.mp3", "/out", OutputFormat::srt).string()),
           text("/out/talk.srt"));
  QCOMPARE(text(output_path_for("talk.mp3", "out/dir", OutputFormat::vtt).string()),
           text("out/dir/talk.vtt"));
  QCOMPARE(text(output_path_for("/a/talk", "/out", OutputFormat::txt).string()), text("/out/talk.txt"));
  QCOMPARE(text(output_path_for("/a/show.s01.wav", "/out/", OutputFormat::json).string()),
           text("/out/show.s01.json"));
}

void TestTranscriptWriter::writeAndReplace() {
  const npuscribe::test::TempDir dir;
  const fs::path path = dir.file("talk.srt");
  npuscribe::write_transcript(path, three_segments(), OutputFormat::srt);
  QCOMPARE(text(read_file(path)), text(format_transcript(three_segments(), OutputFormat::srt)));

  // Replacing keeps the file's permissions and leaves no temporary file behind.
  QVERIFY(::chmod(path.c_str(), 0640) == 0);
  npuscribe::write_transcript(path, awkward_segments(), OutputFormat::srt);
  QCOMPARE(text(read_file(path)), text(format_transcript(awkward_segments(), OutputFormat::srt)));
  struct stat info {};
  QVERIFY(::stat(path.c_str(), &info) == 0);
  QCOMPARE(info.st_mode & 07777, 0640u);
  QVERIFY(directory_entries(dir.path()) == std::set<std::string>{"talk.srt"});
}

void TestTranscriptWriter::writeIntoMissingDirectory() {
  const npuscribe::test::TempDir dir;
  const fs::path path = dir.path() / "missing" / "talk.vtt";
  const std::string message =
      error_message([&] { npuscribe::write_transcript(path, three_segments(), OutputFormat::vtt); });
  QVERIFY2(!message.empty(), "no Error thrown");
  QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());
  QVERIFY2(message.find("does not exist") != std::string::npos, message.c_str());
  QVERIFY(directory_entries(dir.path()).empty());
}

void TestTranscriptWriter::writeOverDirectory() {
  // The rename is the step that fails: the temporary file must not be left behind.
  const npuscribe::test::TempDir dir;
  const fs::path path = dir.file("talk.srt");
  fs::create_directory(path);
  const std::string message =
      error_message([&] { npuscribe::write_transcript(path, three_segments(), OutputFormat::srt); });
  QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());
  QVERIFY2(message.find("is a folder") != std::string::npos, message.c_str());
  QVERIFY(directory_entries(dir.path()) == std::set<std::string>{"talk.srt"});
  QVERIFY(fs::is_directory(path));
}

void TestTranscriptWriter::writeIntoReadOnlyDirectory() {
  // Root ignores permission bits (writeIntoReadOnlyFileSystem covers that case).
  if (::geteuid() == 0) QSKIP("running as root, which ignores directory permissions");
  const npuscribe::test::TempDir dir;
  const fs::path path = dir.file("talk.txt");
  QVERIFY(::chmod(dir.path().c_str(), 0555) == 0);
  const std::string message =
      error_message([&] { npuscribe::write_transcript(path, three_segments(), OutputFormat::txt); });
  ::chmod(dir.path().c_str(), 0755);  // so TempDir can clean up
  QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());
  QVERIFY2(message.find("permission denied") != std::string::npos, message.c_str());
  QVERIFY(directory_entries(dir.path()).empty());
}

void TestTranscriptWriter::writeIntoReadOnlyFileSystem() {
  const npuscribe::test::TempDir dir;
  const TmpfsMount mount(dir.path() / "ro", "ro,size=64k");  // unmounted before dir is removed
  if (!mount.ok()) QSKIP(mount.skip_reason().c_str());
  const fs::path path = dir.path() / "ro" / "talk.json";
  const std::string message =
      error_message([&] { npuscribe::write_transcript(path, three_segments(), OutputFormat::json); });
  QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());
  QVERIFY2(message.find("read-only") != std::string::npos, message.c_str());
}

void TestTranscriptWriter::writeOnFullDisk() {
  const npuscribe::test::TempDir dir;
  const fs::path tiny = dir.path() / "tiny";
  const TmpfsMount mount(tiny, "size=64k");  // unmounted before dir is removed
  if (!mount.ok()) QSKIP(mount.skip_reason().c_str());
  const fs::path path = tiny / "talk.txt";
  const std::string previous = "the previous transcript\n";
  write_file(path, previous);
  QCOMPARE(text(read_file(path)), text(previous));

  // About 200 KB of text for a 64 KB file system.
  TranscriptResult big;
  for (int i = 0; i < 2000; ++i) {
    big.segments.push_back(segment(i, i + 1.0, " " + std::string(99, static_cast<char>('a' + i % 26))));
  }
  QVERIFY(format_transcript(big, OutputFormat::txt).size() > 128 * 1024);

  const std::string message =
      error_message([&] { npuscribe::write_transcript(path, big, OutputFormat::txt); });
  QVERIFY2(message.find(path.string()) != std::string::npos, message.c_str());
  QVERIFY2(message.find("no space left on device") != std::string::npos, message.c_str());
  QVERIFY2(message.find("Free some space") != std::string::npos, message.c_str());
  QVERIFY(directory_entries(tiny) == std::set<std::string>{"talk.txt"});  // no temporary file left
  QCOMPARE(text(read_file(path)), text(previous));

  // The failed write gave its space back, so a small one succeeds.
  npuscribe::write_transcript(path, three_segments(), OutputFormat::txt);
  QCOMPARE(text(read_file(path)), text(format_transcript(three_segments(), OutputFormat::txt)));
}

QTEST_GUILESS_MAIN(TestTranscriptWriter)
#include "test_transcript_writer.moc"
