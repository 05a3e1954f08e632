// secret_ref: the only place a configured secret is turned into its value. Nothing here logs, and
// no error message ever contains the value (or any part of a secret file's contents).
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace gh::config {

namespace {

constexpr std::string_view env_prefix = "env:";
constexpr std::string_view file_prefix = "file:";

// Secrets are short; the cap keeps a mistaken `file:/dev/zero` or a huge file from hanging startup.
constexpr std::uintmax_t max_secret_file_size = 1024 * 1024;

result<std::string> read_secret_file(const std::string& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec) return make_error("cannot read secret file " + path + ": " + ec.message());
  if (std::filesystem::is_directory(st)) {
    return make_error("cannot read secret file " + path + ": is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error("cannot read secret file " + path + ": " + std::strerror(errno));
  }
  std::string data;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_secret_file_size) {
      return make_error("secret file " + path + " is larger than 1 MiB");
    }
  }
  if (in.bad()) return make_error("cannot read secret file " + path + ": read error");
  // Editors and `echo` add one trailing newline; it is never part of the secret. CRLF counts as
  // one.
  if (data.ends_with("\r\n")) {
    data.resize(data.size() - 2);
  } else if (data.ends_with('\n')) {
    data.pop_back();
  }
  if (data.empty()) return make_error("secret file " + path + " is empty");
  return data;
}

}  // namespace

result<std::string> secret_ref::resolve() const {
  std::string_view s = spec;
  if (s.empty()) return make_error("no secret configured");
  if (s.starts_with(env_prefix)) {
    std::string name(s.substr(env_prefix.size()));
    if (name.empty()) return make_error("env: secret names no variable");
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return make_error("environment variable " + name + " is not set");
    if (*v == '\0') return make_error("environment variable " + name + " is empty");
    return std::string(v);
  }
  if (s.starts_with(file_prefix)) {
    std::string path(s.substr(file_prefix.size()));
    if (path.empty()) return make_error("file: secret names no path");
    return read_secret_file(path);
  }
  return spec;
}

std::string secret_ref::describe() const {
  std::string_view s = spec;
  if (s.empty()) return "none";
  if (s.starts_with(env_prefix) || s.starts_with(file_prefix)) return spec;
  return "literal";
}

}  // namespace gh::config
