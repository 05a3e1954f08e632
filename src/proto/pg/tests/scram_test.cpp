#include "proto/pg/scram.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <string>
#include <vector>

#include "core/crypto.hpp"

namespace gh::pg {
namespace {

// RFC 7677 section 3.
constexpr std::string_view k_rfc_nonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view k_rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view k_rfc_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
// Value as printed in RFC 7677 section 3 (and recomputed independently with Python's hashlib).
constexpr std::string_view k_rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

// Distinctive enough that finding it in an error message can only mean a leak.
constexpr std::string_view k_secret = "Sup3r-Secret-Pa55word";

scram_client rfc_client() {
  return scram_client("pencil", std::string(k_rfc_nonce), "user");
}

TEST(scram, rfc7677_test_vector) {
  auto c = rfc_client();
  EXPECT_EQ(c.client_first_message(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  auto final_msg = c.handle_server_first(k_rfc_server_first);
  ASSERT_TRUE(final_msg.ok()) << final_msg.err();
  EXPECT_EQ(*final_msg, k_rfc_client_final);
  EXPECT_FALSE(c.verified());
  auto s = c.verify_server_final(k_rfc_server_final);
  EXPECT_TRUE(s.ok()) << s.err();
  EXPECT_TRUE(c.verified());
}

TEST(scram, derived_keys_are_cached_per_password_salt_and_iterations) {
  // First exchange may or may not find the RFC keys cached (test order); run it, then count.
  {
    auto c = rfc_client();
    (void)c.client_first_message();
    ASSERT_TRUE(c.handle_server_first(k_rfc_server_first).ok());
  }
  auto runs = scram_pbkdf2_runs();
  // Same password, salt and iterations: no PBKDF2, and the exchange is still exactly RFC 7677's.
  auto c = rfc_client();
  (void)c.client_first_message();
  auto final_msg = c.handle_server_first(k_rfc_server_first);
  ASSERT_TRUE(final_msg.ok()) << final_msg.err();
  EXPECT_EQ(*final_msg, k_rfc_client_final);
  EXPECT_TRUE(c.verify_server_final(k_rfc_server_final).ok());
  EXPECT_EQ(scram_pbkdf2_runs(), runs);
  // Another password with the same salt is derived afresh and does not reuse those keys.
  scram_client other("not-pencil", std::string(k_rfc_nonce), "user");
  (void)other.client_first_message();
  auto other_final = other.handle_server_first(k_rfc_server_first);
  ASSERT_TRUE(other_final.ok()) << other_final.err();
  EXPECT_NE(*other_final, k_rfc_client_final);
  EXPECT_EQ(scram_pbkdf2_runs(), runs + 1);
  EXPECT_FALSE(other.verify_server_final(k_rfc_server_final).ok());
  // Another iteration count is a different key too.
  std::string more_iterations(k_rfc_server_first);
  more_iterations.replace(more_iterations.size() - 4, 4, "4097");
  auto c2 = rfc_client();
  (void)c2.client_first_message();
  auto f2 = c2.handle_server_first(more_iterations);
  ASSERT_TRUE(f2.ok()) << f2.err();
  EXPECT_NE(*f2, k_rfc_client_final);
  EXPECT_EQ(scram_pbkdf2_runs(), runs + 2);
}

TEST(scram, default_client_first_is_what_libpq_sends) {
  scram_client c("pw");
  auto first = c.client_first_message();
  ASSERT_TRUE(first.starts_with("n,,n=,r="));
  auto nonce = first.substr(8);
  EXPECT_EQ(nonce.size(), 24u);
  auto raw = crypto::base64_decode(nonce);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 18u);
  EXPECT_NE(scram_client("pw").client_first_message(), first);
}

TEST(scram, username_is_escaped) {
  scram_client c("pw", "abc", "a,b=c");
  EXPECT_EQ(c.client_first_message(), "n,,n=a=2Cb=3Dc,r=abc");
}

// An independent server side, written against OpenSSL directly, for a full exchange with a
// random nonce (the RFC vector fixes the nonce).
struct mini_server {
  std::string password;
  std::vector<std::uint8_t> salt{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  int iterations = 4096;
  std::string server_first;

  static std::array<unsigned char, 32> hmac(const unsigned char* key, std::size_t key_len,
                                            std::string_view data) {
    std::array<unsigned char, 32> out{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), key, static_cast<int>(key_len),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
    return out;
  }

  std::string first(std::string_view client_first) {
    auto bare = client_first.substr(3);
    auto client_nonce = bare.substr(bare.find("r=") + 2);
    server_first = "r=" + std::string(client_nonce) +
                   "SERVERPART,s=" + crypto::base64_encode(salt) +
                   ",i=" + std::to_string(iterations);
    client_first_bare = std::string(bare);
    return server_first;
  }

  // Returns the server-final message, or "e=invalid-proof".
  std::string final_(std::string_view client_final) {
    auto p = client_final.rfind(",p=");
    auto without_proof = client_final.substr(0, p);
    auto proof = crypto::base64_decode(client_final.substr(p + 3));
    std::array<unsigned char, 32> salted{};
    PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                      static_cast<int>(salt.size()), iterations, EVP_sha256(), 32, salted.data());
    auto client_key = hmac(salted.data(), 32, "Client Key");
    std::array<unsigned char, 32> stored{};
    unsigned int len = 0;
    EVP_Digest(client_key.data(), 32, stored.data(), &len, EVP_sha256(), nullptr);
    std::string auth = client_first_bare + "," + server_first + "," + std::string(without_proof);
    auto client_sig = hmac(stored.data(), 32, auth);
    if (!proof.ok() || proof->size() != 32) return "e=invalid-proof";
    // Recover ClientKey from the proof and check it hashes to StoredKey.
    std::array<unsigned char, 32> recovered{};
    for (int i = 0; i < 32; ++i) recovered[i] = (*proof)[i] ^ client_sig[i];
    std::array<unsigned char, 32> check{};
    EVP_Digest(recovered.data(), 32, check.data(), &len, EVP_sha256(), nullptr);
    if (check != stored) return "e=invalid-proof";
    auto server_key = hmac(salted.data(), 32, "Server Key");
    return "v=" + crypto::base64_encode(hmac(server_key.data(), 32, auth));
  }

  std::string client_first_bare;
};

TEST(scram, full_exchange_against_independent_server) {
  mini_server srv{std::string(k_secret)};
  scram_client c{std::string(k_secret)};
  auto server_first = srv.first(c.client_first_message());
  auto client_final = c.handle_server_first(server_first);
  ASSERT_TRUE(client_final.ok()) << client_final.err();
  auto server_final = srv.final_(*client_final);
  ASSERT_TRUE(server_final.starts_with("v=")) << server_final;
  auto s = c.verify_server_final(server_final);
  EXPECT_TRUE(s.ok()) << s.err();
  EXPECT_TRUE(c.verified());
}

TEST(scram, wrong_password_is_rejected_by_server_and_reported) {
  mini_server srv{"right-password"};
  scram_client c{std::string(k_secret)};
  auto client_final = c.handle_server_first(srv.first(c.client_first_message()));
  ASSERT_TRUE(client_final.ok()) << client_final.err();
  auto server_final = srv.final_(*client_final);
  EXPECT_EQ(server_final, "e=invalid-proof");
  auto s = c.verify_server_final(server_final);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("invalid-proof"), std::string::npos) << s.err();
  EXPECT_EQ(s.err().find(k_secret), std::string::npos);
  EXPECT_FALSE(c.verified());
}

TEST(scram, rejects_server_that_does_not_know_the_password) {
  auto c = rfc_client();
  (void)c.client_first_message();
  ASSERT_TRUE(c.handle_server_first(k_rfc_server_first).ok());
  // A valid-looking signature from a server holding a different verifier.
  auto s = c.verify_server_final("v=" + crypto::base64_encode(std::string(32, 'x')));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("signature mismatch"), std::string::npos) << s.err();
  EXPECT_FALSE(c.verified());
  // Poisoned: the right signature afterwards doesn't rescue the exchange.
  EXPECT_FALSE(c.verify_server_final(k_rfc_server_final).ok());
  EXPECT_FALSE(c.verified());
}

TEST(scram, rejects_malformed_server_final) {
  const std::string_view bad[] = {
      "",
      "v=",
      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9",          // truncated, not valid base64 length
      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1",  // trailing data
      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,",
      "V=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
      "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95A==",  // 31 bytes
      std::string_view("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=\0", 47),
      "v=6rriTRBi23WpRR/wcaz0PU5ZhqyBnmTK4T+KbGDoZDU=",  // right length, wrong value
  };
  for (auto msg : bad) {
    auto c = rfc_client();
    (void)c.client_first_message();
    ASSERT_TRUE(c.handle_server_first(k_rfc_server_first).ok());
    auto s = c.verify_server_final(msg);
    EXPECT_FALSE(s.ok()) << "accepted: " << msg;
    EXPECT_FALSE(c.verified());
  }
}

TEST(scram, server_error_attribute_is_reported_sanitized) {
  auto c = rfc_client();
  (void)c.client_first_message();
  ASSERT_TRUE(c.handle_server_first(k_rfc_server_first).ok());
  auto s = c.verify_server_final(std::string("e=other-error\n\x01") + std::string(200, 'z'));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("other-error"), std::string::npos) << s.err();
  EXPECT_EQ(s.err().find('\n'), std::string::npos);
  EXPECT_LT(s.err().size(), 160u);
}

