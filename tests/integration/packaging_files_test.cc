// What the package installs besides the binaries, checked as the tools an operator and Debian
// use read them: the man pages through mandoc's linter, groff with every warning and man(1);
// uvsd.service through systemd-analyze (PID 1 here is not systemd, so the unit is parsed and
// checked, not run: tests/package/deb_test.cc runs uvsd as the unit would).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

std::string source_path(const std::string& rel) { return std::string(UVS_SOURCE_DIR) + "/" + rel; }

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* const kManPages[] = {"uvsd.8", "uvsadm.8", "uvs-ipvs.8", "uvs-decap.8"};

TEST(ManPages, LintCleanUnderMandocAndGroff) {
  for (const char* page : kManPages) {
    const std::string path = source_path("packaging/man/") + page;
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    // mandoc -Tlint: every message down to style, so long lines and bad macros show.
    RunResult lint = run({"/usr/bin/mandoc", "-Tlint", "-Wstyle", path});
    EXPECT_EQ(lint.status, 0) << page << ":\n" << lint.out << lint.err;
    EXPECT_EQ(lint.out + lint.err, "") << page;
    // groff -ww: all of groff's warnings (what man(1) would print to the terminal).
    RunResult groff = run({"/usr/bin/groff", "-ww", "-b", "-z", "-man", "-Tutf8", path});
    EXPECT_EQ(groff.status, 0) << page << ":\n" << groff.err;
    EXPECT_EQ(groff.err, "") << page;
  }
}

TEST(ManPages, ManRendersEachPageWithItsSections) {
  for (const char* page : kManPages) {
    const std::string path = source_path("packaging/man/") + page;
    RunResult r = run({"/usr/bin/env", "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "/usr/bin/man",
                       "-P", "/bin/cat", "-l", path});
    EXPECT_EQ(r.status, 0) << page << ":\n" << r.err;
    EXPECT_EQ(r.err, "") << page;
    // Bold and underline arrive as overstrikes (c BS c) on a pipe: plain text is what is read.
    r.out = std::regex_replace(r.out, std::regex(".\b"), "");
    for (const char* section : {"NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"})
      EXPECT_NE(r.out.find(std::string("\n") + section + "\n"), std::string::npos)
          << page << " has no " << section << " section:\n" << r.out.substr(0, 2000);
  }
}

// The long options a program's help text names ("--foo").
std::set<std::string> long_options(const std::string& help) {
  std::set<std::string> names;
  static const std::regex option(R"((^|[\s\[|,(])(--[a-z][a-z0-9-]*))");
  for (std::sregex_iterator it(help.begin(), help.end(), option), end; it != end; ++it)
    names.insert((*it)[2]);
  return names;
}

// Every option the program's own help lists is in its man page (as roff writes it: \-\-name).
void expect_documented(const std::string& binary, const std::string& help_flag,
                       const std::string& page, size_t at_least) {
  RunResult help = run({build_path(binary), help_flag});
  ASSERT_EQ(help.status, 0) << help.err;
  const std::set<std::string> options = long_options(help.out + help.err);
  EXPECT_GE(options.size(), at_least) << help.out;
  const std::string man = slurp(source_path("packaging/man/") + page);
  for (const std::string& o : options) {
    const std::string roff = std::regex_replace(o, std::regex("-"), "\\-");
    EXPECT_NE(man.find(roff), std::string::npos) << o << " (from " << binary << " " << help_flag
                                                 << ") is not in " << page;
  }
}

TEST(ManPages, UvsdPageDocumentsEveryUvsdOption) {
  expect_documented("uvsd", "--help", "uvsd.8", 12);
}

TEST(ManPages, UvsadmPageDocumentsEveryUvsadmOption) {
  expect_documented("uvsadm", "-h", "uvsadm.8", 40);
}

// The unit as `make install` writes it, with ExecStart naming the uvsd just built.
std::string installed_unit(const std::string& dir) {
  std::string unit = slurp(source_path("packaging/systemd/uvsd.service"));
  unit = std::regex_replace(unit, std::regex("@SBINDIR@"), UVS_BUILD_DIR);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/uvsd.service") << unit;
  return dir + "/uvsd.service";
}

TEST(SystemdUnit, VerifiesClean) {
  const std::string unit = installed_unit("/tmp/uvs-unit-verify-" + std::to_string(getpid()));
  // --man=no: the man pages are checked by the package test, where they are installed.
  RunResult r = run({"/usr/bin/systemd-analyze", "verify", "--man=no", unit});
  // Other units on this machine may draw complaints of their own; none may be about ours.
  std::string ours;
  std::istringstream lines(r.out + r.err);
  for (std::string line; std::getline(lines, line);)
    if (line.find("uvsd") != std::string::npos) ours += line + "\n";
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(ours, "");
  std::filesystem::remove_all(std::filesystem::path(unit).parent_path());
}

TEST(SystemdUnit, KeepsOnlyTheCapabilitiesXdpNeedsAndSandboxes) {
  const std::string unit = installed_unit("/tmp/uvs-unit-security-" + std::to_string(getpid()));
  // systemd's own exposure review of the sandbox, offline (no running systemd needed).
  RunResult r = run({"/usr/bin/systemd-analyze", "security", "--offline=true", "--no-pager", unit});
  std::filesystem::remove_all(std::filesystem::path(unit).parent_path());
  std::smatch m;
  const std::regex overall(R"(Overall exposure level for uvsd\.service: ([0-9.]+))");
  ASSERT_TRUE(std::regex_search(r.out, m, overall)) << r.out << r.err;
  std::cout << "systemd-analyze security: exposure " << m[1] << " (0 safest, 10 unprotected)\n";
  // "OK" is below 5; an unhardened root service scores 9.6.
  EXPECT_LT(std::stod(m[1]), 5.0) << r.out;
  for (const char* line :
       {"CapabilityBoundingSet=CAP_NET_ADMIN CAP_BPF CAP_PERFMON CAP_NET_RAW CAP_IPC_LOCK\n",
        "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6 AF_XDP\n", "Type=notify\n",
        "ExecReload=/bin/kill -HUP $MAINPID\n", "EnvironmentFile=-/etc/default/uvs\n"})
    EXPECT_NE(slurp(source_path("packaging/systemd/uvsd.service")).find(line), std::string::npos)
        << line;
}

}  // namespace
}  // namespace uvs::testing
