// The control plane: owns the IPVS configuration, applies one Command at a time with the
// kernel's validation and errnos (ip_vs_ctl.c), and publishes an immutable snapshot after each
// change. Readers (listings, later the workers) only ever see whole snapshots.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "conn/local_addr.h"
#include "ctl/stats.h"
#include "dp/epoch.h"
#include "dp/runtime.h"
#include "dp/snapshot.h"
#include "model/sysctl.h"
#include "sched/service_sched.h"
#include "model/command.h"
#include "model/listing.h"
#include "model/pick.h"

namespace uvs::ctl {

// A real server as the control plane holds it: its configuration, the runtime object shared
// with the workers (scheduler state, connection counters, traffic counters) and its -Z/rate
// bookkeeping. Copies of a Config share the runtime objects.
struct DestNode {
  DestConfig cfg;
  std::shared_ptr<dp::RealServer> rs;
  std::shared_ptr<StatsCell> stats;
};

struct LaddrNode {
  InetAddr addr;
  // -G's port conflicts and connections, counted by the workers' FULLNAT pools.
  std::shared_ptr<conn::LocalAddrCounterSet> counters;
};

struct ServiceNode {
  ServiceConfig cfg;
  std::vector<DestNode> dests;  // kernel list order: newest first
  std::vector<LaddrNode> laddrs;
  std::shared_ptr<dp::CounterSet> counters;
  std::shared_ptr<StatsCell> stats;
  // Control-plane scheduler binding, changed in place under the control lock; workers only
  // ever see the immutable view it publishes (sched->view()).
  std::shared_ptr<sched::ServiceSched> sched;
};

struct ServiceKeyHash {
  size_t operator()(const ServiceKey& key) const;
};

// One version of the whole configuration. Services are shared between versions and copied on
// write, one at a time: a change costs O(the service it touches), not O(table).
struct Config {
  std::vector<std::shared_ptr<const ServiceNode>> services;  // creation order
  Timeouts timeouts;
  std::vector<DaemonConfig> daemons;  // master before backup

  const ServiceNode* find(const ServiceKey& key) const;
};

// A deleted real server waits here, with its counters, until it is idle for the trash period;
// adding it back to the same service revives it, as the kernel's ip_vs_trash_get_dest().
struct TrashEntry {
  ServiceKey service;
  DestNode dest;
  std::chrono::steady_clock::time_point since;
};

// What one change does to what the data plane steers, told to the config listener before the
// change is made. Real servers count while they are in a service or in the trash (their
// connections still send replies), so moving one to the trash or back is no change here; an
// edit is the old configuration removed and the new one added.
struct ConfigDelta {
  std::vector<ServiceKey> services_added, services_removed;
  std::vector<std::pair<ServiceKey, DestConfig>> dests_added, dests_removed;
  std::vector<InetAddr> laddrs_added, laddrs_removed;

  bool empty() const {
    return services_added.empty() && services_removed.empty() && dests_added.empty() &&
           dests_removed.empty() && laddrs_added.empty() && laddrs_removed.empty();
  }
  // Only removals: a listener must always apply those.
  bool removals_only() const {
    return services_added.empty() && dests_added.empty() && laddrs_added.empty();
  }
};

struct ControlOptions {
  uint32_t conn_tab_size = 4096;
  unsigned workers = 1;
  sched::SchedOptions sched;
  Sysctls sysctls;
  std::vector<FwmarkRule> fwmark_rules;
};

class Control {
 public:
  explicit Control(ControlOptions options);
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // Applies a table command. Returns 0 or the errno the kernel would return; on error the
  // configuration is unchanged.
  int apply(const Command& cmd);
  // Whether apply() logs each change it makes (util/log.h, info): on for the daemon's table
  // once it serves, off for a scratch copy and while a whole file is applied.
  void set_log_changes(bool on) { log_changes_ = on; }

  // A consistent copy of the table with counters and rates, taken under one snapshot.
  TableView table() const;
  // The table without its services (size, timeouts, daemons): what -c, --timeout and --daemon
  // listings need, at a cost independent of the table's size.
  TableView summary() const;
  // One service's listing (-L -t VIP), nullopt if it does not exist; O(its real servers).
  std::optional<ServiceView> service(const ServiceKey& key) const;
  std::vector<ConnView> connections() const;
  // uvsadm --pick: what the service's scheduler, in the view published to the workers, gives
  // each client as the first packet of a new connection to the service (its address and
  // protocol, TCP for a fwmark service, so ports count for mh-port and sh-port; persistence
  // templates and existing connections are not consulted), run here
  // with no worker state. ESRCH: no such service; EOPNOTSUPP: the scheduler picks by more than
  // the packet (out.sched_name says which), or is dh on a fwmark service (no address to hash);
  // EINVAL: a client of the other family. O(clients); the table is not locked while picking.
  int pick(const ServiceKey& key, std::span<const ClientTuple> clients, PickView& out) const;

