// The `recording:` block of a connection: defaults, the boolean shorthand, settings on ssh
// connections, and errors that name FILE:LINE and the key path.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace gh::config {
namespace {

using namespace std::chrono_literals;

// Lines 1..10; the recording block starts on line 11.
const std::string ssh_config =
    "gateway:\n"                     // 1
    "  listen:\n"                    // 2
    "    ssh: 127.0.0.1:2222\n"      // 3
    "connections:\n"                 // 4
    "  - name: pg\n"                 // 5
    "    type: postgres\n"           // 6
    "    host: 127.0.0.1\n"          // 7
    "    database: clinic\n"         // 8
    "    user: app\n"                // 9
    "  - {name: bastion, type: ssh, host: 10.0.0.5, user: ops,\n";  // 10

TEST(RecordingConfig, DefaultsRecordOutputOnly) {
  auto r = parse_config(ssh_config + "     allow_groups: [ops]}\n", "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const auto& rec = r->connections[1].recording;
  EXPECT_TRUE(rec.enabled);
  EXPECT_FALSE(rec.record_input);
  EXPECT_EQ(rec.chunk_size, 64u << 10);
  EXPECT_EQ(rec.chunk_interval, 5s);
}

TEST(RecordingConfig, SettingsOnAnSshConnection) {
  auto r = parse_config(ssh_config +
                            "     recording: {record_input: true, chunk_size: 16KB,\n"
                            "                 chunk_interval: 2s}}\n",
                        "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.err();
  const auto& rec = r->connections[1].recording;
  EXPECT_TRUE(rec.enabled);
  EXPECT_TRUE(rec.record_input);
  EXPECT_EQ(rec.chunk_size, 16u << 10);
  EXPECT_EQ(rec.chunk_interval, 2s);
  EXPECT_EQ(rec.line, 11);

  auto off = parse_config(ssh_config + "     recording: false}\n", "demo.yaml");
  ASSERT_TRUE(off.ok()) << off.err();
  EXPECT_FALSE(off->connections[1].recording.enabled);
}

TEST(RecordingConfig, PostgresAcceptsOnlyTrue) {
  const std::string pg = "gateway:\n  listen:\n    postgres: 127.0.0.1:15432\nconnections:\n"
                         "  - name: pg\n    type: postgres\n    host: h\n    database: d\n"
                         "    user: u\n";  // lines 1..9
  auto ok = parse_config(pg + "    recording: true\n", "demo.yaml");
  EXPECT_TRUE(ok.ok()) << ok.err();
  for (const char* bad : {"    recording: false\n", "    recording: {record_input: true}\n"}) {
    auto r = parse_config(pg + bad, "demo.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.err().starts_with("demo.yaml:10: connections[0].recording: only `recording: true`"))
        << r.err();
  }
}

TEST(RecordingConfig, ErrorsNameFileLineAndKey) {
  struct bad {
    std::string block, prefix, problem;
  };
  for (const auto& c : std::vector<bad>{
           {"     recording: {record_inputs: true}}\n",
            "demo.yaml:11: connections[1].recording.record_inputs: ", "did you mean 'record_input'"},
           {"     recording: {record_input: yes please}}\n",
            "demo.yaml:11: connections[1].recording.record_input: ", "expected one of true | false"},
           {"     recording: {chunk_size: 100MB}}\n",
            "demo.yaml:11: connections[1].recording.chunk_size: ", "1KB..64MB"},
           {"     recording: {chunk_size: 10}}\n",
            "demo.yaml:11: connections[1].recording.chunk_size: ", "expected a size"},
           {"     recording: {chunk_interval: 0s}}\n",
            "demo.yaml:11: connections[1].recording.chunk_interval: ", "greater than 0"},
           {"     recording: maybe}\n", "demo.yaml:11: connections[1].recording: ",
            "expected one of true | false"},
       }) {
    auto r = parse_config(ssh_config + c.block, "demo.yaml");
    ASSERT_FALSE(r.ok()) << c.block;
    EXPECT_TRUE(r.err().starts_with(c.prefix)) << r.err();
    EXPECT_NE(r.err().find(c.problem), std::string::npos) << r.err();
  }
}

}  // namespace
}  // namespace gh::config
