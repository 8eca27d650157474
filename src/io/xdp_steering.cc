#include "io/xdp_steering.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "io/xdp_steering_abi.h"

namespace uvs::io {
namespace {

static_assert(sizeof(uvs_steer_l4_key) == 20);
static_assert(sizeof(uvs_steer_addr_key) == 20);
static_assert(sizeof(uvs_steer_fwmark_rule) == 48);
static_assert(XdpSteering::kQueuesPerInterface == UVS_STEER_QUEUES_PER_IF);
static_assert(XdpSteering::kMaxFwmarkRules == UVS_STEER_MAX_FWMARK_RULES);

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

uint8_t abi_family(const InetAddr& addr) {
  return addr.is_v6() ? UVS_STEER_AF_INET6 : UVS_STEER_AF_INET;
}

InetAddr from_abi(uint8_t family, const __be32* words) {
  InetAddr addr;
  addr.family = family == UVS_STEER_AF_INET6 ? AF_INET6 : AF_INET;
  std::memcpy(addr.bytes.data(), words, addr.is_v6() ? 16 : 4);
  return addr;
}

uvs_steer_l4_key l4_key(const SteerL4& l4) {
  uvs_steer_l4_key key{};
  key.family = abi_family(l4.addr);
  key.protocol = l4.protocol;
  key.port = htons(l4.port);
  // InetAddr keeps IPv4 in the first 4 bytes, network order, the rest zero: the map layout.
  std::memcpy(key.addr, l4.addr.bytes.data(), 16);
  return key;
}

SteerL4 from_l4_key(const uvs_steer_l4_key& key) {
  SteerL4 l4;
  l4.addr = from_abi(key.family, key.addr);
  l4.protocol = key.protocol;
  l4.port = ntohs(key.port);
  return l4;
}

uvs_steer_addr_key addr_key(const InetAddr& addr, uint8_t role) {
  uvs_steer_addr_key key{};
  key.family = abi_family(addr);
  key.role = role;
  std::memcpy(key.addr, addr.bytes.data(), 16);
  return key;
}

// Prefix bits as a byte mask in network order.
void prefix_mask(uint8_t prefix_len, bool v6, uint8_t mask[16]) {
  int bits = std::min<int>(prefix_len, v6 ? 128 : 32);
  for (int i = 0; i < 16; ++i) {
    int here = std::clamp(bits - 8 * i, 0, 8);
    mask[i] = static_cast<uint8_t>(0xff00 >> here);
  }
  if (!v6) std::memset(mask + 4, 0, 12);
}

uvs_steer_fwmark_rule fwmark_entry(const FwmarkRule& rule) {
  uvs_steer_fwmark_rule entry{};
  entry.family = abi_family(rule.prefix);
  entry.protocol = rule.protocol;
  entry.port_min = rule.port_min;
  entry.port_max = rule.port_max;
  entry.mark = rule.mark;
  uint8_t mask[16];
  prefix_mask(rule.prefix_len, rule.prefix.is_v6(), mask);
  uint8_t addr[16];
  for (int i = 0; i < 16; ++i) addr[i] = rule.prefix.bytes[i] & mask[i];
  std::memcpy(entry.addr, addr, 16);
  std::memcpy(entry.mask, mask, 16);
  return entry;
}

FwmarkRule from_fwmark_entry(const uvs_steer_fwmark_rule& entry) {
  FwmarkRule rule;
  rule.prefix = from_abi(entry.family, entry.addr);
  uint8_t mask[16];
  std::memcpy(mask, entry.mask, 16);
  int len = 0;
  for (uint8_t byte : mask) len += __builtin_popcount(byte);
  rule.prefix_len = static_cast<uint8_t>(len);
  rule.protocol = entry.protocol;
  rule.port_min = entry.port_min;
  rule.port_max = entry.port_max;
  rule.mark = entry.mark;
  return rule;
}

// Keys compared as bytes: the structs have no implicit padding.
template <typename Key>
bool key_less(const Key& a, const Key& b) {
  return std::memcmp(&a, &b, sizeof(Key)) < 0;
}
template <typename Key>
bool key_equal(const Key& a, const Key& b) {
  return std::memcmp(&a, &b, sizeof(Key)) == 0;
}
template <typename Key>
void sort_unique(std::vector<Key>& keys) {
  std::sort(keys.begin(), keys.end(), key_less<Key>);
  keys.erase(std::unique(keys.begin(), keys.end(), key_equal<Key>), keys.end());
}

template <typename Key>
std::vector<Key> read_keys(int fd) {
  std::vector<Key> keys;
  Key key{};
  Key next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  sort_unique(keys);
  return keys;
}

template <typename Key>
struct KeyHash {
  size_t operator()(const Key& key) const {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(&key), sizeof(Key)));
  }
};
template <typename Key>
struct KeyEqual {
  bool operator()(const Key& a, const Key& b) const { return key_equal(a, b); }
};

