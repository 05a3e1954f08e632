#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gh::config {
struct config;
}
namespace gh::audit {
class verifier;
}

namespace gh::app {

// How long the CLI's readers (audit export, sessions, replay) wait for the SQLite index while a
// running gateway's index worker holds its write lock (it runs at low priority under load).
inline constexpr int k_reader_busy_timeout_ms = 30'000;

// Where the audit journal of a configuration lives (state_dir/audit).
std::string audit_journal_dir(const config::config& cfg);
// The Ed25519 key that signs audit checkpoints (state_dir/audit-signing.key).
std::string audit_key_path(const config::config& cfg);

// The key that checks this gateway's checkpoints: from `pubkey_pem_path` (PEM) if given, else
// the public half of the local signing key. Null without an error when there is no key yet;
// null with `error` set when the key cannot be read.
[[nodiscard]] std::unique_ptr<audit::verifier> load_checkpoint_key(const config::config& cfg,
                                                                  const std::string& pubkey_pem_path,
                                                                  std::string& error);

int cmd_version(const std::vector<std::string>& args);
int cmd_serve(const std::vector<std::string>& args);
int cmd_check_config(const std::vector<std::string>& args);
int cmd_audit(const std::vector<std::string>& args);
int cmd_reviews(const std::vector<std::string>& args);
int cmd_sessions(const std::vector<std::string>& args, bool replay);
int cmd_mask(const std::vector<std::string>& args);

// Parses "--name value" / "--name=value" flags. Unknown flags, missing values and stray arguments
// are errors. `bool_flags` take no value. Sets help=true on --help/-h.
struct flags {
  std::map<std::string, std::string> values;
  std::vector<std::string> positional;
  bool help = false;
  std::string error;
};
flags parse_flags(const std::vector<std::string>& args, const std::vector<std::string>& known,
                  const std::vector<std::string>& bool_flags = {}, std::size_t max_positional = 0);

}  // namespace gh::app
