#include "core/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace gh::crypto {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

std::vector<std::uint8_t> from_hex(std::string_view h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

TEST(crypto, sha256_known_vectors) {
  // FIPS 180-2 appendix B.1 and the empty-message digest.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256(bytes("abc"))), sha256_hex("abc"));
}

TEST(crypto, hmac_sha256_rfc4231_vectors) {
  // RFC 4231 test case 1.
  std::vector<std::uint8_t> key1(20, 0x0b);
  EXPECT_EQ(hex(hmac_sha256(key1, bytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: short key.
  EXPECT_EQ(hex(hmac_sha256(std::string_view("Jefe"), "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: key longer than the block size gets hashed first.
  std::vector<std::uint8_t> key6(131, 0xaa);
  EXPECT_EQ(hex(hmac_sha256(key6, bytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(crypto, hmac_sha256_empty_key_and_data) {
  // Well-known value of HMAC-SHA256("", "").
  EXPECT_EQ(hex(hmac_sha256(std::string_view(), std::string_view())),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(crypto, constant_time_equal) {
  auto a = bytes("secret-value");
  auto b = bytes("secret-value");
  auto c = bytes("secret-valuf");
  auto shorter = bytes("secret-valu");
  EXPECT_TRUE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, c));
  EXPECT_FALSE(constant_time_equal(a, shorter));
  EXPECT_FALSE(constant_time_equal(shorter, a));
  EXPECT_TRUE(
      constant_time_equal(std::span<const std::uint8_t>{}, std::span<const std::uint8_t>{}));
  EXPECT_FALSE(constant_time_equal(std::span<const std::uint8_t>{}, a));
  EXPECT_TRUE(constant_time_equal(std::string_view("x"), std::string_view("x")));
  EXPECT_FALSE(constant_time_equal(std::string_view("x"), std::string_view("y")));
}

TEST(crypto, random_bytes_fills_and_differs) {
  std::vector<std::uint8_t> a(64, 0), b(64, 0);
  random_bytes(a);
  random_bytes(b);
  // 2^-512 chance of a false failure.
  EXPECT_NE(a, b);
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 16; ++i) seen.insert(random_u32());
  EXPECT_GT(seen.size(), 1u);
  random_bytes(std::span<std::uint8_t>{});  // empty span is a no-op, not a crash
}

TEST(crypto, base64_rfc4648_vectors) {
  // RFC 4648 section 10.
  const std::pair<std::string_view, std::string_view> cases[] = {{"", ""},
                                                                 {"f", "Zg=="},
                                                                 {"fo", "Zm8="},
                                                                 {"foo", "Zm9v"},
                                                                 {"foob", "Zm9vYg=="},
                                                                 {"fooba", "Zm9vYmE="},
                                                                 {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : cases) {
    EXPECT_EQ(base64_encode(plain), enc);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.ok()) << enc << ": " << dec.err();
    EXPECT_EQ(*dec, bytes(plain));
  }
}

TEST(crypto, base64_round_trip_all_lengths_and_bytes) {
  std::vector<std::uint8_t> data;
  for (int len = 0; len < 300; ++len) {
    auto enc = base64_encode(data);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.ok()) << len << ": " << dec.err();
    EXPECT_EQ(*dec, data);
    auto enc_url = base64url_encode(data);
    EXPECT_EQ(enc_url.find_first_of("+/="), std::string::npos);
    auto dec_url = base64url_decode(enc_url);
    ASSERT_TRUE(dec_url.ok()) << len << ": " << dec_url.err();
    EXPECT_EQ(*dec_url, data);
    data.push_back(static_cast<std::uint8_t>(len * 37 + 11));
  }
}

TEST(crypto, base64_rejects_garbage) {
  const std::string_view bad[] = {
      "Zg",         // missing padding
      "Zg=",        // wrong length
      "Z===",       // too much padding
      "====",       // only padding
      "Zm9v YmFy",  // whitespace
      "Zm9v\nYmFy",
      "Zm=v",      // padding in the middle
      "Zg==Zg==",  // padding not at the end
      "Zm9-",      // url alphabet in standard decoder
      "Zh==",      // non-zero trailing bits (non-canonical "f")
      "Zm9=",      // non-zero trailing bits
      "Zm9v\x80\x80\x80\x80",
      std::string_view("Zm9v\0AAA", 8),
  };
  for (auto s : bad) {
    auto r = base64_decode(s);
    EXPECT_FALSE(r.ok()) << "accepted: " << s;
    if (!r.ok()) {
      EXPECT_NE(r.err().find("base64"), std::string::npos);
    }
  }
  EXPECT_FALSE(base64url_decode("Zg==").ok());  // no padding in url form
  EXPECT_FALSE(base64url_decode("Zm9v+").ok());
  EXPECT_FALSE(base64url_decode("Z").ok());
  EXPECT_FALSE(base64url_decode("Zh").ok());
  EXPECT_TRUE(base64url_decode("Zg").ok());
}

TEST(crypto, hex_encoding) {
  EXPECT_EQ(hex(from_hex("00ff10ab")), "00ff10ab");
  EXPECT_EQ(hex(std::span<const std::uint8_t>{}), "");
}

TEST(crypto, random_token_is_url_safe_base64) {
  auto t = random_token(32);
  EXPECT_EQ(t.size(), 43u);  // ceil(32 * 4 / 3), no padding
  EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  auto dec = base64url_decode(t);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->size(), 32u);
  EXPECT_NE(random_token(16), random_token(16));
  EXPECT_EQ(random_token(0), "");
}

TEST(crypto, secure_wipe_zeroes) {
  std::string s = "hunter2";
  secure_wipe(s);
  EXPECT_EQ(s, std::string(7, '\0'));
  std::vector<std::uint8_t> v{1, 2, 3};
  secure_wipe(v);
  EXPECT_EQ(v, (std::vector<std::uint8_t>{0, 0, 0}));
}

}  // namespace
}  // namespace gh::crypto
