#include "audit/signer.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/crypto.hpp"

namespace gh::audit {

namespace {
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;
struct mdctx_deleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string raw_public_id(EVP_PKEY* k) {
  unsigned char raw[32];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(k, raw, &len) != 1) return "unknown";
  auto d = crypto::sha256(std::span<const std::uint8_t>(raw, len));
  return crypto::hex(std::span<const std::uint8_t>(d.data(), 8));
}
}  // namespace

struct signer::impl {
  pkey_ptr key;
};
struct verifier::impl {
  pkey_ptr key;
};

signer::signer(std::unique_ptr<impl> p) : p_(std::move(p)) {}
signer::~signer() = default;
verifier::verifier(std::unique_ptr<impl> p) : p_(std::move(p)) {}
verifier::~verifier() = default;

std::string checkpoint_message(std::int64_t head_seq, std::string_view head_hash) {
  return "gatehouse-audit-checkpoint-v1\n" + std::to_string(head_seq) + "\n" +
         std::string(head_hash) + "\n";
}

result<std::unique_ptr<signer>> signer::load_or_create(const std::string& path) {
  auto p = std::make_unique<impl>();
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    p->key.reset(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    if (!p->key || EVP_PKEY_get_id(p->key.get()) != EVP_PKEY_ED25519)
      return make_error("audit signing key " + path + " is not an Ed25519 private key (PEM)");
    return std::unique_ptr<signer>(new signer(std::move(p)));
  }
  p->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!p->key) return make_error("cannot generate an Ed25519 key");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot create audit signing key " + path);
  FILE* f = ::fdopen(fd, "w");
  bool ok = f != nullptr &&
            PEM_write_PrivateKey(f, p->key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (f != nullptr) {
    ok = std::fflush(f) == 0 && ::fsync(fd) == 0 && ok;
    std::fclose(f);
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return make_error("cannot write audit signing key " + path);
  }
  return std::unique_ptr<signer>(new signer(std::move(p)));
}

std::string signer::sign_base64(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, mdctx_deleter> ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  size_t len = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, p_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1)
    std::abort();  // Ed25519 signing of a buffer cannot fail short of memory corruption
  return crypto::base64_encode(std::span<const std::uint8_t>(sig, len));
}

std::string signer::public_pem() const {
  bio_ptr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(b.get(), p_->key.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string signer::key_id() const { return raw_public_id(p_->key.get()); }

result<std::unique_ptr<verifier>> verifier::from_public_pem(std::string_view pem) {
  bio_ptr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  auto p = std::make_unique<impl>();
  p->key.reset(PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr));
  if (!p->key || EVP_PKEY_get_id(p->key.get()) != EVP_PKEY_ED25519)
    return make_error("not an Ed25519 public key (PEM)");
  return std::unique_ptr<verifier>(new verifier(std::move(p)));
}

bool verifier::verify_base64(std::string_view message, std::string_view sig_b64) const {
  auto sig = crypto::base64_decode(sig_b64);
  if (!sig || sig->size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, mdctx_deleter> ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, p_->key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), sig->data(), sig->size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string verifier::key_id() const { return raw_public_id(p_->key.get()); }

}  // namespace gh::audit
