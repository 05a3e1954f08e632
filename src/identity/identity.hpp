#pragma once
// Who is asking: authenticates a gatehouse user by API key. Keys are held only as SHA-256 digests
// (an API key is a long random token, so a plain digest is enough; no key stretching needed) and
// compared in constant time. OIDC access tokens arrive with the identity issue.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"

namespace gh::identity {

struct principal {
  std::string user;
  std::vector<std::string> groups;
  std::string method;  // "api_key"
  [[nodiscard]] std::string groups_joined() const;
  [[nodiscard]] bool in_any(const std::vector<std::string>& groups) const;
};

// Why authentication failed. Never shown to the client (it gets one generic message); recorded
// in the audit trail and log.
struct auth_failure {
  std::string reason;
};

class directory {
 public:
  // Resolves every user's api_key secret and keeps only its digest.
  [[nodiscard]] static result<directory> from_config(const config::config& cfg);

  [[nodiscard]] result<principal> authenticate(std::string_view user, std::string_view key) const;

 private:
  struct entry {
    std::array<std::uint8_t, 32> key_sha256{};
    std::vector<std::string> groups;
  };
  std::unordered_map<std::string, entry> users_;
};

}  // namespace gh::identity