// One map as steering holds it: each key's references (only keys in the map, count > 0), and
// the plan of a change: the keys it inserts and deletes.
template <typename Key>
struct RefMap {
  const char* name = "";
  int fd = -1;
  uint32_t max_entries = 0;
  std::unordered_map<Key, uint32_t, KeyHash<Key>, KeyEqual<Key>> refs;

  std::unordered_map<Key, int64_t, KeyHash<Key>, KeyEqual<Key>> net;
  std::vector<Key> inserts, deletes;

  void count(const Key& key, int64_t n) { net[key] += n; }
  // Turns the counted references into the keys to insert and delete.
  void plan() {
    inserts.clear();
    deletes.clear();
    for (const auto& [key, n] : net) {
      auto it = refs.find(key);
      const int64_t before = it == refs.end() ? 0 : it->second;
      const int64_t after = std::max<int64_t>(0, before + n);  // a stray removal is ignored
      if (before == 0 && after > 0) inserts.push_back(key);
      if (before > 0 && after == 0) deletes.push_back(key);
    }
  }
  bool fits() const { return refs.size() - deletes.size() + inserts.size() <= max_entries; }
  void commit() {
    for (const auto& [key, n] : net) {
      auto it = refs.find(key);
      const int64_t after = std::max<int64_t>(0, (it == refs.end() ? 0 : it->second) + n);
      if (after == 0) {
        if (it != refs.end()) refs.erase(it);
      } else if (it == refs.end()) {
        refs.emplace(key, static_cast<uint32_t>(after));
      } else {
        it->second = static_cast<uint32_t>(after);
      }
    }
    clear();
  }
  void clear() {
    net.clear();
    inserts.clear();
    deletes.clear();
  }
  // Deletions, all of them, whatever fails: 0 or the first errno (ENOENT is no failure).
  int delete_planned(std::string* error) const {
    int first = 0;
    for (const Key& key : deletes) {
      int err = bpf_map_delete_elem(fd, &key);
      if (err && err != -ENOENT && !first) {
        first = -err;
        if (error) *error = std::string("deleting from ") + name + ": " + errno_text(err);
      }
    }
    return first;
  }
  // Insertions; on a failure those made are deleted again. 0 or the errno.
  int insert_planned(std::string* error) const {
    const uvs_steer_value value{};
    for (size_t i = 0; i < inserts.size(); ++i) {
      if (int err = bpf_map_update_elem(fd, &inserts[i], &value, BPF_NOEXIST);
          err && err != -EEXIST) {
        for (size_t j = 0; j < i; ++j) bpf_map_delete_elem(fd, &inserts[j]);
        if (error) *error = std::string("updating ") + name + ": " + errno_text(err);
        return -err;
      }
    }
    return 0;
  }
  void undo_deletes() const {
    const uvs_steer_value value{};
    for (const Key& key : deletes) bpf_map_update_elem(fd, &key, &value, BPF_ANY);
  }
  void undo_inserts() const {
    for (const Key& key : inserts) bpf_map_delete_elem(fd, &key);
  }
  std::vector<Key> keys() const {
    std::vector<Key> out;
    out.reserve(refs.size());
    for (const auto& [key, n] : refs) out.push_back(key);
    std::sort(out.begin(), out.end(), key_less<Key>);
    return out;
  }
};

// The kernel-map keys that a steering set stands for.
struct MapKeys {
  std::vector<uvs_steer_l4_key> vips;
  std::vector<uvs_steer_l4_key> nat_replies;
  std::vector<uvs_steer_addr_key> laddrs;
  std::vector<uvs_steer_addr_key> frag_addrs;
};

MapKeys keys_of(const SteerSet& set) {
  MapKeys keys;
  for (const auto& service : set.services) {
    keys.vips.push_back(l4_key(service));
    keys.frag_addrs.push_back(addr_key(service.addr, UVS_STEER_ROLE_FRAG_DST));
  }
  for (const auto& real : set.nat_replies) {
    keys.nat_replies.push_back(l4_key(real));
    keys.frag_addrs.push_back(addr_key(real.addr, UVS_STEER_ROLE_FRAG_SRC));
  }
  for (const auto& laddr : set.fullnat_local_addrs)
    keys.laddrs.push_back(addr_key(laddr, UVS_STEER_ROLE_LADDR));
  sort_unique(keys.vips);
  sort_unique(keys.nat_replies);
  sort_unique(keys.laddrs);
  sort_unique(keys.frag_addrs);
  return keys;
}

