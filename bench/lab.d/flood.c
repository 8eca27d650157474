// flood: a bounded 64-byte UDP flood for bench/lab. AF_PACKET raw socket, sendmmsg in batches,
// 60-byte frames (64 on a wire with the FCS) with complete IPv4 and UDP checksums, so every
// data path sees what a NIC would deliver. Flow k (of -f) uses source port 10000 + k % 50000
// and source address SRC + k / 50000, destination DST[k % number of -d addresses]; packets
// cycle through the flows in order, so a batch spreads over all of them.
//
//   flood -i IF -m DSTMAC -s SRC -d DST[,DST...] [-p PORT] [-t SECS] [-f FLOWS] [-b BATCH]
//         [-r PPS] [-q] [-S]
//   -q  go through the stack's queue selection (flow hash over the TX queues) instead of
//       PACKET_QDISC_BYPASS, which puts every packet on the queue of the sending CPU
//   -r  pace to about PPS packets per second (default: as fast as possible)
//   -S  a SYN flood instead: TCP SYNs (MSS option) to PORT from spoofed sources spread over
//       SRC's /8 (flow k's source address, port and sequence number from a hash of k), the
//       way hping3 --flood --rand-source sends them
//
// Stops after SECS (at most 60). Prints one JSON line: packets sent, errors, seconds.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kFrameLen = 60, kMaxBatch = 256, kMaxDst = 16, kPortsPerAddr = 50000 };

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_mac(const char* text, uint8_t mac[6]) {
  unsigned v[6];
  if (sscanf(text, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)v[i];
  return 0;
}

// Ones' complement sum of 16-bit big-endian words.
static uint32_t sum16(const uint8_t* p, size_t len, uint32_t acc) {
  for (size_t i = 0; i + 1 < len; i += 2) acc += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) acc += (uint32_t)p[len - 1] << 8;
  return acc;
}
static uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

