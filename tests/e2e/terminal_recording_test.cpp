// End to end: a terminal recording of a real program. /bin/sh runs in a real pty (forkpty) and
// prints text with PHI, colours and UTF-8; its output is fed to the recorder with real times,
// the way the SSH proxy will, through a real audit writer. Then the real binary:
// `gatehouse replay ID --speed 0` prints exactly the masked form of what the program printed
// (PHI absent, everything else byte for byte), `sessions show/list` describe the recording, and
// `audit verify` passes; after one byte of a chunk is changed, replay and verify both fail
// naming the recording, the chunk and its event's seq.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/journal.hpp"
#include "audit/signer.hpp"
#include "audit/writer.hpp"
#include "config/config.hpp"
#include "core/crypto.hpp"
#include "dlp/dlp.hpp"
#include "harness.hpp"
#include "record/recorder.hpp"
#include "record/trail.hpp"
#include "store/store.hpp"

namespace gh::e2e {
namespace {

namespace fs = std::filesystem;

const char* config_yaml =
    "gateway:\n"
    "  state_dir: ./state\n"
    "  listen:\n"
    "    ssh: 127.0.0.1:{{port}}\n"
    "store:\n"
    "  url: sqlite://./state/gatehouse.db\n"
    "connections:\n"
    "  - name: bastion\n"
    "    type: ssh\n"
    "    host: 127.0.0.1\n"
    "    user: ops\n"
    "    allow_groups: [ops]\n"
    "    recording:\n"
    "      chunk_size: 1KB\n"
    "      chunk_interval: 10s\n";

// What the program prints: PHI on its own lines and mid-line, a coloured word, UTF-8, and enough
// plain lines that the recording spans several chunks.
const char* phi_file =
    "Patient: Jane Roe\n"
    "SSN: 123-45-6789\n"
    "Contact jane.roe@example.com or the ward\n"
    "Card on file 4111 1111 1111 1111 (expired)\n"
    "status \x1b[32mgreen\x1b[0m, caf\xC3\xA9 \xE2\x9C\x93\n";

const std::vector<std::string> phi_values = {"123-45-6789", "jane.roe@example.com",
                                             "4111 1111 1111 1111"};

struct pty_run {
  std::string output;
  int status = -1;
};

// Runs `script` with /bin/sh in a new pty, feeding everything it prints to `rec` as it arrives.
pty_run run_in_pty(const std::string& script, record::terminal_recorder& rec) {
  pty_run r;
  int master = -1;
  struct winsize ws {};
  ws.ws_col = 100;
  ws.ws_row = 30;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  char buf[4096];
  for (;;) {
    auto n = ::read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO once the program and its pty side are gone
    std::string_view chunk(buf, static_cast<std::size_t>(n));
    r.output.append(chunk);
    auto s = rec.output(chunk, std::chrono::steady_clock::now());
    EXPECT_TRUE(s.ok()) << s.err();
  }
  ::close(master);
  ::waitpid(pid, &r.status, 0);
  return r;
}

store::audit_record session_event(const std::string& kind, const std::string& id) {
  store::audit_record e;
  e.ts_us = audit::now_us();
  e.kind = kind;
  e.session_id = id;
  e.user = "alice";
  e.groups = "ops";
  e.connection = "bastion";
  e.client_addr = "127.0.0.1:40000";
  if (kind == "session.end") e.reason = "client closed";
  return e;
}

// The audit writer as `gatehouse serve` opens it for `cfg` (state dir, store, journal, signing
// key), started. Null, with the failure reported, if any part cannot be opened.
std::unique_ptr<audit::writer> open_served_writer(const config::config& cfg) {
  const std::string state = cfg.gateway.state_dir;
  const std::string journal_dir = (fs::path(state) / "audit").string();
  fs::create_directories(state);
  auto st = store::open_store(cfg.store.url);
  if (!st.ok() || !(*st)->migrate().ok()) {
    ADD_FAILURE() << "store: " << (st.ok() ? "migrate failed" : st.err());
    return nullptr;
  }
  auto jr = audit::journal::open(journal_dir, audit::sync_mode::write);
  auto sg = audit::signer::load_or_create((fs::path(state) / "audit-signing.key").string());
  if (!jr.ok() || !sg.ok()) {
    ADD_FAILURE() << "journal: " << (jr.ok() ? "" : jr.err())
                  << " key: " << (sg.ok() ? "" : sg.err());
    return nullptr;
  }
  auto w =
      std::make_unique<audit::writer>(std::move(*jr), std::move(*st), journal_dir, std::move(*sg));
  w->start();
  return w;
}

TEST(TerminalRecording, ReplayOfARealPtySessionRendersTheMaskedOutput) {
  temp_dir d("gh-rec");
  const fs::path cfg_path = d / "gatehouse.yaml";
  write_file(cfg_path, substitute(config_yaml, {{"port", std::to_string(free_port())}}));
  write_file(d / "chart.txt", phi_file);
  auto cfg = config::load_config(cfg_path.string());
  ASSERT_TRUE(cfg.ok()) << cfg.err();
  const auto& conn = cfg->connections.at(0);
  const std::string state = cfg->gateway.state_dir;
  const std::string journal_dir = (fs::path(state) / "audit").string();
  const std::string id = "term-" + random_hex(6);

  auto writer = open_served_writer(*cfg);
  ASSERT_NE(writer, nullptr);
  record::writer_sink sink(*writer);
  ASSERT_EQ(sink.append(session_event("session.start", id)), "");

  auto policy = dlp::default_policy();
  ASSERT_TRUE(policy.ok()) << policy.err();
  record::recorder_options o;
  o.state_dir = state;
  o.session_id = id;
  o.user = "alice";
  o.groups = "ops";
  o.connection = conn.name;
  o.client = "127.0.0.1:40000";
  o.width = 100;
  o.height = 30;
  o.env = {{"TERM", "xterm-256color"}, {"SHELL", "/bin/sh"}};
  o.record_input = conn.recording.record_input;
  o.chunk_bytes = conn.recording.chunk_size;
  o.chunk_interval = conn.recording.chunk_interval;
  o.masking = (*policy)->engine_ptr();
  auto rec = record::terminal_recorder::open(o, sink, std::chrono::steady_clock::now());
  ASSERT_TRUE(rec.ok()) << rec.err();

  const std::string script =
      "printf 'hello from the pty\\n'; cat '" + (d / "chart.txt").string() +
      "'; i=0; while [ $i -lt 200 ]; do echo \"plain line $i of output\"; i=$((i+1)); done; "
      "printf 'prompt$ '; sleep 0.2; printf 'bye\\n'";
  auto ran = run_in_pty(script, **rec);
  ASSERT_TRUE(WIFEXITED(ran.status) && WEXITSTATUS(ran.status) == 0) << ran.status;
  ASSERT_TRUE((*rec)->close(std::chrono::steady_clock::now(), "client closed").ok());
  ASSERT_EQ(sink.append(session_event("session.end", id)), "");
  writer->stop();

  // The pty turned \n into \r\n: the program really ran in a terminal.
  ASSERT_NE(ran.output.find("SSN: 123-45-6789\r\n"), std::string::npos) << ran.output;
  EXPECT_GE((*rec)->summary().chunks, 2);

  dlp::scanner scanner((*policy)->engine_ptr());
  dlp::counts counts;
  const std::string expected = scanner.mask_text(ran.output, counts);
  for (const auto& v : phi_values) ASSERT_EQ(expected.find(v), std::string::npos) << v;

  // Nothing on disk holds a clear value.
  for (const auto& e : fs::recursive_directory_iterator(fs::path(state) / "recordings")) {
    if (!e.is_regular_file()) continue;
    auto data = read_file(e.path());
    for (const auto& v : phi_values) EXPECT_EQ(data.find(v), std::string::npos) << e.path() << v;
  }

  auto gatehouse = [&](std::vector<std::string> args) {
    args.insert(args.begin(), gatehouse_bin().string());
    args.push_back("--config");
    args.push_back(cfg_path.string());
    return run(args, {}, {}, 120s);
  };
  auto replay = gatehouse({"replay", id, "--speed", "0"});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(replay.out, expected);
  for (const auto& v : phi_values) EXPECT_EQ(replay.out.find(v), std::string::npos) << v;
  for (const char* plain : {"hello from the pty\r\n", "Patient: Jane Roe\r\n",
                            "status \x1b[32mgreen\x1b[0m, caf\xC3\xA9 \xE2\x9C\x93\r\n",
                            "plain line 199 of output\r\n", "prompt$ bye\r\n"})
    EXPECT_NE(replay.out.find(plain), std::string::npos) << plain;
  // Not a terminal and no --speed: all at once as well.
  auto piped = gatehouse({"replay", id});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, expected);

