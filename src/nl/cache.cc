#include "nl/cache.h"

#include <net/if.h>
#include <net/if_arp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace uvs::nl {
namespace {

// A dump the kernel interrupts (something changed under it) is simply taken again; under a
// storm of changes a few tries are enough for one to complete.
constexpr int kDumpAttempts = 8;

}  // namespace

// ---- Value types -----------------------------------------------------------------------------

bool MacAddr::is_zero() const {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string MacAddr::to_string() const {
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return text;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddr mac;
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[3 * i - 1] != ':') return std::nullopt;
    unsigned value = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = text[3 * i + j];
      unsigned digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<unsigned>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
      value = value * 16 + digit;
    }
    mac.bytes[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

bool Link::up() const { return (flags & IFF_UP) != 0; }
bool Link::running() const { return (flags & IFF_UP) != 0 && (flags & IFF_RUNNING) != 0; }

// ---- Opening and loading ---------------------------------------------------------------------

std::unique_ptr<KernelCache> KernelCache::open(std::string* error) {
  std::unique_ptr<KernelCache> cache(new KernelCache());
  // Subscribe before dumping: a change made during the dump is then queued as an event and
  // applied afterwards, so nothing falls between the two.
  cache->events_ = NetlinkSocket::open(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                                           RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_NEIGH,
                                       error);
  if (cache->events_ == nullptr) return nullptr;
  cache->requests_ = NetlinkSocket::open(0, error);
  if (cache->requests_ == nullptr) return nullptr;
  if (cache->reload(error) < 0) return nullptr;
  return cache;
}

int KernelCache::dump(uint16_t type, const MessageFn& on_message) {
  int err = 0;
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    Request request(type, NLM_F_DUMP);
    // Every dump header starts with the family byte; AF_UNSPEC asks for all families.
    switch (type) {
      case RTM_GETLINK:
        request.put_header<ifinfomsg>();
        break;
      case RTM_GETADDR:
        request.put_header<ifaddrmsg>();
        break;
      default:
        request.put_header<ndmsg>();
        break;
    }
    err = requests_->transact(request, on_message);
    if (err != -EINTR) return err;
  }
  return err;
}

int KernelCache::reload(std::string* error) {
  LinkMap links;
  AddressMap addresses;
  NeighbourMap neighbours;
  // A retried dump starts over, so each attempt fills fresh maps.
  auto load = [&](uint16_t type, const char* what) {
    LinkMap tmp_links;
    AddressMap tmp_addresses;
    NeighbourMap tmp_neighbours;
    int err = dump(
        type, [&](const nlmsghdr* nlh) { apply(nlh, tmp_links, tmp_addresses, tmp_neighbours); });
    if (err < 0) {
      if (error != nullptr)
        *error = std::string("netlink dump of ") + what + ": " + std::strerror(-err);
      return err;
    }
    if (type == RTM_GETLINK) links = std::move(tmp_links);
    if (type == RTM_GETADDR) addresses = std::move(tmp_addresses);
    if (type == RTM_GETNEIGH) neighbours = std::move(tmp_neighbours);
    return 0;
  };
  int err = load(RTM_GETLINK, "links");
  if (err == 0) err = load(RTM_GETADDR, "addresses");
  if (err == 0) err = load(RTM_GETNEIGH, "neighbours");
  if (err < 0) return err;
  std::lock_guard lock(mu_);
  links_ = std::move(links);
  addresses_ = std::move(addresses);
  neighbours_ = std::move(neighbours);
  routes_.clear();
  return 0;
}

// ---- Messages --------------------------------------------------------------------------------

