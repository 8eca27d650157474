// The Debian package as an operator meets it: `make deb` builds it (dpkg-buildpackage, then
// lintian), dpkg installs it into a root that never had uvs (tests/package/install_root.sh),
// and uvsd runs from the installed files the way uvsd.service runs it: the unit's ExecStart
// with /etc/default/uvs's options, only the unit's capabilities (CapabilityBoundingSet, applied
// with setpriv as systemd would) and no new privileges, in a namespace lab, forwarding real
// HTTP; `systemctl reload` (ExecReload) then restores /etc/uvs/rules.
//
// PID 1 here is not systemd, so systemd itself cannot run the unit: the parts of the sandbox
// only systemd applies (SystemCallFilter, ProtectSystem...) are checked by systemd-analyze,
// not exercised.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <set>

#include "tests/netns/netns_lab.h"

namespace uvs::testing::netns {
namespace {

const std::string kVip = "192.168.56.102";

// Lines of TEXT holding one of lintian's tags of severity error (E:) or warning (W:).
std::vector<std::string> lintian_complaints(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& line : split_lines(text))
    if (line.rfind("E: ", 0) == 0 || line.rfind("W: ", 0) == 0) out.push_back(line);
  return out;
}

// The value of KEY= in a unit or an environment file (the last one; quotes removed).
std::string setting(const std::string& text, const std::string& key) {
  std::string value;
  for (const auto& line : split_lines(text))
    if (line.rfind(key + "=", 0) == 0) value = line.substr(key.size() + 1);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.substr(1, value.size() - 2);
  return value;
}

// The system calls a SystemCallFilter= value allows, its @groups expanded as systemd expands
// them (systemd-analyze syscall-filter).
std::set<std::string> allowed_syscalls(const std::string& filter) {
  std::set<std::string> names, groups;
  std::vector<std::string> todo = split_words(filter);
  static const std::regex name(R"(^[a-z0-9_]+$)");
  while (!todo.empty()) {
    const std::string word = todo.back();
    todo.pop_back();
    if (word[0] != '@') {
      names.insert(word);
      continue;
    }
    if (!groups.insert(word).second) continue;
    RunResult r = run({"/usr/bin/systemd-analyze", "syscall-filter", word});
    for (const auto& line : split_lines(r.out)) {
      if (line[0] != ' ') continue;  // the group's own name heads its list
      const std::vector<std::string> w = split_words(line);
      if (w.empty() || w[0][0] == '#') continue;
      if (w[0][0] == '@') todo.push_back(w[0]);
      else if (std::regex_match(w[0], name)) names.insert(w[0]);
    }
  }
  return names;
}

// The system calls `strace -c` counted.
std::set<std::string> traced_syscalls(const std::string& summary) {
  std::set<std::string> names;
  static const std::regex row(R"(^\s*[0-9.]+\s+[0-9.]+\s+\d+\s+\d+\s+(?:\d+\s+)?([a-z0-9_]+)$)");
  for (const auto& line : split_lines(summary)) {
    std::smatch m;
    if (std::regex_match(line, m, row) && m[1] != "total") names.insert(m[1]);
  }
  return names;
}

class DebTest : public LabTest {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    const auto start = Clock::now();
    // noddebs: no -dbgsym package (a minute of dwz and xz that nothing here reads).
    build_ = run({"/usr/bin/env", "DEB_BUILD_OPTIONS=noddebs", "/usr/bin/make", "-C",
                  UVS_SOURCE_DIR, "deb", std::string("BUILD=") + UVS_BUILD_DIR,
                  "DEB_DIR=" + deb_dir()},
                 "", 1500s);
    std::cout << "make deb: exit " << build_.status << " in "
              << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count()
              << " s\n";
  }
  static std::string deb_dir() { return std::string(UVS_BUILD_DIR) + "/deb"; }
  static std::string deb_file() {
    for (const auto& e : std::filesystem::directory_iterator(deb_dir()))
      if (e.path().extension() == ".deb" && e.path().filename().string().rfind("uvs_", 0) == 0)
        return e.path();
    return "";
  }

