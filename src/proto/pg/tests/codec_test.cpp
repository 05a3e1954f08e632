// The PostgreSQL v3 codec: every message the gateway reads round-trips through the encoder and the
// decoders; input split at every byte boundary decodes to the same frames; truncated, oversized,
// out-of-order and random input is refused with a reason and never crashes.
#include "proto/pg/codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gh::pg {
namespace {

using buf = std::vector<std::uint8_t>;
using namespace std::string_view_literals;

constexpr std::size_t k_max_body = 1 << 20;

bytes view(const buf& b) { return {b.data(), b.size()}; }

std::string str(bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Decodes exactly one frame that spans all of `in`.
::testing::AssertionResult one_frame(const buf& in, frame& f) {
  std::string err;
  auto st = next_frame(view(in), k_max_body, f, err);
  if (st != decode_status::ok)
    return ::testing::AssertionFailure() << "next_frame status " << static_cast<int>(st) << ": "
                                         << err;
  if (f.size != in.size())
    return ::testing::AssertionFailure() << "frame size " << f.size << " != " << in.size();
  if (f.body.size() + 5 != f.size)
    return ::testing::AssertionFailure() << "body size " << f.body.size();
  return ::testing::AssertionSuccess();
}

// A typed message with `body` as its body and a correct length.
buf framed(char type, const buf& body) {
  buf out;
  message m(out, type);
  m.w().raw(view(body));
  return out;
}

buf body_of(const buf& msg) { return {msg.begin() + 5, msg.end()}; }

// ---- Frontend messages ------------------------------------------------------------------------

TEST(pg_codec, query_round_trips) {
  buf out;
  write_query(out, "SELECT 1");
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'Q');
  EXPECT_TRUE(validate_frontend(f).ok());
  auto q = parse_query(f.body);
  ASSERT_TRUE(q.ok()) << q.err();
  EXPECT_EQ(*q, "SELECT 1");
}

TEST(pg_codec, query_must_be_one_terminated_string) {
  frame f;
  buf unterminated = framed('Q', {'S', 'E', 'L'});
  ASSERT_TRUE(one_frame(unterminated, f));
  EXPECT_FALSE(parse_query(f.body).ok());
  EXPECT_FALSE(validate_frontend(f).ok());

  buf trailing = framed('Q', {'x', 0, 'y'});
  ASSERT_TRUE(one_frame(trailing, f));
  auto s = validate_frontend(f);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("Query"), std::string::npos) << s.err();

  buf empty = framed('Q', {});
  ASSERT_TRUE(one_frame(empty, f));
  EXPECT_FALSE(validate_frontend(f).ok());
}

TEST(pg_codec, empty_bodies_fail_every_parser_without_reading) {
  // A default span has a null data pointer; parsers must not hand it to memchr.
  bytes none;
  EXPECT_FALSE(parse_query(none).ok());
  EXPECT_FALSE(parse_parse(none).ok());
  EXPECT_FALSE(parse_bind(none).ok());
  EXPECT_FALSE(parse_execute(none).ok());
  EXPECT_FALSE(parse_close(none).ok());
  EXPECT_FALSE(parse_function_call(none).ok());
  EXPECT_FALSE(parse_password(none).ok());
  EXPECT_FALSE(parse_error(none).ok());
  EXPECT_FALSE(parse_auth(none).ok());
  EXPECT_FALSE(parse_parameter_status(none).ok());
  EXPECT_FALSE(parse_backend_key(none).ok());
  EXPECT_FALSE(parse_command_complete(none).ok());
  EXPECT_FALSE(parse_ready_for_query(none).ok());
  frame f;
  f.type = 'f';
  EXPECT_FALSE(validate_frontend(f).ok());
}

buf parse_message(std::string_view name, std::string_view sql,
                  const std::vector<std::uint32_t>& types) {
  buf out;
  message m(out, 'P');
  m.w().cstr(name).cstr(sql).i16(static_cast<std::uint16_t>(types.size()));
  for (auto t : types) m.w().i32(t);
  return out;
}

TEST(pg_codec, parse_round_trips) {
  buf out = parse_message("s1", "SELECT $1, $2", {23, 25});
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'P');
  EXPECT_TRUE(validate_frontend(f).ok());
  auto m = parse_parse(f.body);
  ASSERT_TRUE(m.ok()) << m.err();
  EXPECT_EQ(m->name, "s1");
  EXPECT_EQ(m->query, "SELECT $1, $2");
  EXPECT_EQ(m->param_types, 2);

  auto unnamed = parse_message("", "SELECT 1", {});
  ASSERT_TRUE(one_frame(unnamed, f));
  auto u = parse_parse(f.body);
  ASSERT_TRUE(u.ok()) << u.err();
  EXPECT_EQ(u->name, "");
  EXPECT_EQ(u->param_types, 0);
}

TEST(pg_codec, parse_type_count_must_match) {
  buf out;
  {
    message m(out, 'P');
    m.w().cstr("s").cstr("SELECT $1").i16(3).i32(23).i32(25);  // says 3, has 2
  }
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  auto s = validate_frontend(f);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("Parse"), std::string::npos) << s.err();

  buf extra;
  {
    message m(extra, 'P');
    m.w().cstr("s").cstr("SELECT $1").i16(1).i32(23).i32(25);  // says 1, has 2
  }
  ASSERT_TRUE(one_frame(extra, f));
  EXPECT_FALSE(parse_parse(f.body).ok());
}

// Bind "p" of "s1": one text format code, params "abc" and NULL, one binary result format.
buf bind_message() {
  buf out;
  message m(out, 'B');
  m.w().cstr("p").cstr("s1").i16(1).i16(0).i16(2);
  m.w().i32(3).raw("abc"sv);
  m.w().i32(0xffffffffu);
  m.w().i16(1).i16(1);
  return out;
}

TEST(pg_codec, bind_round_trips) {
  buf out = bind_message();
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'B');
  EXPECT_TRUE(validate_frontend(f).ok());
  auto m = parse_bind(f.body);
  ASSERT_TRUE(m.ok()) << m.err();
  EXPECT_EQ(m->portal, "p");
  EXPECT_EQ(m->statement, "s1");
  EXPECT_EQ(m->params, 2);

  // One format code per parameter is also legal.
  buf per_param;
  {
    message mm(per_param, 'B');
    mm.w().cstr("").cstr("").i16(2).i16(0).i16(1).i16(2).i32(0).i32(1).i8(7).i16(0);
  }
  ASSERT_TRUE(one_frame(per_param, f));
  auto p = parse_bind(f.body);
  ASSERT_TRUE(p.ok()) << p.err();
  EXPECT_EQ(p->params, 2);
}

