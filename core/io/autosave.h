// Autosave of a live transcript: each save replaces the file atomically (write a temporary file in the
// same folder, fsync, rename), so a crash at any moment leaves either the previous or the new text.
#pragma once

#include <filesystem>
#include <string_view>

namespace npuscribe {

// Throws npuscribe::Error (with the path and the reason) when the file cannot be written.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace npuscribe
