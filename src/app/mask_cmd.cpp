// gatehouse mask: stdin -> stdout through the masking engine, one output line per input line.
// Input is read in large blocks and every complete line of a block is scanned in one batch (one
// Hyperscan call), the way the gateway scans result rows.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "app/commands.hpp"
#include "config/config.hpp"
#include "dlp/dlp.hpp"

namespace gh::app {

namespace {

const char* mask_help =
    "usage: gatehouse mask [--config FILE] [--connection NAME] [--list] [--stats]\n"
    "\n"
    "Copies stdin to stdout with PHI masked: one output line per input line.\n"
    "Without --config every built-in detector is on with action redact ([SSN], [EMAIL], ...).\n"
    "With --config the masking: policy of connection NAME is used (NAME may be omitted when\n"
    "exactly one connection has a masking: block); column rules do not apply to plain text.\n"
    "\n"
    "  --config FILE       gateway configuration\n"
    "  --connection NAME   connection whose masking: block to use\n"
    "  --list              print the detectors of the policy and exit\n"
    "  --stats             print what was masked (counts per detector, JSON) on stderr\n";

constexpr std::size_t block_size = 1u << 20;

bool write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

result<std::shared_ptr<const dlp::policy>> policy_from(const std::string& path,
                                                       const std::string& name) {
  auto cfg = config::load_config(path);
  if (!cfg) return error{cfg.err()};
  const config::connection_config* conn = nullptr;
  if (!name.empty()) {
    conn = cfg->find_connection(name);
    if (conn == nullptr) return make_error("no connection named '" + name + "' in " + path);
  } else {
    for (const auto& c : cfg->connections) {
      if (!c.masking.present) continue;
      if (conn != nullptr) {
        return make_error("several connections have a masking: block; choose one with "
                          "--connection NAME");
      }
      conn = &c;
    }
    if (conn == nullptr) return make_error("no connection in " + path + " has a masking: block");
  }
  if (!conn->masking.present) {
    return make_error("connection '" + conn->name +
                      "' has no masking: block (the gateway does not mask it)");
  }
  std::optional<dlp::hash_key> key;
  if (conn->masking.uses_hash()) {
    auto k = dlp::load_or_create_key(cfg->gateway.state_dir);
    if (!k) return error{k.err()};
    key = std::move(*k);
  }
  return dlp::compile_policy(conn->masking, key ? &*key : nullptr);
}

void print_detectors(const dlp::engine& e) {
  for (std::size_t i = 0; i < e.detector_count(); ++i) {
    const auto& d = e.detector(static_cast<std::uint16_t>(i));
    std::printf("%-16s %-10s %.2f  %-7s %s\n", d.id.c_str(), d.tag.c_str(),
                static_cast<double>(d.confidence), std::string(dlp::to_string(d.action.act)).c_str(),
                d.description.c_str());
  }
}

}  // namespace

int cmd_mask(const std::vector<std::string>& args) {
  auto f = parse_flags(args, {"config", "connection"}, {"list", "stats"});
  if (f.help) {
    std::fputs(mask_help, stdout);
    return 0;
  }
  if (!f.error.empty() || (f.values.count("connection") && !f.values.count("config"))) {
    std::fprintf(stderr, "gatehouse mask: %s\n%s",
                 f.error.empty() ? "--connection needs --config" : f.error.c_str(), mask_help);
    return 2;
  }
  auto pol = f.values.count("config") ? policy_from(f.values["config"], f.values["connection"])
                                      : dlp::default_policy();
  if (!pol) {
    std::fprintf(stderr, "gatehouse mask: %s\n", pol.err().c_str());
    return 2;
  }
  const auto& eng = (*pol)->engine_ptr();
  if (f.values.count("list")) {
    print_detectors(*eng);
    return 0;
  }

  dlp::scanner sc(eng);
  dlp::counts counts;
  std::vector<std::string_view> lines;
  std::vector<dlp::finding> findings;
  std::string in(block_size, '\0');
  std::string out;
  std::size_t have = 0;  // bytes in `in` not yet processed
  bool eof = false;
  while (!eof) {
    if (have == in.size()) in.resize(in.size() * 2);  // one line longer than the buffer
    ssize_t n = ::read(STDIN_FILENO, in.data() + have, in.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "gatehouse mask: reading stdin failed\n");
      return 1;
    }
    if (n == 0) eof = true;
    have += static_cast<std::size_t>(n);
    // Complete lines (and, at EOF, the unterminated last one).
    lines.clear();
    std::string_view data(in.data(), have);
    std::size_t pos = 0;
    while (pos < data.size()) {
      std::size_t nl = data.find('\n', pos);
      if (nl == std::string_view::npos) {
        if (eof) {
          lines.push_back(data.substr(pos));
          pos = data.size();
        }
        break;
      }
      lines.push_back(data.substr(pos, nl - pos));
      pos = nl + 1;
    }
    if (lines.empty() && !eof) continue;
    sc.scan(lines, findings);
    dlp::finding_cursor cur(findings);
    out.clear();
    for (std::size_t i = 0; i < lines.size(); ++i) {
      sc.mask_text(lines[i], cur.next(static_cast<std::uint32_t>(i)), out, counts);
      // A line keeps its newline; only an unterminated last line has none.
      if (lines[i].data() + lines[i].size() < data.data() + data.size()) out.push_back('\n');
    }
    if (!write_all(out)) return 1;  // stdout closed (e.g. piped into head)
    std::size_t rest = have - pos;
    if (rest > 0 && pos > 0) std::memmove(in.data(), in.data() + pos, rest);
    have = rest;
    if (in.size() > block_size && have < block_size) in.resize(block_size);
  }
  if (f.values.count("stats")) std::fprintf(stderr, "%s\n", counts.to_json(*eng).c_str());
  return 0;
}

}  // namespace gh::app
