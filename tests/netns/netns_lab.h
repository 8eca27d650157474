// End-to-end test support: a namespace lab per test (scripts/lab), uvsd inside the director
// namespace, background processes (socat, wrk, python, uvs-decap) in the lab's namespaces, the
// uvsadm listings parsed into rows, and cleanup that also runs when the test binary dies.
//
// Names: every lab gets the prefix "ue<pid>n<k>" (k counts labs in this binary), so parallel
// test binaries never share a namespace, and a lab left by a binary that was killed (SIGKILL,
// a ctest timeout) is recognised by its dead pid and removed by the next binary that starts.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/netns_cleanup.h"
#include "tests/integration/harness.h"

namespace uvs::testing::netns {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline const std::string kIp = "/usr/sbin/ip";

inline std::string source_path(const std::string& rel) {
  return std::string(UVS_SOURCE_DIR) + "/" + rel;
}

// ---------------------------------------------------------------------------------------------
// Cleanup that survives an abnormal exit. Process groups and shell commands are kept in fixed
// arrays so that the signal handler only reads memory and calls async-signal-safe functions
// (kill, fork, execve, waitpid).
class Reaper {
 public:
  static Reaper& get() {
    static Reaper* reaper = new Reaper();  // never destroyed: the atexit hook may use it
    return *reaper;
  }

  void add_group(pid_t pgid) {
    std::lock_guard lock(mu_);
    for (auto& g : groups_) {
      pid_t expected = 0;
      if (g.compare_exchange_strong(expected, pgid)) return;
    }
  }
  void remove_group(pid_t pgid) {
    std::lock_guard lock(mu_);
    for (auto& g : groups_) {
      pid_t expected = pgid;
      if (g.compare_exchange_strong(expected, 0)) return;
    }
  }
  // Returns a slot for remove_command, or -1 when full (or the command is too long).
  int add_command(const std::string& shell_command) {
    std::lock_guard lock(mu_);
    if (shell_command.size() >= kCommandMax) return -1;
    for (size_t i = 0; i < kCommands; ++i) {
      if (used_[i].load()) continue;
      std::memcpy(commands_[i].data(), shell_command.c_str(), shell_command.size() + 1);
      used_[i].store(true);
      return static_cast<int>(i);
    }
    return -1;
  }
  void remove_command(int slot) {
    if (slot < 0) return;
    std::lock_guard lock(mu_);
    used_[static_cast<size_t>(slot)].store(false);
  }

