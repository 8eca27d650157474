#include "uvsd/dataplane.h"

#include <net/if.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fmt/core.h>

#include "util/log.h"

namespace uvs::daemon {

namespace {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// The kernel's next hops seen through one worker's lock-free view, mapped to the worker's io
// ports (only the data interfaces can carry uvs's packets).
class KernelRouter : public dp::Router {
 public:
  KernelRouter(nl::WorkerNextHops* hops, std::span<const io::PortInfo> ports)
      : hops_(hops), ports_(ports.begin(), ports.end()) {}

  dp::RouteResult route(const InetAddr& dst, dp::Hop* hop) override {
    const nl::NextHop& nh = hops_->resolve(dst);
    switch (nh.state) {
      case nl::NextHopState::kPending:
        return dp::RouteResult::kPending;
      case nl::NextHopState::kUnreachable:
        return dp::RouteResult::kUnreachable;
      case nl::NextHopState::kResolved:
        break;
    }
    if (nh.is_local) return dp::RouteResult::kLocal;
    for (uint16_t port = 0; port < ports_.size(); ++port) {
      if (static_cast<uint32_t>(ports_[port].ifindex) != nh.ifindex) continue;
      hop->l2.port = port;
      std::memcpy(hop->l2.src.data(), nh.src_mac.bytes.data(), 6);
      std::memcpy(hop->l2.dst.data(), nh.dst_mac.bytes.data(), 6);
      hop->src = nh.src;
      hop->mtu = nh.mtu ? nh.mtu : ports_[port].mtu;
      return dp::RouteResult::kResolved;
    }
    return dp::RouteResult::kUnreachable;  // the route leaves by an interface uvs does not own
  }
  void begin_burst() override { hops_->begin_burst(); }
  void idle() override { hops_->go_idle(); }

