// The models dialog against a local HTTP server on 127.0.0.1: the official list with install state, a
// download the server answers with 404, one whose bytes are not the model (size/checksum check), a cancel
// mid-transfer that keeps the .part, a refused connection, and local ggml files good and bad.
#include <QtTest>

#include <QProgressBar>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTcpServer>
#include <QTcpSocket>
#include <filesystem>
#include <fstream>

#include "model/model_download.h"
#include "model/model_registry.h"
#include "model/whisper_model.h"
#include "models/models_dialog.h"
#include "test_support.h"
#include "theme.h"
#include "util/error.h"

using namespace npuscribe;

namespace {

constexpr int kTimeoutMs = 60'000;

// Answers every request according to the mode; written for this test.
class TinyServer : public QObject {
 public:
  enum class Mode { not_found, short_body, trickle };
  Mode mode = Mode::not_found;
  qint64 sent_bytes = 0;

  TinyServer() {
    QVERIFY(server_.listen(QHostAddress::LocalHost, 0));
    connect(&server_, &QTcpServer::newConnection, this, [this] {
      while (QTcpSocket* socket = server_.nextPendingConnection()) {
        connect(socket, &QTcpSocket::readyRead, socket, [this, socket] {
          request_ += socket->readAll();
          if (!request_.contains("\r\n\r\n")) return;
          request_.clear();
          answer(socket);
        });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
      }
    });
  }
  QString url() const { return QString("http://127.0.0.1:%1/models").arg(server_.serverPort()); }

 private:
  void answer(QTcpSocket* socket) {
    switch (mode) {
      case Mode::not_found:
        socket->write("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
        socket->disconnectFromHost();
        break;
      case Mode::short_body:
        socket->write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n");
        socket->write(QByteArray(1000, 'x'));
        socket->disconnectFromHost();
        break;
      case Mode::trickle: {
        // Announces a file of tiny.en's size and sends 64 KiB every 20 ms: slow enough to cancel.
        socket->write("HTTP/1.1 200 OK\r\nContent-Length: 77691713\r\nConnection: close\r\n\r\n");
        auto* timer = new QTimer(socket);
        connect(timer, &QTimer::timeout, socket, [this, socket] {
          socket->write(QByteArray(64 * 1024, 'y'));
          sent_bytes += 64 * 1024;
        });
        timer->start(20);
        break;
      }
    }
  }
  QTcpServer server_;
  QByteArray request_;
};

}  // namespace

class TestModelsDialog : public QObject {
  Q_OBJECT

  std::unique_ptr<test::TempDir> dir_;

  static QString finished_message(QSignalSpy& spy) { return spy.last().at(2).toString(); }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    dir_ = std::make_unique<test::TempDir>();
    qputenv("NPUSCRIBE_MODELS_DIR", dir_->file("models").string().c_str());
    ui::apply_theme(ui::ThemeChoice::light);
  }
  void cleanupTestCase() { dir_.reset(); }

  void lists_the_official_models_with_their_state() {
    // One installed (a file of any content counts as installed), one partial.
    std::filesystem::create_directories(dir_->file("models"));
    const OfficialModel* base = find_official_model("base.en");
    const OfficialModel* small = find_official_model("small");
    QVERIFY(base && small);
    std::ofstream(installed_model_path(*base)) << "x";
    std::ofstream(partial_model_path(*small)) << std::string(2048, 'y');
    struct Cleanup {
      std::filesystem::path a, b;
      ~Cleanup() {
        std::filesystem::remove(a);
        std::filesystem::remove(b);
      }
    } cleanup{installed_model_path(*base), partial_model_path(*small)};
    ui::ModelsDialog dialog;
    QCOMPARE(dialog.table()->rowCount(), int(official_models().size()));
    for (int row = 0; row < dialog.table()->rowCount(); ++row)
      QCOMPARE(dialog.table()->item(row, 0)->text(),
               QString::fromStdString(official_models()[std::size_t(row)].name));
    QCOMPARE(dialog.status_of("base.en"), QString("Installed"));
    const QString partial = QString("Partly downloaded (%1)").arg(QString::fromStdString(format_size(2048)));
    QVERIFY2(dialog.status_of("small").startsWith(partial), qPrintable(dialog.status_of("small")));
    QCOMPARE(dialog.status_of("tiny.en"), QString("Not installed"));
    QCOMPARE(dialog.table()->item(dialog.row_of("tiny.en"), 1)->text(),
             QString::fromStdString(format_size(find_official_model("tiny.en")->size_bytes)));
  }