  // Kills every registered process group and runs every registered command. Signal-safe.
  static void emergency() {
    Reaper& r = get();
    if (r.running_.exchange(true)) return;
    for (auto& g : r.groups_) {
      pid_t pg = g.load();
      if (pg > 0) kill(-pg, SIGKILL);
    }
    for (size_t i = 0; i < kCommands; ++i) {
      if (!r.used_[i].load()) continue;
      pid_t pid = fork();
      if (pid == 0) {
        const char* argv[] = {"/bin/sh", "-c", r.commands_[i].data(), nullptr};
        execve("/bin/sh", const_cast<char* const*>(argv), environ);
        _exit(127);
      }
      if (pid > 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
    }
  }

 private:
  static constexpr size_t kGroups = 256;
  static constexpr size_t kCommands = 64;
  static constexpr size_t kCommandMax = 512;

  Reaper() {
    std::atexit([] { Reaper::emergency(); });
    struct sigaction sa {};
    sa.sa_handler = [](int sig) {
      Reaper::emergency();
      signal(sig, SIG_DFL);
      raise(sig);
    };
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
      sigaction(sig, &sa, nullptr);
  }

  std::mutex mu_;
  std::atomic<bool> running_{false};
  std::array<std::atomic<pid_t>, kGroups> groups_{};
  std::array<std::atomic<bool>, kCommands> used_{};
  std::array<std::array<char, kCommandMax>, kCommands> commands_{};
};

// A test that reproduces a known bug in uvs: skipped (the suite stays green) unless
// UVS_RUN_KNOWN_BUGS=1, which runs it to see whether the bug is fixed. Use first in the body.
#define UVS_KNOWN_BUG(description)                                                 \
  do {                                                                             \
    if (!std::getenv("UVS_RUN_KNOWN_BUGS"))                                        \
      GTEST_SKIP() << "BUG: " << description << " (UVS_RUN_KNOWN_BUGS=1 runs it)"; \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Small utilities.

inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds step = 20ms) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

inline std::string read_file(const std::string& path, size_t max = 1 << 20) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (s.size() > max) s = "[...]" + s.substr(s.size() - max);
  return s;
}

inline bool write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

inline std::string join(const std::vector<std::string>& v, const std::string& sep = " ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

inline std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// "cmd args -> exit N\nstdout\nstderr", for failure messages.
inline std::string describe(const std::vector<std::string>& argv, const RunResult& r) {
  auto cut = [](const std::string& s) {
    return s.size() > 4000 ? s.substr(0, 2000) + "\n[...]\n" + s.substr(s.size() - 2000) : s;
  };
  return "$ " + join(argv) + "\n-> exit " + std::to_string(r.status) + "\n[stdout]\n" + cut(r.out) +
         "[stderr]\n" + cut(r.err);
}

inline std::string sha256_of(const std::string& path) {
  RunResult r = run({"/usr/bin/sha256sum", path}, "", 60s);
  if (r.status != 0) return "sha256sum failed: " + r.err;
  return r.out.substr(0, r.out.find(' '));
}

inline std::map<std::string, int> tally(const std::vector<std::string>& items) {
  std::map<std::string, int> counts;
  for (const auto& i : items) ++counts[i];
  return counts;
}

inline std::string to_string(const std::map<std::string, int>& counts) {
  std::string s = "{";
  for (const auto& [k, v] : counts) s += (s.size() > 1 ? ", " : "") + k + ": " + std::to_string(v);
  return s + "}";
}

// "1.2.3.4:80" or "[fd00::1]:80"; port 0 gives the bare address (bracketed for IPv6).
inline bool is_v6(const std::string& addr) { return addr.find(':') != std::string::npos; }
inline std::string host_port(const std::string& addr, int port) {
  std::string h = is_v6(addr) ? "[" + addr + "]" : addr;
  return port ? h + ":" + std::to_string(port) : h;
}
inline std::string http_url(const std::string& vip, int port = 80, const std::string& path = "/") {
  return "http://" + host_port(vip, port) + path;
}

// Prints how long a part of a test took ("[ phase ] NAME: N ms"), to see where time goes.
class Phase {
 public:
  explicit Phase(std::string name) : name_(std::move(name)), start_(Clock::now()) {}
  ~Phase() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
    std::cout << "[ phase    ] " << name_ << ": " << ms.count() << " ms" << std::endl;
  }

 private:
  std::string name_;
  Clock::time_point start_;
};

// ---------------------------------------------------------------------------------------------
// A background process in its own process group, stopped (whole group) when destroyed.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_path)
      : argv_(argv), log_(log_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> args;
    for (const auto& a : argv_) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &fa, &attr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (pid_ > 0) Reaper::get().add_group(pid_);
  }
  ~Process() { stop(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0 || exited_; }
  pid_t pid() const { return pid_; }

  // Reaps the process if it has exited; true while it runs.
  bool running() {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      finish(status);
      return false;
    }
    return true;
  }

  // Waits for the exit; the exit status, or nullopt when still running at the deadline.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (!wait_until([this] { return !running(); }, timeout, 10ms)) return std::nullopt;
    return status_;
  }

  // Signals the process group, waits a little, then kills it. Returns the exit status.
  int stop(int sig = SIGTERM, std::chrono::milliseconds grace = 2000ms) {
    if (pid_ <= 0) return status_;
    kill(-pid_, sig);
    if (!wait(grace)) {
      kill(-pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
      finish(status);
    }
    return status_;
  }

  int status() const { return status_; }
  std::string log() const { return read_file(log_, 64 << 10); }
  const std::string& log_path() const { return log_; }
  // The command line, with inline scripts (python3 -c ...) shown as <script>.
  std::string command() const {
    std::vector<std::string> shown;
    for (const auto& a : argv_) shown.push_back(a.find('\n') == std::string::npos ? a : "<script>");
    return join(shown);
  }

 private:
  void finish(int status) {
    // Anything left in the group (children of a shell) goes with it.
    kill(-pid_, SIGKILL);
    Reaper::get().remove_group(pid_);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    exited_ = true;
  }

  std::vector<std::string> argv_;
  std::string log_;
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
};

