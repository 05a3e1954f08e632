// The terminal recorder: valid asciicast chunks on disk, each chained by a `recording.chunk`
// event with its SHA-256 and size before it counts; masking before disk (also across chunk
// boundaries); rotation by size and time; input only when enabled; an audit append failure is
// a recorder failure (sticky); replaying the chunks renders the masked output; a modified chunk
// is refused.
#include "record/recorder.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "core/crypto.hpp"
#include "record/trail.hpp"
#include "record/tests/test_util.hpp"

namespace gh::record {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::default_engine;
using testing::memory_sink;
using testing::slurp;
using clock_type = terminal_recorder::clock;

const clock_type::time_point t0{};

recorder_options options(const fs::path& state_dir) {
  recorder_options o;
  o.state_dir = state_dir.string();
  o.session_id = "s-test-1";
  o.user = "alice";
  o.groups = "ops";
  o.connection = "bastion";
  o.client = "127.0.0.1:5555";
  o.width = 100;
  o.height = 30;
  o.env = {{"TERM", "xterm-256color"}, {"SHELL", "/bin/bash"}};
  o.masking = default_engine();
  return o;
}

// All chunk files of the recording, concatenated in order.
std::string all_chunks(const fs::path& state_dir, std::string_view id, std::int64_t n) {
  std::string all;
  for (std::int64_t i = 1; i <= n; ++i) all += slurp(chunk_path(state_dir.string(), id, i));
  return all;
}

boost::json::object detail(const store::audit_record& r) {
  return boost::json::parse(r.detail).as_object();
}

recording_info info_from(const memory_sink& sink) {
  trail_builder b;
  for (const auto& e : sink.events) b.add(e);
  auto t = b.take();
  EXPECT_EQ(t.recordings.size(), 1u);
  return t.recordings.begin()->second;
}

TEST(Recorder, WritesChainedAsciicastChunks) {
  testing::temp_dir d;
  memory_sink sink;
  auto r = terminal_recorder::open(options(d.path()), sink, t0);
  ASSERT_TRUE(r.ok()) << r.err();
  auto& rec = **r;
  ASSERT_TRUE(rec.output("$ ", t0 + 10ms).ok());
  ASSERT_TRUE(rec.output("ls\r\nfile-a  file-b\r\n", t0 + 500ms).ok());
  ASSERT_TRUE(rec.resize(120, 40, t0 + 700ms).ok());
  ASSERT_TRUE(rec.output("$ exit\r\n", t0 + 1s).ok());
  ASSERT_TRUE(rec.close(t0 + 1200ms, "client closed").ok());
  ASSERT_TRUE(rec.close(t0 + 1300ms).ok());  // idempotent

  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0].kind, "recording.start");
  EXPECT_EQ(sink.events[1].kind, "recording.chunk");
  EXPECT_EQ(sink.events[2].kind, "recording.end");
  for (const auto& e : sink.events) {
    EXPECT_EQ(e.session_id, "s-test-1");
    EXPECT_EQ(e.user, "alice");
    EXPECT_EQ(e.connection, "bastion");
  }
  const std::string path = chunk_path(d.path().string(), "s-test-1", 1);
  EXPECT_EQ(path, (d.path() / "recordings" / "s-test-1" / "000001.cast").string());
  const std::string data = slurp(path);
  auto cd = detail(sink.events[1]);
  EXPECT_EQ(cd.at("recording").as_string(), "s-test-1");
  EXPECT_EQ(cd.at("chunk").as_int64(), 1);
  EXPECT_EQ(cd.at("sha256").as_string(), crypto::sha256_hex(data));
  EXPECT_EQ(cd.at("bytes").as_int64(), static_cast<std::int64_t>(data.size()));
  auto ed = detail(sink.events[2]);
  EXPECT_EQ(ed.at("chunks").as_int64(), 1);
  EXPECT_EQ(sink.events[2].duration_us, 1'200'000);
  EXPECT_EQ(sink.events[2].reason, "client closed");

  testing::expect_valid_cast(data);
  auto c = parse_cast(data);
  ASSERT_TRUE(c.ok()) << c.err();
  EXPECT_EQ(c->header.width, 100u);
  ASSERT_EQ(c->events.size(), 4u);
  EXPECT_EQ(c->events[0].data, "$ ");
  EXPECT_EQ(c->events[0].t_us, 10'000);
  EXPECT_EQ(c->events[1].t_us, 500'000);
  EXPECT_EQ(c->events[2].code, 'r');
  EXPECT_EQ(c->events[2].data, "120x40");
  EXPECT_EQ(rec.summary().chunks, 1);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Recorder, MaskedValuesNeverReachDiskEvenAcrossChunks) {
  testing::temp_dir d;
  memory_sink sink;
  auto o = options(d.path());
  o.chunk_bytes = 64;  // a chunk every line or so
  auto r = terminal_recorder::open(o, sink, t0);
  ASSERT_TRUE(r.ok()) << r.err();
  std::string fed;
  auto out = [&](std::string s, auto t) {
    fed += s;
    ASSERT_TRUE((*r)->output(s, t).ok());
  };
  for (int i = 0; i < 20; ++i) out("line " + std::to_string(i) + " of harmless output\r\n", t0 + 1ms * i);
  out("patient ssn 123-45-", t0 + 30ms);
  out("6789, mail jane.roe@exa", t0 + 40ms);
  out("mple.com\r\n", t0 + 50ms);
  out("card 4111 1111 ", t0 + 60ms);
  out("1111 1111 end\r\n", t0 + 70ms);
  ASSERT_TRUE((*r)->close(t0 + 80ms).ok());
  const auto n = (*r)->summary().chunks;
  EXPECT_GT(n, 5);
  std::string disk;
  for (const auto& e : fs::directory_iterator(d.path() / "recordings" / "s-test-1"))
    disk += slurp(e.path());
  for (const char* v : {"123-45", "6789", "jane.roe", "example.com", "4111 1111"})
    EXPECT_EQ(disk.find(v), std::string::npos) << v;
  std::string cast = all_chunks(d.path(), "s-test-1", n);
  testing::expect_valid_cast(cast);
  // Replaying renders exactly the masked form of what was shown.
  std::string played;
  ASSERT_TRUE(play(cast, 0, [&](std::string_view s) { played += s; }, [](std::int64_t) {}).ok());
  EXPECT_EQ(played, testing::mask_whole(fed));
  EXPECT_NE(played.find("line 19 of harmless output\r\n"), std::string::npos);
  auto ed = detail(sink.of_kind("recording.end").at(0));
  EXPECT_EQ(ed.at("masked").at("detectors").at("us_ssn").as_int64(), 1);
}

TEST(Recorder, RotatesBySizeAndTime) {
  testing::temp_dir d;
  memory_sink sink;
  auto o = options(d.path());
  o.chunk_bytes = 1000;
  o.chunk_interval = 2s;
  auto r = terminal_recorder::open(o, sink, t0);
  ASSERT_TRUE(r.ok()) << r.err();
  ASSERT_TRUE((*r)->output("a\n", t0 + 100ms).ok());
  EXPECT_EQ((*r)->summary().chunks, 0);
  ASSERT_TRUE((*r)->tick(t0 + 1s).ok());
  EXPECT_EQ((*r)->summary().chunks, 0);
  ASSERT_TRUE((*r)->tick(t0 + 2200ms).ok());  // the first event has waited 2 s
  EXPECT_EQ((*r)->summary().chunks, 1);
  ASSERT_TRUE((*r)->output("b\n", t0 + 3s).ok());
  ASSERT_TRUE((*r)->output("c\n", t0 + 5100ms).ok());  // 2.1 s after b: b's chunk goes first
  EXPECT_EQ((*r)->summary().chunks, 2);
  ASSERT_TRUE((*r)->output(std::string(1500, 'z') + "\n", t0 + 5200ms).ok());
  EXPECT_EQ((*r)->summary().chunks, 3);  // over 1000 bytes
  ASSERT_TRUE((*r)->close(t0 + 6s).ok());
  const auto n = (*r)->summary().chunks;
  EXPECT_EQ(n, 3);  // nothing was left for a fourth
  auto chunks = sink.of_kind("recording.chunk");
  ASSERT_EQ(chunks.size(), static_cast<std::size_t>(n));
  std::int64_t total = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    auto cd = detail(chunks[i]);
    EXPECT_EQ(cd.at("chunk").as_int64(), static_cast<std::int64_t>(i + 1));
    const std::string data = slurp(chunk_path(d.path().string(), "s-test-1", cd.at("chunk").as_int64()));
    EXPECT_EQ(cd.at("sha256").as_string(), crypto::sha256_hex(data));
    total += static_cast<std::int64_t>(data.size());
  }
  EXPECT_EQ(total, (*r)->summary().bytes);
  auto cast = all_chunks(d.path(), "s-test-1", n);
  testing::expect_valid_cast(cast);
  auto c = parse_cast(cast);
  ASSERT_TRUE(c.ok()) << c.err();
  EXPECT_EQ(c->events.size(), 4u);
}

