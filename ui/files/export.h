// Export of a transcript (with the user's edits) through the core's writers.
#pragma once

#include <QString>
#include <filesystem>

#include "io/transcript_writer.h"

namespace npuscribe::ui {

// folder empty: beside the audio file. Returns the written path; throws npuscribe::Error from the writer.
std::filesystem::path export_transcript(const QString& audio_path, const TranscriptResult& result,
                                        const QString& folder, OutputFormat format);

}  // namespace npuscribe::ui
