#include "core/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace gh::crypto {
namespace {

const std::uint8_t* bytes_of(std::string_view s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

// libcrypto's one-shot digest/MAC calls fail only on allocation failure or a broken provider
// setup; neither leaves the gateway able to authenticate anything, so treat it like a failed
// CSPRNG rather than threading an error through every hash call.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "gatehouse: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

constexpr char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char k_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::span<const std::uint8_t> data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                      std::uint32_t{data[i + 2]};
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  std::size_t rest = data.size() - i;
  if (rest == 1) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

int sextet(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

result<std::vector<std::uint8_t>> decode(std::string_view text, bool url) {
  const char* name = url ? "base64url" : "base64";
  std::size_t data_len = text.size();
  if (!url) {
    if (text.size() % 4 != 0) {
      return make_error(std::string("invalid ") + name + ": length " + std::to_string(text.size()) +
                        " is not a multiple of 4");
    }
    // Padding may only be the last one or two characters.
    while (data_len > 0 && text.size() - data_len < 2 && text[data_len - 1] == '=') --data_len;
  } else if (text.size() % 4 == 1) {
    return make_error(std::string("invalid ") + name + ": truncated input");
  }
  std::vector<std::uint8_t> out;
  out.reserve(data_len / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < data_len; ++i) {
    int v = sextet(text[i], url);
    if (v < 0) {
      return make_error(std::string("invalid ") + name + ": unexpected character at offset " +
                        std::to_string(i));
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  // A remainder of one sextet can't encode a byte; anything left over must be zero bits, or two
  // different strings would decode to the same bytes.
  if (data_len % 4 == 1) return make_error(std::string("invalid ") + name + ": truncated input");
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return make_error(std::string("invalid ") + name + ": non-zero trailing bits");
  }
  return out;
}

}  // namespace

digest256 sha256(std::span<const std::uint8_t> data) {
  // The audit chain hashes every event: fetch the algorithm once per process and keep one
  // context per thread, instead of EVP_Digest's fetch + allocate on every call.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct ctx_holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~ctx_holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local ctx_holder h;
  if (md == nullptr || h.ctx == nullptr) die("SHA-256");
  digest256 out{};
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(h.ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(h.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(h.ctx, out.data(), &len) != 1 || len != out.size()) {
    die("SHA-256");
  }
  return out;
}

digest256 sha256(std::string_view data) {
  return sha256({bytes_of(data), data.size()});
}

std::string sha256_hex(std::string_view data) {
  return hex(sha256(data));
}

digest256 hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  if (key.size() > static_cast<std::size_t>(INT_MAX)) die("HMAC key size");
  digest256 out{};
  unsigned int len = 0;
  // HMAC() takes a non-null key pointer even for an empty key.
  static const std::uint8_t empty = 0;
  const std::uint8_t* k = key.empty() ? &empty : key.data();
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()), data.data(), data.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    die("HMAC-SHA-256");
  }
  return out;
}

digest256 hmac_sha256(std::string_view key, std::string_view data) {
  return hmac_sha256({bytes_of(key), key.size()}, {bytes_of(data), data.size()});
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  // Lengths are not secret here (digests and tokens have fixed, public sizes).
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return constant_time_equal({bytes_of(a), a.size()}, {bytes_of(b), b.size()});
}

void random_bytes(std::span<std::uint8_t> out) {
  // RAND_bytes takes an int length; chunk so huge spans can't overflow it.
  constexpr std::size_t k_chunk = 1 << 20;
  while (!out.empty()) {
    std::size_t n = out.size() < k_chunk ? out.size() : k_chunk;
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) die("RAND_bytes");
    out = out.subspan(n);
  }
}

std::uint32_t random_u32() {
  std::array<std::uint8_t, 4> b{};
  random_bytes(b);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

std::string base64_encode(std::span<const std::uint8_t> data) {
  return encode(data, k_b64, true);
}

std::string base64_encode(std::string_view data) {
  return base64_encode({bytes_of(data), data.size()});
}

result<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  return decode(text, false);
}

std::string base64url_encode(std::span<const std::uint8_t> data) {
  return encode(data, k_b64url, false);
}

result<std::vector<std::uint8_t>> base64url_decode(std::string_view text) {
  return decode(text, true);
}

std::string hex(std::span<const std::uint8_t> data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(data.size() * 2, '\0');
  char* p = out.data();
  for (std::uint8_t b : data) {
    *p++ = digits[b >> 4];
    *p++ = digits[b & 15];
  }
  return out;
}

std::string random_token(std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes);
  random_bytes(buf);
  std::string out = base64url_encode(buf);
  secure_wipe(buf);
  return out;
}

void secure_wipe(std::span<std::uint8_t> data) {
  if (!data.empty()) OPENSSL_cleanse(data.data(), data.size());
}

void secure_wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

}  // namespace gh::crypto
