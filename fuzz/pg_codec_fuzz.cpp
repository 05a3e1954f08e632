// libFuzzer target for the PostgreSQL codec: the input is whatever a client or server might send.
// Every decoder must return ok, need_more or an error with a reason, never read out of bounds, and
// decoding must not depend on how the bytes were split. What parses must re-encode to the same
// value. A broken invariant aborts so libFuzzer keeps the input.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "proto/pg/codec.hpp"

namespace {

using namespace gh::pg;

void require(bool ok) {
  if (!ok) std::abort();
}

struct seen {
  char type;
  std::size_t size;
};

// Frames off the front of `in` until need_more or error; checks the framing invariants.
std::size_t drain(bytes in, std::size_t max_body, std::vector<seen>* out, decode_status& last) {
  std::size_t used = 0;
  for (;;) {
    frame f;
    std::string err;
    std::size_t want = 0;
    last = next_frame(in.subspan(used), max_body, f, err, &want);
    if (last == decode_status::error) {
      require(!err.empty());
      return used;
    }
    if (last == decode_status::need_more) {
      require(want == 0 || want > in.size() - used);
      return used;
    }
    require(f.size >= 5 && f.size <= in.size() - used);
    require(f.body.size() + 5 == f.size && f.body.size() <= max_body);
    require(f.body.data() == in.data() + used + 5);
    if (out != nullptr) out->push_back({f.type, f.size});
    used += f.size;
  }
}

void parse_everything(const frame& f) {
  if (auto s = validate_frontend(f); !s) require(!s.err().empty());

  if (auto q = parse_query(f.body)) {
    std::vector<std::uint8_t> out;
    write_query(out, *q);
    frame g;
    std::string err;
    require(next_frame(out, out.size(), g, err) == decode_status::ok);
    auto again = parse_query(g.body);
    require(again.ok() && *again == *q);
  }
  if (auto p = parse_parse(f.body)) require(p->query.find('\0') == std::string_view::npos);
  (void)parse_bind(f.body);
  (void)parse_execute(f.body);
  if (auto c = parse_close(f.body)) require(c->what == 'S' || c->what == 'P');
  (void)parse_function_call(f.body);
  if (auto pw = parse_password(f.body)) {
    std::vector<std::uint8_t> out;
    write_password(out, *pw);
    require(out.size() == f.size && std::equal(out.begin() + 5, out.end(), f.body.begin()));
  }
  (void)parse_error(f.body);
  if (auto a = parse_auth(f.body)) {
    require(a->data.size() + 4 == f.body.size());
    std::vector<std::uint8_t> out;
    write_auth(out, a->code, a->data);
    require(out.size() == f.body.size() + 5 && std::equal(out.begin() + 5, out.end(), f.body.begin()));
  }
  if (auto ps = parse_parameter_status(f.body)) {
    std::vector<std::uint8_t> out;
    write_parameter_status(out, ps->first, ps->second);
    require(std::equal(out.begin() + 5, out.end(), f.body.begin(), f.body.end()));
  }
  if (auto k = parse_backend_key(f.body)) {
    std::vector<std::uint8_t> out;
    write_backend_key(out, k->first, k->second);
    require(std::equal(out.begin() + 5, out.end(), f.body.begin(), f.body.end()));
  }
  if (auto t = parse_command_complete(f.body)) require(command_rows(*t) >= -1);
  if (auto z = parse_ready_for_query(f.body)) require(*z == 'I' || *z == 'T' || *z == 'E');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bytes in(data, size);

  // Startup phase.
  startup_packet p;
  std::string err;
  switch (decode_startup(in, p, err)) {
    case decode_status::ok:
      require(p.size >= 8 && p.size <= size && p.size <= max_startup_packet);
      if (p.what == startup_packet::kind::startup) {
        // Re-encoding what was decoded gives the same packet back.
        std::vector<std::uint8_t> out;
        write_startup(out, p.params);
        require(out.size() == p.size);
        startup_packet q;
        std::string err2;
        require(decode_startup(out, q, err2) == decode_status::ok);
        require(q.params == p.params);
      }
      break;
    case decode_status::error: require(!err.empty()); break;
    case decode_status::need_more: require(size < max_startup_packet); break;
  }

  // Typed messages. A small limit half of the time exercises the oversize path.
  const std::size_t max_body = size > 0 && (data[0] & 1) != 0 ? 64 : std::size_t{1} << 20;
  std::vector<seen> whole;
  decode_status last{};
  const std::size_t used = drain(in, max_body, &whole, last);
  for (std::size_t off = 0; off < used;) {
    frame f;
    std::string e;
    require(next_frame(in.subspan(off), max_body, f, e) == decode_status::ok);
    parse_everything(f);
    off += f.size;
  }

  // Split anywhere: the prefix then the rest must give the same frames and the same outcome.
  if (size > 1) {
    const std::size_t cut = (static_cast<std::size_t>(data[size - 1]) * 131 + size) % size;
    std::vector<seen> parts;
    decode_status first_last{};
    const std::size_t used1 = drain(in.first(cut), max_body, &parts, first_last);
    if (first_last == decode_status::error) {
      require(last == decode_status::error);
    } else {
      decode_status second_last{};
      const std::size_t used2 = drain(in.subspan(used1), max_body, &parts, second_last);
      require(used1 + used2 == used && second_last == last);
      require(parts.size() == whole.size());
      for (std::size_t i = 0; i < parts.size(); ++i)
        require(parts[i].type == whole[i].type && parts[i].size == whole[i].size);
    }
  }
  return 0;
}
