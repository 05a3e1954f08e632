// PostgreSQL codec throughput: framing and parsing as the relay does it, and encoding.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "proto/pg/codec.hpp"

namespace {

using namespace gh::pg;

// A result stream like the relay sees: RowDescription-less run of DataRows of `cols` text cells
// of `width` bytes, then CommandComplete and ReadyForQuery.
std::vector<std::uint8_t> make_rows(int rows, int cols, int width) {
  std::vector<std::uint8_t> out;
  std::string cell(static_cast<std::size_t>(width), 'x');
  for (int r = 0; r < rows; ++r) {
    message m(out, 'D');
    m.w().i16(static_cast<std::uint16_t>(cols));
    for (int c = 0; c < cols; ++c) m.w().i32(static_cast<std::uint32_t>(width)).raw(cell);
  }
  {
    message m(out, 'C');
    m.w().cstr("SELECT " + std::to_string(rows));
  }
  write_ready_for_query(out, 'I');
  return out;
}

// Frames per second over a buffer of DataRows: what the relay's bookkeeping costs per message.
void bm_frame_datarows(benchmark::State& state) {
  auto buf = make_rows(10000, static_cast<int>(state.range(0)), 16);
  std::size_t frames = 0;
  for (auto _ : state) {
    bytes in(buf);
    std::size_t used = 0;
    frame f;
    std::string err;
    while (next_frame(in.subspan(used), 1 << 30, f, err) == decode_status::ok) {
      benchmark::DoNotOptimize(f.type);
      used += f.size;
      ++frames;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.SetBytesProcessed(static_cast<std::int64_t>(buf.size() * state.iterations()));
}
BENCHMARK(bm_frame_datarows)->Arg(1)->Arg(10);

// DataRow pass-through as the relay does it: frame, count rows, copy the run to an output
// buffer (standing in for the socket write), in MB/s.
void bm_datarow_passthrough(benchmark::State& state) {
  auto buf = make_rows(20000, 10, static_cast<int>(state.range(0)));
  std::vector<std::uint8_t> sink(buf.size());
  for (auto _ : state) {
    bytes in(buf);
    std::size_t used = 0, rows = 0;
    frame f;
    std::string err;
    while (next_frame(in.subspan(used), 1 << 30, f, err) == decode_status::ok) {
      if (f.type == 'D') ++rows;
      used += f.size;
    }
    std::memcpy(sink.data(), buf.data(), used);
    benchmark::DoNotOptimize(rows);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(buf.size() * state.iterations()));
}
BENCHMARK(bm_datarow_passthrough)->Arg(8)->Arg(64);

// Client messages: frame + validate + parse of a pgbench-style extended-protocol batch.
void bm_frontend_extended_batch(benchmark::State& state) {
  std::vector<std::uint8_t> buf;
  {
    message m(buf, 'B');
    m.w().cstr("").cstr("P0_1").i16(0).i16(1).i32(5).raw(std::string_view("12345")).i16(0);
  }
  {
    message m(buf, 'E');
    m.w().cstr("").i32(0);
  }
  { message m(buf, 'S'); }
  std::size_t msgs = 0;
  for (auto _ : state) {
    bytes in(buf);
    std::size_t used = 0;
    frame f;
    std::string err;
    while (next_frame(in.subspan(used), 1 << 20, f, err) == decode_status::ok) {
      auto v = validate_frontend(f);
      benchmark::DoNotOptimize(v);
      if (f.type == 'B') benchmark::DoNotOptimize(parse_bind(f.body));
      if (f.type == 'E') benchmark::DoNotOptimize(parse_execute(f.body));
      used += f.size;
      ++msgs;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(msgs));
}
BENCHMARK(bm_frontend_extended_batch);

void bm_encode_error_and_ready(benchmark::State& state) {
  std::vector<std::uint8_t> out;
  out.reserve(4096);
  for (auto _ : state) {
    out.clear();
    write_error(out, severity::error, "42501", "statement denied by rule no-drop");
    write_ready_for_query(out, 'I');
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(bm_encode_error_and_ready);

}  // namespace

BENCHMARK_MAIN();
