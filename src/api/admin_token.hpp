#pragma once
// The local administrator's token: a fresh random token written to state_dir/admin.token (mode
// 0600) by each `gatehouse serve` start. Whoever can read the file (the gateway's own user on the
// gateway's machine) may act as the "local-admin" principal through the API:
// `Authorization: Bearer local-admin:<token>`.
#include <string>

#include "core/result.hpp"

namespace gh::api {

[[nodiscard]] std::string admin_token_path(const std::string& state_dir);
// Writes a new token (replacing any earlier one atomically) and returns it.
[[nodiscard]] result<std::string> create_admin_token(const std::string& state_dir);
[[nodiscard]] result<std::string> read_admin_token(const std::string& state_dir);
// Removes the file if it still holds `token` (a newer gateway may have replaced it).
void remove_admin_token(const std::string& state_dir, const std::string& token);

}  // namespace gh::api