  void SetUp() override {
    LabTest::SetUp();
    if (IsSkipped()) return;
    for (const char* tool : {"/usr/bin/dpkg-buildpackage", "/usr/bin/lintian", "/usr/bin/setpriv",
                             "/usr/bin/nsenter", "/usr/bin/unshare"})
      ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " is missing: run scripts/setup";
    ASSERT_EQ(build_.status, 0) << describe({"make", "deb"}, build_);
    ASSERT_NE(deb_file(), "");
  }

  // The fresh root, held by a process in its own mount namespace. Use under
  // ASSERT_NO_FATAL_FAILURE, after the lab exists (its namespaces are bound into the root).
  void make_root() {
    root_dir_ = lab_->tmp("root");
    std::filesystem::create_directories(root_dir_);
    holder_ = &spawn_host({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh",
                           source_path("tests/package/install_root.sh"), root_dir_, deb_file()},
                          "root");
    ASSERT_TRUE(wait_until([&] { return holder_->log().find("ready") != std::string::npos ||
                                        !holder_->running(); },
                           30s));
    ASSERT_TRUE(holder_->running()) << holder_->log();
  }
  Process& spawn_host(const std::vector<std::string>& argv, const std::string& name) {
    procs_.push_back(std::make_unique<Process>(argv, lab_->tmp(name + ".log")));
    return *procs_.back();
  }
  // ARGV run inside the root (its mount namespace, chrooted), optionally in network namespace NS.
  std::vector<std::string> in_root(std::vector<std::string> argv, const std::string& ns = "") {
    if (!ns.empty()) argv.insert(argv.begin(), {"/usr/sbin/ip", "netns", "exec", ns});
    argv.insert(argv.begin(), {"/usr/bin/nsenter", "-t", std::to_string(holder_->pid()), "-m",
                               "--", "/usr/sbin/chroot", root_dir_ + "/root"});
    return argv;
  }
  RunResult root_run(const std::vector<std::string>& argv, std::chrono::seconds timeout = 60s) {
    return run(in_root(argv), "", timeout);
  }
  // A file inside the root, reached through the holder's view of the mounts.
  std::string root_path(const std::string& path) const {
    return "/proc/" + std::to_string(holder_->pid()) + "/root" + root_dir_ + "/root" + path;
  }
  RunResult uvsadm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/sbin/uvsadm"};
    argv.insert(argv.end(), args.begin(), args.end());
    return root_run(argv, 20s);
  }

  // uvsd as uvsd.service starts it: the installed unit's ExecStart, $UVSD_OPTS from
  // /etc/default/uvs, CapabilityBoundingSet and NoNewPrivileges as setpriv applies them.
  Process& start_uvsd_as_the_unit() {
    const std::string unit = read_file(root_path("/lib/systemd/system/uvsd.service"));
    const std::string defaults = read_file(root_path("/etc/default/uvs"));
    std::vector<std::string> argv;
    for (const auto& word : split_words(setting(unit, "ExecStart"))) {
      if (word == "$UVSD_OPTS") {
        for (const auto& opt : split_words(setting(defaults, "UVSD_OPTS"))) argv.push_back(opt);
      } else {
        argv.push_back(word);
      }
    }
    std::string caps = "-all";
    for (const auto& cap : split_words(setting(unit, "CapabilityBoundingSet"))) {
      std::string name = cap.substr(4);  // CAP_NET_ADMIN -> net_admin
      for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
      caps += ",+" + name;
    }
    EXPECT_EQ(setting(unit, "NoNewPrivileges"), "yes");
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--bounding-set=" + caps, "--no-new-privs"});
    uvsd_command_ = join(argv);
    return spawn_host(in_root(argv, lab_->director()), "uvsd");
  }

  static RunResult build_;
  std::string root_dir_, uvsd_command_;
  Process* holder_ = nullptr;
};

RunResult DebTest::build_;