// ---------------------------------------------------------------------------------------------
// uvsadm listings as rows.

struct DestRow {
  std::string addr;  // "172.17.0.2:8000", "[fd00:2::11]:80"
  std::string forward;
  long weight = 0, active = 0, inactive = 0;
  long conns = 0, in_pkts = 0, out_pkts = 0, in_bytes = 0, out_bytes = 0;
};

struct ServiceRow {
  std::string proto, addr, scheduler;  // proto "TCP"/"UDP"
  long conns = 0, in_pkts = 0, out_pkts = 0, in_bytes = 0, out_bytes = 0;
  std::vector<DestRow> dests;
  const DestRow* dest(const std::string& a) const {
    for (const auto& d : dests)
      if (d.addr == a) return &d;
    return nullptr;
  }
};

struct Table {
  std::vector<ServiceRow> services;
  const ServiceRow* service(const std::string& proto, const std::string& addr) const {
    for (const auto& s : services)
      if (s.proto == proto && s.addr == addr) return &s;
    return nullptr;
  }
};

// Parses `-Ln` (stats=false) or `-Ln --stats --exact` (stats=true).
inline Table parse_table(const std::string& text, bool stats) {
  Table t;
  for (const auto& line : split_lines(text)) {
    auto w = split_words(line);
    if (w.empty()) continue;
    if ((w[0] == "TCP" || w[0] == "UDP" || w[0] == "SCTP") && w.size() >= 2) {
      ServiceRow s;
      s.proto = w[0];
      s.addr = w[1];
      if (stats && w.size() >= 7) {
        s.conns = std::stol(w[2]);
        s.in_pkts = std::stol(w[3]);
        s.out_pkts = std::stol(w[4]);
        s.in_bytes = std::stol(w[5]);
        s.out_bytes = std::stol(w[6]);
      } else if (!stats && w.size() >= 3) {
        s.scheduler = w[2];
      }
      t.services.push_back(s);
    } else if (w[0] == "->" && w.size() >= 2 && !t.services.empty() &&
               w[1] != "RemoteAddress:Port") {
      DestRow d;
      d.addr = w[1];
      try {
        if (stats && w.size() >= 7) {
          d.conns = std::stol(w[2]);
          d.in_pkts = std::stol(w[3]);
          d.out_pkts = std::stol(w[4]);
          d.in_bytes = std::stol(w[5]);
          d.out_bytes = std::stol(w[6]);
        } else if (!stats && w.size() >= 5) {
          d.forward = w[2];
          d.weight = std::stol(w[3]);
          d.active = std::stol(w[4]);
          d.inactive = std::stol(w[5]);
        }
      } catch (const std::exception&) {
      }
      t.services.back().dests.push_back(d);
    }
  }
  return t;
}

struct ConnRow {
  std::string proto, state, source, virt, dest;
  int expire_secs = -1;
};

