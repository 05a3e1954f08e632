// secret_ref resolution and check_secrets(): values come back only from resolve(), and no error
// or description ever contains one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "config/config.hpp"
#include "config/tests/test_util.hpp"

namespace gh::config {
namespace {

// Sets an environment variable for one test and removes it afterwards.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~scoped_env() { ::unsetenv(name_); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
};

TEST(SecretRef, EnvResolves) {
  scoped_env env("GH_CONFIG_TEST_SECRET", "hunter2");
  secret_ref s{"env:GH_CONFIG_TEST_SECRET"};
  auto r = s.resolve();
  ASSERT_TRUE(r.ok()) << r.err();
  EXPECT_EQ(*r, "hunter2");
  EXPECT_EQ(s.describe(), "env:GH_CONFIG_TEST_SECRET");
}

TEST(SecretRef, UnsetEnvIsAnError) {
  ::unsetenv("GH_CONFIG_TEST_UNSET");
  auto r = secret_ref{"env:GH_CONFIG_TEST_UNSET"}.resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err(), "environment variable GH_CONFIG_TEST_UNSET is not set");
}

TEST(SecretRef, EmptyEnvIsAnError) {
  // An empty API key would match an empty password: refuse rather than let anyone in.
  scoped_env env("GH_CONFIG_TEST_EMPTY", "");
  auto r = secret_ref{"env:GH_CONFIG_TEST_EMPTY"}.resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err(), "environment variable GH_CONFIG_TEST_EMPTY is empty");
}

TEST(SecretRef, FileResolvesWithOneTrailingNewlineStripped) {
  testing::temp_dir tmp;
  auto plain = tmp.write("a", "s3cret\n");
  auto crlf = tmp.write("b", "s3cret\r\n");
  auto two = tmp.write("c", "s3cret\n\n");
  auto none = tmp.write("d", " s3 cret ");
  EXPECT_EQ(*secret_ref{"file:" + plain.string()}.resolve(), "s3cret");
  EXPECT_EQ(*secret_ref{"file:" + crlf.string()}.resolve(), "s3cret");
  EXPECT_EQ(*secret_ref{"file:" + two.string()}.resolve(), "s3cret\n");
  EXPECT_EQ(*secret_ref{"file:" + none.string()}.resolve(), " s3 cret ");
  EXPECT_EQ(secret_ref{"file:" + plain.string()}.describe(), "file:" + plain.string());
}

TEST(SecretRef, FileErrorsNameThePathNeverTheContents) {
  testing::temp_dir tmp;
  auto missing = (tmp.path() / "missing").string();
  auto r = secret_ref{"file:" + missing}.resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find(missing), std::string::npos) << r.err();

  auto empty = tmp.write("empty", "\n");
  r = secret_ref{"file:" + empty.string()}.resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("is empty"), std::string::npos) << r.err();

  auto dir = secret_ref{"file:" + tmp.path().string()}.resolve();
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.err().find("is a directory"), std::string::npos) << dir.err();

  auto big = tmp.write("big", std::string(1024 * 1024 + 10, 'x'));
  r = secret_ref{"file:" + big.string()}.resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().find("xxxx"), std::string::npos) << "error leaked file contents";
}

TEST(SecretRef, LiteralResolvesToItselfAndIsNeverDescribed) {
  secret_ref s{"correct horse battery staple"};
  EXPECT_EQ(*s.resolve(), "correct horse battery staple");
  EXPECT_EQ(s.describe(), "literal");
  EXPECT_EQ(secret_ref{}.describe(), "none");
  EXPECT_FALSE(secret_ref{}.resolve().ok());
}

const std::string secrets_config =
    "gateway:\n"
    "  listen: {postgres: 127.0.0.1:15432}\n"
    "identity:\n"
    "  users:\n"
    "    - name: alice\n"
    "      api_key: env:GH_CONFIG_TEST_ALICE\n"  // 6
    "    - name: bob\n"
    "      api_key: file:bob.key\n"  // 8
    "connections:\n"
    "  - name: patients\n"
    "    type: postgres\n"
    "    host: 127.0.0.1\n"
    "    database: clinic\n"
    "    user: app\n"
    "    password: env:GH_CONFIG_TEST_DBPW\n";  // 15

TEST(CheckSecrets, ParseDoesNotNeedSecretsButCheckDoes) {
  ::unsetenv("GH_CONFIG_TEST_DBPW");
  ::unsetenv("GH_CONFIG_TEST_ALICE");
  testing::temp_dir tmp;
  auto path = tmp.write("demo.yaml", secrets_config);
  auto cfg = load_config(path.string());
  ASSERT_TRUE(cfg.ok()) << cfg.err();
  EXPECT_EQ(cfg->connections[0].password_line, 15);

  auto s = check_secrets(*cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), path.string() +
                         ":15: connections[0].password: environment variable GH_CONFIG_TEST_DBPW "
                         "is not set");

  scoped_env pw("GH_CONFIG_TEST_DBPW", "dbpw");
  s = check_secrets(*cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err(), path.string() +
                         ":6: identity.users[0].api_key: environment variable GH_CONFIG_TEST_ALICE "
                         "is not set");

  scoped_env alice("GH_CONFIG_TEST_ALICE", "alice-key");
  s = check_secrets(*cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.err().starts_with(path.string() +
                                  ":8: identity.users[1].api_key: cannot read "
                                  "secret file " +
                                  (tmp.path() / "bob.key").string()))
      << s.err();

  tmp.write("bob.key", "bob-key\n");
  s = check_secrets(*cfg);
  EXPECT_TRUE(s.ok()) << s.err();
  EXPECT_EQ(*cfg->find_user("bob")->api_key.resolve(), "bob-key");
}

TEST(CheckSecrets, ErrorsNeverContainValues) {
  testing::temp_dir tmp;
  auto path = tmp.write("demo.yaml", secrets_config);
  tmp.write("bob.key", "\n");  // empty after stripping: an error, which must not echo anything
  scoped_env pw("GH_CONFIG_TEST_DBPW", "dbpw-value");
  scoped_env alice("GH_CONFIG_TEST_ALICE", "alice-value");
  auto cfg = load_config(path.string());
  ASSERT_TRUE(cfg.ok()) << cfg.err();
  auto s = check_secrets(*cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err().find("value"), std::string::npos) << s.err();
  EXPECT_NE(s.err().find("identity.users[1].api_key"), std::string::npos) << s.err();
}

}  // namespace
}  // namespace gh::config
