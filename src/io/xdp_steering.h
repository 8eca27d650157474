// The XDP steering program (bpf/steer.bpf.c) from user space: loads it once, attaches it to
// every data interface through a bpf_link (so a crashed uvsd leaves no program behind: the
// link dies with the process), and keeps its maps equal to what the configuration says uvs
// handles. Everything not in the maps stays XDP_PASS: the kernel keeps ARP, ND, SSH, VRRP...
//
// Who calls what:
//   uvsd at start:   XdpSteering::create(config) then attach(ifname) per --interface.
//   each worker:     AfXdpIo registers its sockets with set_xsk()/clear_xsk() (io/afxdp.h).
//   ctl on change:   apply(SteerDelta) with what one change adds and removes (O(change):
//                    reference counts kept here, the maps never read back); sync(SteerSet)
//                    repairs the maps to a whole set; the typed add/remove helpers.
// A change that does not fit the maps is refused whole (ENOMEM) before anything is written;
// removals are applied first, and always, so a full map never blocks its own shrinking.
// All methods are thread-safe (one mutex); none is meant for the data path.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/address.h"
#include "model/sysctl.h"

struct bpf_object;

namespace uvs::io {

enum class XdpAttachMode : uint8_t {
  kNative,   // the driver's XDP hook (veth, virtio_net, most NICs)
  kGeneric,  // skb mode: after the skb is built, works on any interface
};
const char* to_string(XdpAttachMode mode);

// (protocol, address, port): a virtual service (matched on the destination) or a NAT real
// server (matched on the source of its replies). port is host order; 0 means any port.
struct SteerL4 {
  InetAddr addr{};
  uint8_t protocol = 0;
  uint16_t port = 0;
  friend auto operator<=>(const SteerL4&, const SteerL4&) = default;
};

// Everything uvs takes from the data interfaces. Fragment steering (all fragments to a
// service address, all fragments from a NAT real server) is derived from it.
struct SteerSet {
  std::vector<SteerL4> services;
  std::vector<SteerL4> nat_replies;
  std::vector<InetAddr> fullnat_local_addrs;
  // At most kMaxFwmarkRules, first match wins. The program only decides to steer; the worker
  // classifies the packet again to find the mark.
  std::vector<FwmarkRule> fwmark_rules;
};

// One change to what is steered: each entry is one reference more (added) or less (removed)
// to a key. A key stays in its map while something references it: two services may share a
// NAT real server, and a deleted one still counts while it sits in the trash.
struct SteerDelta {
  std::vector<SteerL4> services_added, services_removed;
  std::vector<SteerL4> nat_replies_added, nat_replies_removed;
  std::vector<InetAddr> local_addrs_added, local_addrs_removed;
};

// Entries each map holds at most (its max_entries).
struct SteerCapacity {
  uint32_t services = 0;
  uint32_t nat_replies = 0;
  uint32_t local_addrs = 0;
  uint32_t frag_addrs = 0;
};

struct XdpSteeringConfig {
  // steer.bpf.o; empty = default_object_path().
  std::string object_path;
  // Skip native mode and attach in skb mode everywhere.
  bool force_generic = false;
  // Drop, rather than pass to the kernel, uvs traffic for a queue no socket serves yet.
  bool drop_without_socket = false;
  // Run the fast path (uvs_flows) before steering.
  bool offload = false;
  // Map sizes (entries); 0 keeps the object's default (kDefaultMaxServices, ...). The hash maps
  // are preallocated, about 96 bytes of kernel memory per entry, and the fragment map holds
  // services + NAT real servers: the defaults take about 30 MiB (1.5 + 12.6 + 0.4 + 16).
  uint32_t max_services = 0;
  uint32_t max_nat_replies = 0;
  uint32_t max_local_addrs = 0;
  uint32_t max_interfaces = 0;  // XSKMAP holds max_interfaces * 256 queue slots
};

struct SteerCounters {
  uint64_t passed = 0;
  uint64_t parse_errors = 0;
  uint64_t vip = 0;
  uint64_t fwmark = 0;
  uint64_t nat_reply = 0;
  uint64_t fullnat = 0;
  uint64_t fragment = 0;
  uint64_t icmp_error = 0;
  uint64_t no_socket = 0;
  uint64_t flow_forwarded = 0;  // offloaded flows' packets forwarded by XDP itself
  uint64_t steered() const { return vip + fwmark + nat_reply + fullnat + fragment + icmp_error; }
};

class XdpSteering {
 public:
  static constexpr uint32_t kQueuesPerInterface = 256;
  static constexpr uint32_t kMaxFwmarkRules = 64;
  // bpf/steer.bpf.c's sizes: 10,000 services and 100,000 NAT real servers fit with room.
  static constexpr uint32_t kDefaultMaxServices = 16384;
  static constexpr uint32_t kDefaultMaxNatReplies = 131072;
  static constexpr uint32_t kDefaultMaxLocalAddrs = 4096;

  // Opens and loads the object; attaches nothing. nullptr and *error on failure.
  static std::unique_ptr<XdpSteering> create(const XdpSteeringConfig& config, std::string* error);
  // Where steer.bpf.o is looked for, first hit wins: $UVS_BPF_DIR/steer.bpf.o,
  // <dir of the executable>/bpf/steer.bpf.o (the build tree: build/uvsd, build/bpf/),
  // <dir of the executable>/../lib/uvs/steer.bpf.o (the install tree: bin/, lib/uvs/).
  // Returns the first candidate that exists, else the build-tree candidate.
  static std::string default_object_path();