// Parses `-Lnc`.
inline std::vector<ConnRow> parse_conns(const std::string& text) {
  std::vector<ConnRow> rows;
  for (const auto& line : split_lines(text)) {
    auto w = split_words(line);
    if (w.size() < 6 || w[0] == "pro" || w[0] == "IPVS") continue;
    ConnRow r;
    r.proto = w[0];
    int mm = 0, ss = 0;
    if (std::sscanf(w[1].c_str(), "%d:%d", &mm, &ss) == 2) r.expire_secs = mm * 60 + ss;
    r.state = w[2];
    r.source = w[3];
    r.virt = w[4];
    r.dest = w[5];
    rows.push_back(r);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The namespace lab (scripts/lab) with a unique prefix.
class Lab {
 public:
  // scripts/lab up --prefix P --servers SERVERS.
  explicit Lab(int servers) : Lab(servers, "") {}
  // A lab of another shape: UP_SCRIPT (bash, given the prefix as $1) builds namespaces named
  // ${1}c, ${1}d, ${1}w or ${1}sK, which `scripts/lab down` removes like its own.
  Lab(int servers, const std::string& up_script) : servers_(servers) {
    static std::atomic<int> counter{0};
    sweep_stale_labs();
    prefix_ = "ue" + std::to_string(getpid()) + "n" + std::to_string(++counter);
    tmp_ = "/tmp/" + prefix_ + "-t";
    std::filesystem::create_directories(tmp_);
    cleanup_slot_ = Reaper::get().add_command(down_command(prefix_));
    std::vector<std::string> argv =
        up_script.empty() ? std::vector<std::string>{source_path("scripts/lab"),
                                                     "up",
                                                     "--prefix",
                                                     prefix_,
                                                     "--servers",
                                                     std::to_string(servers)}
                          : std::vector<std::string>{"/bin/bash", "-euc", up_script, "up", prefix_};
    RunResult r = run(argv, "", 120s);
    ok_ = r.status == 0;
    if (!ok_) error_ = describe(argv, r);
  }
  ~Lab() {
    run({"/bin/sh", "-c", down_command(prefix_)}, "", 60s);
    Reaper::get().remove_command(cleanup_slot_);
  }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  int servers() const { return servers_; }
  const std::string& prefix() const { return prefix_; }
  std::string client() const { return prefix_ + "c"; }
  std::string director() const { return prefix_ + "d"; }
  std::string server(int k) const { return prefix_ + "s" + std::to_string(k); }
  // A scratch directory that goes with the lab.
  std::string tmp(const std::string& name) const { return tmp_ + "/" + name; }
  // The 10 MB file nginx on server k serves as /10m.bin.
  std::string server_file(int k) const {
    return "/tmp/" + prefix_ + "-run/s" + std::to_string(k) + "/www/10m.bin";
  }

  // The lab's addresses for server k (1-based).
  static std::string server_v4(int k) { return "172.17.0." + std::to_string(k + 1); }
  static std::string server_v4_b(int k) { return "192.168.56." + std::to_string(100 + 2 * k); }
  static std::string server_v6(int k) { return "fd00:2::" + std::to_string(10 + k); }
  static constexpr const char* kClientV4 = "10.99.1.2";
  static constexpr const char* kClientV6 = "fd00:1::2";

  // ARGV inside namespace NS, waited for.
  RunResult exec(const std::string& ns, std::vector<std::string> argv,
                 std::chrono::seconds timeout = 30s) const {
    argv.insert(argv.begin(), {kIp, "netns", "exec", ns});
    return run(argv, "", timeout);
  }
  std::vector<std::string> in_ns(const std::string& ns, std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {kIp, "netns", "exec", ns});
    return argv;
  }

 private:
  static std::string down_command(const std::string& prefix) {
    return source_path("scripts/lab") + " down --prefix " + prefix +
           " >/dev/null 2>&1; rm -rf /tmp/" + prefix + "-t /run/uvs-realserver/netns-" + prefix +
           "[cdws]*.state";
  }

  // Removes labs whose test binary is gone (killed before its cleanup ran).
  static void sweep_stale_labs() {
    static std::once_flag once;
    std::call_once(once, [] {
      RunResult r = run({kIp, "netns", "list"});
      static const std::regex name(R"(^(ue(\d+)n\d+)(c|d|w|s\d+)\b)");
      std::set<std::string> stale;
      for (const auto& line : split_lines(r.out)) {
        std::smatch m;
        if (!std::regex_search(line, m, name)) continue;
        pid_t pid = static_cast<pid_t>(std::stol(m[2]));
        if (pid != getpid() && process_gone(pid)) stale.insert(m[1]);
      }
      for (const auto& p : stale) run({"/bin/sh", "-c", down_command(p)}, "", 60s);
    });
  }

  int servers_;
  std::string prefix_, tmp_, error_;
  bool ok_ = false;
  int cleanup_slot_ = -1;
};

// ---------------------------------------------------------------------------------------------
// uvsd in the lab's director namespace, on d0 (client side) and d1 (server side).
class Director {
 public:
  // uvsd --interface IF for each of INTERFACES (the lab's d0 and d1 by default).
  explicit Director(const Lab& lab, std::vector<std::string> interfaces = {"d0", "d1"})
      : lab_(lab), interfaces_(std::move(interfaces)) {
    socket_ = lab.tmp("uvsd.sock");
    log_ = lab.tmp("uvsd.log");
  }
  ~Director() { stop(); }

  // Starts uvsd; true once its control socket is published. `extra` e.g. {"--config", F}.
  bool start(const std::vector<std::string>& extra = {}, int conn_max = 65536) {
    std::filesystem::remove(socket_);
    std::vector<std::string> argv = lab_.in_ns(
        lab_.director(),
        {build_path("uvsd"), "--socket", socket_, "--conn-max", std::to_string(conn_max)});
    for (const auto& i : interfaces_) argv.insert(argv.end(), {"--interface", i});
    argv.insert(argv.end(), extra.begin(), extra.end());
    write_file(log_, read_file(log_) + "==== " + join(argv) + "\n");
    proc_ = std::make_unique<Process>(argv, log_);
    return wait_until([&] { return std::filesystem::exists(socket_) || !proc_->running(); }, 15s) &&
           proc_->running() && std::filesystem::exists(socket_);
  }
  // uvsd's process id (`ip netns exec` execs it in place), -1 before start().
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  // SIGTERM; the exit status.
  int stop() {
    if (!proc_) return -1;
    int status = proc_->stop(SIGTERM, 5000ms);
    proc_.reset();
    return status;
  }
  bool running() { return proc_ && proc_->running(); }

  RunResult adm(const std::vector<std::string>& args, const std::string& input = "") const {
    std::vector<std::string> argv = {build_path("uvsadm"), "--socket", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, input, 20s);
  }
  // uvsadm ARGS, expected to succeed (a gtest failure with the context otherwise).
  bool adm_ok(const std::vector<std::string>& args) const {
    RunResult r = adm(args);
    EXPECT_EQ(r.status, 0) << describe({"uvsadm", join(args)}, r) << "\n" << log();
    return r.status == 0;
  }

  Table table() const { return parse_table(adm({"-Ln"}).out, false); }
  Table stats() const { return parse_table(adm({"-Ln", "--stats", "--exact"}).out, true); }
  std::vector<ConnRow> conns() const { return parse_conns(adm({"-Lnc"}).out); }

  std::string log() const { return "[uvsd log " + log_ + "]\n" + read_file(log_, 16 << 10); }
  // What a failure message needs: the log and the listings.
  std::string context() const {
    std::string s = log();
    s += "\n[uvsadm -Ln --stats --exact]\n" + adm({"-Ln", "--stats", "--exact"}).out;
    s += "[uvsadm -Ln]\n" + adm({"-Ln"}).out;
    std::string c = adm({"-Lnc"}).out;
    if (c.size() > 6000) c = c.substr(0, 6000) + "[...]\n";
    s += "[uvsadm -Lnc]\n" + c;
    return s;
  }
  const std::string& socket() const { return socket_; }

 private:
  const Lab& lab_;
  std::vector<std::string> interfaces_;
  std::string socket_, log_;
  std::unique_ptr<Process> proc_;
};

// ---------------------------------------------------------------------------------------------
// UDP client and server (python3: Debian has no UDP echo client that reports per datagram).

// Echo server: replies "<name> " + datagram to the sender, from the address it is bound to.
inline constexpr const char* kUdpEchoServer = R"PY(
import socket, sys
addr, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
print('listening', flush=True)
n = 0
while True:
    d, a = s.recvfrom(65535)
    n += 1
    s.sendto(name + b' ' + d, a)
)PY";