CacheChanges KernelCache::apply(const nlmsghdr* nlh, LinkMap& links, AddressMap& addresses,
                                NeighbourMap& neighbours) {
  CacheChanges changes;
  Attrs attrs;
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
      // Bridge port messages (AF_BRIDGE) describe bridging, not the link itself.
      if (!attrs.parse(nlh, sizeof(*ifi)) || ifi->ifi_family != AF_UNSPEC) break;
      auto ifindex = static_cast<uint32_t>(ifi->ifi_index);
      changes.links = true;
      if (nlh->nlmsg_type == RTM_DELLINK) {
        links.erase(ifindex);
        addresses.erase(ifindex);
        std::erase_if(neighbours,
                      [&](const auto& entry) { return entry.first.ifindex == ifindex; });
        break;
      }
      Link& link = links[ifindex];
      link.ifindex = ifindex;
      link.type = ifi->ifi_type;
      link.flags = ifi->ifi_flags;
      if (auto name = attrs.str(IFLA_IFNAME)) link.name = std::string(*name);
      if (auto mtu = attrs.u32(IFLA_MTU)) link.mtu = *mtu;
      if (const uint8_t* mac = attrs.bytes(IFLA_ADDRESS, 6)) {
        MacAddr value;
        std::memcpy(value.bytes.data(), mac, 6);
        link.mac = value;
      } else {
        link.mac.reset();
      }
      break;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
      if (!attrs.parse(nlh, sizeof(*ifa))) break;
      // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links and
      // the only one IPv6 usually sends.
      auto addr = attrs.addr(IFA_LOCAL, ifa->ifa_family);
      if (!addr) addr = attrs.addr(IFA_ADDRESS, ifa->ifa_family);
      if (!addr) break;
      changes.addresses = true;
      std::vector<Address>& list = addresses[ifa->ifa_index];
      std::erase_if(list, [&](const Address& a) { return a.addr == *addr; });
      if (nlh->nlmsg_type == RTM_NEWADDR)
        list.push_back(Address{ifa->ifa_index, *addr, ifa->ifa_prefixlen});
      break;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      changes.routes = true;
      break;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: {
      const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
      if (!attrs.parse(nlh, sizeof(*ndm))) break;
      if (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6) break;  // bridge FDB
      if (ndm->ndm_flags & NTF_PROXY) break;  // proxy entries answer for others
      auto addr = attrs.addr(NDA_DST, ndm->ndm_family);
      if (!addr) break;
      changes.neighbours = true;
      NeighbourKey key{static_cast<uint32_t>(ndm->ndm_ifindex), *addr};
      if (nlh->nlmsg_type == RTM_DELNEIGH) {
        neighbours.erase(key);
        break;
      }
      Neighbour& neighbour = neighbours[key];
      neighbour.ifindex = key.ifindex;
      neighbour.addr = *addr;
      neighbour.state = ndm->ndm_state;
      if (const uint8_t* mac = attrs.bytes(NDA_LLADDR, 6)) {
        MacAddr value;
        std::memcpy(value.bytes.data(), mac, 6);
        neighbour.mac = value;
      } else if (!(ndm->ndm_state & kNudValid)) {
        // An entry that lost validity (FAILED, INCOMPLETE) keeps no address worth sending to.
        neighbour.mac.reset();
      }
      break;
    }
    default:
      break;
  }
  return changes;
}

int KernelCache::event_fd() const { return events_->fd(); }

CacheChanges KernelCache::process_events() {
  CacheChanges changes;
  auto on_event = [&](const nlmsghdr* nlh) {
    std::lock_guard lock(mu_);
    CacheChanges one = apply(nlh, links_, addresses_, neighbours_);
    changes.links |= one.links;
    changes.addresses |= one.addresses;
    changes.routes |= one.routes;
    changes.neighbours |= one.neighbours;
  };
  bool overran = false;
  for (;;) {
    int err = events_->drain_events(on_event);
    if (err == -ENOBUFS) {
      // Events were lost. Empty the queue first so that nothing older than the reload is
      // applied on top of it, then reload.
      overran = true;
      continue;
    }
    break;
  }
  if (overran || reload_needed_) {
    std::string ignored;
    reload_needed_ = reload(&ignored) < 0;
    changes.reloaded = changes.links = changes.addresses = changes.routes = changes.neighbours =
        true;
  }
  if (changes.routes || changes.addresses || changes.links) invalidate_routes();
  return changes;
}

// ---- Routes ----------------------------------------------------------------------------------