TEST(Recorder, AuditFailureIsARecorderFailure) {
  testing::temp_dir d;
  memory_sink sink;
  sink.fail_from = 2;  // start is recorded, the first chunk is not
  auto o = options(d.path());
  o.chunk_bytes = 32;
  auto r = terminal_recorder::open(o, sink, t0);
  ASSERT_TRUE(r.ok()) << r.err();
  auto s = (*r)->output("this line is longer than one chunk\r\n", t0 + 1ms);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("chunk 1"), std::string::npos) << s.err();
  EXPECT_NE(s.err().find("disk full (test)"), std::string::npos) << s.err();
  // Not on record, so not on disk either; and every later call fails (the caller cuts the session).
  EXPECT_FALSE(fs::exists(chunk_path(d.path().string(), "s-test-1", 1)));
  EXPECT_FALSE((*r)->output("more\r\n", t0 + 2ms).ok());
  EXPECT_FALSE((*r)->input("x", t0 + 2ms).ok());
  EXPECT_FALSE((*r)->close(t0 + 3ms).ok());
  EXPECT_EQ((*r)->summary().chunks, 0);

  // A recording whose start cannot be recorded does not start.
  memory_sink broken;
  broken.fail_from = 1;
  auto o2 = options(d.path());
  o2.session_id = "s-test-2";
  auto r2 = terminal_recorder::open(o2, broken, t0);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.err().find("audit trail"), std::string::npos) << r2.err();
  EXPECT_FALSE(fs::exists(d.path() / "recordings" / "s-test-2"));

  // Nor does a second recording into the same session's directory, or a hostile id.
  memory_sink ok;
  EXPECT_FALSE(terminal_recorder::open(options(d.path()), ok, t0).ok());
  auto o3 = options(d.path());
  o3.session_id = "../escape";
  EXPECT_FALSE(terminal_recorder::open(o3, ok, t0).ok());
}

