// Model registry (official table, models directory, resolve_model) and the libcurl downloader, against an
// in-process HTTP/1.1 server on 127.0.0.1 that can ignore Range, fail, vanish mid-transfer or stall.
#include <QByteArray>
#include <QCryptographicHash>
#include <QHostAddress>
#include <QObject>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "model/model_download.h"
#include "model/model_registry.h"
#include "test_support.h"
#include "util/error.h"

namespace {

using npuscribe::DownloadCancelled;
using npuscribe::DownloadOptions;
using npuscribe::DownloadProgress;
using npuscribe::OfficialModel;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

static_assert(std::is_base_of_v<npuscribe::Error, DownloadCancelled>);

constexpr qint64 kMiB = 1024 * 1024;
constexpr qint64 kPayloadBytes = 4 * kMiB + 12345;
// The server paces its answers (32 KiB every 4 ms, ~8 MB/s) so a download lasts ~0.5 s: long enough for
// several progress reports and for a cancel to land mid-transfer.
constexpr qint64 kChunkBytes = 32 * 1024;
constexpr int kChunkIntervalMs = 4;
const QByteArray kFileName = "ggml-test.bin";

// Deterministic pseudo-random bytes (xorshift64).
QByteArray make_payload(qint64 size_bytes) {
  QByteArray data(size_bytes, Qt::Uninitialized);
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  for (qint64 i = 0; i < size_bytes; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    data[i] = static_cast<char>(state >> 29);
  }
  return data;
}

enum class Mode {
  normal,        // 200, or 206 for "Range: bytes=N-" (416 past the end)
  ignore_range,  // always 200 with the whole file
  not_found,     // 404
  server_error,  // 503
  close_after,   // like normal, but closes the connection after limit_bytes of body
  stall,         // like normal, but sends limit_bytes of body and then nothing, connection held open
};

struct ServedRequest {
  QByteArray path;
  qint64 range_start_bytes = -1;  // -1: no Range header
};

// Lives on the server thread; configuration and the request log are shared with the test thread.
class ServerWorker : public QObject {
 public:
  explicit ServerWorker(QByteArray payload) : payload_(std::move(payload)) {}

  quint16 listen() {
    server_ = new QTcpServer(this);
    if (!server_->listen(QHostAddress::LocalHost, 0)) qFatal("test HTTP server cannot listen on 127.0.0.1");
    connect(server_, &QTcpServer::newConnection, this, [this] { accept(); });
    return server_->serverPort();
  }
  void shutdown() {
    delete server_;  // and every connection socket, its child
    server_ = nullptr;
  }

  void set_mode(Mode mode, qint64 limit_bytes = 0) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
    limit_bytes_ = limit_bytes;
  }
  std::vector<ServedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void accept() {
    while (QTcpSocket* socket = server_->nextPendingConnection()) {
      auto received = std::make_shared<QByteArray>();
      auto answered = std::make_shared<bool>(false);
      connect(socket, &QTcpSocket::readyRead, socket, [this, socket, received, answered] {
        received->append(socket->readAll());
        const qsizetype head_end = received->indexOf("\r\n\r\n");
        if (head_end < 0 || *answered) return;
        *answered = true;
        answer(socket, received->left(head_end));
      });
      connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    }
  }