TEST(pg_codec, bind_with_parameter_length_past_the_end_is_refused) {
  buf out;
  {
    message m(out, 'B');
    m.w().cstr("").cstr("s1").i16(0).i16(1).i32(100).raw("abc"sv).i16(0);
  }
  frame f;
  ASSERT_TRUE(one_frame(out, f));  // the frame itself is complete...
  auto s = validate_frontend(f);   // ...but a field inside it is not
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("malformed Bind"), std::string::npos) << s.err();
}

TEST(pg_codec, bind_inner_fields_are_checked) {
  frame f;
  // Negative length other than -1.
  buf negative;
  {
    message m(negative, 'B');
    m.w().cstr("").cstr("").i16(0).i16(1).i32(0x80000000u).i16(0);
  }
  ASSERT_TRUE(one_frame(negative, f));
  EXPECT_FALSE(parse_bind(f.body).ok());
  // Two format codes for three parameters.
  buf mismatch;
  {
    message m(mismatch, 'B');
    m.w().cstr("").cstr("").i16(2).i16(0).i16(0).i16(3);
    for (int i = 0; i < 3; ++i) m.w().i32(0xffffffffu);
    m.w().i16(0);
  }
  ASSERT_TRUE(one_frame(mismatch, f));
  EXPECT_FALSE(parse_bind(f.body).ok());
  // Format code count that runs past the end.
  buf formats;
  {
    message m(formats, 'B');
    m.w().cstr("").cstr("").i16(0xffff).i16(0);
  }
  ASSERT_TRUE(one_frame(formats, f));
  EXPECT_FALSE(parse_bind(f.body).ok());
  // Portal name without its NUL.
  buf portal = framed('B', {'p', 'o'});
  ASSERT_TRUE(one_frame(portal, f));
  EXPECT_FALSE(parse_bind(f.body).ok());
}

TEST(pg_codec, execute_round_trips) {
  buf out;
  {
    message m(out, 'E');
    m.w().cstr("portal").i32(10);
  }
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'E');
  EXPECT_TRUE(validate_frontend(f).ok());
  auto m = parse_execute(f.body);
  ASSERT_TRUE(m.ok()) << m.err();
  EXPECT_EQ(m->portal, "portal");
  EXPECT_EQ(m->max_rows, 10u);
}

TEST(pg_codec, describe_and_close_round_trip) {
  for (char type : {'D', 'C'}) {
    for (char what : {'S', 'P'}) {
      buf out;
      {
        message m(out, type);
        m.w().i8(static_cast<std::uint8_t>(what)).cstr("name1");
      }
      frame f;
      ASSERT_TRUE(one_frame(out, f));
      EXPECT_EQ(f.type, type);
      EXPECT_TRUE(validate_frontend(f).ok());
      auto m = parse_close(f.body);
      ASSERT_TRUE(m.ok()) << m.err();
      EXPECT_EQ(m->what, what);
      EXPECT_EQ(m->name, "name1");
    }
    buf bad_kind;
    {
      message m(bad_kind, type);
      m.w().i8('X').cstr("n");
    }
    frame f;
    ASSERT_TRUE(one_frame(bad_kind, f));
    EXPECT_FALSE(validate_frontend(f).ok());
  }
}

TEST(pg_codec, bodiless_messages_round_trip) {
  for (char type : {'S', 'H', 'X', 'c'}) {
    buf out;
    { message m(out, type); }
    ASSERT_EQ(out.size(), 5u);
    frame f;
    ASSERT_TRUE(one_frame(out, f));
    EXPECT_EQ(f.type, type);
    EXPECT_TRUE(f.body.empty());
    EXPECT_TRUE(validate_frontend(f).ok()) << type;

    buf with_body = framed(type, {0});
    ASSERT_TRUE(one_frame(with_body, f));
    auto s = validate_frontend(f);
    ASSERT_FALSE(s.ok()) << type;
    EXPECT_NE(s.err().find(frontend_name(type)), std::string::npos) << s.err();
  }
  buf term;
  write_terminate(term);
  EXPECT_EQ(term, (buf{'X', 0, 0, 0, 4}));
}

TEST(pg_codec, function_call_round_trips) {
  buf out;
  {
    message m(out, 'F');
    m.w().i32(1234).i16(1).i16(1).i16(2);
    m.w().i32(4).i32(42);
    m.w().i32(0xffffffffu);
    m.w().i16(1);
  }
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'F');
  EXPECT_TRUE(validate_frontend(f).ok());
  auto m = parse_function_call(f.body);
  ASSERT_TRUE(m.ok()) << m.err();
  EXPECT_EQ(m->oid, 1234u);
  EXPECT_EQ(m->args, 2);

  buf past_end;
  {
    message mm(past_end, 'F');
    mm.w().i32(1).i16(0).i16(1).i32(50).i32(0).i16(0);
  }
  ASSERT_TRUE(one_frame(past_end, f));
  EXPECT_FALSE(validate_frontend(f).ok());
}

TEST(pg_codec, copy_messages_round_trip) {
  buf data = framed('d', {0, 1, 2, 0xff, 0, '\n'});
  frame f;
  ASSERT_TRUE(one_frame(data, f));
  EXPECT_EQ(f.type, 'd');
  EXPECT_EQ(str(f.body), std::string("\0\1\2\xff\0\n", 6));
  EXPECT_TRUE(validate_frontend(f).ok());

  buf done = framed('c', {});
  ASSERT_TRUE(one_frame(done, f));
  EXPECT_TRUE(validate_frontend(f).ok());

  buf fail;
  {
    message m(fail, 'f');
    m.w().cstr("client gave up");
  }
  ASSERT_TRUE(one_frame(fail, f));
  EXPECT_EQ(f.type, 'f');
  EXPECT_TRUE(validate_frontend(f).ok());
  EXPECT_EQ(str(f.body), std::string("client gave up\0", 15));

  buf fail_unterminated = framed('f', {'x'});
  ASSERT_TRUE(one_frame(fail_unterminated, f));
  EXPECT_FALSE(validate_frontend(f).ok());
}

