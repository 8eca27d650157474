#include "sync/transport.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace uvs::sync {

namespace {

// Always -1: what the openers return on failure.
int fail(int fd, std::string& error, const char* what) {
  const int err = errno;
  error = fmt::format("{}: {}", what, std::strerror(err));
  if (fd >= 0) ::close(fd);
  errno = err;  // what the caller reports, as start_sync_thread() returns the socket's error
  return -1;
}

template <typename T>
bool set(int fd, int level, int name, const T& value) {
  return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

// The group and port as a socket address.
socklen_t group_address(const DaemonConfig& d, unsigned id, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  const uint16_t port = htons(static_cast<uint16_t>(d.mcast_port + id));
  if (d.mcast_group.is_v6()) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = port;
    std::memcpy(&sa->sin6_addr, d.mcast_group.bytes.data(), 16);
    return sizeof *sa;
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
  sa->sin_family = AF_INET;
  sa->sin_port = port;
  std::memcpy(&sa->sin_addr, d.mcast_group.bytes.data(), 4);
  return sizeof *sa;
}

// inet_select_addr(dev, 0, RT_SCOPE_UNIVERSE): the interface's first IPv4 address.
bool interface_ipv4(const std::string& ifname, in_addr& out) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || ifname != i->ifa_name) continue;
    out = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr;
    found = true;
  }
  ::freeifaddrs(list);
  return found;
}

bool bind_to_device(int fd, const std::string& ifname) {
  return ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                      static_cast<socklen_t>(ifname.size())) == 0;
}

// A UDP socket of the group's family, and the interface's index; -1 with `error` if either
// fails.
int udp_socket(const DaemonConfig& d, std::string& error, int* ifindex) {
  *ifindex = static_cast<int>(::if_nametoindex(d.mcast_ifn.c_str()));
  if (*ifindex == 0) {
    errno = ENODEV;
    return fail(-1, error, "no such interface");
  }
  const int fd = ::socket(d.mcast_group.is_v6() ? AF_INET6 : AF_INET,
                          SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  return fd < 0 ? fail(fd, error, "socket") : fd;
}

}  // namespace

int open_master_socket(const DaemonConfig& d, unsigned id, int sock_size, std::string& error) {
  const bool v6 = d.mcast_group.is_v6();
  int ifindex = 0;
  const int fd = udp_socket(d, error, &ifindex);
  if (fd < 0) return fd;
  if (sock_size > 0 && !set(fd, SOL_SOCKET, SO_SNDBUF, sock_size))
    return fail(fd, error, "SO_SNDBUF");
  const int ttl = d.mcast_ttl, off = 0;
  if (v6) {
    if (!set(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex) ||
        !set(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, off) ||
        !set(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl) ||
        !set(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, int{IPV6_PMTUDISC_DONT}))
      return fail(fd, error, "multicast options");
  } else {
    ip_mreqn mreq{};
    mreq.imr_ifindex = ifindex;
    const unsigned char ttl8 = static_cast<unsigned char>(ttl), loop = 0;
    if (!set(fd, IPPROTO_IP, IP_MULTICAST_IF, mreq) || !set(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop) ||
        !set(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl8) ||
        !set(fd, IPPROTO_IP, IP_MTU_DISCOVER, int{IP_PMTUDISC_DONT}))
      return fail(fd, error, "multicast options");
    in_addr local{};
    if (!interface_ipv4(d.mcast_ifn, local)) {
      errno = EADDRNOTAVAIL;
      return fail(fd, error, "the interface has no IPv4 address");
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr = local;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      return fail(fd, error, "bind to the interface's address");
  }
  if (!bind_to_device(fd, d.mcast_ifn)) return fail(fd, error, "SO_BINDTODEVICE");
  sockaddr_storage group;
  const socklen_t len = group_address(d, id, group);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&group), len) != 0)
    return fail(fd, error, "connect to the group");
  return fd;
}

int open_backup_socket(const DaemonConfig& d, unsigned id, int sock_size, std::string& error) {
  const bool v6 = d.mcast_group.is_v6();
  int ifindex = 0;
  const int fd = udp_socket(d, error, &ifindex);
  if (fd < 0) return fd;
  if (sock_size > 0 && !set(fd, SOL_SOCKET, SO_RCVBUF, sock_size))
    return fail(fd, error, "SO_RCVBUF");
  // SO_REUSEADDR as the kernel sets sk_reuse: a master and a backup on one host share the port.
  if (!set(fd, SOL_SOCKET, SO_REUSEADDR, 1)) return fail(fd, error, "SO_REUSEADDR");
  if (!bind_to_device(fd, d.mcast_ifn)) return fail(fd, error, "SO_BINDTODEVICE");
  sockaddr_storage group;
  const socklen_t len = group_address(d, id, group);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&group), len) != 0)
    return fail(fd, error, "bind to the group");
  if (v6) {
    ipv6_mreq mreq{};
    std::memcpy(&mreq.ipv6mr_multiaddr, d.mcast_group.bytes.data(), 16);
    mreq.ipv6mr_interface = static_cast<unsigned>(ifindex);
    if (!set(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mreq)) return fail(fd, error, "join");
  } else {
    ip_mreqn mreq{};
    std::memcpy(&mreq.imr_multiaddr, d.mcast_group.bytes.data(), 4);
    mreq.imr_ifindex = ifindex;
    if (!set(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq)) return fail(fd, error, "join");
  }
  return fd;
}

size_t backup_buffer_len(const DaemonConfig& d) {
  int mtu = 1500;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", d.mcast_ifn.c_str());
    if (::ioctl(fd, SIOCGIFMTU, &ifr) == 0) mtu = ifr.ifr_mtu;
    ::close(fd);
  }
  const size_t headers = d.mcast_group.is_v6() ? 48 : 28;
  return std::max<size_t>({static_cast<size_t>(std::clamp(mtu, 1500, 65535)) - headers,
                           d.sync_maxlen, 1500});
}

}  // namespace uvs::sync
