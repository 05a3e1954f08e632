// gatehouse: the command-line entry point. Subcommands parse their own flags; every command has
// --help. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "app/commands.hpp"

namespace {

const char* usage =
    "gatehouse - access gateway for systems that hold protected health information\n"
    "\n"
    "usage: gatehouse <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve --config FILE          run the gateway (all listeners in one process)\n"
    "  check-config --config FILE   validate a configuration file\n"
    "  audit export --config FILE   print audit events as JSON Lines\n"
    "  audit verify --config FILE   verify the hash chain and signed checkpoints\n"
    "  audit pubkey --config FILE   print the key that verifies checkpoints\n"
    "  sessions list|show ID        recorded sessions and their statement timelines\n"
    "  replay ID --config FILE      play a recorded session back\n"
    "  mask [--config FILE]         mask PHI in stdin to stdout (line by line)\n"
    "  reviews list --config FILE   the approval queue; also show|approve|reject ID\n"
    "  version                      print the version\n"
    "\n"
    "Run 'gatehouse <command> --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  // A file size limit (RLIMIT_FSIZE) must fail the write with EFBIG, like a full disk, so the
  // audit store refuses the action instead of the process dying.
  std::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "version" || cmd == "--version") return gh::app::cmd_version(args);
  if (cmd == "serve") return gh::app::cmd_serve(args);
  if (cmd == "check-config") return gh::app::cmd_check_config(args);
  if (cmd == "audit") return gh::app::cmd_audit(args);
  if (cmd == "reviews") return gh::app::cmd_reviews(args);
  if (cmd == "sessions") return gh::app::cmd_sessions(args, false);
  if (cmd == "replay") return gh::app::cmd_sessions(args, true);
  if (cmd == "mask") return gh::app::cmd_mask(args);
  std::fprintf(stderr, "gatehouse: unknown command '%s'\n\n%s", cmd.c_str(), usage);
  return 2;
}
