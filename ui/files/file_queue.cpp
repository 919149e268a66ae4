#include "files/file_queue.h"

#include <algorithm>

namespace npuscribe::ui {

QString state_name(QueueEntry::State state) {
  switch (state) {
    case QueueEntry::State::queued:
      return QObject::tr("Waiting");
    case QueueEntry::State::running:
      return QObject::tr("Transcribing");
    case QueueEntry::State::finished:
      return QObject::tr("Done");
    case QueueEntry::State::cancelled:
      return QObject::tr("Cancelled");
    case QueueEntry::State::failed:
      return QObject::tr("Failed");
  }
  return {};
}

FileQueue::FileQueue(QObject* parent) : QObject(parent) {
  register_worker_types();
  qRegisterMetaType<std::vector<Segment>>();
  worker_ = new TranscriptionWorker;
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(worker_, &TranscriptionWorker::started, this, &FileQueue::on_started, Qt::QueuedConnection);
  connect(worker_, &TranscriptionWorker::progressed, this, &FileQueue::on_progress, Qt::QueuedConnection);
  connect(worker_, &TranscriptionWorker::completed, this, &FileQueue::on_completed, Qt::QueuedConnection);
  connect(worker_, &TranscriptionWorker::notice, this, &FileQueue::notice, Qt::QueuedConnection);
  thread_.setObjectName("transcription");
  thread_.start();
}

FileQueue::~FileQueue() {
  // Stop the running file quickly (the transcriber checks its flag per window), then join.
  for (auto& [id, entry] : entries_)
    if (entry.cancel) entry.cancel->store(true);
  if (comparison_cancel_) comparison_cancel_->store(true);
  thread_.quit();
  thread_.wait();
}

std::vector<int> FileQueue::add(const QStringList& paths) {
  std::vector<int> added;
  for (const QString& path : paths) {
    QueueEntry entry;
    entry.id = next_id_++;
    entry.path = path;
    entries_.emplace(entry.id, entry);
    order_.push_back(entry.id);
    added.push_back(entry.id);
    emit entry_added(entry.id);
  }
  start_next();
  return added;
}

const QueueEntry* FileQueue::entry(int id) const {
  const auto found = entries_.find(id);
  return found == entries_.end() ? nullptr : &found->second;
}

QueueEntry* FileQueue::entry(int id) {
  const auto found = entries_.find(id);
  return found == entries_.end() ? nullptr : &found->second;
}

int FileQueue::pending_count() const {
  return static_cast<int>(std::count_if(entries_.begin(), entries_.end(), [](const auto& item) {
    return item.second.state == QueueEntry::State::queued;
  }));
}

void FileQueue::cancel(int id) {
  QueueEntry* found = entry(id);
  if (!found) return;
  if (found->state == QueueEntry::State::running) {
    found->cancel->store(true);  // the worker reports back with a cancelled outcome
  } else if (found->state == QueueEntry::State::queued) {
    found->state = QueueEntry::State::cancelled;
    emit entry_changed(id);
    if (!busy() && pending_count() == 0) emit idle();
  }
}

void FileQueue::cancel_all() {
  for (const int id : order_) cancel(id);
}

void FileQueue::retry(int id) {
  QueueEntry* found = entry(id);
  if (!found || found->state == QueueEntry::State::running || found->state == QueueEntry::State::queued)
    return;
  found->state = QueueEntry::State::queued;
  found->fraction = 0.0;
  found->realtime_factor = 0.0;
  found->error.clear();
  found->result = {};
  // To the end of the queue, so files already waiting keep their turn.
  order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
  order_.push_back(id);
  emit entry_changed(id);
  start_next();
}

void FileQueue::remove(int id) {
  const QueueEntry* found = entry(id);
  if (!found || found->state == QueueEntry::State::running) return;
  entries_.erase(id);
  order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
  emit entry_removed(id);
}

void FileQueue::start_next() {
  if (busy() || !model_) return;
  const auto next = std::find_if(order_.begin(), order_.end(), [this](int id) {
    return entries_.at(id).state == QueueEntry::State::queued;
  });
  if (next == order_.end()) return;
  QueueEntry& entry = entries_.at(*next);
  entry.state = QueueEntry::State::running;
  entry.cancel = std::make_shared<std::atomic<bool>>(false);
  running_id_ = entry.id;
  FileJob job;
  job.job_id = entry.id;
  job.path = entry.path;
  job.model = model_;
  job.backend = backend_;
  job.options = options_;
  job.cancel = entry.cancel;
  emit entry_changed(entry.id);
  QMetaObject::invokeMethod(worker_, "run", Qt::QueuedConnection, Q_ARG(npuscribe::ui::FileJob, job));
}

bool FileQueue::compare_with_cpu(int id) {
  const QueueEntry* found = entry(id);
  if (!found || found->state != QueueEntry::State::finished || !model_ || comparing_) return false;
  ComparisonJob job;
  job.path = found->path;
  job.model = model_;
  job.backend = backend_;
  job.options = options_;
  job.candidate = found->result;
  comparison_cancel_ = job.cancel;
  comparing_ = true;
  // A functor call queued to the worker's thread: runs after the file in progress, never beside it.
  QMetaObject::invokeMethod(
      worker_,
      [this, job, worker = worker_] {
        ComparisonOutcome outcome = worker->compare_with_cpu(job);
        QMetaObject::invokeMethod(
            this,
            [this, outcome = std::move(outcome)] {
              comparing_ = false;
              emit comparison_ready(outcome);
            },
            Qt::QueuedConnection);
      },
      Qt::QueuedConnection);
  return true;
}

void FileQueue::on_started(int job_id, const BackendInUse& backend) {
  if (QueueEntry* found = entry(job_id)) {
    found->backend = backend;
    emit entry_changed(job_id);
  }
  emit backend_started(backend);
}

void FileQueue::on_progress(const FileProgress& progress) {
  QueueEntry* found = entry(progress.job_id);
  if (!found) return;
  found->fraction = progress.fraction;
  found->realtime_factor = progress.realtime_factor;
  found->result.segments.insert(found->result.segments.end(), progress.new_segments.begin(),
                                progress.new_segments.end());
  emit entry_changed(progress.job_id);
  if (!progress.new_segments.empty()) emit segments_appended(progress.job_id, progress.new_segments);
}

void FileQueue::on_completed(const FileOutcome& outcome) {
  if (running_id_ == outcome.job_id) running_id_ = 0;
  if (QueueEntry* found = entry(outcome.job_id)) {
    switch (outcome.kind) {
      case FileOutcome::Kind::finished: {
        // Keep the user's edits made while it ran: same segment count, so copy the edited texts over.
        const std::vector<Segment> shown = std::move(found->result.segments);
        found->result = outcome.result;
        for (std::size_t i = 0; i < shown.size() && i < found->result.segments.size(); ++i) {
          Segment& final_segment = found->result.segments[i];
          if (final_segment.start_s == shown[i].start_s && final_segment.end_s == shown[i].end_s)
            final_segment.text = shown[i].text;
        }
        for (std::size_t i = shown.size(); i < found->result.segments.size(); ++i)
          emit segments_appended(outcome.job_id, {found->result.segments[i]});
        found->state = QueueEntry::State::finished;
        found->fraction = 1.0;
        found->realtime_factor = outcome.realtime_factor;
        break;
      }
      case FileOutcome::Kind::cancelled:
        found->state = QueueEntry::State::cancelled;
        break;
      case FileOutcome::Kind::failed:
        found->state = QueueEntry::State::failed;
        found->error = outcome.error;
        break;
    }
    emit entry_changed(outcome.job_id);
  }
  start_next();
  if (!busy()) emit idle();
}

}  // namespace npuscribe::ui