  static void send_simple(QTcpSocket* socket, const QByteArray& status, const QByteArray& extra_headers,
                          const QByteArray& body) {
    socket->write("HTTP/1.1 " + status + "\r\n" + extra_headers + "Content-Length: " +
                  QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    socket->disconnectFromHost();
  }

  void answer(QTcpSocket* socket, const QByteArray& head) {
    const QList<QByteArray> lines = head.split('\n');
    const QList<QByteArray> request_line = lines.value(0).trimmed().split(' ');
    ServedRequest request;
    request.path = request_line.value(1);
    for (qsizetype i = 1; i < lines.size(); ++i) {
      const QByteArray line = lines[i].trimmed();
      if (!line.toLower().startsWith("range:")) continue;
      QByteArray value = line.mid(6).trimmed();
      if (value.startsWith("bytes=") && value.endsWith('-'))
        request.range_start_bytes = value.mid(6).chopped(1).toLongLong();
    }
    Mode mode;
    qint64 limit_bytes;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      mode = mode_;
      limit_bytes = limit_bytes_;
    }

    if (request_line.value(0) != "GET") return send_simple(socket, "405 Method Not Allowed", "", "");
    if (request.path == "/redirect/" + kFileName)
      return send_simple(socket, "302 Found", "Location: /files/" + kFileName + "\r\n", "");
    if (mode == Mode::not_found || request.path != "/files/" + kFileName)
      return send_simple(socket, "404 Not Found", "Content-Type: text/plain\r\n", "Entry not found");
    if (mode == Mode::server_error)
      return send_simple(socket, "503 Service Unavailable", "Content-Type: text/plain\r\n", "try later");

    const qint64 size = payload_.size();
    qint64 start = 0;
    QByteArray headers;
    if (request.range_start_bytes >= 0 && mode != Mode::ignore_range) {
      if (request.range_start_bytes >= size)
        return send_simple(socket, "416 Range Not Satisfiable",
                           "Content-Range: bytes */" + QByteArray::number(size) + "\r\n", "");
      start = request.range_start_bytes;
      headers = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + QByteArray::number(start) + "-" +
                QByteArray::number(size - 1) + "/" + QByteArray::number(size) + "\r\n";
    } else {
      headers = "HTTP/1.1 200 OK\r\n";
    }
    headers +=
        "Content-Type: application/octet-stream\r\nContent-Length: " + QByteArray::number(size - start) +
        "\r\nConnection: close\r\n\r\n";
    socket->write(headers);

    qint64 end = size;
    const bool hold_open = mode == Mode::stall;
    if (mode == Mode::close_after || mode == Mode::stall) end = std::min(size, start + limit_bytes);
    auto* timer = new QTimer(socket);
    auto offset = std::make_shared<qint64>(start);
    connect(timer, &QTimer::timeout, socket, [this, socket, timer, offset, end, hold_open] {
      const qint64 count = std::min(kChunkBytes, end - *offset);
      if (count > 0) socket->write(payload_.constData() + *offset, count);
      *offset += count;
      if (*offset >= end) {
        timer->stop();
        if (!hold_open) socket->disconnectFromHost();  // after the buffered bytes are sent
      }
    });
    timer->start(kChunkIntervalMs);
  }

  const QByteArray payload_;
  QTcpServer* server_ = nullptr;
  mutable std::mutex mutex_;
  Mode mode_ = Mode::normal;
  qint64 limit_bytes_ = 0;
  std::vector<ServedRequest> requests_;
};

// The server on its own thread and event loop, so the blocking download in the test thread can talk to it.
class HttpServer {
 public:
  explicit HttpServer(QByteArray payload) : worker_(new ServerWorker(std::move(payload))) {
    worker_->moveToThread(&thread_);
    thread_.start();
    QMetaObject::invokeMethod(
        worker_, [this] { port_ = worker_->listen(); }, Qt::BlockingQueuedConnection);
  }
  ~HttpServer() {
    QMetaObject::invokeMethod(
        worker_, [this] { worker_->shutdown(); }, Qt::BlockingQueuedConnection);
    thread_.quit();
    thread_.wait();
    delete worker_;
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string base_url() const { return origin() + "/files"; }
  void set_mode(Mode mode, qint64 limit_bytes = 0) { worker_->set_mode(mode, limit_bytes); }
  std::vector<ServedRequest> requests() const { return worker_->requests(); }

 private:
  QThread thread_;
  ServerWorker* worker_;
  quint16 port_ = 0;
};

QByteArray read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size()));
}

void write_file(const fs::path& path, const QByteArray& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.constData(), bytes.size());
}

// The message of the npuscribe::Error the action throws, or nullopt if it does not throw one.
std::optional<std::string> error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const npuscribe::Error& error) {
    return std::string(error.what());
  }
  return std::nullopt;
}

bool contains(const std::optional<std::string>& text, const std::string& part) {
  return text && text->find(part) != std::string::npos;
}

