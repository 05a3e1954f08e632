// End to end: the command line. check-config names file:line and the key, version prints one,
// --help works on every command, usage errors exit 2.
#include <gtest/gtest.h>

#include <regex>

#include "gateway_common.hpp"

namespace gh::e2e {
namespace {

// A valid config; tests break one line of it. Line numbers matter (1-based, see comments).
const char* valid_config =
    "gateway:\n"                              // 1
    "  state_dir: ./state\n"                  // 2
    "  listen:\n"                             // 3
    "    postgres: 127.0.0.1:15432\n"         // 4
    "store:\n"                                // 5
    "  url: sqlite://./state/gatehouse.db\n"  // 6
    "identity:\n"                             // 7
    "  users:\n"                              // 8
    "    - name: alice\n"                     // 9
    "      groups: [clinicians]\n"            // 10
    "      api_key: env:ALICE_API_KEY\n"      // 11
    "connections:\n"                          // 12
    "  - name: clinic\n"                      // 13
    "    type: postgres\n"                    // 14
    "    host: 127.0.0.1\n"                   // 15
    "    port: 5432\n"                        // 16
    "    database: clinic\n"                  // 17
    "    user: app\n"                         // 18
    "    password: env:CLINIC_DB_PASSWORD\n"  // 19
    "    tls: prefer\n"                       // 20
    "    allow_groups: [clinicians]\n";       // 21

const env_map secrets{{"ALICE_API_KEY", "ak-" + std::string(32, 'a')},
                      {"CLINIC_DB_PASSWORD", "pw"}};

run_result gatehouse(const std::vector<std::string>& args, const env_map& env = {}) {
  std::vector<std::string> argv{gatehouse_bin().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, env, {}, 60s);
}

TEST(GatewayCli, check_config_accepts_a_valid_config) {
  temp_dir d("gh-cli");
  const std::string path = (d / "ok.yaml").string();
  write_file(path, valid_config);
  run_result r = gatehouse({"check-config", "--config", path}, secrets);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "ok")) << r.out;
}

TEST(GatewayCli, check_config_names_file_line_and_key) {
  temp_dir d("gh-cli");
  struct bad {
    std::string name, from, to;
    int line;
    std::string key_part;
  };
  const std::vector<bad> cases{
      {"port", "    port: 5432\n", "    port: 99999\n", 16, "connections[0].port"},
      {"unknown_key", "  listen:\n", "  listn:\n", 3, "gateway.listn"},
      {"bad_enum", "    tls: prefer\n", "    tls: sometimes\n", 20, "connections[0].tls"},
      {"bad_endpoint", "    postgres: 127.0.0.1:15432\n", "    postgres: 127.0.0.1\n", 4,
       "gateway.listen.postgres"},
  };
  for (const auto& c : cases) {
    const std::string path = (d / (c.name + ".yaml")).string();
    write_file(path, replace_once(valid_config, c.from, c.to));
    run_result r = gatehouse({"check-config", "--config", path}, secrets);
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.out << r.err;
    EXPECT_TRUE(contains(r.err, path + ":" + std::to_string(c.line) + ": "))
        << c.name << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.key_part)) << c.name << ": " << r.err;
  }

  // A secret that cannot be resolved is named by its line too (without revealing anything).
  const std::string path = (d / "secret.yaml").string();
  write_file(path, valid_config);
  run_result r = gatehouse({"check-config", "--config", path},
                           {{"ALICE_API_KEY", "ak-" + std::string(32, 'a')}});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_TRUE(contains(r.err, path + ":19: connections[0].password")) << r.err;
  EXPECT_TRUE(contains(r.err, "CLINIC_DB_PASSWORD")) << r.err;

  // YAML that does not parse.
  const std::string broken = (d / "broken.yaml").string();
  write_file(broken, "gateway:\n  state_dir: [unclosed\nstore: {}\n");
  run_result y = gatehouse({"check-config", "--config", broken});
  EXPECT_EQ(y.exit_code, 2);
  EXPECT_TRUE(std::regex_search(y.err, std::regex(broken + ":[0-9]+: "))) << y.err;

  // A file that does not exist.
  run_result missing = gatehouse({"check-config", "--config", (d / "nope.yaml").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(contains(missing.err, "nope.yaml")) << missing.err;
}

TEST(GatewayCli, version_prints_a_version) {
  run_result r = gatehouse({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("gatehouse [0-9]+\\.[0-9]+\\.[0-9]+.*\n")))
      << r.out;
}

TEST(GatewayCli, help_on_every_command) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"serve", "--help"},
                                             {"check-config", "--help"},
                                             {"audit", "--help"},
                                             {"audit", "export", "--help"},
                                             {"version", "--help"}}) {
    run_result r = gatehouse(args);
    std::string what;
    for (const auto& a : args) what += a + " ";
    EXPECT_EQ(r.exit_code, 0) << what << r.err;
    EXPECT_TRUE(contains(r.out, "usage: gatehouse")) << what << r.out;
    EXPECT_TRUE(r.err.empty()) << what << r.err;
  }
  run_result serve = gatehouse({"serve", "--help"});
  EXPECT_TRUE(contains(serve.out, "--config")) << serve.out;
  run_result audit = gatehouse({"audit", "--help"});
  for (const char* flag : {"--since", "--until", "--user", "--connection"})
    EXPECT_TRUE(contains(audit.out, flag)) << flag << "\n" << audit.out;
}

TEST(GatewayCli, usage_errors_exit_2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"no-such-command"},
                                             {"serve"},
                                             {"check-config"},
                                             {"audit", "export"},
                                             {"serve", "--config"},
                                             {"serve", "--no-such-flag", "x"}}) {
    run_result r = gatehouse(args);
    std::string what;
    for (const auto& a : args) what += a + " ";
    EXPECT_EQ(r.exit_code, 2) << what << r.out << r.err;
    EXPECT_FALSE(r.err.empty()) << what;
  }
}

}  // namespace
}  // namespace gh::e2e
