// Transcript output files: plain text, SubRip (SRT), WebVTT and JSON, written atomically so a crash or a
// full disk never leaves a half-written file or destroys the previous one.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/transcript.h"

namespace npuscribe {

enum class OutputFormat { txt = 1, srt, vtt, json };

// "txt", "srt", "vtt" or "json", case-insensitive. Throws Error naming the valid formats otherwise.
OutputFormat parse_output_format(std::string_view name);

// The lower-case format name ("srt").
std::string_view format_name(OutputFormat format);

// The file name extension with its dot (".srt"), as std::filesystem::path::extension() returns it.
std::string_view file_extension(OutputFormat format);

// The whole document in that format. txt and srt/vtt leave out segments whose text is empty.
std::string format_transcript(const TranscriptResult& result, OutputFormat format);

// Formats and writes the transcript to path: to a temporary file in the same directory, fsync'ed, then
// renamed over path (an existing file keeps its permissions). On failure throws Error saying what failed
// and what to do, removes the temporary file and leaves any previous file at path untouched.
void write_transcript(const std::filesystem::path& path, const TranscriptResult& result, OutputFormat format);

// output_dir / (input stem + extension): "talk.mp3" -> output_dir/"talk.srt".
std::filesystem::path output_path_for(const std::filesystem::path& input,
                                      const std::filesystem::path& output_dir, OutputFormat format);

// "HH:MM:SS<sep>mmm", rounded to the nearest millisecond. Hours take as many digits as they need (two at
// least); without always_hours they are left out below one hour ("MM:SS<sep>mmm"). Negative, NaN and
// infinite times give zero.
std::string format_timestamp(double seconds, char decimal_separator, bool always_hours);

}  // namespace npuscribe