template <typename T>
void sort_unique_values(std::vector<T>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

SteerSet normalized(SteerSet set) {
  sort_unique_values(set.services);
  sort_unique_values(set.nat_replies);
  sort_unique_values(set.fullnat_local_addrs);
  // Fwmark rules keep their order: the first match decides, as in a firewall.
  return set;
}

bool set_map_size(bpf_object* object, const char* name, uint32_t entries, std::string* error) {
  if (entries == 0) return true;
  bpf_map* map = bpf_object__find_map_by_name(object, name);
  if (!map) {
    if (error) *error = std::string("steering object has no map ") + name;
    return false;
  }
  if (int err = bpf_map__set_max_entries(map, entries); err) {
    if (error) *error = std::string("sizing ") + name + ": " + errno_text(err);
    return false;
  }
  return true;
}

uint32_t map_entries(bpf_object* object, const char* name) {
  const bpf_map* map = bpf_object__find_map_by_name(object, name);
  return map ? bpf_map__max_entries(map) : 0;
}

}  // namespace

struct XdpSteering::Refs {
  RefMap<uvs_steer_l4_key> vips, nat_replies;
  RefMap<uvs_steer_addr_key> laddrs, frag_addrs;

  template <typename F>
  void each_l4(F f) {
    f(vips);
    f(nat_replies);
  }
  template <typename F>
  void each_addr(F f) {
    f(laddrs);
    f(frag_addrs);
  }
  template <typename F>
  void each(F f) {
    each_l4(f);
    each_addr(f);
  }
};

XdpSteering::XdpSteering() : refs_(std::make_unique<Refs>()) {}

const char* to_string(XdpAttachMode mode) {
  return mode == XdpAttachMode::kNative ? "native" : "generic";
}

std::string XdpSteering::default_object_path() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* dir = std::getenv("UVS_BPF_DIR"); dir && *dir)
    candidates.push_back(fs::path(dir) / "steer.bpf.o");
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "bpf" / "steer.bpf.o");
    candidates.push_back(exe.parent_path().parent_path() / "lib" / "uvs" / "steer.bpf.o");
  }
  for (const auto& candidate : candidates)
    if (fs::exists(candidate, ec)) return candidate.string();
  return candidates.empty() ? std::string("bpf/steer.bpf.o") : candidates.front().string();
}

