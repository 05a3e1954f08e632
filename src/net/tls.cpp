#include "net/tls.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/crypto.hpp"

namespace gh::net {
namespace {

namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;

template <auto fn>
struct ossl_deleter {
  template <typename T>
  void operator()(T* p) const {
    fn(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, ossl_deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, ossl_deleter<BN_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, ossl_deleter<X509_EXTENSION_free>>;

// Mozilla "intermediate" TLS 1.2 suites: ECDHE/DHE key exchange and AEAD only. TLS 1.3 suites
// are all acceptable and keep OpenSSL's defaults.
constexpr const char* k_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// Drains OpenSSL's thread-local error queue into one line, so a stale error can't leak into the
// next message and the caller gets the actual reason ("no such file", "key values mismatch").
std::string ossl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out.append("; ");
    out.append(buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

error tls_error(std::string what) {
  return make_error("tls: " + what + ": " + ossl_errors());
}

error sys_error(const std::string& what, const std::string& path, int err) {
  return make_error("tls: " + what + " " + path + ": " + std::strerror(err));
}

// Encrypted keys would make OpenSSL prompt on the terminal and block the server; refuse them.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

result<ssl_context_ptr> new_context(ssl::context::method method) {
  ERR_clear_error();
  ssl_context_ptr ctx;
  // asio reports SSL_CTX_new failure (out of memory, broken OpenSSL install) only by throwing;
  // turn that into a value here so callers keep one error path.
  try {
    ctx = std::make_shared<ssl::context>(method);
  } catch (const boost::system::system_error& e) {
    return make_error(std::string("tls: cannot create context: ") + e.what());
  }
  SSL_CTX* h = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION) != 1) {
    return tls_error("cannot set minimum protocol version");
  }
  // Compression enables CRIME-style attacks; renegotiation is a DoS lever nobody here needs.
  SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(h, k_tls12_ciphers) != 1) return tls_error("cannot set ciphers");
  SSL_CTX_set_default_passwd_cb(h, no_passphrase);
  return ctx;
}

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// Writes to a fresh temporary file beside `path` and renames it over `path`, so readers see
// either no file or the whole file, and the mode is right from the first byte (no chmod window).
status write_file_atomic(const fs::path& path, std::string_view content, mode_t mode) {
  std::array<std::uint8_t, 6> rnd{};
  crypto::random_bytes(rnd);
  fs::path tmp = path;
  tmp += ".tmp." + crypto::hex(rnd);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return sys_error("cannot create", tmp.string(), errno);
  {
    fd_guard guard(fd);
    auto fail = [&](const char* what) {
      int err = errno;
      ::unlink(tmp.c_str());
      return sys_error(what, tmp.string(), err);
    };
    // The umask may have removed bits from `mode`; we want exactly `mode`.
    if (::fchmod(fd, mode) != 0) return fail("cannot chmod");
    std::size_t off = 0;
    while (off < content.size()) {
      ssize_t n = ::write(fd, content.data() + off, content.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail("cannot write");
      }
      off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail("cannot fsync");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return sys_error("cannot rename into", path.string(), err);
  }
  // Persist the rename itself; best effort, the data is already on disk.
  int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

result<std::string> bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return tls_error("empty PEM output");
  return std::string(data, static_cast<std::size_t>(n));
}

status add_ext(X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, v3, nid, value));
  if (!ext) return tls_error(std::string("cannot build extension ") + OBJ_nid2sn(nid));
  if (X509_add_ext(cert, ext.get(), -1) != 1) {
    return tls_error(std::string("cannot add extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

struct pem_pair {
  std::string key;
  std::string cert;
};

result<pem_pair> generate_self_signed() {
  ERR_clear_error();
  pkey_ptr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) return tls_error("cannot generate EC P-256 key");

  x509_ptr cert(X509_new());
  if (!cert) return tls_error("cannot allocate certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return tls_error("cannot set version");

  // RFC 5280: positive, at most 20 octets; 127 random bits make collisions irrelevant. The
  // second-highest bit is set so the encoding always has the same length.
  std::array<std::uint8_t, 16> serial{};
  crypto::random_bytes(serial);
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7f) | 0x40);
  bn_ptr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return tls_error("cannot set serial number");
  }

  // Backdated an hour so clients with a slightly slow clock accept a just-generated cert.
  constexpr long k_backdate_seconds = 3600;
  constexpr int k_valid_days = 3652;  // 10 years including leap days
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -k_backdate_seconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), k_valid_days, 0, nullptr) == nullptr) {
    return tls_error("cannot set validity");
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("gatehouse"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return tls_error("cannot set subject");
  }
  if (X509_set_pubkey(cert.get(), pkey.get()) != 1) return tls_error("cannot set public key");

  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  // A leaf (CA:FALSE) rather than a CA certificate: clients pin this exact certificate as their
  // root (psql sslrootcert=gateway.crt), and some TLS stacks (rustls/webpki) reject a CA
  // certificate presented as the server's own. No keyUsage: OpenSSL treats a cert as self-issued
  // only if keyUsage (when present) allows certificate signing.
  const std::pair<int, const char*> exts[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
      {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
  };
  for (const auto& [nid, value] : exts) {
    if (auto s = add_ext(cert.get(), &v3, nid, value); !s) return error{s.err()};
  }
  if (X509_sign(cert.get(), pkey.get(), EVP_sha256()) <= 0) {
    return tls_error("cannot sign certificate");
  }

  // secmem BIO wipes its buffer when freed, so the key's PEM leaves no copy behind there.
  bio_ptr key_bio(BIO_new(BIO_s_secmem()));
  bio_ptr cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio) return tls_error("cannot allocate BIO");
  if (PEM_write_bio_PrivateKey(key_bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    return tls_error("cannot encode private key");
  }
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return tls_error("cannot encode certificate");
  }
  auto key_pem = bio_string(key_bio.get());
  if (!key_pem) return error{key_pem.err()};
  auto cert_pem = bio_string(cert_bio.get());
  if (!cert_pem) return error{cert_pem.err()};
  return pem_pair{std::move(*key_pem), std::move(*cert_pem)};
}

bool file_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

}  // namespace