// Client: SOCKETS sockets (each one UDP connection for the director), PER datagrams each of
// SIZE random bytes (the first 4 say socket and sequence), each waited for (3 s: the first may wait
// for a neighbour on a loaded machine). A reply to an
// earlier datagram is "late" and skipped; EMSGSIZE (the socket learnt a smaller path MTU from an
// ICMP "too big") resends the datagram, at most twice, and counts "ptb". Prints one line per
// socket, "sock I SERVER[,SERVER] ok=N bad=N lost=N late=N ptb=N", and a last line
// "total sent=N ok=N bad=N lost=N late=N ptb=N" (sent counts datagrams, not resends).
inline constexpr const char* kUdpEchoClient = R"PY(
import errno, os, socket, struct, sys, time
host, port, nsock, per, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
keys = ('ok', 'bad', 'lost', 'late', 'ptb')
tot = dict.fromkeys(('sent',) + keys, 0)
def exchange(s, msg, n):
    resends = 0
    while True:
        try:
            s.send(msg)
            deadline = time.monotonic() + 3.0
            while True:
                left = deadline - time.monotonic()
                if left <= 0: return 'lost', None
                s.settimeout(left)
                try:
                    r = s.recv(65535)
                except socket.timeout:
                    return 'lost', None
                name, _, body = r.partition(b' ')
                if body[:4] != msg[:4]:
                    n['late'] += 1
                    continue
                return ('ok' if body == msg else 'bad'), name.decode()
        except OSError as e:
            if e.errno != errno.EMSGSIZE or resends == 2: raise
            resends += 1
            n['ptb'] += 1
