#include "identity/identity.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace gh::identity {

std::string principal::groups_joined() const {
  std::string out;
  for (const auto& g : groups) {
    if (!out.empty()) out.push_back(',');
    out += g;
  }
  return out;
}

bool principal::in_any(const std::vector<std::string>& allowed) const {
  for (const auto& g : groups)
    for (const auto& a : allowed)
      if (g == a) return true;
  return false;
}

namespace {
std::array<std::uint8_t, 32> digest(std::string_view s) {
  std::array<std::uint8_t, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

bool parse_hex32(std::string_view hex, std::array<std::uint8_t, 32>& out) {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}
}  // namespace

result<directory> directory::from_config(const config::config& cfg) {
  directory d;
  for (const auto& u : cfg.identity.users) {
    entry e;
    e.groups = u.groups;
    if (!u.api_key_sha256.empty()) {
      if (!parse_hex32(u.api_key_sha256, e.key_sha256))
        return make_error("user " + u.name + ": api_key_sha256 is not 64 hex characters");
    } else {
      auto key = u.api_key.resolve();
      if (!key) return make_error("user " + u.name + ": api_key: " + key.err());
      if (key->size() < 16)
        return make_error("user " + u.name + ": api_key (" + u.api_key.describe() +
                          ") is shorter than 16 characters; use a long random key");
      e.key_sha256 = digest(*key);
    }
    d.users_.emplace(u.name, std::move(e));
  }
  return d;
}

result<principal> directory::authenticate(std::string_view user, std::string_view key) const {
  auto d = digest(key);
  auto it = users_.find(std::string(user));
  if (it == users_.end()) {
    // Compare anyway so an unknown user costs the same time as a wrong key.
    static const std::array<std::uint8_t, 32> dummy{};
    (void)CRYPTO_memcmp(d.data(), dummy.data(), d.size());
    return make_error("unknown user");
  }
  if (CRYPTO_memcmp(d.data(), it->second.key_sha256.data(), d.size()) != 0)
    return make_error("wrong API key");
  return principal{std::string(user), it->second.groups, "api_key"};
}

}  // namespace gh::identity