TEST(pg_codec, password_round_trips_and_is_refused_after_authentication) {
  buf out;
  write_password(out, "hunter2");
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'p');
  auto p = parse_password(f.body);
  ASSERT_TRUE(p.ok()) << p.err();
  EXPECT_EQ(*p, "hunter2");

  // Once the session is established a PasswordMessage is out of order.
  auto s = validate_frontend(f);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.err().find("PasswordMessage"), std::string::npos) << s.err();
  EXPECT_EQ(s.err().find("hunter2"), std::string::npos) << "error leaks the password";

  buf trailing = framed('p', {'a', 0, 'b'});
  ASSERT_TRUE(one_frame(trailing, f));
  EXPECT_FALSE(parse_password(f.body).ok());
}

TEST(pg_codec, sasl_messages_have_the_documented_layout) {
  buf initial;
  write_sasl_initial(initial, "SCRAM-SHA-256", "n,,n=,r=abc");
  frame f;
  ASSERT_TRUE(one_frame(initial, f));
  EXPECT_EQ(f.type, 'p');
  EXPECT_EQ(str(f.body), std::string("SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc", 14 + 4 + 11));

  buf response;
  write_sasl_response(response, "c=biws");
  ASSERT_TRUE(one_frame(response, f));
  EXPECT_EQ(str(f.body), "c=biws");
}

TEST(pg_codec, unknown_frontend_types_are_refused) {
  const std::string known = "QPBEDCSHFXdcfp";
  int unknown = 0;
  for (int t = 0; t < 256; ++t) {
    const char type = static_cast<char>(t);
    if (known.find(type) != std::string::npos) continue;
    ++unknown;
    buf out = framed(type, {});
    frame f;
    ASSERT_TRUE(one_frame(out, f));
    auto s = validate_frontend(f);
    ASSERT_FALSE(s.ok()) << "type " << t;
    EXPECT_NE(s.err().find("unknown frontend message type"), std::string::npos) << s.err();
    EXPECT_EQ(frontend_name(type), "unknown");
  }
  EXPECT_EQ(unknown, 256 - static_cast<int>(known.size()));
  EXPECT_EQ(frontend_name('B'), "Bind");
  EXPECT_EQ(frontend_name('F'), "FunctionCall");
  EXPECT_EQ(frontend_name('f'), "CopyFail");
}

// ---- Backend messages -------------------------------------------------------------------------

TEST(pg_codec, error_response_round_trips) {
  buf out;
  write_error(out, severity::fatal, "28P01", "password authentication failed", "the detail",
              "a hint");
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'E');
  auto e = parse_error(f.body);
  ASSERT_TRUE(e.ok()) << e.err();
  EXPECT_EQ(e->severity, "FATAL");
  EXPECT_EQ(e->sqlstate, "28P01");
  EXPECT_EQ(e->message, "password authentication failed");
  EXPECT_EQ(e->detail, "the detail");

  buf err;
  write_error(err, severity::error, "42501", "permission denied");
  ASSERT_TRUE(one_frame(err, f));
  EXPECT_EQ(f.type, 'E');
  auto e2 = parse_error(f.body);
  ASSERT_TRUE(e2.ok()) << e2.err();
  EXPECT_EQ(e2->severity, "ERROR");
  EXPECT_EQ(e2->detail, "");
}

TEST(pg_codec, notice_round_trips) {
  buf out;
  write_notice(out, "audit is on", "detail text");
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'N');
  auto e = parse_error(f.body);
  ASSERT_TRUE(e.ok()) << e.err();
  EXPECT_EQ(e->severity, "NOTICE");
  EXPECT_EQ(e->sqlstate, "00000");
  EXPECT_EQ(e->message, "audit is on");
  EXPECT_EQ(e->detail, "detail text");

  buf warn;
  write_error(warn, severity::warning, "01000", "careful");
  ASSERT_TRUE(one_frame(warn, f));
  EXPECT_EQ(f.type, 'N');
  auto w = parse_error(f.body);
  ASSERT_TRUE(w.ok()) << w.err();
  EXPECT_EQ(w->severity, "WARNING");
}

TEST(pg_codec, error_fields_from_the_server) {
  // Servers before 9.6 send only the localized 'S'; 'V' wins when both are present.
  buf localized = framed('E', {'S', 'F', 'E', 'H', 'L', 'E', 'R', 0, 'C', '2', '2', '0', '1',
                               '2', 0, 'M', 'x', 0, 'Z', 'q', 0, 0});
  frame f;
  ASSERT_TRUE(one_frame(localized, f));
  auto e = parse_error(f.body);
  ASSERT_TRUE(e.ok()) << e.err();
  EXPECT_EQ(e->severity, "FEHLER");
  EXPECT_EQ(e->sqlstate, "22012");
  EXPECT_EQ(e->message, "x");

  buf both = framed('E', {'S', 'F', 'E', 'H', 'L', 'E', 'R', 0, 'V', 'E', 'R', 'R', 'O', 'R', 0,
                          0});
  ASSERT_TRUE(one_frame(both, f));
  auto b = parse_error(f.body);
  ASSERT_TRUE(b.ok()) << b.err();
  EXPECT_EQ(b->severity, "ERROR");

  for (const buf& bad : {buf{'S', 'x', 0}, buf{'S', 'x'}, buf{'S', 'x', 0, 0, 'j'}, buf{}}) {
    buf msg = framed('E', bad);
    ASSERT_TRUE(one_frame(msg, f));
    EXPECT_FALSE(parse_error(f.body).ok()) << str(f.body);
  }
}