TEST(Recorder, InputIsRecordedOnlyWhenEnabledAndMasked) {
  for (bool enabled : {false, true}) {
    testing::temp_dir d;
    memory_sink sink;
    auto o = options(d.path());
    o.record_input = enabled;
    auto r = terminal_recorder::open(o, sink, t0);
    ASSERT_TRUE(r.ok()) << r.err();
    int i = 0;
    for (char c : std::string("echo 123-45-6789\r"))
      ASSERT_TRUE((*r)->input(std::string(1, c), t0 + 1ms * ++i).ok());
    ASSERT_TRUE((*r)->output("echo [SSN]\r\n", t0 + 50ms).ok());
    ASSERT_TRUE((*r)->close(t0 + 60ms).ok());
    auto cast = all_chunks(d.path(), "s-test-1", (*r)->summary().chunks);
    testing::expect_valid_cast(cast);
    auto c = parse_cast(cast);
    ASSERT_TRUE(c.ok()) << c.err();
    std::string typed;
    for (const auto& e : c->events)
      if (e.code == 'i') typed += e.data;
    if (enabled) {
      EXPECT_EQ(typed.rfind("echo ", 0), 0u) << typed;
      EXPECT_EQ(typed.find("6789"), std::string::npos) << typed;
    } else {
      EXPECT_EQ(typed, "");
    }
    EXPECT_EQ(cast.find("6789"), std::string::npos);
    EXPECT_EQ(detail(sink.events[0]).at("input").as_bool(), enabled);
  }
}

TEST(Recorder, Utf8SplitAcrossFeedsAndInvalidBytesStayValidJson) {
  testing::temp_dir d;
  memory_sink sink;
  auto r = terminal_recorder::open(options(d.path()), sink, t0);
  ASSERT_TRUE(r.ok()) << r.err();
  ASSERT_TRUE((*r)->output("caf\xC3", t0 + 1ms).ok());
  ASSERT_TRUE((*r)->output("\xA9 \xE2\x9C", t0 + 2ms).ok());
  ASSERT_TRUE((*r)->output("\x93 \xF0\x9F\x98", t0 + 3ms).ok());
  ASSERT_TRUE((*r)->output("\x80 bad:\xFF\xC0\x80 end\r\n", t0 + 4ms).ok());
  ASSERT_TRUE((*r)->output("cut \xE2\x9C", t0 + 5ms).ok());  // never completed
  ASSERT_TRUE((*r)->close(t0 + 6ms).ok());
  auto cast = all_chunks(d.path(), "s-test-1", (*r)->summary().chunks);
  testing::expect_valid_cast(cast);
  std::string played;
  ASSERT_TRUE(play(cast, 0, [&](std::string_view s) { played += s; }, [](std::int64_t) {}).ok());
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(played, "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80 bad:" + fffd + fffd + fffd +
                        " end\r\ncut " + fffd + fffd);
}

