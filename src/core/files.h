// Small files the tool keeps beside the data (configuration, requests, plan journals): read
// whole, and written atomically so a crash at any instant leaves the old or the new version.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.h"

namespace backfill {

// Writes `content` to a temp file beside `path`, fsyncs it, renames it over `path` and fsyncs
// the folder; creates missing parent folders.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content);
// kNotFound when the file does not exist.
Result<std::string> ReadWholeFile(const std::filesystem::path& path);

}  // namespace backfill