// Sets (or unsets, with nullptr) an environment variable for one scope.
class EnvOverride {
 public:
  EnvOverride(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~EnvOverride() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  EnvOverride(const EnvOverride&) = delete;
  EnvOverride& operator=(const EnvOverride&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

class TestModelDownload : public QObject {
  Q_OBJECT

 private:
  QByteArray payload_;
  std::string payload_sha1_;
  std::unique_ptr<npuscribe::test::TempDir> models_dir_;
  std::unique_ptr<HttpServer> server_;

  fs::path final_path() const { return models_dir_->path() / kFileName.toStdString(); }
  fs::path part_path() const { return models_dir_->path() / (kFileName.toStdString() + ".part"); }

  // The catalogue entry of the served file, with a checksum computed by Qt, not by the code under test.
  OfficialModel test_model() const {
    return OfficialModel{"test", kFileName.toStdString(), static_cast<std::uint64_t>(kPayloadBytes),
                         payload_sha1_, true};
  }
  DownloadOptions options() const {
    DownloadOptions result;
    result.base_url = server_->base_url();
    result.connect_timeout_s = 5;
    result.low_speed_timeout_s = 10;
    return result;
  }

 private slots:
  void initTestCase() {
    // Every request goes straight to 127.0.0.1, whatever proxy the environment names.
    for (const char* name :
         {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
      ::unsetenv(name);
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    payload_ = make_payload(kPayloadBytes);
    payload_sha1_ = QCryptographicHash::hash(payload_, QCryptographicHash::Sha1).toHex().toStdString();
  }

  void init() {
    models_dir_ = std::make_unique<npuscribe::test::TempDir>();
    ::setenv("NPUSCRIBE_MODELS_DIR", models_dir_->path().c_str(), 1);
    server_ = std::make_unique<HttpServer>(payload_);
  }

  void cleanup() {
    server_.reset();
    ::unsetenv("NPUSCRIBE_MODELS_DIR");
    models_dir_.reset();
  }

  // --- registry ---

  void official_table_is_well_formed() {
    const auto models = npuscribe::official_models();
    std::set<std::string> names;
    for (const OfficialModel& model : models) {
      QVERIFY2(names.insert(model.name).second, model.name.c_str());
      QCOMPARE(model.file_name, "ggml-" + model.name + ".bin");
      QVERIFY2(model.size_bytes > 0, model.name.c_str());
      const bool hex = std::all_of(model.sha1.begin(), model.sha1.end(),
                                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
      QVERIFY2(hex && (model.sha1.empty() || model.sha1.size() == 40 || model.sha1.size() == 64),
               model.name.c_str());
      QCOMPARE(npuscribe::find_official_model(model.name), &model);
      QCOMPARE(npuscribe::find_official_model(model.file_name), &model);
    }
    for (const char* required :
         {"tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large-v1",
          "large-v2", "large-v3", "large-v3-turbo", "tiny-q5_1", "tiny-q8_0", "base.en-q5_1", "small-q8_0",
          "large-v3-turbo-q5_0", "large-v3-turbo-q8_0"})
      QVERIFY2(names.count(required) == 1, required);
    // Spot checks against whisper.cpp's models/README.md.
    QCOMPARE(npuscribe::find_official_model("base.en")->sha1,
             std::string("137c40403d78fd54d454da0f9bd998f78703390c"));
    QCOMPARE(npuscribe::format_size(npuscribe::find_official_model("base.en")->size_bytes),
             std::string("142 MiB"));
    QCOMPARE(npuscribe::format_size(npuscribe::find_official_model("large-v3-turbo")->size_bytes),
             std::string("1.5 GiB"));
    QCOMPARE(npuscribe::format_size(kMiB + kMiB / 2), std::string("1.5 MiB"));
    QCOMPARE(npuscribe::format_size(512 * 1024), std::string("512 KiB"));
    QVERIFY(npuscribe::find_official_model("no-such-model") == nullptr);
    QVERIFY(npuscribe::find_official_model("ggml-base.en") == nullptr);
  }

  void approximate_sizes_bound_the_file() {
    const OfficialModel& base = *npuscribe::find_official_model("base");
    QVERIFY(npuscribe::size_plausible(base, 147'000'000));  // 142 MiB is rounded
    QVERIFY(!npuscribe::size_plausible(base, 1'000));       // an error page, not a model
    OfficialModel exact = test_model();
    QVERIFY(npuscribe::size_plausible(exact, kPayloadBytes));
    QVERIFY(!npuscribe::size_plausible(exact, kPayloadBytes - 1));
  }

  void models_directory_follows_environment() {
    QCOMPARE(npuscribe::models_directory(), models_dir_->path());
    EnvOverride no_override("NPUSCRIBE_MODELS_DIR", nullptr);
    {
      EnvOverride xdg("XDG_DATA_HOME", "/tmp/xdg-data");
      QCOMPARE(npuscribe::models_directory(), fs::path("/tmp/xdg-data/npuscribe/models"));
    }
    EnvOverride no_xdg("XDG_DATA_HOME", nullptr);
    EnvOverride home("HOME", "/tmp/some-home");
    QCOMPARE(npuscribe::models_directory(), fs::path("/tmp/some-home/.local/share/npuscribe/models"));
    EnvOverride relative_xdg("XDG_DATA_HOME", "relative/dir");  // ignored, as the XDG spec says
    QCOMPARE(npuscribe::models_directory(), fs::path("/tmp/some-home/.local/share/npuscribe/models"));
  }

  void resolve_existing_path_wins() {
    const fs::path custom = models_dir_->path() / "custom.bin";
    write_file(custom, "x");
    QCOMPARE(npuscribe::resolve_model(custom.string()), custom);
  }

  void resolve_installed_name() {
    const fs::path installed = models_dir_->path() / "ggml-base.en.bin";
    write_file(installed, "dummy");
    QCOMPARE(npuscribe::resolve_model("base.en"), installed);
  }

  void resolve_missing_official_name() {
    const auto message = error_of([] { npuscribe::resolve_model("base.en"); });
    QVERIFY2(contains(message, "'base.en' is not installed"), message.value_or("no error").c_str());
    QVERIFY2(contains(message, "`npuscribe models download base.en` (142 MiB)"), message->c_str());
    QVERIFY2(contains(message, "path of a ggml .bin file"), message->c_str());
  }

  void resolve_unknown_name() {
    const auto message = error_of([] { npuscribe::resolve_model("no-such-model"); });
    QVERIFY2(contains(message, "unknown model 'no-such-model'"), message.value_or("no error").c_str());
    QVERIFY2(contains(message, "base.en"), message->c_str());
    const auto missing_file = error_of([] { npuscribe::resolve_model("/nonexistent/dir/model.bin"); });
    QVERIFY2(contains(missing_file, "does not exist"), missing_file.value_or("no error").c_str());
    const auto directory = error_of([this] { npuscribe::resolve_model(models_dir_->path().string()); });
    QVERIFY2(contains(directory, "is a directory"), directory.value_or("no error").c_str());
  }

  void installed_state_reports_files() {
    const OfficialModel& tiny = *npuscribe::find_official_model("tiny");
    auto state = npuscribe::installed_state(tiny);
    QVERIFY(!state.installed && !state.partial && state.size_bytes_on_disk == 0);
    write_file(models_dir_->path() / "ggml-tiny.bin.part", QByteArray(100, 'p'));
    state = npuscribe::installed_state(tiny);
    QVERIFY(!state.installed && state.partial);
    QCOMPARE(state.size_bytes_on_disk, std::uint64_t{100});
    write_file(models_dir_->path() / "ggml-tiny.bin", QByteArray(200, 'f'));
    state = npuscribe::installed_state(tiny);
    QVERIFY(state.installed && state.partial);
    QCOMPARE(state.size_bytes_on_disk, std::uint64_t{200});
  }

  void sha1_of_files() {
    const fs::path abc = models_dir_->path() / "abc";
    write_file(abc, "abc");  // FIPS 180-2 test vector
    QCOMPARE(npuscribe::sha1_file_hex(abc), std::string("a9993e364706816aba3e25717850c26c9cd0d89d"));
    const fs::path empty = models_dir_->path() / "empty";
    write_file(empty, "");
    QCOMPARE(npuscribe::sha1_file_hex(empty), std::string("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    const fs::path big = models_dir_->path() / "big";
    write_file(big, payload_);
    QCOMPARE(npuscribe::sha1_file_hex(big), payload_sha1_);
    QVERIFY(error_of([&] { npuscribe::sha1_file_hex(models_dir_->path() / "missing"); }).has_value());
  }

  // --- downloads ---

  void download_success_reports_progress() {
    std::vector<DownloadProgress> reports;
    DownloadOptions opts = options();
    opts.on_progress = [&](const DownloadProgress& progress) { reports.push_back(progress); };
    const fs::path installed = npuscribe::download_model(test_model(), opts);
    QCOMPARE(installed, final_path());
    QVERIFY(read_file(installed) == payload_);
    QVERIFY(!fs::exists(part_path()));
    QVERIFY2(reports.size() >= 3, std::to_string(reports.size()).c_str());
    for (std::size_t i = 0; i < reports.size(); ++i) {
      QCOMPARE(reports[i].total_bytes, std::uint64_t(kPayloadBytes));
      QVERIFY(reports[i].bytes_per_second >= 0.0);
      if (i > 0) QVERIFY(reports[i].received_bytes > reports[i - 1].received_bytes);
    }
    QCOMPARE(reports.back().received_bytes, std::uint64_t(kPayloadBytes));
    QVERIFY(
        std::any_of(reports.begin(), reports.end(), [](const auto& p) { return p.bytes_per_second > 0; }));
    const auto requests = server_->requests();
    QCOMPARE(requests.size(), std::size_t{1});
    QCOMPARE(requests[0].range_start_bytes, qint64{-1});
  }

  void download_follows_redirect() {
    DownloadOptions opts = options();
    opts.base_url = server_->origin() + "/redirect/";
    QCOMPARE(npuscribe::download_model(test_model(), opts), final_path());
    QVERIFY(read_file(final_path()) == payload_);
    QCOMPARE(server_->requests().size(), std::size_t{2});
  }

  void download_already_installed_is_untouched() {
    write_file(final_path(), "already here");
    QCOMPARE(npuscribe::download_model(test_model(), options()), final_path());
    QVERIFY(read_file(final_path()) == "already here");
    QVERIFY(server_->requests().empty());
  }

  void download_resumes_from_part() {
    write_file(part_path(), payload_.left(kMiB));
    std::vector<DownloadProgress> reports;
    DownloadOptions opts = options();
    opts.on_progress = [&](const DownloadProgress& progress) { reports.push_back(progress); };
    npuscribe::download_model(test_model(), opts);
    const auto requests = server_->requests();
    QCOMPARE(requests.size(), std::size_t{1});
    QCOMPARE(requests[0].range_start_bytes, kMiB);
    QVERIFY(read_file(final_path()) == payload_);
    QVERIFY(!fs::exists(part_path()));
    QVERIFY(!reports.empty() && reports.front().received_bytes > std::uint64_t(kMiB));
    QCOMPARE(reports.front().total_bytes, std::uint64_t(kPayloadBytes));
  }

  void download_restarts_when_server_ignores_range() {
    server_->set_mode(Mode::ignore_range);
    write_file(part_path(), payload_.left(kMiB));
    npuscribe::download_model(test_model(), options());
    QCOMPARE(server_->requests().at(0).range_start_bytes, kMiB);
    QVERIFY(read_file(final_path()) == payload_);
    QVERIFY(!fs::exists(part_path()));
  }

  void download_verifies_complete_part_on_416() {
    write_file(part_path(), payload_);  // an earlier run stopped between the last byte and the rename
    npuscribe::download_model(test_model(), options());
    QCOMPARE(server_->requests().at(0).range_start_bytes, kPayloadBytes);
    QVERIFY(read_file(final_path()) == payload_);
    QVERIFY(!fs::exists(part_path()));
  }

  void download_checksum_mismatch_deletes_everything() {
    OfficialModel model = test_model();
    model.sha1 = std::string(40, '0');
    const auto message = error_of([&] { npuscribe::download_model(model, options()); });
    QVERIFY2(contains(message, "corrupted") && contains(message, "SHA-1 checksum"),
             message.value_or("no error").c_str());
    QVERIFY2(contains(message, "run the same command again"), message->c_str());
    QVERIFY(!fs::exists(final_path()));
    QVERIFY(!fs::exists(part_path()));
  }

  void download_size_mismatch_is_refused() {
    OfficialModel model = test_model();
    model.size_bytes = kPayloadBytes - 1;
    const auto message = error_of([&] { npuscribe::download_model(model, options()); });
    QVERIFY2(contains(message, std::to_string(kPayloadBytes) + " bytes"),
             message.value_or("no error").c_str());
    QVERIFY(!fs::exists(final_path()));
    QVERIFY(!fs::exists(part_path()));
  }

  void download_server_gone_keeps_part_then_resumes() {
    const qint64 cut_bytes = kMiB + kMiB / 2;
    server_->set_mode(Mode::close_after, cut_bytes);
    const auto message = error_of([&] { npuscribe::download_model(test_model(), options()); });
    QVERIFY2(contains(message, "run the same command again to resume"), message.value_or("no error").c_str());
    QVERIFY(!fs::exists(final_path()));
    QVERIFY(read_file(part_path()) == payload_.left(cut_bytes));

    server_->set_mode(Mode::normal);
    npuscribe::download_model(test_model(), options());
    QCOMPARE(server_->requests().back().range_start_bytes, cut_bytes);
    QVERIFY(read_file(final_path()) == payload_);
    QVERIFY(!fs::exists(part_path()));
  }

  void download_stalled_server_times_out() {
    const qint64 sent_bytes = 512 * 1024;
    server_->set_mode(Mode::stall, sent_bytes);
    DownloadOptions opts = options();
    opts.low_speed_timeout_s = 2;
    const auto started = Clock::now();
    const auto message = error_of([&] { npuscribe::download_model(test_model(), opts); });
    const double elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
    QVERIFY2(contains(message, "Timeout was reached"), message.value_or("no error").c_str());
    QVERIFY2(elapsed_s < 10.0, std::to_string(elapsed_s).c_str());
    QVERIFY(read_file(part_path()) == payload_.left(sent_bytes));
  }

  void download_connection_refused() {
    quint16 closed_port = 0;
    {
      QTcpServer probe;
      QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
      closed_port = probe.serverPort();
    }
    DownloadOptions opts = options();
    opts.base_url = "http://127.0.0.1:" + std::to_string(closed_port);
    const auto message = error_of([&] { npuscribe::download_model(test_model(), opts); });
    QVERIFY2(contains(message, "Couldn't connect to server"), message.value_or("no error").c_str());
    QVERIFY(!fs::exists(part_path()));  // nothing worth keeping
  }

  void download_not_found() {
    server_->set_mode(Mode::not_found);
    const auto message = error_of([&] { npuscribe::download_model(test_model(), options()); });
    QVERIFY2(contains(message, "the server has no file ggml-test.bin (HTTP 404)"),
             message.value_or("no error").c_str());
    QVERIFY(!fs::exists(final_path()));
    QVERIFY(!fs::exists(part_path()));
  }

  void download_server_error() {
    write_file(part_path(), payload_.left(kMiB));
    server_->set_mode(Mode::server_error);
    const auto message = error_of([&] { npuscribe::download_model(test_model(), options()); });
    QVERIFY2(contains(message, "HTTP 503") && contains(message, "again"),
             message.value_or("no error").c_str());
    QVERIFY(read_file(part_path()) == payload_.left(kMiB));  // kept for a later resume
  }

  void download_cancel_keeps_part() {
    std::atomic<bool> cancel{false};
    Clock::time_point cancelled_at{};
    DownloadOptions opts = options();
    opts.cancel = &cancel;
    opts.on_progress = [&](const DownloadProgress& progress) {
      if (progress.received_bytes >= std::uint64_t(kMiB) && !cancel) {
        cancel = true;
        cancelled_at = Clock::now();
      }
    };
    std::optional<std::string> message;
    try {
      npuscribe::download_model(test_model(), opts);
    } catch (const DownloadCancelled& error) {
      message = error.what();
    }
    QVERIFY2(message.has_value(), "DownloadCancelled was not thrown");
    const double reaction_s = std::chrono::duration<double>(Clock::now() - cancelled_at).count();
    QVERIFY2(reaction_s < 1.0, std::to_string(reaction_s).c_str());
    QVERIFY2(contains(message, "resume"), message->c_str());
    QVERIFY(!fs::exists(final_path()));
    const QByteArray kept = read_file(part_path());
    QVERIFY2(kept.size() >= kMiB && kept.size() < kPayloadBytes, std::to_string(kept.size()).c_str());
    QVERIFY(kept == payload_.left(kept.size()));
  }
};

QTEST_GUILESS_MAIN(TestModelDownload)
#include "test_model_download.moc"