TEST_F(DebTest, LintianFindsNoErrorOrWarning) {
  const std::string report = read_file(deb_dir() + "/lintian.txt");
  std::cout << "[lintian --info --pedantic]\n" << report;
  EXPECT_EQ(join(lintian_complaints(report), "\n"), "")
      << "fix them or explain each in debian/uvs.lintian-overrides";
  // lintian did run: the overridden tags are listed (O:) with their explanations.
  EXPECT_NE(report.find("O: uvs: binary-from-other-architecture [usr/lib/uvs/steer.bpf.o]"),
            std::string::npos)
      << report;
}

TEST_F(DebTest, HoldsTheBinariesXdpObjectsUnitAndManPages) {
  RunResult r = run({"/usr/bin/dpkg-deb", "-c", deb_file()});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* path :
       {"./usr/sbin/uvsd", "./usr/sbin/uvsadm", "./usr/sbin/uvs-ipvs", "./usr/sbin/uvs-decap",
        "./usr/lib/uvs/steer.bpf.o", "./usr/lib/uvs/pass.bpf.o", "./usr/lib/uvs/decap.bpf.o",
        "./usr/lib/uvs/libuvs-ipvs.so", "./usr/share/uvs/realserver", "./usr/share/uvs/uvs-announce",
        "./usr/share/uvs/rules",
        "./lib/systemd/system/uvsd.service",
        "./lib/systemd/system/keepalived.service.d/uvs-ipvs.conf", "./etc/default/uvs",
        "./usr/share/man/man8/uvsd.8.gz", "./usr/share/man/man8/uvsadm.8.gz",
        "./usr/share/man/man8/uvs-ipvs.8.gz", "./usr/share/man/man8/uvs-decap.8.gz"})
    EXPECT_NE(r.out.find(std::string(path) + "\n"), std::string::npos) << path << "\n" << r.out;
  // The operator's table is theirs: postinst makes it, dpkg never replaces it.
  EXPECT_EQ(r.out.find("./etc/uvs/"), std::string::npos) << r.out;
}

