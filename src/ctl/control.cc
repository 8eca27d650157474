#include "ctl/control.h"

#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "ctl/validate.h"
#include "sched/registry.h"

namespace uvs::ctl {

namespace {

ServiceNode* find_mut(Config& cfg, const ServiceKey& key) {
  for (auto& s : cfg.services)
    if (s.cfg.key == key) return &s;
  return nullptr;
}

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

}  // namespace

const ServiceNode* Config::find(const ServiceKey& key) const {
  for (const auto& s : services)
    if (s.cfg.key == key) return &s;
  return nullptr;
}

Control::Control(ControlOptions options)
    : options_(options), current_(std::make_shared<const Config>()), publisher_(options.workers) {
  std::lock_guard lock(mutex_);
  publish_locked();
}

void Control::publish_locked() {
  std::vector<dp::ServiceEntry> services;
  services.reserve(current_->services.size());
  for (const auto& s : current_->services) {
    dp::ServiceEntry e;
    e.cfg = s.cfg;
    e.sched = s.sched->view();
    e.counters = s.counters;
    for (const auto& l : s.laddrs) e.laddrs.push_back(l.addr);
    services.push_back(std::move(e));
  }
  publisher_.publish(std::make_unique<const dp::Snapshot>(
      std::move(services), current_->timeouts, options_.sysctls, ++generation_,
      options_.fwmark_rules));
  if (config_listener_) config_listener_(*current_, trash_);
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
  return current_;
}

int Control::apply(const Command& cmd) {
  std::lock_guard lock(mutex_);
  Config next = *current_;
  int err = apply_locked(cmd, next);
  // -E that left a service without its scheduler changed the table even though it failed.
  bool changed = err == 0 || cmd.kind == CommandKind::kEditService;
  if (changed) {
    current_ = std::make_shared<const Config>(std::move(next));
    publish_locked();
  }
  return err;
}

int Control::apply_locked(const Command& cmd, Config& next) {
  switch (cmd.kind) {
    case CommandKind::kAddService:
      return add_service(cmd, next);
    case CommandKind::kEditService:
      return edit_service(cmd, next);
    case CommandKind::kDelService:
      return del_service(cmd, next);
    case CommandKind::kFlush:
      for (auto& s : next.services)
        for (auto& d : s.dests) {
          s.sched->del_dest(*d.rs);
          to_trash(s.cfg.key, std::move(d));
        }
      next.services.clear();
      return 0;
    case CommandKind::kAddDest:
      return add_dest(cmd, next);
    case CommandKind::kEditDest:
      return edit_dest(cmd, next);
    case CommandKind::kDelDest:
      return del_dest(cmd, next);
    case CommandKind::kZero:
      return zero(cmd, next);
    case CommandKind::kSetTimeout:
      return set_timeouts(cmd, next);
    case CommandKind::kStartDaemon:
      return start_daemon(cmd, next);
    case CommandKind::kStopDaemon:
      return stop_daemon(cmd, next);
    case CommandKind::kAddLaddr:
      return add_laddr(cmd, next);
    case CommandKind::kDelLaddr:
      return del_laddr(cmd, next);
    default:
      return EINVAL;
  }
}

int Control::add_service(const Command& cmd, Config& next) {
  if (int err = check_service(cmd.svc)) return err;
  if (find_mut(next, cmd.svc.key)) return EEXIST;
  ServiceNode node;
  node.cfg = normalized(cmd.svc);
  node.counters = std::make_shared<dp::CounterSet>(options_.workers);
  node.stats = std::make_shared<StatsCell>();
  node.sched = std::make_shared<sched::ServiceSched>(*sched::find_scheduler(node.cfg.sched_name),
                                                     node.cfg.flags, options_.workers,
                                                     options_.sched);
  next.services.push_back(std::move(node));
  return 0;
}

int Control::edit_service(const Command& cmd, Config& next) {
  ServiceNode* svc = find_mut(next, cmd.svc.key);
  if (!svc) return ESRCH;
  if (int err = check_service(cmd.svc)) return err;
  ServiceConfig cfg = normalized(cmd.svc);
  svc->sched->set_flags(cfg.flags);
  int err = 0;
  if (cfg.sched_name != svc->cfg.sched_name)
    err = svc->sched->set_scheduler(*sched::find_scheduler(cfg.sched_name));
  // Like the kernel, a scheduler that refuses the service leaves it without one ("none") and
  // the rest of the edit applied.
  replace_definition(svc->cfg, cfg);
  if (err) svc->cfg.sched_name = std::string(svc->sched->scheduler().name());
  return err;
}

int Control::del_service(const Command& cmd, Config& next) {
  auto it = std::find_if(next.services.begin(), next.services.end(),
                         [&](const ServiceNode& s) { return s.cfg.key == cmd.svc.key; });
  if (it == next.services.end()) return ESRCH;
  for (auto& d : it->dests) {
    it->sched->del_dest(*d.rs);
    to_trash(it->cfg.key, std::move(d));
  }
  next.services.erase(it);
  return 0;
}

int Control::add_dest(const Command& cmd, Config& next) {
  ServiceNode* svc = find_mut(next, cmd.svc.key);
  if (!svc) return ESRCH;
  if (int err = check_dest(svc->cfg, cmd.dest)) return err;
  if (find_dest(*svc, cmd.dest.key)) return EEXIST;
  DestNode node;
  if (auto revived = from_trash(svc->cfg.key, cmd.dest.key)) {
    node = std::move(*revived);
  } else {
    node.rs = std::make_shared<dp::RealServer>(cmd.dest.key, options_.workers, svc->counters);
    node.stats = std::make_shared<StatsCell>();
  }
  node.cfg = cmd.dest;
  // The scheduler's add_dest error (mh over capacity) is ignored, as the kernel ignores it.
  svc->sched->add_dest(node.rs, cmd.dest);
  // The kernel inserts at the head of the list: newest first.
  svc->dests.insert(svc->dests.begin(), std::move(node));
  return 0;
}

int Control::edit_dest(const Command& cmd, Config& next) {
  ServiceNode* svc = find_mut(next, cmd.svc.key);
  if (!svc) return ESRCH;
  if (int err = check_dest(svc->cfg, cmd.dest)) return err;
  DestNode* d = find_dest(*svc, cmd.dest.key);
  if (!d) return ENOENT;
  d->cfg = cmd.dest;
  svc->sched->edit_dest(*d->rs, cmd.dest);
  return 0;
}

int Control::del_dest(const Command& cmd, Config& next) {
  ServiceNode* svc = find_mut(next, cmd.svc.key);
  if (!svc) return ESRCH;
  auto it = std::find_if(svc->dests.begin(), svc->dests.end(),
                         [&](const DestNode& d) { return d.cfg.key == cmd.dest.key; });
  if (it == svc->dests.end()) return ENOENT;
  svc->sched->del_dest(*it->rs);
  to_trash(svc->cfg.key, std::move(*it));
  svc->dests.erase(it);
  return 0;
}

int Control::zero(const Command& cmd, Config& next) {
  auto zero_service = [](ServiceNode& s) {
    s.stats->zero_now(s.counters->fold());
    for (auto& d : s.dests) d.stats->zero_now(d.rs->counters().fold());
  };
  if (cmd.has(kOptService)) {
    ServiceNode* svc = find_mut(next, cmd.svc.key);
    if (!svc) return ESRCH;
    zero_service(*svc);
    return 0;
  }
  for (auto& s : next.services) zero_service(s);
  return 0;
}

int Control::set_timeouts(const Command& cmd, Config& next) {
  const Timeouts& t = cmd.timeouts;
  if (t.tcp < 0 || t.tcp_fin < 0 || t.udp < 0) return EINVAL;
  if (t.tcp) next.timeouts.tcp = t.tcp;
  if (t.tcp_fin) next.timeouts.tcp_fin = t.tcp_fin;
  if (t.udp) next.timeouts.udp = t.udp;
  return 0;
}

int Control::start_daemon(const Command& cmd, Config& next) {
  const DaemonConfig& d = cmd.daemon;
  if (d.state != kDaemonMaster && d.state != kDaemonBackup) return EINVAL;
  for (const auto& running : next.daemons)
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
  next.daemons.push_back(started);
  std::sort(next.daemons.begin(), next.daemons.end(),
            [](const DaemonConfig& a, const DaemonConfig& b) { return a.state < b.state; });
  return 0;
}

int Control::stop_daemon(const Command& cmd, Config& next) {
  auto it = std::find_if(next.daemons.begin(), next.daemons.end(),
                         [&](const DaemonConfig& d) { return d.state == cmd.daemon.state; });
  if (it == next.daemons.end()) return ESRCH;
  next.daemons.erase(it);
  return 0;
}

int Control::add_laddr(const Command& cmd, Config& next) {
  ServiceNode* svc = find_mut(next, cmd.svc.key);
  if (!svc) return ESRCH;
  if (cmd.laddr.family != svc->cfg.key.af || !dest_address_ok(cmd.laddr)) return EINVAL;
  for (const auto& l : svc->laddrs)
    if (l.addr == cmd.laddr) return EEXIST;
  svc->laddrs.push_back(LaddrNode{cmd.laddr, std::make_shared<LaddrRuntime>()});
  return 0;
}

int Control::del_laddr(const Command& cmd, Config& next) {
  ServiceNode* svc = find_mut(next, cmd.svc.key);
  if (!svc) return ESRCH;
  auto it = std::find_if(svc->laddrs.begin(), svc->laddrs.end(),
                         [&](const LaddrNode& l) { return l.addr == cmd.laddr; });
  if (it == svc->laddrs.end()) return ENOENT;
  svc->laddrs.erase(it);
  return 0;
}

TableView Control::table() const {
  std::lock_guard lock(mutex_);
  TableView view;
  view.conn_tab_size = options_.conn_tab_size;
  view.timeouts = current_->timeouts;
  view.daemons = current_->daemons;
  view.services.reserve(current_->services.size());
  for (const auto& s : current_->services) {
    ServiceView sv;
    sv.cfg = s.cfg;
    sv.cfg.sched_name = std::string(s.sched->scheduler().name());
    sv.stats = s.stats->shown(s.counters->fold());
    sv.rate = s.stats->estimator.rates();
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
      sv.laddrs.push_back(LaddrView{l.addr, l.rt->port_conflicts, l.rt->conns});
    view.services.push_back(std::move(sv));
  }
  return view;
}

std::vector<ConnView> Control::connections() const {
  std::function<std::vector<ConnView>()> source;
  {
    std::lock_guard lock(mutex_);
    source = connection_source_;
  }
  return source ? source() : std::vector<ConnView>{};
}

void Control::set_config_listener(ConfigListener listener) {
  std::lock_guard lock(mutex_);
  config_listener_ = std::move(listener);
  if (config_listener_) config_listener_(*current_, trash_);
}

void Control::set_connection_source(std::function<std::vector<ConnView>()> source) {
  std::lock_guard lock(mutex_);
  connection_source_ = std::move(source);
}

void Control::estimate_now() {
  std::lock_guard lock(mutex_);
  for (const auto& s : current_->services) {
    s.stats->estimator.sample(s.counters->fold());
    for (const auto& d : s.dests) d.stats->estimator.sample(d.rs->counters().fold());
  }
  purge_trash();
  publisher_.reclaim();
}

void Control::to_trash(const ServiceKey& svc, DestNode dest) {
  trash_.push_back(TrashEntry{svc, std::move(dest), std::chrono::steady_clock::now()});
}

std::optional<DestNode> Control::from_trash(const ServiceKey& svc, const DestKey& key) {
  for (auto it = trash_.begin(); it != trash_.end(); ++it) {
    if (it->service == svc && it->dest.cfg.key == key) {
      DestNode node = std::move(it->dest);
      trash_.erase(it);
      return node;
    }
  }
  return std::nullopt;
}

void Control::purge_trash() {
  auto now = std::chrono::steady_clock::now();
  for (auto& t : trash_) {
    // Connections and templates still point at it: its idle period starts when they are gone.
    const auto& rs = *t.dest.rs;
    if (rs.activeconns() + rs.inactconns() + rs.persistconns() > 0) t.since = now;
  }
  std::erase_if(trash_, [&](const TrashEntry& t) { return now - t.since >= kTrashPeriod; });
}

void Control::start_estimator() {
  estimator_ = std::thread([this] {
    std::unique_lock lock(estimator_mutex_);
    while (!estimator_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; }))
      estimate_now();
  });
}

}  // namespace uvs::ctl