  // A copy of the current configuration (O(services): for tests and diagnostics).
  std::shared_ptr<const Config> snapshot() const;
  // What the workers read: rebuilt and published after every change.
  dp::EpochPublisher<dp::Snapshot>& data_plane() { return publisher_; }
  unsigned workers() const { return options_.workers; }
  const ControlOptions& options() const { return options_; }

  // Called, under the control lock, with what each change adds to and removes from the data
  // plane, before the change is made (and once at once, with the whole table and the trash,
  // as additions): the data plane keeps its XDP maps in step. A non-zero errno refuses the
  // change, which then fails with it and leaves the table as it was (ENOMEM when a map is
  // full, as the kernel fails an allocation); a delta of removals only must be applied.
  // set_config_listener() returns the first call's errno.
  using ConfigListener = std::function<int(const ConfigDelta&)>;
  int set_config_listener(ConfigListener listener);
  // Starts (true) or stops (false) a sync daemon the table now has or no longer has, under the
  // control lock: uvsd's data plane runs the threads. A non-zero errno refuses a start, which
  // then fails with it (the kernel's start_sync_thread() failing to make its socket); a stop
  // always happens. set_daemon_listener() starts the daemons already configured and returns
  // the first errno.
  using DaemonListener = std::function<int(const DaemonConfig&, bool start)>;
  int set_daemon_listener(DaemonListener listener);
  // Where -c listings come from (the workers' connection tables).
  void set_connection_source(std::function<std::vector<ConnView>()> source);

  // Runs the 2-second rate estimator on a thread until destruction.
  void start_estimator();
  // One estimator tick, also emptying the trash of idle dests (exposed for tests).
  void estimate_now();

  static constexpr std::chrono::seconds kTrashPeriod{120};  // IP_VS_DEST_TRASH_PERIOD

 private:
  struct TrashKey {
    ServiceKey service;
    DestKey dest;
    friend bool operator==(const TrashKey&, const TrashKey&) = default;
  };
  struct TrashKeyHash {
    size_t operator()(const TrashKey& key) const;
  };

  int apply_locked(const Command& cmd);
  void log_change(const Command& cmd) const;
  TableView summary_locked() const;
  static ServiceView view_of(const ServiceNode& s);
  int add_service(const Command& cmd);
  int edit_service(const Command& cmd);
  int del_service(const Command& cmd);
  int flush();
  int add_dest(const Command& cmd);
  int edit_dest(const Command& cmd);
  int del_dest(const Command& cmd);
  int zero(const Command& cmd);
  int set_timeouts(const Command& cmd);
  int start_daemon(const Command& cmd);
  int stop_daemon(const Command& cmd);
  int add_laddr(const Command& cmd);
  int del_laddr(const Command& cmd);
  // Asks the listener whether the data plane takes `delta`; 0 if there is none.
  int notify(const ConfigDelta& delta);
  // The service's index in config_.services, -1 if absent.
  long index_of(const ServiceKey& key) const;
  // A private copy of the service at `index` (copy on write), replacing the shared one.
  ServiceNode& writable(size_t index);
  void to_trash(const ServiceKey& svc, DestNode dest);
  void purge_trash();
  // Publishes the next worker snapshot: `removed` services gone, the services of `changed`
  // (indices into config_.services) rebuilt from their nodes, everything else shared.
  void publish_locked(std::span<const ServiceKey> removed, std::span<const size_t> changed);
  void publish_all_locked();

  ControlOptions options_;
  mutable std::mutex mutex_;  // serialises writers and the estimator against listings
  Config config_;  // changed in place, service by service, under mutex_
  std::unordered_map<ServiceKey, size_t, ServiceKeyHash> index_;  // into config_.services
  std::unordered_map<TrashKey, TrashEntry, TrashKeyHash> trash_;
  uint64_t generation_ = 0;
  dp::EpochPublisher<dp::Snapshot> publisher_;
  ConfigListener config_listener_;
  std::atomic<bool> log_changes_{false};
  DaemonListener daemon_listener_;
  std::function<std::vector<ConnView>()> connection_source_;

  std::mutex estimator_mutex_;
  std::condition_variable estimator_cv_;
  bool stopping_ = false;
  std::thread estimator_;
};

}  // namespace uvs::ctl
