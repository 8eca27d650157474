// connlat: connection-setup latency for bench/lab. One connection at a time (an unloaded
// path): connect() to ADDR:PORT, then "GET / HTTP/1.0", read to the end, close. Times connect()
// (SYN to SYN-ACK through the balancer, or to the proxy's own listener) and the first response
// byte (counted from before connect(), so it covers the whole new connection to a real server).
//
//   connlat -a ADDR [-p PORT] [-n COUNT] [-t SECS]
//
// Stops after COUNT connections or SECS (at most 30). Prints one JSON line with the count, the
// failures and the p50/p90/p99 of both, in microseconds.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double pct(double* v, int n, double p) {
  if (n == 0) return -1;
  int i = (int)(p / 100.0 * (n - 1) + 0.5);
  return v[i];
}

int main(int argc, char** argv) {
  const char* addr = NULL;
  int port = 80, count = 2000, opt;
  double secs = 3;
  while ((opt = getopt(argc, argv, "a:p:n:t:")) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'n': count = atoi(optarg); break;
      case 't': secs = atof(optarg); break;
      default: fprintf(stderr, "usage: connlat -a ADDR [-p PORT] [-n COUNT] [-t SECS]\n"); return 2;
    }
  }
  if (!addr || count < 1) { fprintf(stderr, "connlat: -a ADDR required\n"); return 2; }
  if (secs > 30) secs = 30;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) { fprintf(stderr, "connlat: bad address\n"); return 2; }
  double* conn = calloc((size_t)count, sizeof(double));
  double* first = calloc((size_t)count, sizeof(double));
  static const char req[] = "GET / HTTP/1.0\r\nHost: bench\r\n\r\n";
  char buf[4096];
  int ok = 0, failed = 0;
  double end = mono_us() + secs * 1e6;
  for (int i = 0; i < count && mono_us() < end; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("connlat: socket"); return 1; }
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double t0 = mono_us();
    int good = connect(fd, (struct sockaddr*)&sin, sizeof sin) == 0;
    double t1 = mono_us(), t2 = 0;
    if (good) good = send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1);
    if (good) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      t2 = mono_us();
      good = n > 0;
      while (n > 0) n = recv(fd, buf, sizeof buf, 0);
    }
    close(fd);
    if (good) {
      conn[ok] = t1 - t0;
      first[ok] = t2 - t0;
      ok++;
    } else {
      failed++;
    }
  }
  qsort(conn, (size_t)ok, sizeof(double), cmp);
  qsort(first, (size_t)ok, sizeof(double), cmp);
  printf("{\"ok\": %d, \"failed\": %d, \"connect_p50\": %.1f, \"connect_p90\": %.1f, "
         "\"connect_p99\": %.1f, \"first_byte_p50\": %.1f, \"first_byte_p90\": %.1f, "
         "\"first_byte_p99\": %.1f}\n",
         ok, failed, pct(conn, ok, 50), pct(conn, ok, 90), pct(conn, ok, 99), pct(first, ok, 50),
         pct(first, ok, 90), pct(first, ok, 99));
  return 0;
}
