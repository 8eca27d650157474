// uvsd --http on the command line: what it accepts, a port already taken, and the control
// plane alone (no --interface) serving the table's figures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace uvs::testing {
namespace {

// A TCP socket listening on 127.0.0.1 and its port (closed with the object).
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 && ::listen(fd, 1) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
      port = ntohs(sa.sin_port);
  }
  ~Listener() { ::close(fd); }
};

RunResult get(const std::string& url) {
  return run({"/usr/bin/curl", "-sS", "--max-time", "10", url});
}

TEST(UvsdHttp, RefusesWhatIsNotAnAddressAndPort) {
  for (const char* bad : {"9100", "localhost:9100", "127.0.0.1:0", "127.0.0.1:70000", "::1:9100"}) {
    RunResult r = run({build_path("uvsd"), "--socket", "/nonexistent/uvsd.sock", "--http", bad});
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_NE(r.err.find("--http wants IPv4:PORT or [IPv6]:PORT"), std::string::npos) << r.err;
  }
}

TEST(UvsdHttp, APortAlreadyTakenStopsUvsd) {
  Listener taken;
  ASSERT_GT(taken.port, 0);
  const std::string listen = "127.0.0.1:" + std::to_string(taken.port);
  Daemon uvsd({"--http", listen});
  // It exits on its own (status 1); a SIGTERM that came first would not change that, since the
  // port is tried either way (running() cannot tell: a zombie answers kill(pid, 0)).
  EXPECT_EQ(uvsd.stop(), 1);
  EXPECT_NE(uvsd.log().find("uvsd: --http " + listen + ": "), std::string::npos) << uvsd.log();
}

TEST(UvsdHttp, WithoutADataPlaneTheTableIsServed) {
  int port = 0;
  {
    Listener probe;  // a port free a moment ago
    port = probe.port;
  }
  ASSERT_GT(port, 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  Daemon uvsd({"--http", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(uvsd.running()) << uvsd.log();
  ASSERT_EQ(uvsd.adm({"-A", "-t", "10.0.0.1:80", "-s", "rr"}).status, 0);
  ASSERT_EQ(uvsd.adm({"-a", "-t", "10.0.0.1:80", "-r", "10.0.1.1:8080", "-m", "-w", "3"}).status, 0);
  ASSERT_EQ(uvsd.adm({"-A", "-f", "42", "-s", "wlc"}).status, 0);
  ASSERT_EQ(uvsd.adm({"-a", "-f", "42", "-r", "10.0.1.2", "-g"}).status, 0);

  RunResult m = get(base + "/metrics");
  ASSERT_EQ(m.status, 0) << m.err << uvsd.log();
  EXPECT_NE(m.out.find("node_ipvs_connections_total 0\n"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("node_ipvs_backend_weight{local_address=\"10.0.0.1\",local_mark=\"\","
                       "local_port=\"80\",proto=\"TCP\",remote_address=\"10.0.1.1\","
                       "remote_port=\"8080\"} 3\n"),
            std::string::npos)
      << m.out;
  EXPECT_NE(m.out.find("node_ipvs_backend_weight{local_address=\"\",local_mark=\"0000002A\","
                       "local_port=\"0\",proto=\"FWM\",remote_address=\"10.0.1.2\","
                       "remote_port=\"0\"} 1\n"),
            std::string::npos)
      << m.out;
  EXPECT_EQ(m.out.find("uvs_worker_"), std::string::npos);
  EXPECT_NE(get(base + "/api/v1/stats").out.find("\"data_plane\":false"), std::string::npos);
  EXPECT_NE(get(base + "/").out.find("<canvas id=\"chart-services\">"), std::string::npos);
  EXPECT_NE(get(base + "/chart.min.js").out.find("Chart.js"), std::string::npos);

  // A deleted real server disappears from the next scrape.
  ASSERT_EQ(uvsd.adm({"-d", "-f", "42", "-r", "10.0.1.2"}).status, 0);
  EXPECT_EQ(get(base + "/metrics").out.find("10.0.1.2"), std::string::npos);
  EXPECT_EQ(uvsd.stop(), 0) << uvsd.log();
}

}  // namespace
}  // namespace uvs::testing