result<ssl_context_ptr> make_server_context(const std::string& cert_path,
                                            const std::string& key_path) {
  auto ctx = new_context(ssl::context::tls_server);
  if (!ctx) return ctx;
  SSL_CTX* h = (*ctx)->native_handle();
  // libpq never resumes sessions, and stateless tickets would need key rotation; skip both.
  SSL_CTX_set_options(h, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(h, 0);
  SSL_CTX_set_dh_auto(h, 1);
  if (SSL_CTX_use_certificate_chain_file(h, cert_path.c_str()) != 1) {
    return tls_error("cannot load certificate chain " + cert_path);
  }
  if (SSL_CTX_use_PrivateKey_file(h, key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL already compares the key with the loaded certificate here; say so plainly, as
    // "cannot load" would send the operator looking for a file problem.
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
      return tls_error("private key " + key_path + " does not match certificate " + cert_path);
    }
    return tls_error("cannot load private key " + key_path + " (for certificate " + cert_path +
                     ")");
  }
  if (SSL_CTX_check_private_key(h) != 1) {
    return tls_error("private key " + key_path + " does not match certificate " + cert_path);
  }
  return ctx;
}

result<std::pair<std::string, std::string>> ensure_self_signed(const std::string& state_dir) {
  if (state_dir.empty()) return make_error("tls: state_dir is empty");
  const fs::path dir = fs::path(state_dir) / "tls";
  const fs::path cert_path = dir / "gateway.crt";
  const fs::path key_path = dir / "gateway.key";

  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return make_error("tls: cannot create " + state_dir + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) == 0) {
    // mkdir's mode went through the umask; the directory holds a private key, so pin 0700.
    if (::chmod(dir.c_str(), 0700) != 0) return sys_error("cannot chmod", dir.string(), errno);
  } else if (errno != EEXIST) {
    return sys_error("cannot create", dir.string(), errno);
  } else if (!fs::is_directory(dir, ec)) {
    return make_error("tls: " + dir.string() + " exists and is not a directory");
  }

  // Two gateway processes starting on one state_dir must not each write half of a pair.
  const fs::path lock_path = dir / ".lock";
  fd_guard lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock.fd < 0) return sys_error("cannot open", lock_path.string(), errno);
  while (::flock(lock.fd, LOCK_EX) != 0) {
    if (errno != EINTR) return sys_error("cannot lock", lock_path.string(), errno);
  }

  std::pair<std::string, std::string> paths{cert_path.string(), key_path.string()};
  if (file_exists(cert_path) && file_exists(key_path)) return paths;

  auto pems = generate_self_signed();
  if (!pems) return error{pems.err()};
  // Key first: the pair counts as present only once the certificate exists, so a crash between
  // the two renames leads to regeneration rather than a certificate without its key.
  auto s = write_file_atomic(key_path, pems->key, 0600);
  crypto::secure_wipe(pems->key);
  if (!s) return error{s.err()};
  if (auto c = write_file_atomic(cert_path, pems->cert, 0644); !c) return error{c.err()};
  return paths;
}

result<ssl_context_ptr> make_client_context(bool verify, const std::string& ca_file) {
  auto ctx = new_context(ssl::context::tls_client);
  if (!ctx) return ctx;
  SSL_CTX* h = (*ctx)->native_handle();
  if (!verify) {
    // sslmode=require semantics: encrypted, but anyone on the path can present any certificate.
    SSL_CTX_set_verify(h, SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_verify(h, SSL_VERIFY_PEER, nullptr);
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(h) != 1) {
      return tls_error("cannot load system trust store");
    }
  } else if (SSL_CTX_load_verify_locations(h, ca_file.c_str(), nullptr) != 1) {
    return tls_error("cannot load CA file " + ca_file);
  }
  return ctx;
}

status set_client_verify_host(SSL* ssl, const std::string& host) {
  if (ssl == nullptr) return make_error("tls: set_client_verify_host: no SSL handle");
  if (host.empty()) return make_error("tls: empty host name for certificate verification");
  if (host.find('\0') != std::string::npos) {
    return make_error("tls: host name for certificate verification contains a NUL byte");
  }
  ERR_clear_error();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  in_addr v4{};
  in6_addr v6{};
  bool is_ip =
      ::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return tls_error("cannot set IP address " + host + " for verification");
    }
    return {};
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return tls_error("cannot set SNI host name " + host);
  }
  // "*.example.com" yes, "f*.example.com" no: partial wildcards are a long-deprecated footgun.
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, host.data(), host.size()) != 1) {
    return tls_error("cannot set host name " + host + " for verification");
  }
  return {};
}

}  // namespace gh::net