  void http_error_is_shown_with_the_core_message() {
    TinyServer server;
    server.mode = TinyServer::Mode::not_found;
    // The core's own message for the same failure, from a direct call.
    QString expected;
    DownloadOptions options;
    options.base_url = server.url().toStdString();
    std::thread direct([&] {
      try {
        download_model(*find_official_model("tiny.en"), options);
      } catch (const Error& error) {
        expected = QString::fromUtf8(error.what());
      }
    });
    QTRY_VERIFY_WITH_TIMEOUT(!expected.isEmpty(), kTimeoutMs);
    direct.join();

    ui::ModelsDialog dialog;
    dialog.set_base_url(server.url());
    QSignalSpy finished(&dialog, &ui::ModelsDialog::download_finished);
    QVERIFY(dialog.start_download("tiny.en"));
    QVERIFY(dialog.downloading());
    QVERIFY(!dialog.start_download("base"));  // one at a time
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.last().at(1).toBool(), false);
    QCOMPARE(finished_message(finished), expected);
    QCOMPARE(dialog.message_text(), expected);
    QCOMPARE(dialog.status_of("tiny.en"), QString("Not installed"));
  }

  void corrupted_download_is_rejected() {
    TinyServer server;
    server.mode = TinyServer::Mode::short_body;
    ui::ModelsDialog dialog;
    dialog.set_base_url(server.url());
    QSignalSpy finished(&dialog, &ui::ModelsDialog::download_finished);
    QSignalSpy chosen(&dialog, &ui::ModelsDialog::model_chosen);
    QVERIFY(dialog.start_download("tiny.en"));
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.last().at(1).toBool(), false);
    QVERIFY2(!dialog.message_text().isEmpty(), "the size/checksum failure must be shown");
    QCOMPARE(chosen.count(), 0);
    QVERIFY(!std::filesystem::exists(installed_model_path(*find_official_model("tiny.en"))));
    QVERIFY2(!std::filesystem::exists(partial_model_path(*find_official_model("tiny.en"))),
             "a corrupted download's .part is deleted");
  }

  void cancel_mid_transfer_keeps_the_partial_file() {
    TinyServer server;
    server.mode = TinyServer::Mode::trickle;
    ui::ModelsDialog dialog;
    dialog.set_base_url(server.url());
    QSignalSpy finished(&dialog, &ui::ModelsDialog::download_finished);
    QVERIFY(dialog.start_download("tiny.en"));
    const int row = dialog.row_of("tiny.en");
    auto* bar = qobject_cast<QProgressBar*>(dialog.table()->cellWidget(row, 2));
    QVERIFY2(bar, "a progress bar replaces the status while downloading");
    QTRY_VERIFY_WITH_TIMEOUT(bar->value() > 0, kTimeoutMs);
    QVERIFY2(bar->format().contains("of 74.1 MiB") || bar->format().contains(" of "),
             qPrintable(bar->format()));
    dialog.cancel_download();
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.last().at(1).toBool(), false);
    QVERIFY2(dialog.message_text().contains("cancelled"), qPrintable(dialog.message_text()));
    QVERIFY(std::filesystem::exists(partial_model_path(*find_official_model("tiny.en"))));
    QVERIFY2(dialog.status_of("tiny.en").startsWith("Partly downloaded"),
             qPrintable(dialog.status_of("tiny.en")));
    std::filesystem::remove(partial_model_path(*find_official_model("tiny.en")));
  }

  void refused_connection_fails_cleanly() {
    // Port 1 on the loopback: nothing listens, the connection is refused at once.
    ui::ModelsDialog dialog;
    dialog.set_base_url("http://127.0.0.1:1/models");
    QSignalSpy finished(&dialog, &ui::ModelsDialog::download_finished);
    QVERIFY(dialog.start_download("tiny"));
    QVERIFY(finished.wait(kTimeoutMs));
    QCOMPARE(finished.last().at(1).toBool(), false);
    QVERIFY(!dialog.message_text().isEmpty());
    QVERIFY(!dialog.downloading());
  }

  void closing_during_a_download_cancels_it() {
    TinyServer server;
    server.mode = TinyServer::Mode::trickle;
    auto dialog = std::make_unique<ui::ModelsDialog>();
    dialog->set_base_url(server.url());
    QVERIFY(dialog->start_download("tiny.en"));
    QTRY_VERIFY_WITH_TIMEOUT(server.sent_bytes > 0, kTimeoutMs);
    QElapsedTimer clock;
    clock.start();
    dialog.reset();  // must cancel and join, not hang or crash
    qInfo("dialog destroyed %lld ms after cancelling a running download", clock.elapsed());
    std::filesystem::remove(partial_model_path(*find_official_model("tiny.en")));
  }

  void bad_local_file_shows_the_loader_message() {
    const auto bad = dir_->file("ggml-bad.bin");
    std::ofstream(bad) << "definitely not ggml";
    QString expected;
    try {
      WhisperModel::load(bad);
    } catch (const Error& error) {
      expected = QString::fromUtf8(error.what());
    }
    QVERIFY(!expected.isEmpty());
    ui::ModelsDialog dialog;
    QSignalSpy chosen(&dialog, &ui::ModelsDialog::model_chosen);
    QVERIFY(!dialog.add_local_file(QString::fromStdString(bad.string())));
    QCOMPARE(dialog.message_text(), expected);
    QCOMPARE(chosen.count(), 0);
  }

  void good_local_file_is_chosen() {
    ui::ModelsDialog dialog;
    QSignalSpy chosen(&dialog, &ui::ModelsDialog::model_chosen);
    const QString path = QString::fromStdString(test::fixture("ggml-tiny.en-random.bin").string());
    QVERIFY(dialog.add_local_file(path));
    QCOMPARE(chosen.count(), 1);
    QCOMPARE(chosen.first().at(0).toString(), QFileInfo(path).absoluteFilePath());
    QVERIFY2(dialog.message_text().contains("tiny"), qPrintable(dialog.message_text()));
  }
};

QTEST_MAIN(TestModelsDialog)
#include "test_models_dialog.moc"