std::unique_ptr<XdpSteering> XdpSteering::create(const XdpSteeringConfig& config,
                                                 std::string* error) {
  std::unique_ptr<XdpSteering> steering(new XdpSteering());
  std::string path = config.object_path.empty() ? default_object_path() : config.object_path;
  steering->object_ = bpf_object__open_file(path.c_str(), nullptr);
  if (!steering->object_) {
    if (error) *error = "opening " + path + ": " + errno_text(errno);
    return nullptr;
  }
  bpf_object* object = steering->object_;
  steering->max_interfaces_ =
      config.max_interfaces ? config.max_interfaces : UVS_STEER_DEFAULT_MAX_IFS;
  steering->drop_without_socket_ = config.drop_without_socket;
  steering->offload_ = config.offload;
  steering->force_generic_ = config.force_generic;
  steering->slot_used_.assign(steering->max_interfaces_, false);
  if (!set_map_size(object, UVS_STEER_MAP_VIPS, config.max_services, error) ||
      !set_map_size(object, UVS_STEER_MAP_NAT_REPLIES, config.max_nat_replies, error) ||
      !set_map_size(object, UVS_STEER_MAP_LADDRS, config.max_local_addrs, error) ||
      !set_map_size(object, UVS_STEER_MAP_XSKS,
                    steering->max_interfaces_ * kQueuesPerInterface, error))
    return nullptr;
  // At most one fragment entry per service and per real server.
  if (config.max_services || config.max_nat_replies) {
    uint32_t fragment_entries = map_entries(object, UVS_STEER_MAP_VIPS) +
                                map_entries(object, UVS_STEER_MAP_NAT_REPLIES);
    if (!set_map_size(object, UVS_STEER_MAP_FRAG_ADDRS, fragment_entries, error)) return nullptr;
  }
  if (int err = bpf_object__load(object); err) {
    if (error) *error = "loading " + path + ": " + errno_text(err);
    return nullptr;
  }
  bpf_program* prog = bpf_object__find_program_by_name(object, UVS_STEER_PROG_NAME);
  if (!prog) {
    if (error) *error = path + " has no program " UVS_STEER_PROG_NAME;
    return nullptr;
  }
  steering->prog_fd_ = bpf_program__fd(prog);
  struct Named {
    const char* name;
    int* fd;
  };
  Maps& maps = steering->maps_;
  for (Named named : {Named{UVS_STEER_MAP_VIPS, &maps.vips},
                      Named{UVS_STEER_MAP_NAT_REPLIES, &maps.nat_replies},
                      Named{UVS_STEER_MAP_LADDRS, &maps.laddrs},
                      Named{UVS_STEER_MAP_FRAG_ADDRS, &maps.frag_addrs},
                      Named{UVS_STEER_MAP_FWMARK, &maps.fwmark},
                      Named{UVS_STEER_MAP_CONFIG, &maps.config},
                      Named{UVS_STEER_MAP_XSKS, &maps.xsks},
                      Named{UVS_STEER_MAP_IF_SLOTS, &maps.if_slots},
                      Named{UVS_STEER_MAP_COUNTERS, &maps.counters}}) {
    *named.fd = bpf_object__find_map_fd_by_name(object, named.name);
    if (*named.fd < 0) {
      if (error) *error = path + " has no map " + named.name;
      return nullptr;
    }
  }
  Refs& refs = *steering->refs_;
  refs.vips.name = UVS_STEER_MAP_VIPS;
  refs.vips.fd = maps.vips;
  refs.nat_replies.name = UVS_STEER_MAP_NAT_REPLIES;
  refs.nat_replies.fd = maps.nat_replies;
  refs.laddrs.name = UVS_STEER_MAP_LADDRS;
  refs.laddrs.fd = maps.laddrs;
  refs.frag_addrs.name = UVS_STEER_MAP_FRAG_ADDRS;
  refs.frag_addrs.fd = maps.frag_addrs;
  refs.vips.max_entries = map_entries(object, UVS_STEER_MAP_VIPS);
  refs.nat_replies.max_entries = map_entries(object, UVS_STEER_MAP_NAT_REPLIES);
  refs.laddrs.max_entries = map_entries(object, UVS_STEER_MAP_LADDRS);
  refs.frag_addrs.max_entries = map_entries(object, UVS_STEER_MAP_FRAG_ADDRS);
  std::lock_guard lock(steering->mutex_);
  if (!steering->write_config_locked(error)) return nullptr;
  return steering;
}

int XdpSteering::map_fd(const char* name) const {
  return object_ ? bpf_object__find_map_fd_by_name(object_, name) : -1;
}

XdpSteering::~XdpSteering() {
  std::lock_guard lock(mutex_);
  // Closing a link that is not pinned detaches the program from its interface.
  for (auto& attachment : attachments_)
    if (attachment.link_fd >= 0) close(attachment.link_fd);
  attachments_.clear();
  if (object_) bpf_object__close(object_);
}

XdpSteering::Attachment* XdpSteering::find_locked(int ifindex) {
  for (auto& attachment : attachments_)
    if (attachment.ifindex == ifindex) return &attachment;
  return nullptr;
}

const XdpSteering::Attachment* XdpSteering::find_locked(int ifindex) const {
  for (const auto& attachment : attachments_)
    if (attachment.ifindex == ifindex) return &attachment;
  return nullptr;
}