TEST(Recorder, ReplayRefusesAModifiedOrMissingChunk) {
  testing::temp_dir d;
  memory_sink sink;
  auto o = options(d.path());
  o.chunk_bytes = 80;
  auto r = terminal_recorder::open(o, sink, t0);
  ASSERT_TRUE(r.ok()) << r.err();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE((*r)->output("output line " + std::to_string(i) + "\r\n", t0 + 1ms * i).ok());
  ASSERT_TRUE((*r)->close(t0 + 20ms).ok());
  auto info = info_from(sink);
  ASSERT_GE(info.chunks.size(), 3u);
  auto loaded = load_recording(d.path().string(), info);
  ASSERT_TRUE(loaded.ok()) << loaded.err();
  EXPECT_FALSE(check_chunks(d.path().string(), trail_builder{}.take()).has_value());
  recording_trail t;
  t.recordings[info.id] = info;
  std::int64_t checked = 0;
  EXPECT_FALSE(check_chunks(d.path().string(), t, &checked).has_value());
  EXPECT_EQ(checked, static_cast<std::int64_t>(info.chunks.size()));

  // One byte changed in chunk 2.
  const std::string p2 = chunk_path(d.path().string(), info.id, 2);
  std::string data = slurp(p2);
  data[data.size() / 2] ^= 0x01;
  std::ofstream(p2, std::ios::binary | std::ios::trunc) << data;
  auto bad = load_recording(d.path().string(), info);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.err().find("chunk 2"), std::string::npos) << bad.err();
  EXPECT_NE(bad.err().find("seq " + std::to_string(info.chunks[1].seq)), std::string::npos)
      << bad.err();
  auto prob = check_chunks(d.path().string(), t);
  ASSERT_TRUE(prob.has_value());
  EXPECT_EQ(prob->seq, info.chunks[1].seq);
  EXPECT_NE(prob->what.find("modified: recording s-test-1 chunk 2"), std::string::npos)
      << prob->what;

  // Removed: a problem, unless a retention mark covers its event.
  fs::remove(p2);
  EXPECT_FALSE(load_recording(d.path().string(), info).ok());
  auto gone = check_chunks(d.path().string(), t);
  ASSERT_TRUE(gone.has_value());
  EXPECT_NE(gone->what.find("missing: recording s-test-1 chunk 2"), std::string::npos) << gone->what;
  t.pruned_through = info.chunks[1].seq;
  EXPECT_FALSE(check_chunks(d.path().string(), t).has_value());

  // A chunk file no event vouches for.
  std::ofstream(chunk_path(d.path().string(), info.id, 99), std::ios::binary) << "[0.0,\"o\",\"x\"]\n";
  auto planted = check_chunks(d.path().string(), t);
  ASSERT_TRUE(planted.has_value());
  EXPECT_NE(planted->what.find("unchained: recording s-test-1 chunk 99"), std::string::npos)
      << planted->what;
}

TEST(Recorder, PlayDividesPausesBySpeed) {
  std::string cast = header_line({});
  append_event(0, 'o', "a", cast);
  append_event(2'000'000, 'i', "typed", cast);
  append_event(3'000'000, 'o', "b", cast);
  append_event(3'000'000, 'r', "90x20", cast);
  append_event(600'000'000, 'o', "c", cast);
  std::vector<std::int64_t> pauses;
  std::string out;
  ASSERT_TRUE(play(cast, 2.0, [&](std::string_view s) { out += s; },
                   [&](std::int64_t us) { pauses.push_back(us); })
                  .ok());
  EXPECT_EQ(out, "abc");
  EXPECT_EQ(pauses, (std::vector<std::int64_t>{1'500'000, 5'000'000}));  // capped
  pauses.clear();
  ASSERT_TRUE(play(cast, 0, [&](std::string_view) {}, [&](std::int64_t us) { pauses.push_back(us); }).ok());
  EXPECT_TRUE(pauses.empty());
}

}  // namespace
}  // namespace gh::record
