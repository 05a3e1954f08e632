// The HMAC key of the hash action: STATE_DIR/dlp.key, 32 raw bytes, created once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/crypto.hpp"
#include "dlp/dlp.hpp"

namespace gh::dlp {

namespace {

namespace fs = std::filesystem;

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

result<hash_key> read_key(const std::string& path) {
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return make_error(sys_error("cannot open", path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return make_error(sys_error("cannot stat", path));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    return make_error(path + ": readable by group or others; run chmod 600 " + path);
  }
  if (st.st_size != static_cast<off_t>(hash_key::size)) {
    return make_error(path + ": expected exactly 32 bytes (the file is damaged or not a key)");
  }
  std::array<std::uint8_t, hash_key::size> buf{};
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(sys_error("cannot read", path));
    got += static_cast<std::size_t>(n);
  }
  hash_key k(std::span<const std::uint8_t, hash_key::size>(buf.data(), buf.size()));
  crypto::secure_wipe(buf);
  return k;
}

}  // namespace

hash_key::hash_key(std::span<const std::uint8_t, size> bytes) {
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}
hash_key::hash_key(const hash_key& other) : bytes_(other.bytes_) {}
hash_key& hash_key::operator=(const hash_key& other) {
  bytes_ = other.bytes_;
  return *this;
}
hash_key::~hash_key() { crypto::secure_wipe(bytes_); }

result<hash_key> load_or_create_key(const std::string& state_dir) {
  const std::string path = (fs::path(state_dir) / "dlp.key").string();
  std::error_code ec;
  if (fs::exists(fs::symlink_status(path, ec))) return read_key(path);

  if (!fs::exists(state_dir, ec)) {
    fs::create_directories(state_dir, ec);
    if (ec) return make_error("cannot create " + state_dir + ": " + ec.message());
    fs::permissions(state_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  // Write a temp file, then link(2) it into place: the key appears complete or not at all, and
  // if two processes race, link fails for one of them, which then reads the winner's key.
  std::string tmpl = (fs::path(state_dir) / "dlp.key.XXXXXX").string();
  int raw = ::mkstemp(tmpl.data());  // mode 0600
  if (raw < 0) return make_error(sys_error("cannot create a file in", state_dir));
  fd_guard fd(raw);
  std::array<std::uint8_t, hash_key::size> buf{};
  crypto::random_bytes(buf);
  std::size_t put = 0;
  bool ok = true;
  while (put < buf.size()) {
    ssize_t n = ::write(fd.get(), buf.data() + put, buf.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    put += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd.get()) == 0;
  if (!ok) {
    std::string msg = sys_error("cannot write", tmpl);
    ::unlink(tmpl.c_str());
    crypto::secure_wipe(buf);
    return make_error(msg);
  }
  int rc = ::link(tmpl.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmpl.c_str());
  if (rc != 0) {
    crypto::secure_wipe(buf);
    if (link_errno == EEXIST) return read_key(path);
    errno = link_errno;
    return make_error(sys_error("cannot create", path));
  }
  fd_guard dir(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) (void)::fsync(dir.get());
  hash_key k(std::span<const std::uint8_t, hash_key::size>(buf.data(), buf.size()));
  crypto::secure_wipe(buf);
  return k;
}

}  // namespace gh::dlp
