#include "net/tls.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gh::net {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using asio::ip::tcp;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class tls_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "gh-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(tls_test, self_signed_is_generated_with_private_modes_and_reused) {
  auto state = dir_ + "/state";
  auto first = ensure_self_signed(state);
  ASSERT_TRUE(first.ok()) << first.err();
  const auto& [cert, key] = *first;
  EXPECT_EQ(cert, state + "/tls/gateway.crt");
  EXPECT_EQ(key, state + "/tls/gateway.key");
  EXPECT_EQ(mode_of(state + "/tls"), 0700u);
  EXPECT_EQ(mode_of(key), 0600u);
  EXPECT_EQ(mode_of(cert), 0644u);
  // No temporary files left behind.
  for (const auto& e : fs::directory_iterator(state + "/tls")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }

  auto cert_pem = slurp(cert);
  auto key_pem = slurp(key);
  EXPECT_NE(cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);

  auto second = ensure_self_signed(state);
  ASSERT_TRUE(second.ok()) << second.err();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(slurp(cert), cert_pem);
  EXPECT_EQ(slurp(key), key_pem);
}

TEST_F(tls_test, self_signed_certificate_contents) {
  auto paths = ensure_self_signed(dir_);
  ASSERT_TRUE(paths.ok()) << paths.err();
  FILE* f = std::fopen(paths->first.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "gatehouse");
  EXPECT_EQ(X509_check_host(x, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "::1", 0), 1);
  EXPECT_NE(X509_check_host(x, "example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
  // Roughly ten years of validity remaining.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(x)), 1);
  EXPECT_GT(days, 3640);
  EXPECT_LE(days, 3653);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x);
  EXPECT_GE(ASN1_STRING_length(serial), 16);
  X509_free(x);

  // A second pair is a fresh key, not a deterministic one.
  auto other = ensure_self_signed(dir_ + "/other");
  ASSERT_TRUE(other.ok()) << other.err();
  EXPECT_NE(slurp(other->second), slurp(paths->second));
}

TEST_F(tls_test, self_signed_regenerates_when_half_missing) {
  auto first = ensure_self_signed(dir_);
  ASSERT_TRUE(first.ok()) << first.err();
  auto old_key = slurp(first->second);
  fs::remove(first->first);
  auto again = ensure_self_signed(dir_);
  ASSERT_TRUE(again.ok()) << again.err();
  EXPECT_NE(slurp(again->second), old_key);
  EXPECT_TRUE(make_server_context(again->first, again->second).ok());
}

TEST_F(tls_test, self_signed_fails_when_tls_path_is_a_file) {
  { std::ofstream(dir_ + "/tls") << "x"; }
  auto r = ensure_self_signed(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("not a directory"), std::string::npos) << r.err();
}

TEST_F(tls_test, server_context_loads_generated_pair) {
  auto paths = ensure_self_signed(dir_);
  ASSERT_TRUE(paths.ok()) << paths.err();
  auto ctx = make_server_context(paths->first, paths->second);
  ASSERT_TRUE(ctx.ok()) << ctx.err();
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx)->native_handle()), TLS1_2_VERSION);
}

TEST_F(tls_test, server_context_rejects_mismatched_key) {
  auto a = ensure_self_signed(dir_ + "/a");
  auto b = ensure_self_signed(dir_ + "/b");
  ASSERT_TRUE(a.ok() && b.ok());
  auto ctx = make_server_context(a->first, b->second);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.err().find(b->second), std::string::npos) << ctx.err();
  EXPECT_NE(ctx.err().find("does not match"), std::string::npos) << ctx.err();
}

TEST_F(tls_test, server_context_errors_name_missing_files) {
  auto paths = ensure_self_signed(dir_);
  ASSERT_TRUE(paths.ok()) << paths.err();
  auto no_cert = make_server_context(dir_ + "/missing.crt", paths->second);
  ASSERT_FALSE(no_cert.ok());
  EXPECT_NE(no_cert.err().find(dir_ + "/missing.crt"), std::string::npos) << no_cert.err();
  auto no_key = make_server_context(paths->first, dir_ + "/missing.key");
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.err().find(dir_ + "/missing.key"), std::string::npos) << no_key.err();
  // A certificate where the key should be is not a key.
  auto swapped = make_server_context(paths->first, paths->first);
  ASSERT_FALSE(swapped.ok());
}

TEST_F(tls_test, client_context_errors_name_missing_ca_file) {
  auto ctx = make_client_context(true, dir_ + "/no-ca.pem");
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.err().find(dir_ + "/no-ca.pem"), std::string::npos) << ctx.err();
  EXPECT_TRUE(make_client_context(false, "").ok());
  EXPECT_TRUE(make_client_context(true, "").ok());
}

TEST(tls_verify_host, rejects_empty_and_nul_hosts) {
  auto ctx = make_client_context(true, "");
  ASSERT_TRUE(ctx.ok()) << ctx.err();
  SSL* ssl = SSL_new((*ctx)->native_handle());
  ASSERT_NE(ssl, nullptr);
  EXPECT_FALSE(set_client_verify_host(ssl, "").ok());
  EXPECT_FALSE(set_client_verify_host(ssl, std::string("a\0b", 3)).ok());
  EXPECT_FALSE(set_client_verify_host(nullptr, "localhost").ok());
  EXPECT_TRUE(set_client_verify_host(ssl, "db.example.com").ok());
  EXPECT_STREQ(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "db.example.com");
  SSL_free(ssl);

  // IP literals get no SNI.
  SSL* ssl_ip = SSL_new((*ctx)->native_handle());
  ASSERT_NE(ssl_ip, nullptr);
  EXPECT_TRUE(set_client_verify_host(ssl_ip, "::1").ok());
  EXPECT_EQ(SSL_get_servername(ssl_ip, TLSEXT_NAMETYPE_host_name), nullptr);
  SSL_free(ssl_ip);
}

