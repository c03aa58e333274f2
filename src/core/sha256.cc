#include "core/sha256.h"

#include <openssl/evp.h>

#include <memory>

namespace backfill {
namespace {

class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  std::string Hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * len);
    for (unsigned i = 0; i < len; ++i) {
      hex += kHex[digest[i] >> 4];
      hex += kHex[digest[i] & 0xf];
    }
    return hex;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  Digest d;
  d.Update(bytes.data(), bytes.size());
  return d.Hex();
}

std::string Sha256HexOfParts(const std::vector<std::string>& parts) {
  Digest d;
  for (const auto& p : parts)
    d.Update(p.data(), p.size() + 1);  // std::string keeps a NUL after its bytes
  return d.Hex();
}

}  // namespace backfill
