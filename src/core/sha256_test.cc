#include "core/sha256.h"

#include <gtest/gtest.h>

namespace backfill {
namespace {

// FIPS 180-2 examples, and the same bytes as `printf ... | openssl dgst -sha256` prints.
TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string_view("abc\0", 4)),
            "dc1114cd074914bd872cc1f9a23ec910ea2203bc79779ab2e17da25782a624fc");
}

TEST(Sha256Test, PartsAreEachFollowedByANulByte) {
  EXPECT_EQ(Sha256HexOfParts({}), Sha256Hex(""));
  EXPECT_EQ(Sha256HexOfParts({"abc"}),
            "dc1114cd074914bd872cc1f9a23ec910ea2203bc79779ab2e17da25782a624fc");
  EXPECT_EQ(Sha256HexOfParts({"a", "bc"}),
            "aa795aa4bbb6117911ef062e271bcb05ccfd58ea439da7d46a44e3a3fcefa790");
  EXPECT_NE(Sha256HexOfParts({"ab", "c"}), Sha256HexOfParts({"a", "bc"}));
}

}  // namespace
}  // namespace backfill
