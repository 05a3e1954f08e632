#pragma once
// Thin, allocation-honest wrappers over OpenSSL's libcrypto for the primitives the gateway uses
// everywhere (hashing, MACs, randomness, encodings). Keeping them here means one place decides
// which OpenSSL calls are trusted and how their failures are treated.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace gh::crypto {

using digest256 = std::array<std::uint8_t, 32>;

[[nodiscard]] digest256 sha256(std::span<const std::uint8_t> data);
[[nodiscard]] digest256 sha256(std::string_view data);
// Lowercase hex of sha256(data).
[[nodiscard]] std::string sha256_hex(std::string_view data);

[[nodiscard]] digest256 hmac_sha256(std::span<const std::uint8_t> key,
                                    std::span<const std::uint8_t> data);
[[nodiscard]] digest256 hmac_sha256(std::string_view key, std::string_view data);

// Compares in time that depends only on the lengths, never on the contents, so secrets (MACs,
// tokens, SCRAM signatures) can be checked without a timing oracle. Different lengths -> false.
[[nodiscard]] bool constant_time_equal(std::span<const std::uint8_t> a,
                                       std::span<const std::uint8_t> b);
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

// Fills `out` from the OpenSSL CSPRNG. A failing CSPRNG leaves no safe way to continue (every
// nonce, token and key would be suspect), so this aborts the process instead of returning.
void random_bytes(std::span<std::uint8_t> out);
[[nodiscard]] std::uint32_t random_u32();

// Standard base64 (RFC 4648 section 4) with '=' padding.
[[nodiscard]] std::string base64_encode(std::span<const std::uint8_t> data);
[[nodiscard]] std::string base64_encode(std::string_view data);
// Strict: standard alphabet only, length a multiple of 4, padding only at the end, no whitespace,
// and unused trailing bits must be zero (so every input has exactly one accepted encoding).
[[nodiscard]] result<std::vector<std::uint8_t>> base64_decode(std::string_view text);

// URL-safe base64 (RFC 4648 section 5: '-' and '_') without padding, as JWTs and URLs use it.
[[nodiscard]] std::string base64url_encode(std::span<const std::uint8_t> data);
// Strict like base64_decode, but url alphabet and no padding accepted.
[[nodiscard]] result<std::vector<std::uint8_t>> base64url_decode(std::string_view text);

// Lowercase hex.
[[nodiscard]] std::string hex(std::span<const std::uint8_t> data);

// `bytes` random bytes as unpadded URL-safe base64 (alphabet A-Z a-z 0-9 - _), so the token can go
// into URLs, headers and file names without escaping. Length is ceil(bytes * 4 / 3).
[[nodiscard]] std::string random_token(std::size_t bytes);

// Overwrites memory in a way the compiler may not elide (OPENSSL_cleanse); for key material.
void secure_wipe(std::span<std::uint8_t> data);
void secure_wipe(std::string& s);

}  // namespace gh::crypto