TEST(pg_codec, authentication_variants_round_trip) {
  frame f;
  for (std::uint32_t code : {0u, 3u}) {
    buf out;
    write_auth(out, code);
    ASSERT_TRUE(one_frame(out, f));
    EXPECT_EQ(f.type, 'R');
    auto a = parse_auth(f.body);
    ASSERT_TRUE(a.ok()) << a.err();
    EXPECT_EQ(a->code, code);
    EXPECT_TRUE(a->data.empty());

    buf extra;
    const std::uint8_t junk[] = {1};
    write_auth(extra, code, junk);
    ASSERT_TRUE(one_frame(extra, f));
    EXPECT_FALSE(parse_auth(f.body).ok()) << code;
  }

  const std::uint8_t salt[] = {0xde, 0xad, 0xbe, 0xef};
  buf md5;
  write_auth(md5, 5, salt);
  ASSERT_TRUE(one_frame(md5, f));
  auto m = parse_auth(f.body);
  ASSERT_TRUE(m.ok()) << m.err();
  EXPECT_EQ(m->code, 5u);
  EXPECT_EQ(buf(m->data.begin(), m->data.end()), buf(std::begin(salt), std::end(salt)));
  buf short_salt;
  write_auth(short_salt, 5, bytes(salt, 3));
  ASSERT_TRUE(one_frame(short_salt, f));
  EXPECT_FALSE(parse_auth(f.body).ok());

  const std::string mechs("SCRAM-SHA-256\0\0", 15);
  const std::string server_first = "r=abc,s=c2FsdA==,i=4096";
  const std::string server_final = "v=c2lnbmF0dXJl";
  for (auto [code, data] : {std::pair{10u, mechs}, std::pair{11u, server_first},
                            std::pair{12u, server_final}}) {
    buf out;
    write_auth(out, code, bytes(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
    ASSERT_TRUE(one_frame(out, f));
    auto a = parse_auth(f.body);
    ASSERT_TRUE(a.ok()) << a.err();
    EXPECT_EQ(a->code, code);
    EXPECT_EQ(str(a->data), data);
  }

  buf no_code = framed('R', {0, 0});
  ASSERT_TRUE(one_frame(no_code, f));
  EXPECT_FALSE(parse_auth(f.body).ok());
}

TEST(pg_codec, parameter_status_round_trips) {
  buf out;
  write_parameter_status(out, "server_version", "15.4");
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'S');
  auto p = parse_parameter_status(f.body);
  ASSERT_TRUE(p.ok()) << p.err();
  EXPECT_EQ(p->first, "server_version");
  EXPECT_EQ(p->second, "15.4");

  buf no_value = framed('S', {'k', 0});
  ASSERT_TRUE(one_frame(no_value, f));
  EXPECT_FALSE(parse_parameter_status(f.body).ok());
  buf trailing = framed('S', {'k', 0, 'v', 0, 'x'});
  ASSERT_TRUE(one_frame(trailing, f));
  EXPECT_FALSE(parse_parameter_status(f.body).ok());
}

TEST(pg_codec, backend_key_data_round_trips) {
  buf out;
  write_backend_key(out, 4242, 0xdeadbeefu);
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'K');
  auto k = parse_backend_key(f.body);
  ASSERT_TRUE(k.ok()) << k.err();
  EXPECT_EQ(k->first, 4242u);
  EXPECT_EQ(k->second, 0xdeadbeefu);

  buf longer = framed('K', buf(12, 1));
  ASSERT_TRUE(one_frame(longer, f));
  EXPECT_FALSE(parse_backend_key(f.body).ok());
}

TEST(pg_codec, command_complete_round_trips) {
  buf out;
  {
    message m(out, 'C');
    m.w().cstr("INSERT 0 3");
  }
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'C');
  auto t = parse_command_complete(f.body);
  ASSERT_TRUE(t.ok()) << t.err();
  EXPECT_EQ(*t, "INSERT 0 3");
  EXPECT_EQ(command_rows(*t), 3);

  buf unterminated = framed('C', {'B', 'E', 'G', 'I', 'N'});
  ASSERT_TRUE(one_frame(unterminated, f));
  EXPECT_FALSE(parse_command_complete(f.body).ok());
}

TEST(pg_codec, command_rows_reads_the_count_from_tags) {
  const std::vector<std::pair<std::string_view, std::int64_t>> cases = {
      {"SELECT 5", 5},
      {"SELECT 0", 0},
      {"INSERT 0 3", 3},
      {"UPDATE 12", 12},
      {"DELETE 1", 1},
      {"MERGE 7", 7},
      {"COPY 10", 10},
      {"FETCH 100", 100},
      {"MOVE 2", 2},
      {"SELECT 999999999999999999", 999999999999999999},  // 18 digits
      {"BEGIN", -1},
      {"CREATE TABLE", -1},
      {"SELECT", -1},
      {"SELECT ", -1},
      {"SELECT -1", -1},
      {"SELECT 5x", -1},
      {"SELECT 1234567890123456789", -1},  // 19 digits could overflow; not a count we trust
      {"", -1},
  };
  for (const auto& [tag, rows] : cases) EXPECT_EQ(command_rows(tag), rows) << tag;
}

TEST(pg_codec, ready_for_query_round_trips) {
  for (char status : {'I', 'T', 'E'}) {
    buf out;
    write_ready_for_query(out, status);
    frame f;
    ASSERT_TRUE(one_frame(out, f));
    EXPECT_EQ(f.type, 'Z');
    auto z = parse_ready_for_query(f.body);
    ASSERT_TRUE(z.ok()) << z.err();
    EXPECT_EQ(*z, status);
  }
  for (const buf& bad : {buf{'X'}, buf{}, buf{'I', 'I'}}) {
    buf msg = framed('Z', bad);
    frame f;
    ASSERT_TRUE(one_frame(msg, f));
    EXPECT_FALSE(parse_ready_for_query(f.body).ok());
  }
}

TEST(pg_codec, negotiate_protocol_version_layout) {
  buf out;
  write_negotiate_protocol(out, 0, {"_pq_.a", "_pq_.b"});
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_EQ(f.type, 'v');
  EXPECT_EQ(str(f.body), std::string("\0\0\0\0\0\0\0\2_pq_.a\0_pq_.b\0", 22));
  EXPECT_EQ(backend_name('v'), "NegotiateProtocolVersion");
  EXPECT_EQ(backend_name('Z'), "ReadyForQuery");
  EXPECT_EQ(backend_name('!'), "unknown");
}

// ---- Proper prefixes and trailing bytes -------------------------------------------------------

