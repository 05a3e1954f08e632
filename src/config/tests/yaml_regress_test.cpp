// Inputs found by fuzz/config_fuzz that once broke parse_config; each must now fail with a
// located error instead of hanging or exhausting memory.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace gh::config {
namespace {

TEST(ConfigYamlRegress, LoadAllEndlessEmptyDocumentsIsAnError) {
  // yaml-cpp 0.7's LoadAll() appends empty documents forever on these (jbeder/yaml-cpp#1040).
  for (const std::string text : {"  a:\n ,- d\n", "      a: b\n      c:\n    ,    - d\n", ",\n"}) {
    auto r = parse_config(text, "/etc/gatehouse/demo.yaml");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.err().find("demo.yaml:"), std::string::npos) << r.err();
  }
}

TEST(ConfigYamlRegress, SecondDocumentLineIsStillReported) {
  auto r = parse_config("a: 1\n---\nb: 2\n", "/etc/gatehouse/demo.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().find("demo.yaml:3: (top level): only one YAML document"), std::string::npos)
      << r.err();
  auto empty_second = parse_config("a: 1\n---\n", "/etc/gatehouse/demo.yaml");
  ASSERT_FALSE(empty_second.ok());
  EXPECT_NE(empty_second.err().find("only one YAML document"), std::string::npos)
      << empty_second.err();
}

}  // namespace
}  // namespace gh::config