std::optional<XdpAttachMode> XdpSteering::attach(const std::string& ifname, std::string* error) {
  std::lock_guard lock(mutex_);
  int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) {
    if (error) *error = "interface " + ifname + ": " + errno_text(errno);
    return std::nullopt;
  }
  if (const Attachment* existing = find_locked(ifindex)) return existing->mode;

  auto free_slot = std::find(slot_used_.begin(), slot_used_.end(), false);
  if (free_slot == slot_used_.end()) {
    if (error) *error = "steering already serves " + std::to_string(max_interfaces_) + " interfaces";
    return std::nullopt;
  }
  uint32_t slot = static_cast<uint32_t>(free_slot - slot_used_.begin());

  Attachment attachment;
  attachment.ifindex = ifindex;
  attachment.slot_base = slot * kQueuesPerInterface;
  std::string native_error;
  for (const auto& [name, fd] : handover_links_) {
    if (name != ifname || fd < 0) continue;
    if (bpf_link_update(fd, prog_fd_, nullptr) == 0) {
      attachment.link_fd = fd;
      attachment.mode = force_generic_ ? XdpAttachMode::kGeneric : XdpAttachMode::kNative;
    } else {
      close(fd);
    }
  }
  if (attachment.link_fd < 0 && !force_generic_) {
    bpf_link_create_opts opts{};
    opts.sz = sizeof(opts);
    opts.flags = XDP_FLAGS_DRV_MODE;
    attachment.link_fd = bpf_link_create(prog_fd_, ifindex, BPF_XDP, &opts);
    if (attachment.link_fd >= 0)
      attachment.mode = XdpAttachMode::kNative;
    else
      native_error = errno_text(attachment.link_fd);
  }
  if (attachment.link_fd < 0) {
    // veth refuses native mode when its peer's MTU is too large or it has fewer rx queues
    // than the peer has tx queues; skb mode has no such limits.
    bpf_link_create_opts opts{};
    opts.sz = sizeof(opts);
    opts.flags = XDP_FLAGS_SKB_MODE;
    attachment.link_fd = bpf_link_create(prog_fd_, ifindex, BPF_XDP, &opts);
    if (attachment.link_fd < 0) {
      if (error) {
        *error = "attaching XDP to " + ifname + ": ";
        if (!native_error.empty()) *error += "native: " + native_error + "; ";
        *error += "generic: " + errno_text(attachment.link_fd);
      }
      return std::nullopt;
    }
    attachment.mode = XdpAttachMode::kGeneric;
  }
  uint32_t key = static_cast<uint32_t>(ifindex);
  if (int err = bpf_map_update_elem(maps_.if_slots, &key, &attachment.slot_base, BPF_ANY); err) {
    close(attachment.link_fd);
    if (error) *error = "registering " + ifname + " in the slot map: " + errno_text(err);
    return std::nullopt;
  }
  slot_used_[slot] = true;
  attachments_.push_back(attachment);
  return attachment.mode;
}

std::optional<std::vector<std::pair<std::string, int>>> XdpSteering::prepare_handover(
    std::string* error) {
  std::lock_guard lock(mutex_);
  drop_without_socket_ = true;
  if (!write_config_locked(error)) return std::nullopt;
  std::vector<std::pair<std::string, int>> links;
  for (const auto& attachment : attachments_) {
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(static_cast<unsigned>(attachment.ifindex), name))
      links.emplace_back(name, attachment.link_fd);
  }
  return links;
}

void XdpSteering::detach(int ifindex) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(attachments_.begin(), attachments_.end(),
                         [ifindex](const Attachment& a) { return a.ifindex == ifindex; });
  if (it == attachments_.end()) return;
  uint32_t key = static_cast<uint32_t>(ifindex);
  bpf_map_delete_elem(maps_.if_slots, &key);
  for (uint32_t queue = 0; queue < kQueuesPerInterface; ++queue) {
    uint32_t slot = it->slot_base + queue;
    bpf_map_delete_elem(maps_.xsks, &slot);
  }
  slot_used_[it->slot_base / kQueuesPerInterface] = false;
  close(it->link_fd);
  attachments_.erase(it);
}

std::optional<XdpAttachMode> XdpSteering::mode(int ifindex) const {
  std::lock_guard lock(mutex_);
  if (const Attachment* attachment = find_locked(ifindex)) return attachment->mode;
  return std::nullopt;
}

bool XdpSteering::set_xsk(int ifindex, uint32_t queue, int xsk_fd, std::string* error) {
  std::lock_guard lock(mutex_);
  const Attachment* attachment = find_locked(ifindex);
  if (!attachment) {
    if (error) *error = "steering is not attached to ifindex " + std::to_string(ifindex);
    return false;
  }
  if (queue >= kQueuesPerInterface) {
    if (error) *error = "queue " + std::to_string(queue) + " beyond the steering's slots";
    return false;
  }
  uint32_t slot = attachment->slot_base + queue;
  uint32_t fd = static_cast<uint32_t>(xsk_fd);
  if (int err = bpf_map_update_elem(maps_.xsks, &slot, &fd, BPF_ANY); err) {
    if (error) *error = "registering AF_XDP socket: " + errno_text(err);
    return false;
  }
  return true;
}

void XdpSteering::clear_xsk(int ifindex, uint32_t queue) {
  std::lock_guard lock(mutex_);
  const Attachment* attachment = find_locked(ifindex);
  if (!attachment || queue >= kQueuesPerInterface) return;
  uint32_t slot = attachment->slot_base + queue;
  bpf_map_delete_elem(maps_.xsks, &slot);
}