  auto verify = gatehouse({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("1 terminal recordings"), std::string::npos) << verify.out;

  auto show = gatehouse({"sessions", "show", id});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("terminal (asciicast v2): " +
                          std::to_string((*rec)->summary().chunks) + " chunks, " +
                          std::to_string((*rec)->summary().bytes) + " bytes"),
            std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("input not recorded, ended"), std::string::npos) << show.out;
  auto list = gatehouse({"sessions", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  auto row = list.out.find(id);
  ASSERT_NE(row, std::string::npos) << list.out;
  auto row_text = list.out.substr(row, list.out.find('\n', row) - row);
  EXPECT_NE(row_text.find(" term "), std::string::npos) << row_text;

  // Change one byte of chunk 2: both replay and verify refuse, naming chunk and seq.
  auto trail = record::read_trail(journal_dir, id);
  ASSERT_TRUE(trail.ok()) << trail.err();
  const auto& info = trail->recordings.at(id);
  ASSERT_GE(info.chunks.size(), 2u);
  const std::string seq = std::to_string(info.chunks[1].seq);
  const fs::path chunk2 = record::chunk_path(state, id, 2);
  std::string data = read_file(chunk2);
  data[data.size() / 2] = data[data.size() / 2] == 'x' ? 'y' : 'x';
  write_file(chunk2, data);

  auto bad_replay = gatehouse({"replay", id, "--speed", "0"});
  EXPECT_NE(bad_replay.exit_code, 0);
  EXPECT_EQ(bad_replay.out, "") << "a tampered recording must not be played at all";
  EXPECT_NE(bad_replay.err.find("recording " + id + " chunk 2 (seq " + seq + ") was modified"),
            std::string::npos)
      << bad_replay.err;
  auto bad_verify = gatehouse({"audit", "verify"});
  EXPECT_EQ(bad_verify.exit_code, 1) << bad_verify.out;
  EXPECT_NE(bad_verify.out.find("FAILED at seq " + seq + ": modified: recording " + id +
                                " chunk 2"),
            std::string::npos)
      << bad_verify.out;

  // A forger who also rewrites the chunk's event and re-chains every event after it leaves a
  // trail whose hashes all agree with the files; only the signed checkpoints give it away, and
  // replay checks them before it plays anything.
  std::vector<fs::path> segments;
  for (const auto& e : fs::directory_iterator(journal_dir))
    if (e.path().filename().string().starts_with("journal-")) segments.push_back(e.path());
  std::sort(segments.begin(), segments.end());
  std::string prev;
  bool forging = false;
  for (const auto& seg : segments) {
    std::istringstream in(read_file(seg));
    std::string line, out;
    while (std::getline(in, line)) {
      auto r = audit::decode_record(line);
      ASSERT_TRUE(r.ok()) << r.err();
      if (std::to_string(r->seq) == seq) {
        auto o = boost::json::parse(r->detail).as_object();
        o["sha256"] = crypto::sha256_hex(data);
        r->detail = boost::json::serialize(o);
        forging = true;
      }
      if (forging) {
        audit::encode_record(*r, prev, out);
      } else {
        out += line + "\n";
      }
      prev = r->hash;
    }
    write_file(seg, out);
  }
  ASSERT_TRUE(forging);
  auto forged = record::read_trail(journal_dir, id);
  ASSERT_TRUE(forged.ok()) << "the forged chain is consistent: " << forged.err();
  EXPECT_FALSE(record::check_chunks(state, *forged).has_value()) << "and matches the files";
  auto forged_replay = gatehouse({"replay", id, "--speed", "0"});
  EXPECT_EQ(forged_replay.exit_code, 1) << forged_replay.err;
  EXPECT_EQ(forged_replay.out, "") << "a forged trail must not be played at all";
  EXPECT_NE(forged_replay.err.find("the audit trail fails verification at seq"),
            std::string::npos)
      << forged_replay.err;
}

TEST(TerminalRecording, ReplayRefusesATrailSignedByAnotherKey) {
  temp_dir d("gh-rec-key");
  const fs::path cfg_path = d / "gatehouse.yaml";
  write_file(cfg_path, substitute(config_yaml, {{"port", std::to_string(free_port())}}));
  auto cfg = config::load_config(cfg_path.string());
  ASSERT_TRUE(cfg.ok()) << cfg.err();
  const std::string state = cfg->gateway.state_dir;
  const std::string id = "term-" + random_hex(6);
  {
    auto writer = open_served_writer(*cfg);
    ASSERT_NE(writer, nullptr);
    record::writer_sink sink(*writer);
    ASSERT_EQ(sink.append(session_event("session.start", id)), "");
    auto policy = dlp::default_policy();
    ASSERT_TRUE(policy.ok()) << policy.err();
    record::recorder_options o;
    o.state_dir = state;
    o.session_id = id;
    o.connection = cfg->connections.at(0).name;
    o.masking = (*policy)->engine_ptr();
    auto rec = record::terminal_recorder::open(o, sink, std::chrono::steady_clock::now());
    ASSERT_TRUE(rec.ok()) << rec.err();
    ASSERT_TRUE((*rec)->output("hello\r\n", std::chrono::steady_clock::now()).ok());
    ASSERT_TRUE((*rec)->close(std::chrono::steady_clock::now(), "client closed").ok());
    ASSERT_EQ(sink.append(session_event("session.end", id)), "");
    writer->stop();  // signs a last checkpoint
  }
  auto gatehouse = [&](std::vector<std::string> args) {
    args.insert(args.begin(), gatehouse_bin().string());
    args.push_back("--config");
    args.push_back(cfg_path.string());
    return run(args, {}, {}, 120s);
  };
  auto ok = gatehouse({"replay", id, "--speed", "0"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "hello\r\n");

  // Pinned to a key that did not sign this trail: nothing is played.
  auto other = audit::signer::load_or_create((d / "other.key").string());
  ASSERT_TRUE(other.ok()) << other.err();
  write_file(d / "other.pub", (*other)->public_pem());
  auto pinned = gatehouse({"replay", id, "--speed", "0", "--pubkey", (d / "other.pub").string()});
  EXPECT_EQ(pinned.exit_code, 1) << pinned.err;
  EXPECT_EQ(pinned.out, "");
  EXPECT_NE(pinned.err.find("fails verification"), std::string::npos) << pinned.err;

  // Without any key there is nothing to check signatures with: refused, not played unchecked.
  fs::remove(fs::path(state) / "audit-signing.key");
  auto keyless = gatehouse({"replay", id, "--speed", "0"});
  EXPECT_EQ(keyless.exit_code, 1) << keyless.err;
  EXPECT_EQ(keyless.out, "");
  EXPECT_NE(keyless.err.find("--pubkey"), std::string::npos) << keyless.err;
}

}  // namespace
}  // namespace gh::e2e
