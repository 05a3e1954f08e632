#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace gh::config {
namespace {

TEST(ParseEndpoint, AcceptsHostPortAndBracketedIpv6) {
  struct ok_case {
    const char* text;
    const char* host;
    std::uint16_t port;
  };
  for (const auto& c :
       {ok_case{"127.0.0.1:15432", "127.0.0.1", 15432}, ok_case{"localhost:80", "localhost", 80},
        ok_case{"0.0.0.0:1", "0.0.0.0", 1},
        ok_case{"db-1.internal_x:65535", "db-1.internal_x", 65535},
        ok_case{"[::1]:5432", "::1", 5432}, ok_case{"[::]:2222", "::", 2222},
        ok_case{"[2001:db8::10]:443", "2001:db8::10", 443},
        ok_case{"[fe80::1%eth0]:22", "fe80::1%eth0", 22},
        ok_case{"[::ffff:192.0.2.1]:8009", "::ffff:192.0.2.1", 8009}}) {
    SCOPED_TRACE(c.text);
    auto r = parse_endpoint(c.text);
    ASSERT_TRUE(r.ok()) << r.err();
    EXPECT_EQ(r->host, c.host);
    EXPECT_EQ(r->port, c.port);
    EXPECT_FALSE(r->empty());
  }
}

TEST(ParseEndpoint, RejectsBadInputWithAReason) {
  struct bad_case {
    const char* text;
    const char* reason;
  };
  for (const auto& c : {bad_case{"", "missing :port"},
                        bad_case{"127.0.0.1", "missing :port"},
                        bad_case{":5432", "missing host"},
                        bad_case{"::1:5432", "must be in brackets"},
                        bad_case{"::1", "must be in brackets"},
                        bad_case{"[::1]5432", "missing :port after ']'"},
                        bad_case{"[::1]", "missing :port after ']'"},
                        bad_case{"[::1:5432", "missing ']'"},
                        bad_case{"[]:5432", "brackets must hold an IPv6 address"},
                        bad_case{"[localhost]:80", "brackets must hold an IPv6 address"},
                        bad_case{"[fe80::1%]:22", "brackets must hold an IPv6 address"},
                        bad_case{"host:", "port must be"},
                        bad_case{"host:0", "port must be"},
                        bad_case{"host:65536", "port must be"},
                        bad_case{"host:99999999999999999999", "port must be"},
                        bad_case{"host:-1", "port must be"},
                        bad_case{"host:+80", "port must be"},
                        bad_case{"host:80 ", "port must be"},
                        bad_case{"host:8o", "port must be"},
                        bad_case{"ho st:1", "invalid host"},
                        bad_case{"http://x:1", "a URL is not an address"}}) {
    SCOPED_TRACE(c.text);
    auto r = parse_endpoint(c.text);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().find(c.reason), std::string::npos) << r.err();
    EXPECT_NE(r.err().find("'" + std::string(c.text) + "'"), std::string::npos) << r.err();
  }
}

}  // namespace
}  // namespace gh::config