bool XdpSteering::write_config_locked(std::string* error) {
  uint32_t key = 0;
  uvs_steer_config config{};
  config.fwmark_rules = fwmark_count_;
  config.flags = (drop_without_socket_ ? UVS_STEER_F_DROP_NO_SOCKET : 0) |
                 (offload_ ? UVS_STEER_F_OFFLOAD : 0) | (pass_all_ ? UVS_STEER_F_PASS_ALL : 0);
  if (int err = bpf_map_update_elem(maps_.config, &key, &config, BPF_ANY); err) {
    if (error) *error = "writing steering config: " + errno_text(err);
    return false;
  }
  return true;
}

bool XdpSteering::sync_fwmark_locked(const std::vector<FwmarkRule>& rules,
                                     std::string* error) {
  if (rules.size() > kMaxFwmarkRules) {
    if (error) *error = "more than " + std::to_string(kMaxFwmarkRules) + " fwmark rules";
    return false;
  }
  uint32_t count = static_cast<uint32_t>(rules.size());
  // Shrink the visible count first, rewrite, then grow it: a packet never reads an entry
  // beyond the count, and entries below it change one at a time.
  uint32_t old_count = fwmark_count_;
  if (count < old_count) {
    fwmark_count_ = count;
    if (!write_config_locked(error)) return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    uvs_steer_fwmark_rule entry = fwmark_entry(rules[i]);
    if (int err = bpf_map_update_elem(maps_.fwmark, &i, &entry, BPF_ANY); err) {
      if (error) *error = "writing fwmark rule: " + errno_text(err);
      return false;
    }
  }
  const uvs_steer_fwmark_rule empty{};
  for (uint32_t i = count; i < old_count; ++i) bpf_map_update_elem(maps_.fwmark, &i, &empty, BPF_ANY);
  fwmark_count_ = count;
  return write_config_locked(error);
}

bool XdpSteering::set_pass_all(bool on, std::string* error) {
  std::lock_guard lock(mutex_);
  pass_all_ = on;
  return write_config_locked(error);
}

SteerCapacity XdpSteering::capacity() const {
  std::lock_guard lock(mutex_);
  return SteerCapacity{refs_->vips.max_entries, refs_->nat_replies.max_entries,
                       refs_->laddrs.max_entries, refs_->frag_addrs.max_entries};
}

int XdpSteering::apply_locked(const SteerDelta& delta, std::string* error) {
  Refs& refs = *refs_;
  auto count_l4 = [](RefMap<uvs_steer_l4_key>& map, RefMap<uvs_steer_addr_key>& frags,
                     const std::vector<SteerL4>& keys, uint8_t role, int64_t n) {
    for (const auto& l4 : keys) {
      map.count(l4_key(l4), n);
      // Fragments follow the addresses: one reference per service or real-server reference.
      frags.count(addr_key(l4.addr, role), n);
    }
  };
  count_l4(refs.vips, refs.frag_addrs, delta.services_added, UVS_STEER_ROLE_FRAG_DST, +1);
  count_l4(refs.vips, refs.frag_addrs, delta.services_removed, UVS_STEER_ROLE_FRAG_DST, -1);
  count_l4(refs.nat_replies, refs.frag_addrs, delta.nat_replies_added, UVS_STEER_ROLE_FRAG_SRC, +1);
  count_l4(refs.nat_replies, refs.frag_addrs, delta.nat_replies_removed, UVS_STEER_ROLE_FRAG_SRC,
           -1);
  for (const auto& a : delta.local_addrs_added) refs.laddrs.count(addr_key(a, UVS_STEER_ROLE_LADDR), +1);
  for (const auto& a : delta.local_addrs_removed)
    refs.laddrs.count(addr_key(a, UVS_STEER_ROLE_LADDR), -1);
  refs.each([](auto& map) { map.plan(); });

  // Nothing is written unless all of it fits: the caller's table then stays as it was.
  int err = 0;
  refs.each([&](auto& map) {
    if (err || map.fits()) return;
    err = ENOMEM;
    if (error)
      *error = std::string(map.name) + " is full (" + std::to_string(map.max_entries) +
               " entries)";
  });
  if (err) {
    refs.each([](auto& map) { map.clear(); });
    return err;
  }
  // Removals first, every one of them, so the additions find the room they were promised.
  std::string delete_error;
  refs.each([&](auto& map) {
    std::string e;
    if (map.delete_planned(&e) && delete_error.empty()) delete_error = e;
  });
  bool inserted[4] = {};
  int index = 0;
  refs.each([&](auto& map) {
    if (!err) {
      err = map.insert_planned(error);
      inserted[index] = err == 0;
    }
    ++index;
  });
  if (err) {
    // Undo: the table stays as it was, so the maps must too.
    index = 0;
    refs.each([&](auto& map) {
      if (inserted[index++]) map.undo_inserts();
      map.undo_deletes();
      map.clear();
    });
    return err == E2BIG ? ENOMEM : err;
  }
  refs.each([](auto& map) { map.commit(); });
  if (!delete_error.empty() && error) *error = delete_error;
  return 0;
}