for i in range(nsock):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    servers, n = set(), dict.fromkeys(keys, 0)
    for j in range(per):
        msg = struct.pack('!HH', i, j) + os.urandom(size - 4)
        tot['sent'] += 1
        what, server = exchange(s, msg, n)
        n[what] += 1
        if server: servers.add(server)
    s.close()
    for k in keys: tot[k] += n[k]
    print('sock', i, ','.join(sorted(servers)) or '-', ' '.join('%s=%d' % (k, n[k]) for k in keys), flush=True)
print('total', ' '.join('%s=%d' % (k, tot[k]) for k in ('sent',) + keys), flush=True)
)PY";

struct UdpResult {
  int sent = 0, ok = 0, bad = 0, lost = 0, late = 0, ptb = 0;
  std::vector<std::string> socket_servers;  // per socket: "s1", or "s1,s2" if it moved
  std::string output;
};

inline UdpResult parse_udp_result(const std::string& out) {
  UdpResult r;
  r.output = out;
  for (const auto& line : split_lines(out)) {
    auto w = split_words(line);
    if (w.size() >= 3 && w[0] == "sock") r.socket_servers.push_back(w[2]);
    if (w.size() >= 5 && w[0] == "total") {
      std::sscanf(line.c_str(), "total sent=%d ok=%d bad=%d lost=%d late=%d ptb=%d", &r.sent, &r.ok,
                  &r.bad, &r.lost, &r.late, &r.ptb);
    }
  }
  return r;
}

// Parses wrk's summary: requests, and the "Socket errors" line (absent when there were none).
struct WrkResult {
  long requests = -1;
  long connect_errors = 0, read_errors = 0, write_errors = 0, timeouts = 0;
  long non_2xx = 0;
  bool has_socket_errors = false;
};