 private:
  nl::WorkerNextHops* hops_;
  std::vector<io::PortInfo> ports_;
};

}  // namespace

struct DataPlane::Worker {
  unsigned index = 0;
  std::unique_ptr<io::AfXdpIo> io;
  std::unique_ptr<KernelRouter> router;
  std::unique_ptr<dp::Pipeline> pipeline;
  dp::WorkerMirror mirror;  // what report() reads
  std::thread thread;
};

unsigned interface_queues(const std::string& ifname) {
  std::error_code ec;
  unsigned n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/class/net/" + ifname + "/queues", ec))
    if (e.path().filename().string().rfind("rx-", 0) == 0) ++n;
  return n ? n : 1;
}

DataPlane::DataPlane(const DataPlaneOptions& options, ctl::Control& control)
    : options_(options), control_(control) {}

std::unique_ptr<DataPlane> DataPlane::start(const DataPlaneOptions& options,
                                            ctl::Control& control, std::string* error) {
  std::unique_ptr<DataPlane> dp(new DataPlane(options, control));
  io::XdpSteeringConfig sc;
  sc.force_generic = options.force_generic;
  sc.offload = options.offload;
  // Taking over live traffic: until this uvsd's sockets serve, its packets are dropped (and
  // retransmitted), not handed to the kernel, which would forward a real server's segments
  // untranslated and have the client reset the connection.
  sc.drop_without_socket = !options.handover_links.empty();
  sc.max_services = options.max_services;
  sc.max_nat_replies = options.max_reals;
  dp->steering_ = io::XdpSteering::create(sc, error);
  if (!dp->steering_) return nullptr;
  dp->steering_->take_handover_from(options.handover_links);
  dp->resolver_ = nl::NextHopResolver::start({}, error);
  if (!dp->resolver_) return nullptr;
  // The maps are filled before the program meets any interface: no packet of a service finds
  // it unsteered (and, taking over, no real server's reply reaches the kernel, which would
  // forward it untranslated and have the client reset the connection).
  if (!dp->steering_->set_fwmark_rules(control.options().fwmark_rules, error)) return nullptr;
  if (int err = control.set_config_listener(
          [raw = dp.get()](const ctl::ConfigDelta& change) { return raw->sync_steering(change); })) {
    if (error) *error = fmt::format("the table does not fit the steering maps: {}", std::strerror(err));
    return nullptr;
  }
  if (!options.peer_laddrs.empty()) {
    io::SteerDelta peers;
    peers.local_addrs_added = options.peer_laddrs;
    if (int err = dp->steering_->apply(peers, error)) {
      if (error) *error = fmt::format("--peer-laddr: {} ({})", *error, std::strerror(err));
      return nullptr;
    }
  }
  if (options.before_attach && !options.before_attach()) {
    if (error) *error = "the predecessor did not stop";
    return nullptr;
  }
  for (const auto& ifname : options.interfaces) {
    auto mode = dp->steering_->attach(ifname, error);
    if (!mode) return nullptr;
    log::notice("{}: XDP attached in {} mode", ifname, io::to_string(*mode));
  }

  if (options.workers > 1) dp->handoff_ = std::make_unique<dp::Handoff>(options.workers);
  if (options.offload) {
    dp->flows_ = io::XdpFlows::open(*dp->steering_, error);
    if (!dp->flows_) return nullptr;
    for (const auto& ifname : options.interfaces) {
      if (dp->egresses_.count == dp::XdpEgresses::kMax) break;
      dp->egresses_.ifindex[dp->egresses_.count++] = static_cast<int>(if_nametoindex(ifname.c_str()));
    }
    dp->egress_said_.assign(dp->egresses_.count, -1);
    for (unsigned w = 0; w < options.workers; ++w)
      dp->offload_rings_.push_back(std::make_unique<dp::OffloadRing>());
  }
  // Queue q of every interface belongs to worker q % workers; uvsd caps the workers at the
  // smallest queue count, so every worker has a socket (and so a port) on every interface.
  for (unsigned w = 0; w < options.workers; ++w) {
    auto worker = std::make_unique<Worker>();
    worker->index = w;
    io::AfXdpConfig xc;
    // One sendto() may then carry a whole burst (kernel >= 6.17; older ones ignore it).
    xc.tx_skb_budget = dp::Pipeline::kBurst;
    for (const auto& ifname : options.interfaces)
      for (unsigned q = w; q < interface_queues(ifname); q += options.workers)
        xc.queues.push_back(io::AfXdpQueue{ifname, q});
    worker->io = io::AfXdpIo::create(xc, dp->steering_.get(), error);
    if (!worker->io) return nullptr;
    std::string queues;
    for (const auto& q : xc.queues) queues += fmt::format(" {}:{}", q.interface, q.queue);
    log::notice("worker {}: AF_XDP {} mode on queues{}", w,
                worker->io->zero_copy() ? "zero-copy" : "copy", queues);
    nl::WorkerNextHops* hops = dp->resolver_->add_worker();
    worker->router = std::make_unique<KernelRouter>(hops, worker->io->ports());
    dp::PipelineOptions po;
    po.worker = w;
    po.workers = options.workers;
    po.handoff = dp->handoff_.get();
    po.tracker.table.capacity = conn::per_worker_capacity(options.conn_max, options.workers);
    dp->sync_ports_.push_back(std::make_unique<dp::SyncPort>(po.tracker.table.capacity));
    if (const int qlen = control.options().sysctls.sync_qlen_max; qlen > 0)
      dp->sync_ports_.back()->outbox().set_queue_limit(
          static_cast<uint32_t>(qlen) / options.workers);
    po.sync = dp->sync_ports_.back().get();
    if (dp->flows_) {
      // Each worker owns an even slice of the stats slots (two per connection).
      const uint32_t slice = dp->flows_->slots() / options.workers & ~1u;
      po.offload = dp::OffloadOptions{dp->offload_rings_[w].get(), dp->flows_->stats(), w * slice,
                                      slice, &dp->egresses_};
    }
    worker->pipeline = std::make_unique<dp::Pipeline>(po, control.data_plane(), *worker->router,
                                                      *worker->io, now_ms());
    dp->workers_.push_back(std::move(worker));
  }
  std::vector<conn::ConnListing*> listings;
  for (auto& w : dp->workers_) listings.push_back(&w->pipeline->listing());
  dp->listings_ = std::make_unique<dp::WorkerListings>(std::move(listings));
  control.set_connection_source([raw = dp.get()] { return raw->connections(); });
  if (int err = control.set_daemon_listener([raw = dp.get()](const DaemonConfig& d, bool start) {
        return raw->run_daemon(d, start);
      })) {
    if (error) *error = fmt::format("the sync daemon cannot start: {}", std::strerror(err));
    return nullptr;
  }
  // A predecessor's connections go straight into the tables, before any worker runs: its
  // packets, already arriving on the sockets, find their connections.
  if (!options.adopt.empty()) {
    const dp::Snapshot* snap = control.data_plane().current();
    std::vector<sync::SyncConn> records(sync::kMaxConnsPerMessage);
    const uint64_t now = now_ms();
    for (const auto& m : options.adopt) {
      sync::ReadStats stats;
      const size_t n = sync::read_message(m, 0, records, stats);
      for (size_t i = 0; i < n; ++i) {
        const sync::SyncConn& r = records[i];
        for (unsigned w = 0; w < options.workers; ++w) {
          if (!(r.flags & sync::kFlagTemplate) && w != dp->owner_of(r)) continue;
          conn::Tracker& tracker = dp->workers_[w]->pipeline->tracker();
          const sync::Applied a =
              sync::apply_record(tracker, r, &dp::SyncPort::find_dest, const_cast<dp::Snapshot*>(snap),
                                 snap->sysctls().sync_threshold, now);
          if (a != sync::Applied::kTableFull && a != sync::Applied::kIgnored) ++dp->adopted_;
        }
      }
    }
  }
  for (auto& w : dp->workers_) {
    Worker* wp = w.get();
    w->thread = std::thread([raw = dp.get(), wp] { raw->run(*wp); });
  }
  if (dp->flows_) {
    dp->flow_writer_ = std::thread([raw = dp.get()] { raw->write_flows(); });
    log::notice("fast path on: {} offloaded directions at most", dp->flows_->slots());
  } else {
    log::notice("fast path off (--no-offload): every packet goes through user space");
  }
  dp->watcher_ = std::thread([raw = dp.get()] { raw->watch_drops(); });
  return dp;
}

DataPlane::~DataPlane() {
  control_.set_config_listener(nullptr);
  control_.set_connection_source(nullptr);
  control_.set_daemon_listener(nullptr);
  {
    std::lock_guard lock(daemons_mutex_);
    sync_masters_.clear();
    sync_backups_.clear();
  }
  stopping_ = true;
  if (watcher_.joinable()) watcher_.join();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  workers_stopped_ = true;
  if (flow_writer_.joinable()) flow_writer_.join();
  // What each worker did, for the operator's log (and for post-mortems in tests).
  for (auto& w : workers_) {
    const dp::PipelineStats& st = w->pipeline->stats();
    std::string drops;
    for (size_t i = 0; i < st.drops.size(); ++i)
      if (st.drops[i]) drops += fmt::format(" {}={}", dp::drop_name(static_cast<dp::Drop>(i)), st.drops[i]);
    log::info("worker {}: rx={} tx={} passed={} forwarded={} icmp={} held={} "
               "handed_off={} taken_over={} drops:{}",
               w->index, st.rx, st.tx, st.passed, st.forwarded, st.icmp_sent, st.held,
               st.handed_off, st.taken_over, drops.empty() ? " none" : drops);
    if (st.synproxy_synacks || st.synproxy_opened)
      log::info("worker {}: synproxy: synacks={} opened={} established={} "
                "syn_retries={} gave_up={}",
                 w->index, st.synproxy_synacks, st.synproxy_opened, st.synproxy_established,
                 st.synproxy_syn_retries, st.synproxy_gave_up);
    const dp::Offload& off = w->pipeline->offload();
    if (off.enabled() && (off.queue_full() || off.no_slot()))
      log::warning("worker {}: fast path: {} requests the map writer had no room for, "
                 "{} connections the fast path had no room for",
                 w->index, off.queue_full(), off.no_slot());
  }
  if (flows_ && !workers_.empty()) {  // not after a start that failed half-way
    const io::SteerCounters c = steering_->counters();
    log::info("fast path: {} packets forwarded by XDP", c.flow_forwarded);
  }
  workers_.clear();  // sockets close before the steering detaches
  flows_.reset();
}

int DataPlane::run_daemon(const DaemonConfig& daemon, bool start) {
  const bool master = daemon.state == kDaemonMaster;
  if (!start) {
    std::lock_guard lock(daemons_mutex_);
    if (master) {
      for (auto& port : sync_ports_) port->set_master(false);
      sync_masters_.clear();
    } else {
      sync_backups_.clear();
      for (auto& port : sync_ports_) port->set_backup(false);
      set_backup_only(false);
    }
    log::notice("sync: {} stopped", master ? "master" : "backup");
    return 0;
  }
  std::string error;
  errno = 0;
  const Sysctls& sysctls = control_.options().sysctls;  // fixed at start
  // start_sync_thread(): sync_ports threads, at most IPVS_SYNC_PORTS_MAX (64); a master needs
  // no more than one per worker (its outboxes are per worker).
  const unsigned ports = static_cast<unsigned>(std::clamp(sysctls.sync_ports, 1, 64));
  const unsigned threads = master ? std::min<unsigned>(ports, static_cast<unsigned>(sync_ports_.size())) : ports;
  if (master) {
    std::vector<std::unique_ptr<sync::Master>> masters;
    for (unsigned id = 0; id < threads; ++id) {
      std::vector<sync::Outbox*> outboxes;
      for (size_t w = id; w < sync_ports_.size(); w += threads)
        outboxes.push_back(&sync_ports_[w]->outbox());
      masters.push_back(std::make_unique<sync::Master>(daemon, id, std::move(outboxes),
                                                       sysctls.sync_sock_size));
      if (!masters.back()->start(error)) {
        log::warning("sync: master on {}: {}", daemon.mcast_ifn, error);
        return errno ? errno : EINVAL;
      }
    }
    {
      std::lock_guard lock(daemons_mutex_);
      sync_masters_ = std::move(masters);
    }
    for (auto& port : sync_ports_)
      port->set_master(true, static_cast<uint8_t>(daemon.syncid), daemon.sync_maxlen);
  } else {
    std::vector<std::unique_ptr<sync::Backup>> backups;
    for (unsigned id = 0; id < threads; ++id) {
      backups.push_back(std::make_unique<sync::Backup>(
          daemon, id,
          [this](std::span<const sync::SyncConn> records) {
            std::lock_guard lock(route_mutex_);
            route_synced(records);
          },
          sysctls.sync_sock_size));
      if (!backups.back()->start(error)) {
        log::warning("sync: backup on {}: {}", daemon.mcast_ifn, error);
        return errno ? errno : EINVAL;
      }
    }
    {
      std::lock_guard lock(daemons_mutex_);
      sync_backups_ = std::move(backups);
    }
    for (auto& port : sync_ports_) port->set_backup(true);
    if (sysctls.backup_only) set_backup_only(true);
  }
  log::notice("sync: {} on {} (syncid {}, {}:{}{}){}", master ? "master" : "backup",
             daemon.mcast_ifn, daemon.syncid, daemon.mcast_group.to_string(), daemon.mcast_port,
             threads > 1 ? fmt::format("-{}", daemon.mcast_port + threads - 1) : "",
             !master && sysctls.backup_only ? ": backup_only, not load balancing" : "");
  return 0;
}

void DataPlane::set_backup_only(bool on) {
  std::string error;
  if (!steering_->set_pass_all(on, &error))
    log::warning("backup_only: {}", error);
}

unsigned DataPlane::owner_of(const sync::SyncConn& r) const {
  const unsigned workers = static_cast<unsigned>(sync_ports_.size());
  const Sysctls& sysctls = control_.options().sysctls;  // fixed at start
  if (r.has_fnat && (r.flags & conn::kConnFwdMask) == static_cast<uint32_t>(Fwd::kFullNat)) {
    // Replies come back to the local port, whose slice names the worker (as on the master,
    // given the same worker count).
    return conn::worker_of_lport({static_cast<uint16_t>(sysctls.fullnat_lport_min),
                                  static_cast<uint16_t>(sysctls.fullnat_lport_max)},
                                 workers, r.fnat.lport);
  }
  InetAddr client;
  client.family = r.inet6 ? AF_INET6 : AF_INET;
  client.bytes = r.caddr;
  return dp::client_owner(client, r.cport, workers);
}

void DataPlane::route_synced(std::span<const sync::SyncConn> records) {
  for (const sync::SyncConn& r : records) {
    if (r.flags & sync::kFlagTemplate) {
      for (auto& port : sync_ports_) port->push(r);
      continue;
    }
    sync_ports_[owner_of(r)]->push(r);
  }
}

std::optional<std::vector<std::vector<uint8_t>>> DataPlane::dump_connections(
    std::chrono::milliseconds timeout) {
  for (auto& port : sync_ports_) port->request_dump();
  std::vector<std::vector<uint8_t>> messages;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all_done = true, took = false;
    for (auto& port : sync_ports_) {
      const bool done = port->dump_done();  // read before draining: nothing lands after it
      while (const sync::Outbox::Message* m = port->dump_peek()) {
        messages.emplace_back(m->data.begin(), m->data.begin() + m->len);
        port->dump_release();
        took = true;
      }
      all_done &= done;
    }
    if (all_done) return messages;
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    if (!took) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void DataPlane::check_egresses(nl::NetlinkSocket& socket) {
  for (int i = 0; i < egresses_.count; ++i) {
    const int ifindex = egresses_.ifindex[i];
    const auto mode = steering_->mode(ifindex);
    const nl::XdpEgress e =
        nl::xdp_egress(socket, ifindex, mode && *mode == io::XdpAttachMode::kGeneric);
    egresses_.ok[i].store(e == nl::XdpEgress::kDelivers);
    if (egress_said_[i] != static_cast<int>(e)) {
      char name[IF_NAMESIZE] = "?";
      if_indextoname(static_cast<unsigned>(ifindex), name);
      log::notice("fast path: {}: {}", name, nl::to_string(e));
      egress_said_[i] = static_cast<int>(e);
    }
  }
}

void DataPlane::write_flows() {
  // One system call per request, off the workers' threads. A failure leaves the connection in
  // user space (always correct); each kind is logged once. Every two seconds, whether each
  // egress still takes XDP's frames (a veth peer may gain or lose its XDP program).
  bool logged_install = false, logged_remove = false;
  std::string nl_error;
  auto socket = nl::NetlinkSocket::open(0, &nl_error);
  if (!socket) log::warning("fast path: netlink: {}; nothing is offloaded", nl_error);
  auto next_check = std::chrono::steady_clock::now();
  for (;;) {
    if (socket && std::chrono::steady_clock::now() >= next_check) {
      check_egresses(*socket);
      next_check += std::chrono::seconds(2);
    }
    const bool last_round = workers_stopped_.load();
    uint32_t done = 0;
    for (auto& ring : offload_rings_) {
      while (const dp::OffloadRequest* r = ring->peek()) {
        if (r->op == dp::OffloadRequest::Op::kInstall) {
          if (int err = flows_->install(r->key, r->flow); err && !logged_install) {
            log::warning("fast path: installing a flow: {} (more stay in user space)",
                         std::strerror(err));
            logged_install = true;
          }
        } else if (int err = flows_->remove(r->key); err && err != ENOENT && !logged_remove) {
          log::warning("fast path: removing a flow: {}", std::strerror(err));
          logged_remove = true;
        }
        ring->release();
        ++done;
      }
    }
    if (last_round) return;
    // Idle: a flow waits at most this long to be offloaded (user space forwards it meanwhile),
    // and a quiet director wakes 200 times a second for it.
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void DataPlane::run(Worker& w) {
  // Worker w takes the w-th CPU uvsd may run on (taskset and cpusets are respected).
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 1) {
    int nth = static_cast<int>(w.index % static_cast<unsigned>(CPU_COUNT(&allowed)));
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &allowed) || nth-- > 0) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      pthread_setaffinity_np(pthread_self(), sizeof one, &one);
      break;
    }
  }
  // The counters an observer reads (report()) are copied from the pipeline's own a few times a
  // second, on this thread: the pipeline's stay plain and unshared.
  constexpr uint64_t kReportMs = 100;
  uint64_t next_report = 0;
  while (!stopping_) {
    const uint64_t now = now_ms();
    if (now >= next_report) {
      const conn::Table& table = w.pipeline->tracker().table();
      w.mirror.publish(w.pipeline->stats(), table.size(), table.capacity());
      next_report = now + kReportMs;
    }
    if (w.pipeline->poll(now) == 0) {
      // Idle: sleep in poll() rather than spin, so a quiet director costs no CPU. The timeout
      // bounds how late timers, held packets and listings are served.
      w.router->idle();
      w.io->wait_rx(5);
    }
  }
}