int XdpSteering::apply(const SteerDelta& delta, std::string* error) {
  std::lock_guard lock(mutex_);
  return apply_locked(delta, error);
}

bool XdpSteering::sync(const SteerSet& desired_in, std::string* error) {
  std::lock_guard lock(mutex_);
  SteerSet desired = normalized(desired_in);
  MapKeys want = keys_of(desired);
  Refs& refs = *refs_;
  // Checked first: a set that does not fit changes nothing.
  const std::pair<size_t, const RefMap<uvs_steer_l4_key>*> l4_sizes[] = {
      {want.vips.size(), &refs.vips}, {want.nat_replies.size(), &refs.nat_replies}};
  const std::pair<size_t, const RefMap<uvs_steer_addr_key>*> addr_sizes[] = {
      {want.laddrs.size(), &refs.laddrs}, {want.frag_addrs.size(), &refs.frag_addrs}};
  for (const auto& [n, map] : l4_sizes)
    if (n > map->max_entries) {
      if (error) *error = std::string(map->name) + " is full (" + std::to_string(map->max_entries) + " entries)";
      return false;
    }
  for (const auto& [n, map] : addr_sizes)
    if (n > map->max_entries) {
      if (error) *error = std::string(map->name) + " is full (" + std::to_string(map->max_entries) + " entries)";
      return false;
    }
  // The kernel maps are the truth here: diff against what they hold, removals first and all
  // of them, then additions, so one failure never leaves the rest unsynced.
  bool ok = true;
  auto sync_map = [&](auto& map, const auto& wanted) {
    using Key = std::decay_t<decltype(wanted[0])>;
    std::vector<Key> current = read_keys<Key>(map.fd);
    map.clear();
    std::set_difference(current.begin(), current.end(), wanted.begin(), wanted.end(),
                        std::back_inserter(map.deletes), key_less<Key>);
    std::set_difference(wanted.begin(), wanted.end(), current.begin(), current.end(),
                        std::back_inserter(map.inserts), key_less<Key>);
    std::string e;
    if (map.delete_planned(&e)) {
      ok = false;
      if (error) *error = e;
    }
  };
  sync_map(refs.vips, want.vips);
  sync_map(refs.nat_replies, want.nat_replies);
  sync_map(refs.laddrs, want.laddrs);
  sync_map(refs.frag_addrs, want.frag_addrs);
  auto fill = [&](auto& map, const auto& wanted) {
    std::string e;
    if (map.insert_planned(&e)) {
      ok = false;
      if (error) *error = e;
    }
    map.clear();
    map.refs.clear();
    for (const auto& key : wanted) map.refs.emplace(key, 1);
  };
  fill(refs.vips, want.vips);
  fill(refs.nat_replies, want.nat_replies);
  fill(refs.laddrs, want.laddrs);
  fill(refs.frag_addrs, want.frag_addrs);
  // Frag references count the services and real servers behind each address.
  refs.frag_addrs.refs.clear();
  for (const auto& service : desired.services)
    ++refs.frag_addrs.refs[addr_key(service.addr, UVS_STEER_ROLE_FRAG_DST)];
  for (const auto& real : desired.nat_replies)
    ++refs.frag_addrs.refs[addr_key(real.addr, UVS_STEER_ROLE_FRAG_SRC)];
  if (!sync_fwmark_locked(desired.fwmark_rules, error)) return false;
  fwmark_rules_ = desired.fwmark_rules;
  return ok;
}

namespace {
SteerDelta one_service(const SteerL4& l4, bool add) {
  SteerDelta d;
  (add ? d.services_added : d.services_removed).push_back(l4);
  return d;
}
SteerDelta one_nat_reply(const SteerL4& l4, bool add) {
  SteerDelta d;
  (add ? d.nat_replies_added : d.nat_replies_removed).push_back(l4);
  return d;
}
SteerDelta one_local_addr(const InetAddr& addr, bool add) {
  SteerDelta d;
  (add ? d.local_addrs_added : d.local_addrs_removed).push_back(addr);
  return d;
}
}  // namespace

