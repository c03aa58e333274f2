#include "ingest/input_file.h"

#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <libdeflate.h>
#include <openssl/evp.h>
#include <sys/stat.h>

namespace backfill::ingest {

namespace fs = std::filesystem;

namespace {

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

void AddPath(const fs::path& p, std::vector<fs::path>* out) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(p, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      // Hidden files and folders (e.g. our own unfinished error-output files) are not input.
      if (it->path().filename().string().starts_with(".")) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) found.push_back(it->path());
    }
    std::sort(found.begin(), found.end());
    out->insert(out->end(), found.begin(), found.end());
  } else {
    out->push_back(p);
  }
}

}  // namespace

Result<std::vector<fs::path>> ExpandInputs(const std::vector<std::string>& inputs) {
  std::vector<fs::path> all;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::exists(in, ec)) {
      AddPath(in, &all);
      continue;
    }
    if (!HasGlobChars(in)) return NotFound(fmt::format("input {} does not exist", in));
    glob_t g{};
    int rc = glob(in.c_str(), GLOB_ERR, nullptr, &g);
    if (rc == GLOB_NOMATCH) {
      globfree(&g);
      return NotFound(fmt::format("no file matches {}", in));
    }
    if (rc != 0) {
      globfree(&g);
      return IoError(fmt::format("expanding {}: glob failed ({})", in, rc));
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) AddPath(g.gl_pathv[i], &all);
    globfree(&g);
  }
  // The same file given twice is read once.
  std::vector<fs::path> unique;
  std::set<fs::path> seen;
  for (const auto& p : all) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(p, ec);
    if (ec) key = p;
    if (seen.insert(key).second) unique.push_back(p);
  }
  return unique;
}