static void put16(uint8_t* p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t* p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

struct flood {
  uint8_t dst_mac[6], src_mac[6];
  uint32_t src;  // host order
  uint32_t dst[kMaxDst];
  int ndst;
  uint16_t dport;
  int syn;
};

// SplitMix64's finaliser: flow k's spoofed fields.
static uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Flow k's SYN: a 44-byte datagram (IPv4, TCP with an MSS option) in a 60-byte frame.
static void build_syn(const struct flood* cfg, uint64_t k, uint8_t* f) {
  const uint64_t h = mix(k);
  memset(f, 0, kFrameLen);
  memcpy(f, cfg->dst_mac, 6);
  memcpy(f + 6, cfg->src_mac, 6);
  put16(f + 12, ETH_P_IP);
  uint8_t* ip = f + 14;
  ip[0] = 0x45;
  put16(ip + 2, 44);
  put16(ip + 4, (uint16_t)k);
  ip[8] = 64;
  ip[9] = 6;
  uint32_t src = (cfg->src & 0xff000000u) | ((uint32_t)h & 0x00fffffeu) | 1u;
  put32(ip + 12, src);
  put32(ip + 16, cfg->dst[k % (uint64_t)cfg->ndst]);
  put16(ip + 10, fold(sum16(ip, 20, 0)));
  uint8_t* tcp = ip + 20;
  put16(tcp, (uint16_t)(1024 + (h >> 32) % 64000));
  put16(tcp + 2, cfg->dport);
  put32(tcp + 4, (uint32_t)(h >> 16));
  tcp[12] = 6 << 4;  // 24 bytes: the header and the MSS option
  tcp[13] = 0x02;    // SYN
  put16(tcp + 14, 64240);
  tcp[20] = 2;
  tcp[21] = 4;
  put16(tcp + 22, 1460);
  uint32_t acc = sum16(ip + 12, 8, 0) + 6 + 24;
  put16(tcp + 16, fold(sum16(tcp, 24, acc)));
}

// Writes flow k's frame into f (kFrameLen bytes).
static void build(const struct flood* cfg, uint64_t k, uint8_t* f) {
  if (cfg->syn) {
    build_syn(cfg, k, f);
    return;
  }
  memcpy(f, cfg->dst_mac, 6);
  memcpy(f + 6, cfg->src_mac, 6);
  put16(f + 12, ETH_P_IP);
  uint8_t* ip = f + 14;
  memset(ip, 0, 20);
  ip[0] = 0x45;
  put16(ip + 2, kFrameLen - 14);
  put16(ip + 4, (uint16_t)k);
  ip[8] = 64;
  ip[9] = 17;
  put32(ip + 12, cfg->src + (uint32_t)(k / kPortsPerAddr));
  put32(ip + 16, cfg->dst[k % (uint64_t)cfg->ndst]);
  put16(ip + 10, fold(sum16(ip, 20, 0)));
  uint8_t* udp = ip + 20;
  uint16_t udp_len = kFrameLen - 14 - 20;
  put16(udp, (uint16_t)(10000 + k % kPortsPerAddr));
  put16(udp + 2, cfg->dport);
  put16(udp + 4, udp_len);
  put16(udp + 6, 0);
  for (int i = 8; i < udp_len; i++) udp[i] = (uint8_t)('a' + i);
  uint32_t acc = sum16(ip + 12, 8, 0) + 17 + udp_len;
  uint16_t c = fold(sum16(udp, udp_len, acc));
  put16(udp + 6, c ? c : 0xffff);
}

int main(int argc, char** argv) {
  struct flood cfg = {.dport = 9};
  const char* ifname = NULL;
  double secs = 5, pps = 0;
  uint64_t flows = 64;
  int batch = 64, bypass = 1, opt;
  while ((opt = getopt(argc, argv, "i:m:s:d:p:t:f:b:r:qS")) != -1) {
    switch (opt) {
      case 'i': ifname = optarg; break;
      case 'm':
        if (parse_mac(optarg, cfg.dst_mac)) { fprintf(stderr, "flood: bad MAC %s\n", optarg); return 2; }
        break;
      case 's': {
        struct in_addr a;
        if (inet_pton(AF_INET, optarg, &a) != 1) { fprintf(stderr, "flood: bad address %s\n", optarg); return 2; }
        cfg.src = ntohl(a.s_addr);
        break;
      }
      case 'd': {
        char* list = strdup(optarg);
        for (char* tok = strtok(list, ","); tok && cfg.ndst < kMaxDst; tok = strtok(NULL, ",")) {
          struct in_addr a;
          if (inet_pton(AF_INET, tok, &a) != 1) { fprintf(stderr, "flood: bad address %s\n", tok); return 2; }
          cfg.dst[cfg.ndst++] = ntohl(a.s_addr);
        }
        free(list);
        break;
      }
      case 'p': cfg.dport = (uint16_t)atoi(optarg); break;
      case 't': secs = atof(optarg); break;
      case 'f': flows = strtoull(optarg, NULL, 10); break;
      case 'b': batch = atoi(optarg); break;
      case 'r': pps = atof(optarg); break;
      case 'q': bypass = 0; break;
      case 'S': cfg.syn = 1; break;
      default:
        fprintf(stderr, "usage: flood -i IF -m DSTMAC -s SRC -d DST[,DST] [-p PORT] [-t SECS] "
                        "[-f FLOWS] [-b BATCH] [-r PPS] [-q] [-S]\n");
        return 2;
    }
  }
  if (!ifname || !cfg.ndst || !cfg.src) { fprintf(stderr, "flood: -i, -m, -s and -d are required\n"); return 2; }
  if (secs > 60) secs = 60;
  if (flows < 1) flows = 1;
  if (batch < 1) batch = 1;
  if (batch > kMaxBatch) batch = kMaxBatch;

  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) { perror("flood: socket"); return 1; }
  int one = 1;
  if (bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one))
    perror("flood: PACKET_QDISC_BYPASS");
  int sndbuf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  struct ifreq req;
  memset(&req, 0, sizeof req);
  strncpy(req.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &req)) { perror("flood: SIOCGIFHWADDR"); return 1; }
  memcpy(cfg.src_mac, req.ifr_hwaddr.sa_data, 6);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
                            .sll_ifindex = (int)if_nametoindex(ifname)};
  if (!sll.sll_ifindex || bind(fd, (struct sockaddr*)&sll, sizeof sll)) { perror("flood: bind"); return 1; }

  // Up to 4096 flows are prebuilt; more are built as they are sent (the memory test).
  uint64_t prebuilt = flows <= 4096 ? flows : 0;
  uint8_t* frames = calloc(prebuilt ? prebuilt : (size_t)kMaxBatch, kFrameLen);
  for (uint64_t k = 0; k < prebuilt; k++) build(&cfg, k, frames + k * kFrameLen);
  struct mmsghdr msgs[kMaxBatch];
  struct iovec iov[kMaxBatch];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < batch; i++) {
    iov[i].iov_len = kFrameLen;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  uint64_t sent = 0, errors = 0, next = 0;
  double start = mono(), end = start + secs, now = start;
  while (!g_stop && now < end) {
    for (int i = 0; i < batch; i++) {
      uint64_t k = (next + (uint64_t)i) % flows;
      if (prebuilt) {
        iov[i].iov_base = frames + k * kFrameLen;
      } else {
        build(&cfg, k, frames + (size_t)i * kFrameLen);
        iov[i].iov_base = frames + (size_t)i * kFrameLen;
      }
    }
    int n = sendmmsg(fd, msgs, (unsigned)batch, 0);
    if (n > 0) {
      sent += (uint64_t)n;
      next = (next + (uint64_t)n) % flows;
    } else if (errno != EINTR) {
      errors++;
      if (errno != ENOBUFS && errno != EAGAIN) { perror("flood: sendmmsg"); break; }
      sched_yield();  // the receiver's ring is full: let whatever drains it run
    }
    now = mono();
    if (pps > 0) {
      double due = start + (double)sent / pps;
      if (due > now) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)((due - now) * 1e9)};
        nanosleep(&ts, NULL);
        now = mono();
      }
    }
  }
  printf("{\"sent\": %llu, \"errors\": %llu, \"secs\": %.6f}\n", (unsigned long long)sent,
         (unsigned long long)errors, mono() - start);
  return 0;
}
