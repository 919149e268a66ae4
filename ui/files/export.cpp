#include "files/export.h"

#include <QFileInfo>

namespace npuscribe::ui {

std::filesystem::path export_transcript(const QString& audio_path, const TranscriptResult& result,
                                        const QString& folder, OutputFormat format) {
  const QString directory = folder.isEmpty() ? QFileInfo(audio_path).absolutePath() : folder;
  const std::filesystem::path target =
      output_path_for(audio_path.toStdString(), directory.toStdString(), format);
  write_transcript(target, result, format);
  return target;
}

}  // namespace npuscribe::ui
