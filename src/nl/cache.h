// The kernel's networking state as uvs needs it: links, addresses, neighbours, and the kernel's
// own answers to "how would you send to X" (uvs never reimplements routing: it asks the kernel
// with RTM_GETROUTE and remembers the answer per destination). Kept current by rtnetlink
// events. The owner (the next-hop resolver's helper thread) mutates it; any thread may read it.
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/address.h"
#include "nl/netlink.h"

namespace uvs::nl {

struct MacAddr {
  std::array<uint8_t, 6> bytes{};

  bool is_zero() const;
  // "aa:bb:cc:dd:ee:ff", lower case, the way `ip link` prints it.
  std::string to_string() const;
  static std::optional<MacAddr> parse(std::string_view text);

  friend bool operator==(const MacAddr&, const MacAddr&) = default;
};

// Hash of an address with its family, for the maps keyed by address (inline: the data path's
// next-hop table uses it on every lookup).
struct InetAddrHash {
  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
  size_t operator()(const InetAddr& addr) const {
    uint64_t high;
    uint64_t low;
    std::memcpy(&high, addr.bytes.data(), 8);
    std::memcpy(&low, addr.bytes.data() + 8, 8);
    return static_cast<size_t>(mix(high ^ mix(low ^ addr.family)));
  }
};

// A neighbour entry as the kernel keys it: (interface, address).
struct NeighbourKey {
  uint32_t ifindex;
  InetAddr addr;
  friend bool operator==(const NeighbourKey&, const NeighbourKey&) = default;
};
struct NeighbourKeyHash {
  size_t operator()(const NeighbourKey& key) const {
    return InetAddrHash()(key.addr) ^ InetAddrHash::mix(key.ifindex);
  }
};

struct Link {
  uint32_t ifindex = 0;
  std::string name;
  uint16_t type = 0;  // ARPHRD_*: Ethernet-like links are the ones uvs can build frames for
  std::optional<MacAddr> mac;
  uint32_t mtu = 0;
  uint32_t flags = 0;  // IFF_*

  bool up() const;       // administratively up
  bool running() const;  // up with carrier: frames sent on it can leave
};

struct Address {
  uint32_t ifindex = 0;
  InetAddr addr;
  uint8_t prefix_len = 0;
};

// NUD_* states in which the kernel holds a link-layer address it would send to (the kernel's
// NUD_VALID, which the uapi headers do not export).
inline constexpr uint16_t kNudValid = 0x02 /*REACHABLE*/ | 0x04 /*STALE*/ | 0x08 /*DELAY*/ |
                                      0x10 /*PROBE*/ | 0x40 /*NOARP*/ | 0x80 /*PERMANENT*/;

struct Neighbour {
  uint32_t ifindex = 0;
  InetAddr addr;
  std::optional<MacAddr> mac;
  uint16_t state = 0;  // NUD_*

  // The kernel would send to `mac` now.
  bool usable() const { return mac.has_value() && (state & kNudValid) != 0; }
};

// The kernel's answer to a route lookup toward `dst` (RTM_GETROUTE, the route a locally sent
// packet would take, with the kernel's source address choice and any learned path MTU).
struct Route {
  InetAddr dst;
  int error = 0;     // errno when the kernel refused the lookup (ENETUNREACH, EHOSTUNREACH)
  uint8_t type = 0;  // RTN_*: UNICAST forwards, LOCAL is an address of this host
  uint32_t oif = 0;  // output interface
  std::optional<InetAddr> gateway;  // absent when dst is on the link itself
  std::optional<InetAddr> prefsrc;  // the source address the kernel would choose
  uint32_t mtu = 0;  // RTAX_MTU metric (route `mtu`, or a learned path MTU); 0 when none
  uint32_t table = 0;

  // The exchange with the kernel failed (no answer in time, no memory): this says nothing
  // about the route, ask again later.
  bool lookup_failed() const {
    return error == ETIMEDOUT || error == EINTR || error == ENOBUFS || error == ENOMEM ||
           error == EAGAIN || error == EBUSY;
  }
};

// What the events of one drain changed, so that the resolver recomputes no more than needed.
struct CacheChanges {
  bool links = false;
  bool addresses = false;
  bool routes = false;
  bool neighbours = false;
  bool reloaded = false;  // the event queue overran: everything was dumped again

  bool any() const { return links || addresses || routes || neighbours || reloaded; }
};

class KernelCache {
 public:
  // Opens the request and event sockets in the calling thread's network namespace, subscribes
  // to link, address, route and neighbour events, then loads links, addresses and neighbours.
  // Null and `error` on failure.
  static std::unique_ptr<KernelCache> open(std::string* error);

  // ---- Owner thread only ----

  // The event socket: readable when events are queued.
  int event_fd() const;
  // Applies every queued event without blocking. A change of routes, addresses or links drops
  // the remembered route answers (which of them a change affects is the kernel's business, so
  // all are asked again on next use).
  CacheChanges process_events();
  // The kernel's route toward `dst`: the remembered answer, or a fresh RTM_GETROUTE (a failed
  // exchange, Route::lookup_failed(), is not remembered).
  Route route_to(const InetAddr& dst);
  // Forgets every remembered route answer (a periodic refresh catches what no event reports,
  // such as a path MTU the kernel learned).
  void invalidate_routes();
  void forget_route(const InetAddr& dst);
  // Asks the kernel to resolve `addr` on `ifindex`, or to re-verify a stale entry: the
  // kernel's own ARP/ND machinery runs and the outcome arrives as a neighbour event. Returns 0
  // or a negative errno.
  int request_neighbour(uint32_t ifindex, const InetAddr& addr);

  // ---- Any thread ----

  std::optional<Link> link(uint32_t ifindex) const;
  std::optional<Link> link_by_name(std::string_view name) const;
  std::vector<Link> links() const;
  std::optional<Neighbour> neighbour(uint32_t ifindex, const InetAddr& addr) const;
  // Addresses of `ifindex`, or of every link for 0.
  std::vector<Address> addresses(uint32_t ifindex = 0) const;
  // True when `addr` is configured on one of this namespace's links.
  bool is_local_address(const InetAddr& addr) const;
  // The remembered route answer, without asking the kernel.
  std::optional<Route> cached_route(const InetAddr& dst) const;

 private:
  using LinkMap = std::unordered_map<uint32_t, Link>;
  using AddressMap = std::unordered_map<uint32_t, std::vector<Address>>;
  using NeighbourMap = std::unordered_map<NeighbourKey, Neighbour, NeighbourKeyHash>;

  KernelCache() = default;
  // Dumps links, addresses and neighbours into fresh maps and swaps them in.
  int reload(std::string* error);
  int dump(uint16_t type, const MessageFn& on_message);
  // Applies one event or dump message to the given maps (events: the live ones).
  CacheChanges apply(const nlmsghdr* nlh, LinkMap& links, AddressMap& addresses,
                     NeighbourMap& neighbours);
  Route ask_route(const InetAddr& dst);

  std::unique_ptr<NetlinkSocket> requests_;
  std::unique_ptr<NetlinkSocket> events_;
  // Events were lost and reloading failed: try again on the next process_events().
  bool reload_needed_ = false;

  // Guards the maps below; the owner thread writes under it, any thread reads under it.
  mutable std::mutex mu_;
  LinkMap links_;
  AddressMap addresses_;
  NeighbourMap neighbours_;
  std::unordered_map<InetAddr, Route, InetAddrHash> routes_;
};

}  // namespace uvs::nl
