#include "api/admin_token.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/crypto.hpp"

namespace gh::api {

std::string admin_token_path(const std::string& state_dir) {
  return (std::filesystem::path(state_dir) / "admin.token").string();
}

result<std::string> create_admin_token(const std::string& state_dir) {
  const std::string path = admin_token_path(state_dir);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::string token = crypto::random_token(32);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error("cannot write " + tmp + ": " + std::strerror(errno));
  // The umask may have been looser than 0600 at some point in the file's past; make sure.
  bool ok = ::fchmod(fd, 0600) == 0;
  std::string line = token + "\n";
  ok = ok && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  int err = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return make_error("cannot write " + path + ": " + std::strerror(err));
  }
  return token;
}

result<std::string> read_admin_token(const std::string& state_dir) {
  const std::string path = admin_token_path(state_dir);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error("cannot read " + path + " (" + std::strerror(errno) +
                      "): the local admin token is written by a running `gatehouse serve`; run "
                      "this on the gateway's machine as its user, or use --as USER with "
                      "GATEHOUSE_API_KEY");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) return make_error(path + " is empty");
  return token;
}

void remove_admin_token(const std::string& state_dir, const std::string& token) {
  auto current = read_admin_token(state_dir);
  if (current && crypto::constant_time_equal(*current, token))
    ::unlink(admin_token_path(state_dir).c_str());
}

}  // namespace gh::api