TEST(scram, rejects_bad_server_nonce) {
  const std::string bad_nonces[] = {
      "r=XXXXNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // not ours
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // not extended
      "r=rOprNGfwEbeRWgbNEk,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",    // shorter than ours
      "r=,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "r=rOprNGfwEbeRWgbNEkqO\x7f"
      "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // not printable
      "r=rOprNGfwEbeRWgbNEkqO abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  };
  for (const auto& msg : bad_nonces) {
    scram_client c{std::string(k_secret), std::string(k_rfc_nonce)};
    (void)c.client_first_message();
    auto r = c.handle_server_first(msg);
    ASSERT_FALSE(r.ok()) << "accepted: " << msg;
    EXPECT_NE(r.err().find("nonce"), std::string::npos) << r.err();
    EXPECT_EQ(r.err().find(k_secret), std::string::npos) << r.err();
  }
}

TEST(scram, rejects_malformed_server_first) {
  const std::string nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  const std::string bad[] = {
      "",
      nonce,
      nonce + ",",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=extra",
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",
      nonce + ",s=,i=4096",                        // empty salt
      nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096",  // unpadded
      nonce + ",s=W22ZaJ0SNY7so!sUEjb6gQ==,i=4096",
      nonce + ",i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==",  // wrong order
      "s=W22ZaJ0SNY7soEsUEjb6gQ==," + nonce + ",i=4096",
      "m=ext," + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "e=other-error",
  };
  for (const auto& msg : bad) {
    scram_client c{std::string(k_secret), std::string(k_rfc_nonce)};
    (void)c.client_first_message();
    auto r = c.handle_server_first(msg);
    ASSERT_FALSE(r.ok()) << "accepted: " << msg;
    EXPECT_TRUE(r.err().starts_with("SCRAM-SHA-256: ")) << r.err();
    EXPECT_EQ(r.err().find(k_secret), std::string::npos) << r.err();
  }
}

TEST(scram, iteration_limit_error_is_clear) {
  scram_client c("pw", std::string(k_rfc_nonce));
  (void)c.client_first_message();
  auto r = c.handle_server_first("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("iteration count 10000001 exceeds"), std::string::npos) << r.err();
}

TEST(scram, out_of_order_calls_fail_closed) {
  {
    auto c = rfc_client();
    // server-first before client-first was sent
    EXPECT_FALSE(c.handle_server_first(k_rfc_server_first).ok());
  }
  {
    auto c = rfc_client();
    (void)c.client_first_message();
    EXPECT_FALSE(c.verify_server_final(k_rfc_server_final).ok());
    // Poisoned after the out-of-order message.
    EXPECT_FALSE(c.handle_server_first(k_rfc_server_first).ok());
  }
  {
    auto c = rfc_client();
    (void)c.client_first_message();
    ASSERT_TRUE(c.handle_server_first(k_rfc_server_first).ok());
    EXPECT_FALSE(c.handle_server_first(k_rfc_server_first).ok());  // twice
    EXPECT_FALSE(c.verify_server_final(k_rfc_server_final).ok());
  }
  {
    auto c = rfc_client();
    (void)c.client_first_message();
    ASSERT_TRUE(c.handle_server_first(k_rfc_server_first).ok());
    ASSERT_TRUE(c.verify_server_final(k_rfc_server_final).ok());
    EXPECT_FALSE(c.verify_server_final(k_rfc_server_final).ok());  // replay
  }
}

TEST(scram, invalid_caller_nonce_fails_the_exchange) {
  scram_client c("pw", "has,comma");
  (void)c.client_first_message();
  auto r = c.handle_server_first("r=has,commaX,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("client nonce"), std::string::npos) << r.err();
}

std::string independent_md5_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  std::size_t len = 0;
  EXPECT_EQ(EVP_Q_digest(nullptr, "MD5", nullptr, data.data(), data.size(), out.data(), &len), 1);
  return crypto::hex(std::span<const std::uint8_t>(out.data(), len));
}

TEST(md5_password, matches_postgres_formula) {
  const std::array<std::uint8_t, 4> salt{1, 2, 3, 4};
  auto got = pg_md5_password("user", "pass", salt);
  // Precomputed: "md5" + md5(md5("pass" + "user").hex + "\x01\x02\x03\x04").hex
  EXPECT_EQ(got, "md56cf524962d8413e6b0cdf79fddff891c");
  std::string outer_input = independent_md5_hex("passuser");
  outer_input.append("\x01\x02\x03\x04", 4);
  EXPECT_EQ(got, "md5" + independent_md5_hex(outer_input));

  const std::array<std::uint8_t, 4> salt2{0xde, 0xad, 0xbe, 0xef};
  auto got2 = pg_md5_password("postgres", "secret", salt2);
  EXPECT_EQ(got2, "md5c546d0bbed2af888b328536b45c76348");
  EXPECT_EQ(got2.size(), 35u);
}

TEST(server_offers, exact_names_in_nul_separated_list) {
  using namespace std::string_view_literals;
  auto both = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"sv;
  EXPECT_TRUE(server_offers(both, "SCRAM-SHA-256"));
  EXPECT_TRUE(server_offers(both, "SCRAM-SHA-256-PLUS"));
  EXPECT_FALSE(server_offers(both, "SCRAM-SHA"));
  EXPECT_FALSE(server_offers(both, ""));
  EXPECT_FALSE(server_offers("SCRAM-SHA-256-PLUS\0\0"sv, "SCRAM-SHA-256"));
  EXPECT_TRUE(server_offers("SCRAM-SHA-256\0\0"sv, k_scram_sha_256));
  EXPECT_TRUE(server_offers("SCRAM-SHA-256"sv, "SCRAM-SHA-256"));  // terminators missing
  EXPECT_FALSE(server_offers(""sv, "SCRAM-SHA-256"));
  EXPECT_FALSE(server_offers("\0SCRAM-SHA-256\0\0"sv, "SCRAM-SHA-256"));  // after the end marker
}

}  // namespace
}  // namespace gh::pg