bool XdpSteering::add_service(const SteerL4& service, std::string* error) {
  return apply(one_service(service, true), error) == 0;
}

bool XdpSteering::remove_service(const SteerL4& service, std::string* error) {
  return apply(one_service(service, false), error) == 0;
}

bool XdpSteering::add_nat_reply(const SteerL4& real_server, std::string* error) {
  return apply(one_nat_reply(real_server, true), error) == 0;
}

bool XdpSteering::remove_nat_reply(const SteerL4& real_server, std::string* error) {
  return apply(one_nat_reply(real_server, false), error) == 0;
}

bool XdpSteering::add_local_addr(const InetAddr& addr, std::string* error) {
  return apply(one_local_addr(addr, true), error) == 0;
}

bool XdpSteering::remove_local_addr(const InetAddr& addr, std::string* error) {
  return apply(one_local_addr(addr, false), error) == 0;
}

bool XdpSteering::set_fwmark_rules(const std::vector<FwmarkRule>& rules,
                                   std::string* error) {
  std::lock_guard lock(mutex_);
  if (!sync_fwmark_locked(rules, error)) return false;
  fwmark_rules_ = rules;
  return true;
}

SteerSet XdpSteering::desired() const {
  std::lock_guard lock(mutex_);
  SteerSet set;
  for (const auto& key : refs_->vips.keys()) set.services.push_back(from_l4_key(key));
  for (const auto& key : refs_->nat_replies.keys()) set.nat_replies.push_back(from_l4_key(key));
  for (const auto& key : refs_->laddrs.keys())
    set.fullnat_local_addrs.push_back(from_abi(key.family, key.addr));
  set.fwmark_rules = fwmark_rules_;
  return normalized(std::move(set));
}

SteerSet XdpSteering::read_maps() const {
  std::lock_guard lock(mutex_);
  SteerSet set;
  for (const auto& key : read_keys<uvs_steer_l4_key>(maps_.vips))
    set.services.push_back(from_l4_key(key));
  for (const auto& key : read_keys<uvs_steer_l4_key>(maps_.nat_replies))
    set.nat_replies.push_back(from_l4_key(key));
  for (const auto& key : read_keys<uvs_steer_addr_key>(maps_.laddrs))
    set.fullnat_local_addrs.push_back(from_abi(key.family, key.addr));
  uint32_t zero = 0;
  uvs_steer_config config{};
  if (bpf_map_lookup_elem(maps_.config, &zero, &config) == 0) {
    for (uint32_t i = 0; i < config.fwmark_rules && i < kMaxFwmarkRules; ++i) {
      uvs_steer_fwmark_rule entry{};
      if (bpf_map_lookup_elem(maps_.fwmark, &i, &entry) == 0)
        set.fwmark_rules.push_back(from_fwmark_entry(entry));
    }
  }
  return normalized(std::move(set));
}

std::vector<std::pair<uint8_t, InetAddr>> XdpSteering::read_fragment_addrs() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<uint8_t, InetAddr>> out;
  for (const auto& key : read_keys<uvs_steer_addr_key>(maps_.frag_addrs))
    out.emplace_back(key.role, from_abi(key.family, key.addr));
  return out;
}

SteerCounters XdpSteering::counters() const {
  std::lock_guard lock(mutex_);
  SteerCounters out;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return out;
  // Per-CPU array values come back as one 8-byte slot per possible CPU.
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  uint64_t totals[UVS_STEER_CNT_MAX] = {};
  for (uint32_t index = 0; index < UVS_STEER_CNT_MAX; ++index) {
    if (bpf_map_lookup_elem(maps_.counters, &index, per_cpu.data()) != 0) continue;
    for (uint64_t value : per_cpu) totals[index] += value;
  }
  out.passed = totals[UVS_STEER_CNT_PASSED];
  out.parse_errors = totals[UVS_STEER_CNT_PARSE_ERROR];
  out.vip = totals[UVS_STEER_CNT_VIP];
  out.fwmark = totals[UVS_STEER_CNT_FWMARK];
  out.nat_reply = totals[UVS_STEER_CNT_NAT_REPLY];
  out.fullnat = totals[UVS_STEER_CNT_FULLNAT];
  out.fragment = totals[UVS_STEER_CNT_FRAGMENT];
  out.icmp_error = totals[UVS_STEER_CNT_ICMP_ERROR];
  out.no_socket = totals[UVS_STEER_CNT_NO_SOCKET];
  out.flow_forwarded = totals[UVS_STEER_CNT_FLOW_FORWARDED];
  return out;
}

}  // namespace uvs::io