struct handshake_outcome {
  boost::system::error_code server;
  boost::system::error_code client;
  long verify_result = -1;
  bool server_done = false;
  bool client_done = false;
};

// Runs one TLS handshake over a real loopback TCP connection.
handshake_outcome handshake(asio::ssl::context& server_ctx, asio::ssl::context& client_ctx,
                            const std::string& verify_host) {
  handshake_outcome out;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ssl::stream<tcp::socket> server(io, server_ctx);
  asio::ssl::stream<tcp::socket> client(io, client_ctx);
  if (!verify_host.empty()) {
    auto s = set_client_verify_host(client.native_handle(), verify_host);
    EXPECT_TRUE(s.ok()) << s.err();
  }

  acceptor.async_accept(server.next_layer(), [&](boost::system::error_code ec) {
    if (ec) {
      out.server = ec;
      out.server_done = true;
      return;
    }
    server.async_handshake(asio::ssl::stream_base::server, [&](boost::system::error_code hec) {
      out.server = hec;
      out.server_done = true;
      // Unblock the client if the server side gave up first.
      if (hec) server.next_layer().close();
    });
  });
  client.next_layer().async_connect(acceptor.local_endpoint(), [&](boost::system::error_code ec) {
    if (ec) {
      out.client = ec;
      out.client_done = true;
      return;
    }
    client.async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code hec) {
      out.client = hec;
      out.client_done = true;
      out.verify_result = SSL_get_verify_result(client.native_handle());
      // A failed client may not have flushed its alert; closing lets the server finish.
      if (hec) client.next_layer().close();
    });
  });
  // A bound on a hung handshake, not a timing assertion: the checks below are on outcomes.
  io.run_for(std::chrono::seconds(30));
  return out;
}

class tls_handshake_test : public tls_test {
 protected:
  void SetUp() override {
    tls_test::SetUp();
    auto paths = ensure_self_signed(dir_);
    ASSERT_TRUE(paths.ok()) << paths.err();
    cert_ = paths->first;
    auto ctx = make_server_context(paths->first, paths->second);
    ASSERT_TRUE(ctx.ok()) << ctx.err();
    server_ctx_ = *ctx;
  }
  std::string cert_;
  ssl_context_ptr server_ctx_;
};

TEST_F(tls_handshake_test, verify_full_succeeds_for_ip_in_san) {
  auto client_ctx = make_client_context(true, cert_);
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.err();
  auto out = handshake(*server_ctx_, **client_ctx, "127.0.0.1");
  ASSERT_TRUE(out.client_done && out.server_done);
  EXPECT_FALSE(out.client) << out.client.message();
  EXPECT_FALSE(out.server) << out.server.message();
  EXPECT_EQ(out.verify_result, X509_V_OK);
}

TEST_F(tls_handshake_test, verify_full_succeeds_for_dns_and_ipv6_names_in_san) {
  auto client_ctx = make_client_context(true, cert_);
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.err();
  for (const char* host : {"localhost", "::1"}) {
    auto out = handshake(*server_ctx_, **client_ctx, host);
    ASSERT_TRUE(out.client_done && out.server_done) << host;
    EXPECT_FALSE(out.client) << host << ": " << out.client.message();
    EXPECT_EQ(out.verify_result, X509_V_OK) << host;
  }
}

TEST_F(tls_handshake_test, verify_full_fails_for_wrong_host) {
  auto client_ctx = make_client_context(true, cert_);
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.err();
  for (const char* host : {"db.example.com", "10.0.0.1"}) {
    auto out = handshake(*server_ctx_, **client_ctx, host);
    ASSERT_TRUE(out.client_done && out.server_done) << host;
    EXPECT_TRUE(out.client) << host;
    EXPECT_TRUE(out.server) << host;
    EXPECT_EQ(out.verify_result,
              host[0] == 'd' ? X509_V_ERR_HOSTNAME_MISMATCH : X509_V_ERR_IP_ADDRESS_MISMATCH)
        << host;
  }
}

TEST_F(tls_handshake_test, verify_fails_against_an_unrelated_ca) {
  auto other = ensure_self_signed(dir_ + "/other");
  ASSERT_TRUE(other.ok()) << other.err();
  auto client_ctx = make_client_context(true, other->first);
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.err();
  auto out = handshake(*server_ctx_, **client_ctx, "127.0.0.1");
  ASSERT_TRUE(out.client_done && out.server_done);
  EXPECT_TRUE(out.client);
  EXPECT_NE(out.verify_result, X509_V_OK);
}

TEST_F(tls_handshake_test, no_verify_accepts_any_certificate) {
  // sslmode=require: encrypted even though the name and issuer would not verify.
  auto client_ctx = make_client_context(false, "");
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.err();
  auto out = handshake(*server_ctx_, **client_ctx, "db.example.com");
  ASSERT_TRUE(out.client_done && out.server_done);
  EXPECT_FALSE(out.client) << out.client.message();
  EXPECT_FALSE(out.server) << out.server.message();
}

}  // namespace
}  // namespace gh::net