// Each of these layouts is self-delimiting, so every proper prefix of a valid body and the body
// with one extra byte must be refused by its parser.
TEST(pg_codec, every_truncation_and_extension_is_refused) {
  struct sample {
    std::string name;
    buf msg;
    bool (*parse)(bytes);
    bool frontend;
  };
  std::vector<sample> samples;
  auto add = [&](std::string name, buf msg, bool (*parse)(bytes)) {
    const bool frontend = name == "Query" || name == "Parse" || name == "Bind" ||
                          name == "Execute" || name == "Describe" || name == "FunctionCall";
    samples.push_back({std::move(name), std::move(msg), parse, frontend});
  };
  buf q;
  write_query(q, "SELECT 1");
  add("Query", q, [](bytes b) { return parse_query(b).ok(); });
  add("Parse", parse_message("s", "SELECT $1", {23}), [](bytes b) { return parse_parse(b).ok(); });
  add("Bind", bind_message(), [](bytes b) { return parse_bind(b).ok(); });
  buf e;
  {
    message m(e, 'E');
    m.w().cstr("").i32(0);
  }
  add("Execute", e, [](bytes b) { return parse_execute(b).ok(); });
  buf d;
  {
    message m(d, 'D');
    m.w().i8('S').cstr("s");
  }
  add("Describe", d, [](bytes b) { return parse_close(b).ok(); });
  buf fc;
  {
    message m(fc, 'F');
    m.w().i32(1).i16(0).i16(1).i32(2).i16(7).i16(0);
  }
  add("FunctionCall", fc, [](bytes b) { return parse_function_call(b).ok(); });
  buf pw;
  write_password(pw, "pw");
  add("PasswordMessage", pw, [](bytes b) { return parse_password(b).ok(); });
  buf er;
  write_error(er, severity::error, "XX000", "boom", "d");
  add("ErrorResponse", er, [](bytes b) { return parse_error(b).ok(); });
  buf md5;
  const std::uint8_t salt[] = {1, 2, 3, 4};
  write_auth(md5, 5, salt);
  add("AuthenticationMD5Password", md5, [](bytes b) { return parse_auth(b).ok(); });
  buf ps;
  write_parameter_status(ps, "TimeZone", "UTC");
  add("ParameterStatus", ps, [](bytes b) { return parse_parameter_status(b).ok(); });
  buf k;
  write_backend_key(k, 1, 2);
  add("BackendKeyData", k, [](bytes b) { return parse_backend_key(b).ok(); });
  buf cc = framed('C', {'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0});
  add("CommandComplete", cc, [](bytes b) { return parse_command_complete(b).ok(); });
  buf z;
  write_ready_for_query(z, 'I');
  add("ReadyForQuery", z, [](bytes b) { return parse_ready_for_query(b).ok(); });

  for (const auto& s : samples) {
    frame f;
    ASSERT_TRUE(one_frame(s.msg, f)) << s.name;
    ASSERT_TRUE(s.parse(f.body)) << s.name << " sample does not parse";
    buf body = body_of(s.msg);
    for (std::size_t cut = 0; cut < body.size(); ++cut) {
      // Copy so that the prefix has no readable bytes after it for a parser to wander into.
      buf prefix(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(cut));
      EXPECT_FALSE(s.parse(view(prefix))) << s.name << " accepted a prefix of " << cut;
      buf msg = framed(s.msg[0], prefix);
      frame pf;
      ASSERT_TRUE(one_frame(msg, pf));
      if (s.frontend) {
        EXPECT_FALSE(validate_frontend(pf).ok()) << s.name << " prefix " << cut;
      }
    }
    buf longer = body;
    longer.push_back(0);
    EXPECT_FALSE(s.parse(view(longer))) << s.name << " accepted a trailing byte";
  }
}

// ---- Framing ----------------------------------------------------------------------------------

TEST(pg_codec, next_frame_needs_a_whole_header) {
  buf q;
  write_query(q, "SELECT 1");
  for (std::size_t k = 0; k < 5; ++k) {
    frame f;
    std::string err;
    std::size_t want = 99;
    EXPECT_EQ(next_frame(bytes(q.data(), k), k_max_body, f, err, &want), decode_status::need_more);
    EXPECT_EQ(want, 0u) << k;
  }
  for (std::size_t k = 5; k < q.size(); ++k) {
    frame f;
    std::string err;
    std::size_t want = 0;
    EXPECT_EQ(next_frame(bytes(q.data(), k), k_max_body, f, err, &want), decode_status::need_more);
    EXPECT_EQ(want, q.size()) << k;
  }
}

TEST(pg_codec, next_frame_refuses_lengths_below_four) {
  for (std::uint8_t len = 0; len < 4; ++len) {
    buf in = {'Q', 0, 0, 0, len, 'x', 0};
    frame f;
    std::string err;
    EXPECT_EQ(next_frame(view(in), k_max_body, f, err), decode_status::error) << int{len};
    EXPECT_NE(err.find("invalid message length"), std::string::npos) << err;
    EXPECT_NE(err.find("0x51"), std::string::npos) << err;  // 'Q'
  }
}

TEST(pg_codec, next_frame_refuses_oversize_before_the_body_arrives) {
  const std::size_t max_body = 100;
  buf at_limit = framed('d', buf(max_body, 'a'));
  frame f;
  std::string err;
  EXPECT_EQ(next_frame(view(at_limit), max_body, f, err), decode_status::ok) << err;
  EXPECT_EQ(f.body.size(), max_body);

  buf over = framed('d', buf(max_body + 1, 'a'));
  err.clear();
  // Only the header has arrived: the length alone is enough to refuse.
  EXPECT_EQ(next_frame(bytes(over.data(), 5), max_body, f, err), decode_status::error);
  EXPECT_NE(err.find("exceeds the limit"), std::string::npos) << err;
  err.clear();
  EXPECT_EQ(next_frame(view(over), max_body, f, err), decode_status::error);
  EXPECT_FALSE(err.empty());

  buf huge = {'Q', 0xff, 0xff, 0xff, 0xff};
  err.clear();
  EXPECT_EQ(next_frame(view(huge), k_max_body, f, err), decode_status::error);
  EXPECT_FALSE(err.empty());
}

struct decoded {
  char type;
  std::string body;
  bool operator==(const decoded&) const = default;
};

// Decodes frames off the front of `in` until need_more/error; returns bytes consumed.
std::size_t drain(bytes in, std::vector<decoded>& out, decode_status& last) {
  std::size_t used = 0;
  for (;;) {
    frame f;
    std::string err;
    last = next_frame(in.subspan(used), k_max_body, f, err);
    if (last != decode_status::ok) return used;
    out.push_back({f.type, str(f.body)});
    used += f.size;
  }
}

buf frontend_sequence() {
  buf all;
  write_query(all, "SELECT 1; SELECT 2");
  auto p = parse_message("s1", "SELECT $1", {23});
  all.insert(all.end(), p.begin(), p.end());
  auto b = bind_message();
  all.insert(all.end(), b.begin(), b.end());
  {
    message m(all, 'D');
    m.w().i8('P').cstr("p");
  }
  {
    message m(all, 'E');
    m.w().cstr("p").i32(0);
  }
  { message m(all, 'S'); }
  auto d = framed('d', {0, 0, 0, 0, 0, 5, 'Q'});  // looks like a header inside a body
  all.insert(all.end(), d.begin(), d.end());
  { message m(all, 'c'); }
  { message m(all, 'H'); }
  write_terminate(all);
  return all;
}

buf backend_sequence() {
  buf all;
  write_auth(all, 0);
  write_parameter_status(all, "server_version", "15.4");
  write_parameter_status(all, "client_encoding", "UTF8");
  write_backend_key(all, 77, 88);
  write_ready_for_query(all, 'I');
  {
    message m(all, 'C');
    m.w().cstr("SELECT 1");
  }
  write_error(all, severity::error, "42P01", "relation does not exist");
  write_notice(all, "n");
  write_ready_for_query(all, 'E');
  return all;
}

void check_every_split(const buf& all, std::size_t expected_frames) {
  std::vector<decoded> whole;
  decode_status last{};
  ASSERT_EQ(drain(view(all), whole, last), all.size());
  ASSERT_EQ(last, decode_status::need_more);
  ASSERT_EQ(whole.size(), expected_frames);

  // Offsets where each frame ends, to know how many frames a prefix holds.
  std::vector<std::size_t> ends;
  std::size_t off = 0;
  for (const auto& d : whole) ends.push_back(off += 5 + d.body.size());

  for (std::size_t k = 0; k <= all.size(); ++k) {
    // First the prefix alone: only whole frames come out, then need_more.
    std::vector<decoded> got;
    std::size_t used = drain(bytes(all.data(), k), got, last);
    ASSERT_EQ(last, decode_status::need_more) << "prefix " << k;
    std::size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= k) ++complete;
    ASSERT_EQ(got.size(), complete) << "prefix " << k;
    ASSERT_EQ(used, complete == 0 ? 0 : ends[complete - 1]) << "prefix " << k;
    // Then the rest arrives: the unconsumed tail plus the remaining bytes decode to the rest.
    buf tail(all.begin() + static_cast<std::ptrdiff_t>(used), all.end());
    std::size_t used2 = drain(view(tail), got, last);
    ASSERT_EQ(used2, tail.size()) << "split at " << k;
    ASSERT_EQ(last, decode_status::need_more);
    ASSERT_EQ(got, whole) << "split at " << k;
  }

  // And one byte at a time, the way a slow socket delivers it.
  buf pending;
  std::vector<decoded> got;
  for (std::uint8_t byte : all) {
    pending.push_back(byte);
    std::size_t used = drain(view(pending), got, last);
    ASSERT_EQ(last, decode_status::need_more);
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
  }
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(got, whole);
}

TEST(pg_codec, frontend_stream_split_at_every_byte_decodes_the_same_frames) {
  buf all = frontend_sequence();
  check_every_split(all, 10);
  // And each of them is a legal frontend message.
  std::size_t used = 0;
  while (used < all.size()) {
    frame f;
    std::string err;
    ASSERT_EQ(next_frame(bytes(all).subspan(used), k_max_body, f, err), decode_status::ok);
    EXPECT_TRUE(validate_frontend(f).ok()) << f.type << ": " << validate_frontend(f).err();
    used += f.size;
  }
}

TEST(pg_codec, backend_stream_split_at_every_byte_decodes_the_same_frames) {
  check_every_split(backend_sequence(), 9);
}

// ---- Startup phase ----------------------------------------------------------------------------

TEST(pg_codec, startup_message_round_trips) {
  buf out;
  write_startup(out, {{"user", "alice"}, {"database", "clinic"}, {"application_name", "psql"}});
  startup_packet p;
  std::string err;
  ASSERT_EQ(decode_startup(view(out), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.what, startup_packet::kind::startup);
  EXPECT_EQ(p.protocol, protocol_v3);
  EXPECT_EQ(p.size, out.size());
  ASSERT_EQ(p.params.size(), 3u);
  EXPECT_EQ(p.params[0], (std::pair<std::string, std::string>{"user", "alice"}));
  EXPECT_EQ(p.params[1].first, "database");
  EXPECT_EQ(p.params[2].first, "application_name");
  ASSERT_NE(p.param("database"), nullptr);
  EXPECT_EQ(*p.param("database"), "clinic");
  EXPECT_EQ(p.param("options"), nullptr);

  // Every proper prefix is "need more", never an error and never a packet.
  for (std::size_t k = 0; k < out.size(); ++k) {
    startup_packet q;
    EXPECT_EQ(decode_startup(bytes(out.data(), k), q, err), decode_status::need_more) << k;
  }
}

TEST(pg_codec, startup_without_parameters_and_with_empty_values) {
  buf none;
  write_startup(none, {});
  startup_packet p;
  std::string err;
  ASSERT_EQ(decode_startup(view(none), p, err), decode_status::ok) << err;
  EXPECT_TRUE(p.params.empty());
  EXPECT_EQ(p.size, 9u);

  buf empty_value;
  write_startup(empty_value, {{"options", ""}});
  ASSERT_EQ(decode_startup(view(empty_value), p, err), decode_status::ok) << err;
  ASSERT_EQ(p.params.size(), 1u);
  EXPECT_EQ(p.params[0].second, "");
}

TEST(pg_codec, ssl_gss_and_cancel_requests) {
  startup_packet p;
  std::string err;
  buf ssl;
  write_ssl_request(ssl);
  EXPECT_EQ(ssl, (buf{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
  ASSERT_EQ(decode_startup(view(ssl), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.what, startup_packet::kind::ssl_request);
  EXPECT_EQ(p.size, 8u);

  buf gss = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30};
  ASSERT_EQ(decode_startup(view(gss), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.what, startup_packet::kind::gss_request);
  EXPECT_EQ(p.size, 8u);

  buf cancel;
  write_cancel_request(cancel, 31337, 0xcafebabeu);
  ASSERT_EQ(cancel.size(), 16u);
  ASSERT_EQ(decode_startup(view(cancel), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.what, startup_packet::kind::cancel_request);
  EXPECT_EQ(p.cancel_pid, 31337u);
  EXPECT_EQ(p.cancel_secret, 0xcafebabeu);
  EXPECT_EQ(p.size, 16u);
  EXPECT_TRUE(p.params.empty());
}

TEST(pg_codec, ssl_request_then_startup_in_one_buffer) {
  // A client may pipeline; the decoder consumes one packet and leaves the rest.
  buf both;
  write_ssl_request(both);
  write_startup(both, {{"user", "bob"}});
  startup_packet p;
  std::string err;
  ASSERT_EQ(decode_startup(view(both), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.what, startup_packet::kind::ssl_request);
  ASSERT_EQ(decode_startup(bytes(both).subspan(p.size), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.what, startup_packet::kind::startup);
  ASSERT_NE(p.param("user"), nullptr);
  EXPECT_EQ(*p.param("user"), "bob");
}

buf startup_bytes(std::uint32_t length, std::uint32_t code, const std::string& rest) {
  buf out;
  writer w(out);
  w.i32(length).i32(code).raw(rest);
  return out;
}

void expect_startup_error(const buf& in, std::string_view needle) {
  startup_packet p;
  std::string err;
  EXPECT_EQ(decode_startup(view(in), p, err), decode_status::error) << needle;
  EXPECT_NE(err.find(needle), std::string::npos) << "error: " << err;
}

TEST(pg_codec, startup_packet_errors) {
  using namespace std::string_literals;
  // Length field below the 8-byte minimum, and above PostgreSQL's limit (refused from the
  // length alone, before the body arrives).
  for (std::uint32_t len : {0u, 4u, 7u})
    expect_startup_error(startup_bytes(len, protocol_v3, ""), "invalid startup packet length");
  expect_startup_error(buf{0, 0, 0x27, 0x11}, "invalid startup packet length");  // 10001
  expect_startup_error(buf{0xff, 0xff, 0xff, 0xff}, "invalid startup packet length");

  std::string params = "user\0alice\0"s;
  expect_startup_error(startup_bytes(8 + static_cast<std::uint32_t>(params.size()), protocol_v3,
                                     params),
                       "not terminated");
  std::string no_value = "user\0"s;
  expect_startup_error(startup_bytes(8 + 5, protocol_v3, no_value), "without a value");
  std::string half = "us"s;
  expect_startup_error(startup_bytes(8 + 2, protocol_v3, half), "not terminated");
  std::string trailing = "user\0alice\0\0junk"s;
  expect_startup_error(startup_bytes(8 + static_cast<std::uint32_t>(trailing.size()), protocol_v3,
                                     trailing),
                       "trailing bytes");
  std::string v2 = "user\0alice\0\0"s;
  expect_startup_error(startup_bytes(8 + static_cast<std::uint32_t>(v2.size()), 0x00020000, v2),
                       "unsupported frontend protocol 2.0");
  expect_startup_error(startup_bytes(8 + static_cast<std::uint32_t>(v2.size()), 0x00040000, v2),
                       "unsupported frontend protocol 4.0");

  expect_startup_error(startup_bytes(12, ssl_request_code, "\0\0\0\0"s), "SSL/GSS");
  expect_startup_error(startup_bytes(12, gss_request_code, "\0\0\0\0"s), "SSL/GSS");
  expect_startup_error(startup_bytes(12, cancel_request_code, "\0\0\0\1"s), "CancelRequest");
  expect_startup_error(startup_bytes(20, cancel_request_code, std::string(12, '\1')),
                       "CancelRequest");

  std::string many;
  for (int i = 0; i < 65; ++i) many += "k" + std::to_string(i) + '\0' + "v" + '\0';
  many += '\0';
  expect_startup_error(startup_bytes(8 + static_cast<std::uint32_t>(many.size()), protocol_v3,
                                     many),
                       "too many parameters");
}

TEST(pg_codec, startup_packet_at_the_size_limit) {
  using namespace std::string_literals;
  // Exactly max_startup_packet bytes is accepted; one more is refused.
  std::string value(max_startup_packet - 8 - 5 - 2, 'x');
  std::string body = "user\0"s + value + '\0' + '\0';
  ASSERT_EQ(8 + body.size(), max_startup_packet);
  buf at = startup_bytes(static_cast<std::uint32_t>(max_startup_packet), protocol_v3, body);
  startup_packet p;
  std::string err;
  ASSERT_EQ(decode_startup(view(at), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.param("user")->size(), value.size());

  std::string body2 = "user\0"s + value + 'y' + '\0' + '\0';
  buf over = startup_bytes(static_cast<std::uint32_t>(8 + body2.size()), protocol_v3, body2);
  expect_startup_error(over, "invalid startup packet length");
}

TEST(pg_codec, newer_protocol_minor_is_decoded_for_negotiation) {
  using namespace std::string_literals;
  std::string body = "user\0u\0\0"s;
  buf in = startup_bytes(8 + static_cast<std::uint32_t>(body.size()), protocol_v3 + 2, body);
  startup_packet p;
  std::string err;
  ASSERT_EQ(decode_startup(view(in), p, err), decode_status::ok) << err;
  EXPECT_EQ(p.protocol & 0xffff, 2u);  // the session answers with NegotiateProtocolVersion
}

// ---- Encoder ----------------------------------------------------------------------------------

TEST(pg_codec, writer_fields_are_big_endian) {
  buf out;
  writer w(out);
  w.i8(1).i16(0x0203).i32(0x04050607).cstr("ab").raw("cd"sv);
  EXPECT_EQ(out, (buf{1, 2, 3, 4, 5, 6, 7, 'a', 'b', 0, 'c', 'd'}));
  EXPECT_EQ(be16(out.data() + 1), 0x0203);
  EXPECT_EQ(be32(out.data() + 3), 0x04050607u);
}

TEST(pg_codec, embedded_nul_cuts_the_string_instead_of_splitting_the_field) {
  const std::string_view sql("SELECT 1\0; DROP TABLE x", 23);
  buf out;
  write_query(out, sql);
  frame f;
  ASSERT_TRUE(one_frame(out, f));
  EXPECT_TRUE(validate_frontend(f).ok());
  EXPECT_EQ(*parse_query(f.body), "SELECT 1");

  buf ps;
  write_parameter_status(ps, std::string_view("a\0b", 3), std::string_view("c\0d", 3));
  ASSERT_TRUE(one_frame(ps, f));
  auto p = parse_parameter_status(f.body);
  ASSERT_TRUE(p.ok()) << p.err();
  EXPECT_EQ(p->first, "a");
  EXPECT_EQ(p->second, "c");

  buf err;
  write_error(err, severity::error, std::string_view("42\0", 3), std::string_view("m\0x", 3),
              std::string_view("\0", 1), "h");
  ASSERT_TRUE(one_frame(err, f));
  auto e = parse_error(f.body);
  ASSERT_TRUE(e.ok()) << e.err();
  EXPECT_EQ(e->sqlstate, "42");
  EXPECT_EQ(e->message, "m");

  buf pw;
  write_password(pw, std::string_view("\0secret", 7));
  ASSERT_TRUE(one_frame(pw, f));
  EXPECT_EQ(*parse_password(f.body), "");
}

TEST(pg_codec, startup_writer_never_emits_a_malformed_packet) {
  // A NUL in a key or value cuts it; a key that ends up empty would read as the terminator and
  // leave the rest as trailing bytes, so it must not be written at all.
  buf out;
  write_startup(out, {{std::string("us\0er", 5), std::string("al\0ice", 6)},
                      {"", "ignored"},
                      {std::string("\0x", 2), "ignored too"},
                      {"database", "db"}});
  startup_packet p;
  std::string err;
  ASSERT_EQ(decode_startup(view(out), p, err), decode_status::ok) << err;
  ASSERT_EQ(p.params.size(), 2u);
  EXPECT_EQ(p.params[0], (std::pair<std::string, std::string>{"us", "al"}));
  EXPECT_EQ(p.params[1], (std::pair<std::string, std::string>{"database", "db"}));
}

TEST(pg_codec, many_messages_share_one_buffer) {
  buf out;
  write_query(out, "a");
  write_query(out, "bb");
  write_terminate(out);
  std::vector<decoded> got;
  decode_status last{};
  EXPECT_EQ(drain(view(out), got, last), out.size());
  EXPECT_EQ(got, (std::vector<decoded>{{'Q', std::string("a\0", 2)},
                                       {'Q', std::string("bb\0", 3)},
                                       {'X', ""}}));
}

// ---- Garbage ----------------------------------------------------------------------------------

// Runs every decoder on `in` and checks the contract: ok/need_more/error, an error always has a
// reason, and a frame never claims bytes beyond the input.
void check_contract(const buf& in, std::size_t max_body) {
  bytes b = view(in);
  std::size_t used = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    frame f;
    std::string err;
    std::size_t want = 0;
    auto st = next_frame(b.subspan(used), max_body, f, err, &want);
    if (st == decode_status::error) {
      ASSERT_FALSE(err.empty());
      break;
    }
    if (st == decode_status::need_more) {
      ASSERT_TRUE(want == 0 || want > b.size() - used);
      break;
    }
    ASSERT_EQ(st, decode_status::ok);
    ASSERT_GE(f.size, 5u);
    ASSERT_LE(f.size, b.size() - used);
    ASSERT_EQ(f.body.size() + 5, f.size);
    ASSERT_LE(f.body.size(), max_body);
    ASSERT_EQ(f.body.data(), b.data() + used + 5);
    auto s = validate_frontend(f);
    if (!s) {
      ASSERT_FALSE(s.err().empty());
    }
    // The parsers must each return a value or an error, whatever the type byte said.
    (void)parse_query(f.body);
    (void)parse_parse(f.body);
    (void)parse_bind(f.body);
    (void)parse_execute(f.body);
    (void)parse_close(f.body);
    (void)parse_function_call(f.body);
    (void)parse_password(f.body);
    (void)parse_error(f.body);
    if (auto a = parse_auth(f.body); a) {
      ASSERT_LE(a->data.size(), f.body.size());
    }
    (void)parse_parameter_status(f.body);
    (void)parse_backend_key(f.body);
    if (auto t = parse_command_complete(f.body); t) (void)command_rows(*t);
    (void)parse_ready_for_query(f.body);
    used += f.size;
  }

  startup_packet p;
  std::string err;
  switch (decode_startup(b, p, err)) {
    case decode_status::ok:
      ASSERT_GE(p.size, 8u);
      ASSERT_LE(p.size, b.size());
      ASSERT_LE(p.size, max_startup_packet);
      break;
    case decode_status::error: ASSERT_FALSE(err.empty()); break;
    case decode_status::need_more: break;
  }
}

TEST(pg_codec, random_bytes_never_crash_any_decoder) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 96);
  const std::string types = "QPBEDCSHFXdcfpRKZNvT";
  for (int i = 0; i < 50000; ++i) {
    buf in(static_cast<std::size_t>(len(rng)));
    for (auto& c : in) c = static_cast<std::uint8_t>(byte(rng));
    // Half the inputs get a plausible header so the parsers see real bodies.
    if (i % 2 == 0 && in.size() >= 5) {
      in[0] = static_cast<std::uint8_t>(types[static_cast<std::size_t>(i / 2) % types.size()]);
      const auto body = static_cast<std::uint32_t>(byte(rng) % (in.size() - 4));
      in[1] = 0;
      in[2] = 0;
      in[3] = static_cast<std::uint8_t>((body + 4) >> 8);
      in[4] = static_cast<std::uint8_t>(body + 4);
    }
    check_contract(in, i % 3 == 0 ? 16 : k_max_body);
    if (HasFatalFailure()) {
      ADD_FAILURE() << "iteration " << i;
      return;
    }
  }
}

TEST(pg_codec, mutated_valid_messages_never_crash_any_decoder) {
  std::mt19937 rng(7);
  buf front = frontend_sequence();
  buf back = backend_sequence();
  buf start;
  write_startup(start, {{"user", "u"}, {"database", "d"}});
  const buf* seeds[] = {&front, &back, &start};
  for (int i = 0; i < 20000; ++i) {
    buf in = *seeds[i % 3];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int j = 0; j < flips; ++j) {
      auto pos = rng() % in.size();
      switch (rng() % 3) {
        case 0: in[pos] = static_cast<std::uint8_t>(rng()); break;
        case 1: in.resize(pos); break;
        case 2: in.insert(in.begin() + static_cast<std::ptrdiff_t>(pos),
                          static_cast<std::uint8_t>(rng())); break;
      }
      if (in.empty()) break;
    }
    check_contract(in, k_max_body);
    if (HasFatalFailure()) {
      ADD_FAILURE() << "iteration " << i;
      return;
    }
  }
}

}  // namespace
}  // namespace gh::pg