int DataPlane::sync_steering(const ctl::ConfigDelta& change) {
  io::SteerDelta delta;
  // A fwmark service's replies may be TCP, UDP or SCTP. A deleted NAT real server's open
  // connections still send replies: the kernel keeps a deleted dest in its trash
  // (IP_VS_DEST_TRASH_PERIOD) while connections use it, and the control plane counts it until
  // it leaves the trash.
  auto nat_replies = [](const ServiceKey& svc, const DestConfig& d,
                        std::vector<io::SteerL4>& out) {
    if (d.fwd != Fwd::kMasq) return;
    if (!svc.is_fwmark()) {
      out.push_back(io::SteerL4{d.key.addr, svc.protocol, d.key.port});
      return;
    }
    for (uint8_t proto : {kProtoTcp, kProtoUdp, kProtoSctp})
      out.push_back(io::SteerL4{d.key.addr, proto, d.key.port});
  };
  auto steered = [](const ServiceKey& k) { return io::SteerL4{k.addr, k.protocol, k.port}; };
  for (const auto& k : change.services_added)
    if (!k.is_fwmark()) delta.services_added.push_back(steered(k));
  for (const auto& k : change.services_removed)
    if (!k.is_fwmark()) delta.services_removed.push_back(steered(k));
  for (const auto& [svc, d] : change.dests_added) {
    nat_replies(svc, d, delta.nat_replies_added);
    resolver_->prefetch(d.key.addr);
  }
  for (const auto& [svc, d] : change.dests_removed) nat_replies(svc, d, delta.nat_replies_removed);
  delta.local_addrs_added = change.laddrs_added;
  delta.local_addrs_removed = change.laddrs_removed;
  std::string error;
  int err = steering_->apply(delta, &error);
  if (err)
    log::warning("steering: {}: change refused (uvsd --max-services/--max-reals)", error);
  else if (!error.empty())
    log::warning("steering: {}", error);
  return err;
}