inline WrkResult parse_wrk(const std::string& out) {
  WrkResult r;
  for (const auto& line : split_lines(out)) {
    long a, b, c, d;
    if (std::sscanf(line.c_str(), " Socket errors: connect %ld, read %ld, write %ld, timeout %ld",
                    &a, &b, &c, &d) == 4) {
      r.has_socket_errors = true;
      r.connect_errors = a, r.read_errors = b, r.write_errors = c, r.timeouts = d;
    }
    long n;
    if (std::sscanf(line.c_str(), " %ld requests in", &n) == 1) r.requests = n;
    if (std::sscanf(line.c_str(), " Non-2xx or 3xx responses: %ld", &n) == 1) r.non_2xx = n;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Forwarding methods: NAT (-m), direct routing (-g), tunnelling (-i) with each tunnel type, and
// FULLNAT (-b); mode_name gives them their names in test names.
enum class Mode { kNat, kDr, kTunIpip, kTunGue, kTunGre, kFullNat };

inline std::string mode_name(Mode m) {
  switch (m) {
    case Mode::kNat:
      return "Nat";
    case Mode::kDr:
      return "Dr";
    case Mode::kTunIpip:
      return "TunIpip";
    case Mode::kTunGue:
      return "TunGue";
    case Mode::kTunGre:
      return "TunGre";
    case Mode::kFullNat:
      return "FullNat";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// The fixture: a lab, uvsd in it, background processes, and the context on failure.
class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the namespace lab needs root";
    for (const char* tool : {"/usr/sbin/ip", "/usr/bin/curl", "/usr/bin/socat", "/usr/bin/wrk",
                             "/usr/sbin/nginx", "/usr/bin/python3", "/usr/sbin/ethtool"}) {
      ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " is missing: run scripts/setup";
    }
    for (const char* bin : {"uvsd", "uvsadm"})
      ASSERT_TRUE(std::filesystem::exists(build_path(bin))) << build_path(bin) << " not built";
  }

  void TearDown() override {
    if (HasFailure() && director_) {
      std::cerr << "==== context of the failure (lab " << lab_->prefix() << ")\n"
                << director_->context();
      for (auto& p : procs_)
        std::cerr << "[process " << p->command() << " -> "
                  << (p->running() ? "running" : "exit " + std::to_string(p->status())) << "]\n"
                  << p->log() << "\n";
    }
    procs_.clear();
    director_.reset();
    lab_.reset();
  }

  // Builds a lab with SERVERS real servers and starts uvsd on its director. Use under
  // ASSERT_NO_FATAL_FAILURE.
  void start_lab(int servers = 2, std::vector<std::string> uvsd_args = {}) {
    lab_ = std::make_unique<Lab>(servers);
    ASSERT_TRUE(lab_->ok()) << lab_->error();
    director_ = std::make_unique<Director>(*lab_);
    ASSERT_TRUE(director_->start(uvsd_args)) << "uvsd did not start\n" << director_->log();
  }

  // An XDP program (bpf/pass.bpf.c) on the far ends of the director's veths: a veth drops the
  // frames XDP_TX or a redirect hands it unless its peer has one, so uvsd --offload needs it.
  void attach_peer_xdp() {
    const std::string prog = build_path("bpf/pass.bpf.o");
    ASSERT_TRUE(std::filesystem::exists(prog)) << prog;
    const std::pair<std::string, std::string> peers[] = {{lab_->client(), "c0"},
                                                         {lab_->prefix() + "w", "wd"}};
    for (const auto& [ns, dev] : peers) {
      RunResult r =
          lab_->exec(ns, {kIp, "link", "set", "dev", dev, "xdpdrv", "obj", prog, "sec", "xdp"});
      ASSERT_EQ(r.status, 0) << ns << " " << dev << ": " << r.err;
    }
  }

  // A lab built by UP_SCRIPT (see Lab) with uvsd on INTERFACES of its director ${P}d.
  void start_shaped_lab(int servers, const std::string& up_script,
                        const std::vector<std::string>& interfaces) {
    lab_ = std::make_unique<Lab>(servers, up_script);
    ASSERT_TRUE(lab_->ok()) << lab_->error();
    director_ = std::make_unique<Director>(*lab_, interfaces);
    ASSERT_TRUE(director_->start()) << "uvsd did not start\n" << director_->log();
  }

  // A background process inside namespace NS; lives until the test ends (or stop()).
  Process& spawn(const std::string& ns, const std::vector<std::string>& argv,
                 const std::string& name) {
    procs_.push_back(std::make_unique<Process>(lab_->in_ns(ns, argv), lab_->tmp(name + ".log")));
    EXPECT_TRUE(procs_.back()->started()) << "could not start " << join(argv);
    return *procs_.back();
  }

  // uvsadm, which must succeed.
  bool adm(const std::vector<std::string>& args) { return director_->adm_ok(args); }

  // One curl in the client namespace fetching URL N times, each on a new connection (the
  // request says "Connection: close"). Returns the bodies' lines in order ("s1", "s2", ...).
  std::vector<std::string> curl_each(const std::string& url, int n,
                                     std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"/usr/bin/curl",     "-sS", "--max-time", "20",
                                     "--connect-timeout", "3",   "-H",         "Connection: close"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (int i = 0; i < n; ++i) argv.push_back(url);
    RunResult r = lab_->exec(lab_->client(), argv, 60s);
    auto lines = split_lines(r.out);
    EXPECT_EQ(r.status, 0) << describe(
        {"curl", "-H 'Connection: close'", join(extra), url, "x" + std::to_string(n)}, r);
    EXPECT_EQ(lines.size(), static_cast<size_t>(n)) << "answers: " << join(lines);
    return lines;
  }

  // curl URL -o FILE in the client namespace; true on success.
  bool curl_to_file(const std::string& url, const std::string& file,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "30", "-o", file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    RunResult r = lab_->exec(lab_->client(), argv, 40s);
    EXPECT_EQ(r.status, 0) << describe(argv, r);
    return r.status == 0;
  }

  // Which server's 10m.bin FILE is (1-based), 0 if none.
  int which_server_file(const std::string& file) {
    std::string got = sha256_of(file);
    for (int k = 1; k <= lab_->servers(); ++k)
      if (server_hash(k) == got) return k;
    return 0;
  }
  const std::string& server_hash(int k) {
    auto it = server_hash_.find(k);
    if (it == server_hash_.end())
      it = server_hash_.emplace(k, sha256_of(lab_->server_file(k))).first;
    return it->second;
  }

  // A file of SIZE random bytes in the lab's scratch directory.
  std::string random_file(const std::string& name, size_t size) {
    std::string path = lab_->tmp(name);
    RunResult r = run({"/usr/bin/head", "-c", std::to_string(size), "/dev/urandom"}, "", 30s);
    EXPECT_EQ(r.out.size(), size);
    write_file(path, r.out);
    return path;
  }

  // The UDP echo server on server k, bound to ADDR:PORT; waits until it listens.
  Process& start_udp_echo(int k, const std::string& addr, int port) {
    Process& p = spawn(lab_->server(k),
                       {"/usr/bin/python3", "-c", kUdpEchoServer, addr, std::to_string(port),
                        "s" + std::to_string(k)},
                       "udp-echo-s" + std::to_string(k) + "-" + std::to_string(port));
    EXPECT_TRUE(
        wait_until([&] { return p.log().find("listening") != std::string::npos || !p.running(); },
                   10s) &&
        p.running())
        << "UDP echo server on s" << k << " did not start: " << p.log();
    return p;
  }

  UdpResult udp_exchange(const std::string& vip, int port, int sockets, int per_socket, int size) {
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     "-c",
                                     kUdpEchoClient,
                                     vip,
                                     std::to_string(port),
                                     std::to_string(sockets),
                                     std::to_string(per_socket),
                                     std::to_string(size)};
    RunResult r = lab_->exec(lab_->client(), argv, 60s);
    EXPECT_EQ(r.status, 0) << describe({"python3 udp-echo-client", vip, std::to_string(port)}, r);
    return parse_udp_result(r.out);
  }

  // socat sink on server k: one TCP connection on PORT, written to FILE; exits at EOF.
  Process& start_tcp_sink(int k, int port, const std::string& file) {
    Process& p = spawn(lab_->server(k),
                       {"/usr/bin/socat", "-u",
                        "TCP-LISTEN:" + std::to_string(port) + ",reuseaddr,pf=ip6,ipv6only=0",
                        "OPEN:" + file + ",creat,trunc"},
                       "sink-s" + std::to_string(k) + "-" + std::to_string(port));
    EXPECT_TRUE(wait_for_listener(lab_->server(k), port))
        << "socat sink on s" << k << ": " << p.log();
    return p;
  }

  // True once something listens on TCP PORT in namespace NS.
  bool wait_for_listener(const std::string& ns, int port) {
    return wait_until(
        [&] {
          RunResult r =
              lab_->exec(ns, {"/usr/bin/ss", "-Htln", "sport = :" + std::to_string(port)});
          return !r.out.empty();
        },
        10s, 50ms);
  }

  // A kernel SNMP counter (nstat) in namespace NS; -1 if unreadable.
  long kernel_counter(const std::string& ns, const std::string& counter) {
    RunResult r = lab_->exec(ns, {"/usr/bin/nstat", "-asz", counter});
    for (const auto& line : split_lines(r.out)) {
      auto w = split_words(line);
      if (w.size() >= 2 && w[0] == counter) return std::stol(w[1]);
    }
    return -1;
  }

  // Polls the listing until PRED holds for it; the last listing either way.
  bool wait_table(const std::function<bool(const Table&)>& pred, std::chrono::milliseconds timeout,
                  Table* last = nullptr) {
    Table t;
    bool ok = wait_until([&] { return pred(t = director_->table()); }, timeout, 50ms);
    if (last) *last = t;
    return ok;
  }

  std::unique_ptr<Lab> lab_;
  std::unique_ptr<Director> director_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::map<int, std::string> server_hash_;
};

}  // namespace uvs::testing::netns
