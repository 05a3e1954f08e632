#pragma once
// Ed25519 signing of audit checkpoints. The private key lives in state_dir (PEM, 0600), created
// once; the public key (PEM) is what an auditor needs to verify a trail offline.
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace gh::audit {

class signer {
 public:
  // Loads `path` or creates a new key there (0600, atomically).
  [[nodiscard]] static result<std::unique_ptr<signer>> load_or_create(const std::string& path);
  ~signer();
  signer(const signer&) = delete;
  signer& operator=(const signer&) = delete;

  [[nodiscard]] std::string sign_base64(std::string_view message) const;
  [[nodiscard]] std::string public_pem() const;
  // First 16 hex chars of SHA-256 over the raw public key: names the key in checkpoints.
  [[nodiscard]] std::string key_id() const;

 private:
  struct impl;
  explicit signer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> p_;
};

class verifier {
 public:
  [[nodiscard]] static result<std::unique_ptr<verifier>> from_public_pem(std::string_view pem);
  ~verifier();
  verifier(const verifier&) = delete;
  verifier& operator=(const verifier&) = delete;
  [[nodiscard]] bool verify_base64(std::string_view message, std::string_view sig_b64) const;
  [[nodiscard]] std::string key_id() const;

 private:
  struct impl;
  explicit verifier(std::unique_ptr<impl> p);
  std::unique_ptr<impl> p_;
};

// The message a checkpoint signs: binds the format version, the head's seq and hash.
[[nodiscard]] std::string checkpoint_message(std::int64_t head_seq, std::string_view head_hash);

}  // namespace gh::audit