Route KernelCache::ask_route(const InetAddr& dst) {
  Request request(RTM_GETROUTE, 0);
  auto* rtm = request.put_header<rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(dst.family);
  rtm->rtm_dst_len = dst.is_v6() ? 128 : 32;
  request.put_addr(RTA_DST, dst);

  Route route;
  route.dst = dst;
  int err = requests_->transact(request, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWROUTE) return;
    const auto* answer = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    Attrs attrs;
    if (!attrs.parse(nlh, sizeof(*answer))) return;
    int family = answer->rtm_family;
    route.type = answer->rtm_type;
    route.table = attrs.u32(RTA_TABLE).value_or(answer->rtm_table);
    route.oif = attrs.u32(RTA_OIF).value_or(0);
    route.gateway = attrs.addr(RTA_GATEWAY, family);
    if (!route.gateway) {
      // RTA_VIA: a next hop of the other family (IPv4 routed via an IPv6 neighbour).
      if (const nlattr* via = attrs.get(RTA_VIA)) {
        size_t len = mnl_attr_get_payload_len(via);
        const auto* payload = static_cast<const uint8_t*>(mnl_attr_get_payload(via));
        sa_family_t via_family;
        if (len >= sizeof(via_family)) {
          std::memcpy(&via_family, payload, sizeof(via_family));
          size_t addr_len = len - sizeof(via_family);
          if ((via_family == AF_INET && addr_len == 4) ||
              (via_family == AF_INET6 && addr_len == 16)) {
            InetAddr gateway;
            gateway.family = via_family;
            std::memcpy(gateway.bytes.data(), payload + sizeof(via_family), addr_len);
            route.gateway = gateway;
          }
        }
      }
    }
    route.prefsrc = attrs.addr(RTA_PREFSRC, family);
    if (const nlattr* metrics = attrs.get(RTA_METRICS)) {
      Attrs metric_attrs;
      if (metric_attrs.parse_nested(metrics)) route.mtu = metric_attrs.u32(RTAX_MTU).value_or(0);
    }
  });
  if (err < 0) route.error = -err;
  return route;
}

Route KernelCache::route_to(const InetAddr& dst) {
  {
    std::lock_guard lock(mu_);
    auto it = routes_.find(dst);
    if (it != routes_.end()) return it->second;
  }
  Route route = ask_route(dst);
  if (route.lookup_failed()) return route;
  std::lock_guard lock(mu_);
  routes_[dst] = route;
  return route;
}

void KernelCache::invalidate_routes() {
  std::lock_guard lock(mu_);
  routes_.clear();
}

void KernelCache::forget_route(const InetAddr& dst) {
  std::lock_guard lock(mu_);
  routes_.erase(dst);
}

std::optional<Route> KernelCache::cached_route(const InetAddr& dst) const {
  std::lock_guard lock(mu_);
  auto it = routes_.find(dst);
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

// ---- Neighbours ------------------------------------------------------------------------------

int KernelCache::request_neighbour(uint32_t ifindex, const InetAddr& addr) {
  // RTM_NEWNEIGH with NTF_USE does what a packet sent by the kernel would do to the entry:
  // create it if needed (NLM_F_CREATE, state NONE) and run the kernel's neighbour state
  // machine (NONE/FAILED -> INCOMPLETE with multicast solicitations, STALE -> DELAY -> PROBE
  // with unicast ones). No address is written and no packet goes to the destination itself.
  Request request(RTM_NEWNEIGH, NLM_F_CREATE);
  auto* ndm = request.put_header<ndmsg>();
  ndm->ndm_family = static_cast<uint8_t>(addr.family);
  ndm->ndm_ifindex = static_cast<int>(ifindex);
  ndm->ndm_state = NUD_NONE;
  ndm->ndm_flags = NTF_USE;
  request.put_addr(NDA_DST, addr);
  return requests_->transact(request, [](const nlmsghdr*) {});
}

// ---- Readers ---------------------------------------------------------------------------------

std::optional<Link> KernelCache::link(uint32_t ifindex) const {
  std::lock_guard lock(mu_);
  auto it = links_.find(ifindex);
  if (it == links_.end()) return std::nullopt;
  return it->second;
}

std::optional<Link> KernelCache::link_by_name(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& [ifindex, link] : links_)
    if (link.name == name) return link;
  return std::nullopt;
}

std::vector<Link> KernelCache::links() const {
  std::lock_guard lock(mu_);
  std::vector<Link> result;
  for (const auto& [ifindex, link] : links_) result.push_back(link);
  std::sort(result.begin(), result.end(),
            [](const Link& a, const Link& b) { return a.ifindex < b.ifindex; });
  return result;
}

std::optional<Neighbour> KernelCache::neighbour(uint32_t ifindex, const InetAddr& addr) const {
  std::lock_guard lock(mu_);
  auto it = neighbours_.find(NeighbourKey{ifindex, addr});
  if (it == neighbours_.end()) return std::nullopt;
  return it->second;
}

std::vector<Address> KernelCache::addresses(uint32_t ifindex) const {
  std::lock_guard lock(mu_);
  std::vector<Address> result;
  for (const auto& [index, list] : addresses_)
    if (ifindex == 0 || index == ifindex) result.insert(result.end(), list.begin(), list.end());
  return result;
}

bool KernelCache::is_local_address(const InetAddr& addr) const {
  std::lock_guard lock(mu_);
  for (const auto& [index, list] : addresses_)
    for (const Address& a : list)
      if (a.addr == addr) return true;
  return false;
}

}  // namespace uvs::nl
