#include "ctl/control.h"

#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "ctl/validate.h"
#include "sched/registry.h"
#include "util/hash.h"
#include "util/log.h"

namespace uvs::ctl {

namespace {

DestNode* find_dest(ServiceNode& svc, const DestKey& key) {
  for (auto& d : svc.dests)
    if (d.cfg.key == key) return &d;
  return nullptr;
}

// What -E may change: everything but the identity.
void replace_definition(ServiceConfig& to, const ServiceConfig& from) {
  to.sched_name = from.sched_name;
  to.flags = from.flags;
  to.timeout = from.timeout;
  to.netmask = from.netmask;
  to.pe_name = from.pe_name;
}

ServiceConfig normalized(ServiceConfig svc) {
  if (!svc.persistent()) svc.timeout = 0;
  return svc;
}

size_t mix(size_t h, uint64_t v) { return util::mix64(h ^ v); }

std::shared_ptr<const dp::ServiceEntry> entry_of(const ServiceNode& s) {
  auto e = std::make_shared<dp::ServiceEntry>();
  e->cfg = s.cfg;
  e->sched = s.sched->view();
  e->counters = s.counters;
  for (const auto& l : s.laddrs) {
    e->laddrs.push_back(l.addr);
    e->laddr_counters.push_back(l.counters);
  }
  return e;
}

}  // namespace

size_t ServiceKeyHash::operator()(const ServiceKey& k) const {
  // Consistent with ServiceKey's ==: a fwmark service is its family and mark alone.
  if (k.is_fwmark()) return mix(k.af, uint64_t{k.fwmark} << 16 | 1);
  uint64_t a, b;
  std::memcpy(&a, k.addr.bytes.data(), 8);
  std::memcpy(&b, k.addr.bytes.data() + 8, 8);
  return mix(mix(a, b), uint64_t{k.af} << 32 | uint64_t{k.protocol} << 16 | k.port);
}

size_t Control::TrashKeyHash::operator()(const TrashKey& k) const {
  uint64_t a, b;
  std::memcpy(&a, k.dest.addr.bytes.data(), 8);
  std::memcpy(&b, k.dest.addr.bytes.data() + 8, 8);
  return mix(ServiceKeyHash{}(k.service), mix(a ^ k.dest.port, b ^ k.dest.addr.family));
}

const ServiceNode* Config::find(const ServiceKey& key) const {
  for (const auto& s : services)
    if (s->cfg.key == key) return s.get();
  return nullptr;
}

Control::Control(ControlOptions options) : options_(options), publisher_(options.workers) {
  std::lock_guard lock(mutex_);
  publish_all_locked();
}

void Control::publish_all_locked() {
  std::vector<dp::ServiceEntry> services;
  services.reserve(config_.services.size());
  for (const auto& s : config_.services) services.push_back(*entry_of(*s));
  publisher_.publish(std::make_unique<const dp::Snapshot>(
      std::move(services), config_.timeouts, options_.sysctls, ++generation_,
      options_.fwmark_rules));
}

void Control::publish_locked(std::span<const ServiceKey> removed,
                             std::span<const size_t> changed) {
  const dp::Snapshot* prev = publisher_.current();
  std::vector<std::shared_ptr<const dp::ServiceEntry>> put;
  put.reserve(changed.size());
  for (size_t i : changed) put.push_back(entry_of(*config_.services[i]));
  publisher_.publish(std::make_unique<const dp::Snapshot>(*prev, removed, put, config_.timeouts,
                                                          ++generation_));
}

Control::~Control() {
  {
    std::lock_guard lock(estimator_mutex_);
    stopping_ = true;
  }
  estimator_cv_.notify_all();
  if (estimator_.joinable()) estimator_.join();
}

std::shared_ptr<const Config> Control::snapshot() const {
  std::lock_guard lock(mutex_);
  return std::make_shared<const Config>(config_);
}

long Control::index_of(const ServiceKey& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? -1 : static_cast<long>(it->second);
}

ServiceNode& Control::writable(size_t index) {
  auto& slot = config_.services[index];
  // Shared with a Config handed out by snapshot(): copy it (its runtime objects stay shared).
  if (slot.use_count() > 1) slot = std::make_shared<const ServiceNode>(*slot);
  // Made and owned here, never published as const to anyone else.
  return const_cast<ServiceNode&>(*slot);
}

int Control::notify(const ConfigDelta& delta) {
  if (!config_listener_ || delta.empty()) return 0;
  int err = config_listener_(delta);
  return delta.removals_only() ? 0 : err;
}

namespace {

// "TCP 192.0.2.1:80", "UDP [2001:db8::1]:53", "FWM 7" (IPv6: "FWM 7 IPv6"), as uvsadm -Ln names
// a service.
std::string service_text(const ServiceKey& k) {
  if (k.is_fwmark()) return fmt::format("FWM {}{}", k.fwmark, k.af == AF_INET6 ? " IPv6" : "");
  const char* proto = k.protocol == kProtoUdp ? "UDP" : k.protocol == kProtoSctp ? "SCTP" : "TCP";
  return fmt::format("{} {}", proto, format_endpoint(k.addr, k.port));
}

std::string dest_text(const DestKey& d) { return format_endpoint(d.addr, d.port); }

// uvsadm -L's Forward column.
const char* fwd_text(Fwd f) {
  const char* label = fwd_label(f);
  return label ? label : "?";
}

}  // namespace

// One line per change an operator follows in the log: services and real servers (weights
// included), local addresses, the table cleared, timeouts.
void Control::log_change(const Command& cmd) const {
  const std::string svc = service_text(cmd.svc.key);
  const std::string dest = dest_text(cmd.dest.key);
  switch (cmd.kind) {
    case CommandKind::kAddService:
    case CommandKind::kEditService:
      log::info("service {}: {} scheduler {}{}", cmd.kind == CommandKind::kAddService ? "added" : "edited",
                svc, cmd.svc.sched_name,
                cmd.svc.persistent() ? fmt::format(" persistent {} s", cmd.svc.timeout) : "");
      break;
    case CommandKind::kDelService:
      log::info("service deleted: {}", svc);
      break;
    case CommandKind::kFlush:
      log::info("table cleared");
      break;
    case CommandKind::kAddDest:
    case CommandKind::kEditDest:
      log::info("real server {}: {} -> {} {} weight {}",
                cmd.kind == CommandKind::kAddDest ? "added" : "edited", svc, dest,
                fwd_text(cmd.dest.fwd), cmd.dest.weight);
      break;
    case CommandKind::kDelDest:
      log::info("real server deleted: {} -> {}", svc, dest);
      break;
    case CommandKind::kAddLaddr:
    case CommandKind::kDelLaddr:
      log::info("local address {}: {} {}", cmd.kind == CommandKind::kAddLaddr ? "added" : "deleted",
                svc, cmd.laddr.to_string());
      break;
    case CommandKind::kSetTimeout:
      log::info("timeouts set: tcp {} tcpfin {} udp {} (0: unchanged)", cmd.timeouts.tcp,
                cmd.timeouts.tcp_fin, cmd.timeouts.udp);
      break;
    case CommandKind::kZero:
      log::debug("counters zeroed: {}", cmd.has(kOptService) ? svc : "all services");
      break;
    default:
      break;  // the sync daemons are logged where they start and stop
  }
}

int Control::apply(const Command& cmd) {
  std::lock_guard lock(mutex_);
  const int err = apply_locked(cmd);
  if (err == 0 && log_changes_) log_change(cmd);
  return err;
}

int Control::apply_locked(const Command& cmd) {
  switch (cmd.kind) {
    case CommandKind::kAddService:
      return add_service(cmd);
    case CommandKind::kEditService:
      return edit_service(cmd);
    case CommandKind::kDelService:
      return del_service(cmd);
    case CommandKind::kFlush:
      return flush();
    case CommandKind::kAddDest:
      return add_dest(cmd);
    case CommandKind::kEditDest:
      return edit_dest(cmd);
    case CommandKind::kDelDest:
      return del_dest(cmd);
    case CommandKind::kZero:
      return zero(cmd);
    case CommandKind::kSetTimeout:
      return set_timeouts(cmd);
    case CommandKind::kStartDaemon:
      return start_daemon(cmd);
    case CommandKind::kStopDaemon:
      return stop_daemon(cmd);
    case CommandKind::kAddLaddr:
      return add_laddr(cmd);
    case CommandKind::kDelLaddr:
      return del_laddr(cmd);
    default:
      return EINVAL;
  }
}

int Control::add_service(const Command& cmd) {
  if (int err = check_service(cmd.svc)) return err;
  if (index_of(cmd.svc.key) >= 0) return EEXIST;
  ConfigDelta delta;
  delta.services_added.push_back(cmd.svc.key);
  if (int err = notify(delta)) return err;
  auto node = std::make_shared<ServiceNode>();
  node->cfg = normalized(cmd.svc);
  node->counters = std::make_shared<dp::CounterSet>(options_.workers);
  node->stats = std::make_shared<StatsCell>();
  node->sched = std::make_shared<sched::ServiceSched>(*sched::find_scheduler(node->cfg.sched_name),
                                                      node->cfg.flags, options_.workers,
                                                      options_.sched);
  const size_t index = config_.services.size();
  config_.services.push_back(std::move(node));
  index_.emplace(cmd.svc.key, index);
  publish_locked({}, std::span(&index, 1));
  return 0;
}

int Control::edit_service(const Command& cmd) {
  long i = index_of(cmd.svc.key);
  if (i < 0) return ESRCH;
  if (int err = check_service(cmd.svc)) return err;
  const size_t index = static_cast<size_t>(i);
  ServiceNode& svc = writable(index);
  ServiceConfig cfg = normalized(cmd.svc);
  svc.sched->set_flags(cfg.flags);
  int err = 0;
  if (cfg.sched_name != svc.cfg.sched_name)
    err = svc.sched->set_scheduler(*sched::find_scheduler(cfg.sched_name));
  // Like the kernel, a scheduler that refuses the service leaves it without one ("none") and
  // the rest of the edit applied: the table changed even though the command failed.
  replace_definition(svc.cfg, cfg);
  if (err) svc.cfg.sched_name = std::string(svc.sched->scheduler().name());
  publish_locked({}, std::span(&index, 1));
  return err;
}

int Control::del_service(const Command& cmd) {
  long i = index_of(cmd.svc.key);
  if (i < 0) return ESRCH;
  const size_t index = static_cast<size_t>(i);
  std::shared_ptr<const ServiceNode> node = config_.services[index];
  ConfigDelta delta;
  delta.services_removed.push_back(node->cfg.key);
  for (const auto& l : node->laddrs) delta.laddrs_removed.push_back(l.addr);
  notify(delta);
  for (const auto& d : node->dests) {
    node->sched->del_dest(*d.rs);
    to_trash(node->cfg.key, d);
  }
  config_.services.erase(config_.services.begin() + i);
  index_.erase(node->cfg.key);
  // The services created after it move up one place (ip_vs_svc_unhash(): O(1) there, one
  // pointer per later service here).
  for (size_t j = index; j < config_.services.size(); ++j) index_[config_.services[j]->cfg.key] = j;
  publish_locked(std::span(&node->cfg.key, 1), {});
  return 0;
}

int Control::flush() {
  ConfigDelta delta;
  for (const auto& s : config_.services) {
    delta.services_removed.push_back(s->cfg.key);
    for (const auto& l : s->laddrs) delta.laddrs_removed.push_back(l.addr);
  }
  notify(delta);
  for (const auto& s : config_.services)
    for (const auto& d : s->dests) {
      s->sched->del_dest(*d.rs);
      to_trash(s->cfg.key, d);
    }
  config_.services.clear();
  index_.clear();
  publish_all_locked();
  return 0;
}

int Control::add_dest(const Command& cmd) {
  long i = index_of(cmd.svc.key);
  if (i < 0) return ESRCH;
  const size_t index = static_cast<size_t>(i);
  const ServiceNode& current = *config_.services[index];
  if (int err = check_dest(current.cfg, cmd.dest)) return err;
  for (const auto& d : current.dests)
    if (d.cfg.key == cmd.dest.key) return EEXIST;
  auto trashed = trash_.find(TrashKey{current.cfg.key, cmd.dest.key});
  ConfigDelta delta;
  if (trashed != trash_.end()) delta.dests_removed.emplace_back(current.cfg.key, trashed->second.dest.cfg);
  delta.dests_added.emplace_back(current.cfg.key, cmd.dest);
  if (int err = notify(delta)) return err;
  ServiceNode& svc = writable(index);
  DestNode node;
  if (trashed != trash_.end()) {
    node = std::move(trashed->second.dest);
    trash_.erase(trashed);
    if (!node.rs->counts_into(*svc.counters)) {
      // Back into a service deleted and made again: as __ip_vs_update_dest() binding the dest
      // to another svc, its statistics start from zero and it counts for the new service.
      node.stats->zero_now(node.rs->counters().fold());
      node.rs->rebind_service(svc.counters);
    }
  } else {
    node.rs = std::make_shared<dp::RealServer>(cmd.dest.key, options_.workers, svc.counters);
    node.stats = std::make_shared<StatsCell>();
  }
  node.cfg = cmd.dest;
  // The scheduler's add_dest error (mh over capacity) is ignored, as the kernel ignores it.
  svc.sched->add_dest(node.rs, cmd.dest);
  // The kernel inserts at the head of the list: newest first.
  svc.dests.insert(svc.dests.begin(), std::move(node));
  publish_locked({}, std::span(&index, 1));
  return 0;
}

int Control::edit_dest(const Command& cmd) {
  long i = index_of(cmd.svc.key);
  if (i < 0) return ESRCH;
  const size_t index = static_cast<size_t>(i);
  const ServiceNode& current = *config_.services[index];
  if (int err = check_dest(current.cfg, cmd.dest)) return err;
  const DestNode* old = nullptr;
  for (const auto& d : current.dests)
    if (d.cfg.key == cmd.dest.key) old = &d;
  if (!old) return ENOENT;
  ConfigDelta delta;
  delta.dests_removed.emplace_back(current.cfg.key, old->cfg);
  delta.dests_added.emplace_back(current.cfg.key, cmd.dest);
  if (int err = notify(delta)) return err;
  ServiceNode& svc = writable(index);
  DestNode* d = find_dest(svc, cmd.dest.key);
  d->cfg = cmd.dest;
  svc.sched->edit_dest(*d->rs, cmd.dest);
  publish_locked({}, std::span(&index, 1));
  return 0;
}

int Control::del_dest(const Command& cmd) {
  long i = index_of(cmd.svc.key);
  if (i < 0) return ESRCH;
  const size_t index = static_cast<size_t>(i);
  const ServiceNode& current = *config_.services[index];
  auto pos = std::find_if(current.dests.begin(), current.dests.end(),
                          [&](const DestNode& d) { return d.cfg.key == cmd.dest.key; });
  if (pos == current.dests.end()) return ENOENT;
  const auto at = pos - current.dests.begin();
  // To the trash: its replies stay steered while it is there (no delta).
  ServiceNode& svc = writable(index);
  auto it = svc.dests.begin() + at;
  svc.sched->del_dest(*it->rs);
  to_trash(svc.cfg.key, std::move(*it));
  svc.dests.erase(it);
  publish_locked({}, std::span(&index, 1));
  return 0;
}

int Control::zero(const Command& cmd) {
  // The zero points live in the shared StatsCells: nothing to copy or publish.
  auto zero_service = [](const ServiceNode& s) {
    s.stats->zero_now(s.counters->fold());
    for (auto& d : s.dests) d.stats->zero_now(d.rs->counters().fold());
  };
  if (cmd.has(kOptService)) {
    long i = index_of(cmd.svc.key);
    if (i < 0) return ESRCH;
    zero_service(*config_.services[static_cast<size_t>(i)]);
    return 0;
  }
  for (auto& s : config_.services) zero_service(*s);
  return 0;
}

int Control::set_timeouts(const Command& cmd) {
  const Timeouts& t = cmd.timeouts;
  if (int err = check_timeouts(t)) return err;
  if (t.tcp) config_.timeouts.tcp = t.tcp;
  if (t.tcp_fin) config_.timeouts.tcp_fin = t.tcp_fin;
  if (t.udp) config_.timeouts.udp = t.udp;
  publish_locked({}, {});
  return 0;
}

int Control::start_daemon(const Command& cmd) {
  const DaemonConfig& d = cmd.daemon;
  if (int err = check_daemon(d)) return err;
  for (const auto& running : config_.daemons)
    if (running.state == d.state) return EEXIST;
  if (d.mcast_ifn.empty() || if_nametoindex(d.mcast_ifn.c_str()) == 0) return ENODEV;
  DaemonConfig started = d;
  // Fill in what was not given, as the kernel's start_sync_thread() does.
  if (!started.has_group) {
    started.mcast_group = InetAddr::v4(0xE0000051);  // 224.0.0.81
    started.has_group = true;
  }
  if (!started.mcast_port) started.mcast_port = 8848;
  if (!started.mcast_ttl) started.mcast_ttl = 1;
  if (!started.sync_maxlen) started.sync_maxlen = started.mcast_group.is_v6() ? 1452 : 1472;
  if (daemon_listener_)
    if (int err = daemon_listener_(started, true)) return err;
  config_.daemons.push_back(started);
  std::sort(config_.daemons.begin(), config_.daemons.end(),
            [](const DaemonConfig& a, const DaemonConfig& b) { return a.state < b.state; });
  return 0;
}

int Control::stop_daemon(const Command& cmd) {
  auto it = std::find_if(config_.daemons.begin(), config_.daemons.end(),
                         [&](const DaemonConfig& d) { return d.state == cmd.daemon.state; });
  if (it == config_.daemons.end()) return ESRCH;
  if (daemon_listener_) daemon_listener_(*it, false);
  config_.daemons.erase(it);
  return 0;
}

int Control::add_laddr(const Command& cmd) {
  long i = index_of(cmd.svc.key);
  if (i < 0) return ESRCH;
  const size_t index = static_cast<size_t>(i);
  const ServiceNode& current = *config_.services[index];
  if (cmd.laddr.family != current.cfg.key.af || !dest_address_ok(cmd.laddr)) return EINVAL;
  for (const auto& l : current.laddrs)
    if (l.addr == cmd.laddr) return EEXIST;
  ConfigDelta delta;
  delta.laddrs_added.push_back(cmd.laddr);
  if (int err = notify(delta)) return err;
  writable(index).laddrs.push_back(LaddrNode{cmd.laddr, std::make_shared<conn::LocalAddrCounterSet>(options_.workers)});
  publish_locked({}, std::span(&index, 1));
  return 0;
}

int Control::del_laddr(const Command& cmd) {
  long i = index_of(cmd.svc.key);
  if (i < 0) return ESRCH;
  const size_t index = static_cast<size_t>(i);
  const ServiceNode& current = *config_.services[index];
  auto pos = std::find_if(current.laddrs.begin(), current.laddrs.end(),
                          [&](const LaddrNode& l) { return l.addr == cmd.laddr; });
  if (pos == current.laddrs.end()) return ENOENT;
  const auto at = pos - current.laddrs.begin();
  ConfigDelta delta;
  delta.laddrs_removed.push_back(cmd.laddr);
  notify(delta);
  ServiceNode& svc = writable(index);
  svc.laddrs.erase(svc.laddrs.begin() + at);
  publish_locked({}, std::span(&index, 1));
  return 0;
}

ServiceView Control::view_of(const ServiceNode& s) {
  ServiceView sv;
  sv.cfg = s.cfg;
  sv.cfg.sched_name = std::string(s.sched->scheduler().name());
  sv.stats = s.stats->shown(s.counters->fold());
  sv.rate = s.stats->estimator.rates();
  sv.dests.reserve(s.dests.size());
  for (const auto& d : s.dests) {
    DestView dv;
    dv.cfg = d.cfg;
    dv.activeconns = static_cast<uint32_t>(d.rs->activeconns());
    dv.inactconns = static_cast<uint32_t>(d.rs->inactconns());
    dv.persistconns = static_cast<uint32_t>(d.rs->persistconns());
    dv.stats = d.stats->shown(d.rs->counters().fold());
    dv.rate = d.stats->estimator.rates();
    sv.dests.push_back(dv);
  }
  for (const auto& l : s.laddrs)
    sv.laddrs.push_back(LaddrView{l.addr, l.counters->port_conflicts(), l.counters->conns()});
  return sv;
}

TableView Control::summary_locked() const {
  TableView view;
  view.conn_tab_size = options_.conn_tab_size;
  view.timeouts = config_.timeouts;
  view.daemons = config_.daemons;
  return view;
}

TableView Control::summary() const {
  std::lock_guard lock(mutex_);
  return summary_locked();
}

TableView Control::table() const {
  std::lock_guard lock(mutex_);
  TableView view = summary_locked();
  view.services.reserve(config_.services.size());
  for (const auto& s : config_.services) view.services.push_back(view_of(*s));
  return view;
}

std::optional<ServiceView> Control::service(const ServiceKey& key) const {
  std::lock_guard lock(mutex_);
  long i = index_of(key);
  if (i < 0) return std::nullopt;
  return view_of(*config_.services[static_cast<size_t>(i)]);
}

int Control::pick(const ServiceKey& key, std::span<const ClientTuple> clients,
                  PickView& out) const {
  std::shared_ptr<const sched::SchedView> view;
  ServiceKey svc;
  {
    // The snapshot is replaced only under mutex_; the view, once held, lives on by itself.
    std::lock_guard lock(mutex_);
    const dp::ServiceEntry* entry = publisher_.current()->find_key(key);
    if (entry == nullptr) return ESRCH;
    view = entry->sched;
    svc = entry->cfg.key;
  }
  if (!view) return ESRCH;
  const sched::Scheduler& scheduler = view->scheduler();
  out.sched_name = scheduler.name();
  if (!scheduler.picks_by_packet_key()) return EOPNOTSUPP;
  if (svc.is_fwmark() && scheduler.name() == "dh") return EOPNOTSUPP;
  for (const ClientTuple& c : clients)
    if (c.addr.family != svc.af) return EINVAL;

  out.dests.clear();
  for (const sched::Dest* d : view->dests()) out.dests.push_back(d->key());
  out.picks.clear();
  out.picks.reserve(clients.size());
  const sched::Nanos now = std::chrono::steady_clock::now().time_since_epoch();
  for (const ClientTuple& c : clients) {
    // What the worker's ip_vs_schedule() hands the scheduler (dp/pipeline.cc).
    const sched::PacketKey packet{c.addr, svc.addr, c.port, svc.protocol};
    const sched::Dest* d = scheduler.schedule(*view, nullptr, packet, now);
    int32_t index = d == nullptr ? -1 : view->index_of_serial(d->serial());
    if (d != nullptr && index < 0) {
      // A dest deleted from the list but still in an mh table whose rebuild was refused
      // (more dests than slots): the workers pick it too, so it is named.
      const auto begin = out.dests.begin() + static_cast<long>(view->dests().size());
      const auto it = std::find(begin, out.dests.end(), d->key());
      index = static_cast<int32_t>(it - out.dests.begin());
      if (it == out.dests.end()) out.dests.push_back(d->key());
    }
    out.picks.push_back(index);
  }
  return 0;
}

std::vector<ConnView> Control::connections() const {
  std::function<std::vector<ConnView>()> source;
  {
    std::lock_guard lock(mutex_);
    source = connection_source_;
  }
  return source ? source() : std::vector<ConnView>{};
}

int Control::set_config_listener(ConfigListener listener) {
  std::lock_guard lock(mutex_);
  config_listener_ = std::move(listener);
  if (!config_listener_) return 0;
  // Everything there is, as additions: the listener starts from nothing.
  ConfigDelta delta;
  for (const auto& s : config_.services) {
    delta.services_added.push_back(s->cfg.key);
    for (const auto& d : s->dests) delta.dests_added.emplace_back(s->cfg.key, d.cfg);
    for (const auto& l : s->laddrs) delta.laddrs_added.push_back(l.addr);
  }
  for (const auto& [key, t] : trash_) delta.dests_added.emplace_back(t.service, t.dest.cfg);
  return delta.empty() ? 0 : config_listener_(delta);
}

int Control::set_daemon_listener(DaemonListener listener) {
  std::lock_guard lock(mutex_);
  daemon_listener_ = std::move(listener);
  int first = 0;
  if (daemon_listener_)
    for (const auto& d : config_.daemons)
      if (int err = daemon_listener_(d, true); err && !first) first = err;
  return first;
}

void Control::set_connection_source(std::function<std::vector<ConnView>()> source) {
  std::lock_guard lock(mutex_);
  connection_source_ = std::move(source);
}

void Control::estimate_now() {
  std::lock_guard lock(mutex_);
  for (const auto& s : config_.services) {
    s->stats->estimator.sample(s->counters->fold());
    for (const auto& d : s->dests) d.stats->estimator.sample(d.rs->counters().fold());
  }
  purge_trash();
  publisher_.reclaim();
}

void Control::to_trash(const ServiceKey& svc, DestNode dest) {
  TrashKey key{svc, dest.cfg.key};
  trash_.insert_or_assign(key, TrashEntry{svc, std::move(dest), std::chrono::steady_clock::now()});
}

void Control::purge_trash() {
  auto now = std::chrono::steady_clock::now();
  ConfigDelta delta;
  for (auto it = trash_.begin(); it != trash_.end();) {
    TrashEntry& t = it->second;
    // Connections and templates still point at it: its idle period starts when they are gone.
    const auto& rs = *t.dest.rs;
    if (rs.activeconns() + rs.inactconns() + rs.persistconns() > 0) t.since = now;
    if (now - t.since >= kTrashPeriod) {
      delta.dests_removed.emplace_back(t.service, t.dest.cfg);
      it = trash_.erase(it);
    } else {
      ++it;
    }
  }
  notify(delta);
}

void Control::start_estimator() {
  estimator_ = std::thread([this] {
    std::unique_lock lock(estimator_mutex_);
    while (!estimator_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; }))
      estimate_now();
  });
}

}  // namespace uvs::ctl