dp::DataPlaneReport DataPlane::report() const {
  dp::DataPlaneReport r;
  for (const auto& w : workers_) r.workers.push_back(w->mirror.read(w->index));
  r.offload = flows_ != nullptr;
  r.steer = steering_->counters();
  for (const auto& port : sync_ports_) r.sync.outbox_dropped += port->outbox().dropped();
  // Every sync thread's figures, summed per role.
  auto add = [](sync::DaemonStats& sum, const sync::DaemonStats& one) {
    sum.messages += one.messages;
    sum.errors += one.errors;
    sum.read.messages += one.read.messages;
    sum.read.records += one.read.records;
    for (size_t i = 0; i < sum.read.rejects.size(); ++i) sum.read.rejects[i] += one.read.rejects[i];
  };
  std::lock_guard lock(daemons_mutex_);
  r.sync.master = !sync_masters_.empty();
  for (const auto& m : sync_masters_) add(r.sync.master_stats, m->stats());
  r.sync.backup = !sync_backups_.empty();
  for (const auto& b : sync_backups_) add(r.sync.backup_stats, b->stats());
  return r;
}

void DataPlane::watch_drops() {
  // Once a second, each drop reason's count over all workers. A reason that moves is logged
  // once as it starts, and once as it stops after kQuietSeconds without a drop: one line per
  // episode, however many packets.
  constexpr int kQuietSeconds = 5;
  constexpr size_t kReasons = static_cast<size_t>(dp::Drop::kCount);
  std::array<uint64_t, kReasons> last{}, at_start{};
  std::array<int, kReasons> quiet{};  // seconds without a drop; -1: not dropping
  quiet.fill(-1);
  auto totals = [this] {
    std::array<uint64_t, kReasons> sum{};
    for (auto& w : workers_) {
      const dp::PipelineStats& st = w->pipeline->stats();
      // The worker is the only writer of its counters (plain stores of aligned 64-bit words);
      // a relaxed load reads a whole value, at worst a moment old.
      for (size_t i = 0; i < kReasons; ++i) sum[i] += __atomic_load_n(&st.drops[i], __ATOMIC_RELAXED);
    }
    return sum;
  };
  last = totals();
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    next += std::chrono::seconds(1);
    while (!stopping_ && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stopping_) return;
    const std::array<uint64_t, kReasons> now = totals();
    for (size_t i = 0; i < kReasons; ++i) {
      const uint64_t delta = now[i] - last[i];
      const char* name = dp::drop_name(static_cast<dp::Drop>(i));
      if (delta > 0 && quiet[i] < 0) {
        log::warning("drops started: {} ({} in the last second)", name, delta);
        at_start[i] = last[i];
      }
      if (delta > 0) {
        quiet[i] = 0;
      } else if (quiet[i] >= 0 && ++quiet[i] >= kQuietSeconds) {
        log::notice("drops stopped: {} ({} in all, none for {} s)", name, now[i] - at_start[i],
                    kQuietSeconds);
        quiet[i] = -1;
      }
    }
    last = now;
  }
}

std::vector<ConnView> DataPlane::connections() {
  return listings_->gather(std::chrono::milliseconds(2000));
}

}  // namespace uvs::daemon
