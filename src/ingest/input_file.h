// The sink's input files: which files the inputs name (files, directories, glob patterns), their
// content hash for the load ledger, and reading one of them line by line, plain or gzip.
// Thread-safety: an InputFile is used by one thread; the functions keep no state.
// I/O: reads the file system; transient read errors are retried with the given RetryPolicy.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/retry.h"
#include "core/status.h"

namespace backfill::ingest {

// The files `inputs` name, in order, each once: a file as given, a directory's regular files
// (recursively, sorted; hidden files and folders are not input), a glob(3) pattern's matches.
// kNotFound for an input that names nothing.
Result<std::vector<std::filesystem::path>> ExpandInputs(const std::vector<std::string>& inputs);

// sha256 (hex) and size of a file's bytes; I/O errors are kIoError (transient).
Status HashFile(const std::filesystem::path& path, std::string* hex, int64_t* size);

// Reads one input file line by line: plain or gzip (any number of members), detected by the
// gzip magic. Raw reads are retried (transient I/O errors); damage to the gzip stream ends the
// file with a problem() that says where.
// A gzip file of at most whole_gzip_limit() bytes is read at once and each member inflated
// with libdeflate, about twice as fast as zlib's streaming inflate; larger files, members that
// inflate past kWholeTextLimit and damaged members are inflated by zlib as a stream (a damaged
// member also from its start), so the lines before any damage and the problem are the same
// either way.
class InputFile {
 public:
  InputFile(std::filesystem::path path, const RetryPolicy& retry)
      : path_(std::move(path)), retry_(retry) {}
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  Status Open();

  // The next line (without its newline and a trailing CR); false at the end of the file or at
  // damage (see problem()). The view is valid until the next call. Errors are I/O failures.
  Result<bool> Next(std::string_view* line);

  const std::string& problem() const { return problem_; }
  // Decompressed bytes after the last complete line when the file was damaged.
  size_t tail_bytes() const { return tail_bytes_; }
  int64_t bytes_read() const { return file_offset_; }

  // Tests set 0 to read every gzip file as a stream.
  void set_whole_gzip_limit(size_t bytes) { whole_gzip_limit_ = bytes; }
  static constexpr size_t kWholeGzipLimit = 32 << 20;
  static constexpr size_t kWholeTextLimit = 256 << 20;

 private:
  static constexpr size_t kRawChunk = 1 << 20;
  static constexpr size_t kTextChunk = 1 << 20;

  // pread at file_offset_ (advanced by what was read), retried on transient errors; 0 at the end.
  Result<size_t> ReadAt(char* buffer, size_t size);
  Status ReadRaw();
  Status Fill();
  // Reads the rest of the file and inflates its members with libdeflate, leaving raw_ at the
  // first member it could not inflate (if any) for the streaming inflate.
  Status InflateWhole();

  // Bytes that grow without being zero-filled first: whole files are read and inflated straight
  // into them (std::string's resize wrote a gigabyte of zeros over a 100k-record replay, only
  // for them to be overwritten).
  class Bytes {
   public:
    char* data() { return data_.get(); }
    const char* data() const { return data_.get(); }
    size_t size() const { return size_; }
    char operator[](size_t i) const { return data_[i]; }
    void resize(size_t n) {
      if (n > capacity_) Grow(n);
      size_ = n;
    }
    void append(const char* p, size_t n) {
      const size_t old = size_;
      resize(old + n);
      if (n) std::memcpy(data_.get() + old, p, n);
    }
    void erase_front(size_t n) {
      std::memmove(data_.get(), data_.get() + n, size_ - n);
      size_ -= n;
    }

   private:
    void Grow(size_t n) {
      const size_t capacity = std::max(n, capacity_ * 2);
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      if (size_) std::memcpy(bigger.get(), data_.get(), size_);
      data_ = std::move(bigger);
      capacity_ = capacity;
    }
    std::unique_ptr<char[]> data_;
    size_t size_ = 0, capacity_ = 0;
  };

  std::filesystem::path path_;
  const RetryPolicy& retry_;
  int fd_ = -1;
  int64_t file_offset_ = 0;
  Bytes raw_;
  size_t raw_pos_ = 0, raw_len_ = 0;
  bool eof_ = false, done_ = false, kind_known_ = false, gzip_ = false;
  z_stream zs_{};
  bool inflating_ = false, in_member_ = false;
  size_t whole_gzip_limit_ = kWholeGzipLimit;
  bool whole_tried_ = false;
  Bytes text_;
  size_t start_ = 0, scan_ = 0;
  std::string problem_;
  size_t tail_bytes_ = 0;
};

}  // namespace backfill::ingest