  // Detaches from every interface and closes the maps (sockets drop out of the XSKMAP).
  ~XdpSteering();
  XdpSteering(const XdpSteering&) = delete;
  XdpSteering& operator=(const XdpSteering&) = delete;

  // Attaches to an interface of the caller's network namespace: native first, then skb mode
  // (unless force_generic). Fails if another program owns the hook; uvs never replaces one.
  std::optional<XdpAttachMode> attach(const std::string& ifname, std::string* error);
  // A restart without a gap (uvsd --takeover). The running uvsd makes its program drop, not
  // pass, what it can no longer deliver, and names its links (interface, fd) so that the new
  // uvsd can take copies (pidfd_getfd()): once the old one exits, the copies keep its program
  // (and its fast path) on the interfaces, and its sockets being gone, steered packets are
  // dropped rather than left to the kernel (which would reset their connections).
  std::optional<std::vector<std::pair<std::string, int>>> prepare_handover(std::string* error);
  // The new uvsd: attach() swaps this program into the link it was given for the interface
  // with bpf_link_update() (atomic as XDP sees it) instead of making a new one.
  void take_handover_from(std::vector<std::pair<std::string, int>> links) {
    handover_links_ = std::move(links);
  }
  void detach(int ifindex);
  // The mode an interface is attached in, nullopt if not attached.
  std::optional<XdpAttachMode> mode(int ifindex) const;

  // Registers the AF_XDP socket that serves (ifindex, queue); the interface must be attached.
  bool set_xsk(int ifindex, uint32_t queue, int xsk_fd, std::string* error);
  void clear_xsk(int ifindex, uint32_t queue);

  // Applies one change: 0, or an errno with *error and nothing changed: ENOMEM when what it
  // adds does not fit a map (as the kernel fails an allocation), or the kernel's errno when a
  // write failed (what was written is undone). A key removed and added by the same change is
  // never out of its map; a change of removals only always succeeds (failures are logged in
  // *error and the maps repaired by the next sync).
  int apply(const SteerDelta& delta, std::string* error);
  // Makes the maps equal to `desired` (each key referenced once), reading back what the kernel
  // holds: removes what is extra, then adds what is missing (a key present before and after
  // never disappears). False, and nothing changed, if `desired` does not fit. Fwmark rules are
  // rewritten in place (the rule count shrinks before and grows after the rewrite).
  bool sync(const SteerSet& desired, std::string* error);
  SteerCapacity capacity() const;
  // Single changes, each one reference (an apply() of one key).
  bool add_service(const SteerL4& service, std::string* error);
  bool remove_service(const SteerL4& service, std::string* error);
  bool add_nat_reply(const SteerL4& real_server, std::string* error);
  bool remove_nat_reply(const SteerL4& real_server, std::string* error);
  bool add_local_addr(const InetAddr& addr, std::string* error);
  bool remove_local_addr(const InetAddr& addr, std::string* error);
  bool set_fwmark_rules(const std::vector<FwmarkRule>& rules, std::string* error);
  // Every packet to the kernel, offloaded flows included (backup_only), or back to steering.
  bool set_pass_all(bool on, std::string* error);

  // The keys referenced now (sorted, duplicates removed).
  SteerSet desired() const;
  // What the kernel maps hold now, read back (for tests and diagnostics).
  SteerSet read_maps() const;
  // The derived fragment map read back: (UVS_STEER_ROLE_FRAG_DST or _SRC, address).
  std::vector<std::pair<uint8_t, InetAddr>> read_fragment_addrs() const;
  // Per-CPU counters folded.
  SteerCounters counters() const;
  // A map of the loaded object by name (the fast path's, io/xdp_flows.h), -1 if absent.
  int map_fd(const char* name) const;

 private:
  struct Attachment {
    int ifindex = 0;
    int link_fd = -1;
    XdpAttachMode mode = XdpAttachMode::kNative;
    uint32_t slot_base = 0;
  };
  struct Maps {
    int vips = -1;
    int nat_replies = -1;
    int laddrs = -1;
    int frag_addrs = -1;
    int fwmark = -1;
    int config = -1;
    int xsks = -1;
    int if_slots = -1;
    int counters = -1;
  };

  struct Refs;  // reference counts per key of each map (xdp_steering.cc)

  XdpSteering();
  int apply_locked(const SteerDelta& delta, std::string* error);
  bool sync_fwmark_locked(const std::vector<FwmarkRule>& rules, std::string* error);
  bool write_config_locked(std::string* error);
  Attachment* find_locked(int ifindex);
  const Attachment* find_locked(int ifindex) const;

  mutable std::mutex mutex_;
  bpf_object* object_ = nullptr;
  int prog_fd_ = -1;
  Maps maps_;
  uint32_t max_interfaces_ = 0;
  bool drop_without_socket_ = false;
  std::vector<std::pair<std::string, int>> handover_links_;
  bool offload_ = false;
  bool pass_all_ = false;
  bool force_generic_ = false;
  std::vector<Attachment> attachments_;
  std::vector<bool> slot_used_;  // per interface slot block
  std::unique_ptr<Refs> refs_;
  std::vector<FwmarkRule> fwmark_rules_;
  uint32_t fwmark_count_ = 0;
};

}  // namespace uvs::io