Status HashFile(const fs::path& path, std::string* hex, int64_t* size) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return IoError(fmt::format("cannot read {}: {}", path.string(), strerror(errno)));
  std::unique_ptr<FILE, int (*)(FILE*)> closer(f, fclose);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  *size = 0;
  for (;;) {
    size_t n = fread(buf.data(), 1, buf.size(), f);
    if (n > 0) {
      EVP_DigestUpdate(ctx.get(), buf.data(), n);
      *size += static_cast<int64_t>(n);
    }
    if (n < buf.size()) {
      if (ferror(f))
        return IoError(fmt::format("cannot read {}: {}", path.string(), strerror(errno)));
      break;
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  hex->clear();
  for (unsigned int i = 0; i < len; ++i) *hex += fmt::format("{:02x}", digest[i]);
  return Status::Ok();
}

InputFile::~InputFile() {
  if (inflating_) inflateEnd(&zs_);
  if (fd_ >= 0) close(fd_);
}

Status InputFile::Open() {
  return Retry(retry_, [&]() -> Status {
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      return IoError(fmt::format("cannot open {}: {}", path_.string(), std::strerror(errno)));
    return Status::Ok();
  });
}

Result<bool> InputFile::Next(std::string_view* line) {
  for (;;) {
    const char* base = text_.data();
    const void* nl =
        scan_ < text_.size() ? std::memchr(base + scan_, '\n', text_.size() - scan_) : nullptr;
    if (nl) {
      size_t end = static_cast<const char*>(nl) - base;
      size_t len = end - start_;
      if (len > 0 && base[start_ + len - 1] == '\r') --len;
      *line = std::string_view(base + start_, len);
      start_ = scan_ = end + 1;
      return true;
    }
    scan_ = text_.size();
    if (done_) {
      if (start_ < text_.size() && problem_.empty()) {  // a last line without a newline
        *line = std::string_view(base + start_, text_.size() - start_);
        start_ = scan_ = text_.size();
        return true;
      }
      if (start_ < text_.size() && !problem_.empty()) {
        tail_bytes_ = text_.size() - start_;
        start_ = scan_ = text_.size();
      }
      return false;
    }
    if (start_ > 0) {
      text_.erase_front(start_);
      scan_ -= start_;
      start_ = 0;
    }
    BF_RETURN_IF_ERROR(Fill());
  }
}

Result<size_t> InputFile::ReadAt(char* buffer, size_t size) {
  ssize_t n = -1;
  BF_RETURN_IF_ERROR(Retry(retry_, [&]() -> Status {
    do {
      n = pread(fd_, buffer, size, file_offset_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      return IoError(fmt::format("reading {} at byte {}: {}", path_.string(), file_offset_,
                                 std::strerror(errno)));
    }
    return Status::Ok();
  }));
  file_offset_ += n;
  return static_cast<size_t>(n);
}

Status InputFile::ReadRaw() {
  raw_.resize(kRawChunk);
  BF_ASSIGN_OR_RETURN(size_t n, ReadAt(raw_.data(), raw_.size()));
  raw_pos_ = 0;
  raw_len_ = n;
  if (n == 0) eof_ = true;
  if (!kind_known_ && raw_len_ > 0) {
    kind_known_ = true;
    gzip_ = raw_len_ >= 2 && static_cast<unsigned char>(raw_[0]) == 0x1f &&
            static_cast<unsigned char>(raw_[1]) == 0x8b;
    if (gzip_) {
      std::memset(&zs_, 0, sizeof(zs_));
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) return Internal("inflateInit2 failed");
      inflating_ = true;
    }
  }
  return Status::Ok();
}

Status InputFile::InflateWhole() {
  whole_tried_ = true;
  struct stat st {};
  if (fstat(fd_, &st) != 0 || st.st_size < 0 ||
      static_cast<size_t>(st.st_size) > whole_gzip_limit_ || raw_pos_ != 0) {
    return Status::Ok();
  }
  // The first chunk is in raw_; the rest of the file follows it (read to its end, should it
  // have grown since).
  raw_.resize(std::max(raw_len_, static_cast<size_t>(st.st_size)) + 1);
  while (!eof_) {
    if (raw_len_ == raw_.size()) raw_.resize(raw_.size() * 2);
    BF_ASSIGN_OR_RETURN(size_t n, ReadAt(raw_.data() + raw_len_, raw_.size() - raw_len_));
    raw_len_ += n;
    eof_ = n == 0;
  }
  raw_.resize(raw_len_);
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
      libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  if (!d) return Internal("libdeflate_alloc_decompressor failed");
  while (raw_pos_ < raw_len_) {
    // A member's inflated size is in its last four bytes, and only the last member's can be
    // found: that is the first guess for a file's first member (exact when it has one),
    // else 4x (NDJSON inflates about that much); the guess doubles until the member fits.
    size_t in = raw_len_ - raw_pos_;
    size_t guess = std::max<size_t>(in * 4, 1 << 16);
    if (raw_pos_ == 0 && raw_len_ >= 4) {
      uint32_t isize = 0;
      std::memcpy(&isize, raw_.data() + raw_len_ - 4, 4);
      if (isize > 0) guess = size_t{isize} + 1;
    }
    libdeflate_result rc = LIBDEFLATE_INSUFFICIENT_SPACE;
    size_t used_in = 0, used_out = 0;
    const size_t old = text_.size();
    while (rc == LIBDEFLATE_INSUFFICIENT_SPACE && old + guess <= kWholeTextLimit) {
      text_.resize(old + guess);
      rc = libdeflate_gzip_decompress_ex(d.get(), raw_.data() + raw_pos_, in, text_.data() + old,
                                         guess, &used_in, &used_out);
      guess *= 2;
    }
    if (rc != LIBDEFLATE_SUCCESS) {
      text_.resize(old);  // this member goes through zlib, which keeps what precedes damage
      return Status::Ok();
    }
    text_.resize(old + used_out);
    raw_pos_ += used_in;
  }
  done_ = true;
  return Status::Ok();
}

Status InputFile::Fill() {
  if (raw_pos_ == raw_len_ && !eof_) BF_RETURN_IF_ERROR(ReadRaw());
  if (gzip_ && !whole_tried_) {
    BF_RETURN_IF_ERROR(InflateWhole());
    if (done_) return Status::Ok();
  }
  if (!gzip_) {
    text_.append(raw_.data() + raw_pos_, raw_len_ - raw_pos_);
    raw_pos_ = raw_len_;
    if (eof_) done_ = true;
    return Status::Ok();
  }
  if (raw_pos_ == raw_len_) {  // eof_
    if (in_member_) {
      problem_ = fmt::format(
          "truncated gzip file: it ends inside a gzip member (after {} compressed bytes)",
          file_offset_);
    }
    done_ = true;
    return Status::Ok();
  }
  size_t old = text_.size();
  text_.resize(old + kTextChunk);
  zs_.next_in = reinterpret_cast<Bytef*>(raw_.data() + raw_pos_);
  zs_.avail_in = static_cast<uInt>(raw_len_ - raw_pos_);
  zs_.next_out = reinterpret_cast<Bytef*>(text_.data() + old);
  zs_.avail_out = static_cast<uInt>(kTextChunk);
  in_member_ = true;
  int rc = inflate(&zs_, Z_NO_FLUSH);
  size_t consumed = (raw_len_ - raw_pos_) - zs_.avail_in;
  raw_pos_ += consumed;
  text_.resize(old + (kTextChunk - zs_.avail_out));
  if (rc == Z_STREAM_END) {
    in_member_ = false;
    inflateReset(&zs_);  // another member may follow (multi-member gzip)
  } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
    int64_t at = file_offset_ - static_cast<int64_t>(raw_len_ - raw_pos_);
    problem_ = fmt::format("corrupt gzip data at compressed byte {}: {}", at,
                           zs_.msg ? zs_.msg : "inflate failed");
    done_ = true;
  }
  return Status::Ok();
}

}  // namespace backfill::ingest