TEST_F(DebTest, InstallsIntoAFreshRootAndUvsdForwardsAsTheUnit) {
  lab_ = std::make_unique<Lab>(2);
  ASSERT_TRUE(lab_->ok()) << lab_->error();
  ASSERT_NO_FATAL_FAILURE(make_root());
  {
    Phase phase("dpkg -i");
    RunResult r = root_run({"/usr/bin/dpkg", "-i", "/tmp/uvs.deb"}, 120s);
    ASSERT_EQ(r.status, 0) << describe({"dpkg", "-i", "uvs.deb"}, r);
    RunResult s = root_run({"/usr/bin/dpkg-query", "-W", "-f=${Status}", "uvs"});
    EXPECT_EQ(s.out, "install ok installed");
  }
  {
    Phase phase("what dpkg installed");
    // postinst: the table file, from the template; the service enabled (deb-systemd-helper).
    EXPECT_EQ(read_file(root_path("/etc/uvs/rules")), read_file(root_path("/usr/share/uvs/rules")));
    EXPECT_TRUE(std::filesystem::is_symlink(
        root_path("/etc/systemd/system/multi-user.target.wants/uvsd.service")));
    // The installed unit, its binaries and its Documentation= pages, as systemd checks them.
    RunResult v = root_run({"/usr/bin/systemd-analyze", "verify", "/lib/systemd/system/uvsd.service"});
    std::string ours;
    for (const auto& line : split_lines(v.out + v.err))
      if (line.find("uvsd") != std::string::npos) ours += line + "\n";
    EXPECT_EQ(v.status, 0) << v.out << v.err;
    EXPECT_EQ(ours, "");
    // man finds the pages where the package put them, and groff has nothing to say.
    for (const char* page : {"uvsadm", "uvsd"}) {
      RunResult m = root_run({"/usr/bin/env", "MANWIDTH=80", "/usr/bin/man", "-P", "/bin/cat",
                              "--warnings=w", "8", page});
      EXPECT_EQ(m.status, 0) << page << ": " << m.err;
      EXPECT_EQ(m.err, "") << page;
      EXPECT_NE(m.out.find("SYNOPSIS"), std::string::npos) << m.out.substr(0, 500);
    }
  }

  // The operator's steps: interfaces in /etc/default/uvs, the table in /etc/uvs/rules.
  ASSERT_TRUE(write_file(root_path("/etc/default/uvs"),
                         "UVSD_OPTS=\"--interface d0 --interface d1 --workers 1\"\n"));
  std::string rules = "-A -t " + kVip + ":80 -s rr\n";
  for (int k = 1; k <= 2; ++k)
    rules += "-a -t " + kVip + ":80 -r " + Lab::server_v4(k) + ":8000 -m -w 1\n";
  ASSERT_TRUE(write_file(root_path("/etc/uvs/rules"), rules));

  Process& uvsd = start_uvsd_as_the_unit();
  ASSERT_TRUE(wait_until([&] { return uvsd.log().find("listening on") != std::string::npos ||
                                      !uvsd.running(); },
                         20s));
  ASSERT_TRUE(uvsd.running()) << uvsd_command_ << "\n" << uvsd.log();
  {
    Phase phase("traffic through the installed uvsd");
    const auto answers = curl_each("http://" + kVip + "/", 6);
    EXPECT_EQ(to_string(tally(answers)), "{s1: 3, s2: 3}") << uvsd.log();
    RunResult l = uvsadm({"-Ln", "--stats", "--exact"});
    ASSERT_EQ(l.status, 0) << l.err;
    const Table t = parse_table(l.out, true);
    const ServiceRow* svc = t.service("TCP", kVip + ":80");
    ASSERT_NE(svc, nullptr) << l.out;
    EXPECT_EQ(svc->conns, 6) << l.out;
  }
  {
    Phase phase("systemctl reload: ExecReload restores /etc/uvs/rules");
    const std::string unit = read_file(root_path("/lib/systemd/system/uvsd.service"));
    ASSERT_EQ(setting(unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
    ASSERT_TRUE(write_file(root_path("/etc/uvs/rules"),
                           "-A -t " + kVip + ":80 -s wrr\n-a -t " + kVip + ":80 -r " +
                               Lab::server_v4(2) + ":8000 -m -w 5\n"));
    ASSERT_EQ(::kill(uvsd.pid(), SIGHUP), 0);
    EXPECT_TRUE(wait_until(
        [&] { return uvsd.log().find("SIGHUP: reloaded /etc/uvs/rules") != std::string::npos; },
        10s))
        << uvsd.log();
    RunResult l = uvsadm({"-Ln"});
    EXPECT_NE(l.out.find("TCP  " + kVip + ":80 wrr"), std::string::npos) << l.out;
    EXPECT_EQ(l.out.find(Lab::server_v4(1)), std::string::npos) << l.out;
    const auto answers = curl_each("http://" + kVip + "/", 3);
    EXPECT_EQ(to_string(tally(answers)), "{s2: 3}") << uvsd.log();
  }
  EXPECT_EQ(uvsd.stop(SIGTERM, 5000ms), 0) << uvsd.log();
  EXPECT_NE(uvsd.log().find("uvsd: stopping"), std::string::npos) << uvsd.log();
  {
    Phase phase("dpkg --purge");
    RunResult r = root_run({"/usr/bin/dpkg", "--purge", "uvs"}, 120s);
    EXPECT_EQ(r.status, 0) << describe({"dpkg", "--purge", "uvs"}, r);
    for (const char* gone : {"/usr/sbin/uvsd", "/usr/lib/uvs", "/etc/uvs", "/etc/default/uvs",
                             "/lib/systemd/system/uvsd.service",
                             "/etc/systemd/system/multi-user.target.wants/uvsd.service"})
      EXPECT_FALSE(std::filesystem::exists(root_path(gone))) << gone;
  }
}

// uvsd.service's SystemCallFilter= holds every system call uvsd makes: the installed uvsd under
// strace through a start with its table, traffic, a sync daemon started and stopped, a reload
// and a stop. (systemd alone applies the filter; this shows it would not kill uvsd.)
TEST_F(DebTest, TheUnitsSystemCallFilterHoldsEveryCallUvsdMakes) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/strace")) << "strace is missing: run scripts/setup";
  lab_ = std::make_unique<Lab>(1);
  ASSERT_TRUE(lab_->ok()) << lab_->error();
  ASSERT_NO_FATAL_FAILURE(make_root());
  ASSERT_EQ(root_run({"/usr/bin/dpkg", "-i", "/tmp/uvs.deb"}, 120s).status, 0);
  ASSERT_TRUE(write_file(root_path("/etc/uvs/rules"),
                         "-A -t " + kVip + ":80 -s rr\n-a -t " + kVip + ":80 -r " +
                             Lab::server_v4(1) + ":8000 -m\n"));
  Process& traced = spawn_host(
      in_root({"/usr/bin/strace", "-f", "-c", "-o", "/tmp/uvsd.syscalls", "/usr/sbin/uvsd",
               "--config", "/etc/uvs/rules", "--interface", "d0", "--interface", "d1",
               "--workers", "1"},
              lab_->director()),
      "uvsd-strace");
  ASSERT_TRUE(wait_until([&] { return traced.log().find("listening on") != std::string::npos ||
                                      !traced.running(); },
                         30s));
  ASSERT_TRUE(traced.running()) << traced.log();
  curl_each("http://" + kVip + "/", 3);
  EXPECT_EQ(uvsadm({"--start-daemon", "master", "--mcast-interface", "d1"}).status, 0);
  EXPECT_EQ(uvsadm({"--stop-daemon", "master"}).status, 0);
  // strace runs uvsd as its child.
  RunResult child = run({"/usr/bin/pgrep", "-P", std::to_string(traced.pid())});
  ASSERT_FALSE(child.out.empty()) << traced.log();
  const pid_t uvsd = static_cast<pid_t>(std::stol(child.out));
  ASSERT_EQ(::kill(uvsd, SIGHUP), 0);
  EXPECT_TRUE(wait_until([&] { return traced.log().find("SIGHUP: reloaded") != std::string::npos; },
                         10s))
      << traced.log();
  ASSERT_EQ(::kill(uvsd, SIGTERM), 0);
  EXPECT_EQ(traced.wait(10s), std::optional<int>(0)) << traced.log();

  const std::set<std::string> used = traced_syscalls(read_file(root_path("/tmp/uvsd.syscalls")));
  EXPECT_GT(used.size(), 30u) << read_file(root_path("/tmp/uvsd.syscalls"));
  EXPECT_TRUE(used.count("bpf")) << "strace saw no bpf(): did uvsd attach?";
  const std::string unit = read_file(root_path("/lib/systemd/system/uvsd.service"));
  const std::set<std::string> allowed = allowed_syscalls(setting(unit, "SystemCallFilter"));
  std::string refused;
  for (const auto& call : used)
    if (!allowed.count(call)) refused += call + " ";
  EXPECT_EQ(refused, "") << "uvsd makes these calls and SystemCallFilter= refuses them";
}

// The capability list is the one uvsd needs: without CAP_BPF (what the unit keeps, less one),
// the same start fails at loading the XDP program and says so.
TEST_F(DebTest, WithoutTheUnitsCapabilitiesUvsdDoesNotAttach) {
  lab_ = std::make_unique<Lab>(1);
  ASSERT_TRUE(lab_->ok()) << lab_->error();
  ASSERT_NO_FATAL_FAILURE(make_root());
  ASSERT_EQ(root_run({"/usr/bin/dpkg", "-i", "/tmp/uvs.deb"}, 120s).status, 0);
  RunResult r = run(in_root({"/usr/bin/setpriv", "--bounding-set=-all,+net_admin,+net_raw,+ipc_lock,+perfmon",
                             "--no-new-privs", "/usr/sbin/uvsd", "--interface", "d0", "--workers", "1"},
                            lab_->director()),
                    "", 30s);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("uvsd: error: data plane: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace uvs::testing::netns
