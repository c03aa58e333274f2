// SHA-256 digests (OpenSSL EVP) as lowercase hex. Pure functions over bytes in memory; no I/O,
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace backfill {

// sha256 of the bytes.
std::string Sha256Hex(std::string_view bytes);

// sha256 over the parts, each followed by a NUL byte, so that {"ab", "c"} and {"a", "bc"} differ.
// Reviewed statements, schemas in the audit log and plan files (one part: the file's bytes) are
// hashed this way; their recorded hashes depend on it, so it must not change.
std::string Sha256HexOfParts(const std::vector<std::string>& parts);

}  // namespace backfill
