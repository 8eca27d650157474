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
#include <string>
#include <thread>
#include <vector>

#include "ctl/stats.h"
#include "dp/epoch.h"
#include "dp/runtime.h"
#include "dp/snapshot.h"
#include "model/sysctl.h"
#include "sched/service_sched.h"
#include "model/command.h"
#include "model/listing.h"

namespace uvs::ctl {

// A real server as the control plane holds it: its configuration, the runtime object shared
// with the workers (scheduler state, connection counters, traffic counters) and its -Z/rate
// bookkeeping. Copies of a Config share the runtime objects.
struct DestNode {
  DestConfig cfg;
  std::shared_ptr<dp::RealServer> rs;
  std::shared_ptr<StatsCell> stats;
};

struct LaddrRuntime {
  uint64_t port_conflicts = 0;
  uint64_t conns = 0;
};

struct LaddrNode {
  InetAddr addr;
  std::shared_ptr<LaddrRuntime> rt;
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

// One immutable version of the whole configuration.
struct Config {
  std::vector<ServiceNode> services;  // creation order
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

  // A consistent copy of the table with counters and rates, taken under one snapshot.
  TableView table() const;
  std::vector<ConnView> connections() const;

  std::shared_ptr<const Config> snapshot() const;
  // What the workers read: rebuilt and published after every change.
  dp::EpochPublisher<dp::Snapshot>& data_plane() { return publisher_; }
  unsigned workers() const { return options_.workers; }
  const ControlOptions& options() const { return options_; }

  // Called, under the control lock, with every configuration published (and once at once),
  // and the deleted real servers still in the trash (their connections live on): the data
  // plane keeps its XDP maps in step with both.
  using ConfigListener = std::function<void(const Config&, const std::vector<TrashEntry>&)>;
  void set_config_listener(ConfigListener listener);
  // Where -c listings come from (the workers' connection tables).
  void set_connection_source(std::function<std::vector<ConnView>()> source);

  // Runs the 2-second rate estimator on a thread until destruction.
  void start_estimator();
  // One estimator tick, also emptying the trash of idle dests (exposed for tests).
  void estimate_now();

  static constexpr std::chrono::seconds kTrashPeriod{120};  // IP_VS_DEST_TRASH_PERIOD

 private:
  int apply_locked(const Command& cmd, Config& next);
  int add_service(const Command& cmd, Config& next);
  int edit_service(const Command& cmd, Config& next);
  int del_service(const Command& cmd, Config& next);
  int add_dest(const Command& cmd, Config& next);
  int edit_dest(const Command& cmd, Config& next);
  int del_dest(const Command& cmd, Config& next);
  int zero(const Command& cmd, Config& next);
  int set_timeouts(const Command& cmd, Config& next);
  int start_daemon(const Command& cmd, Config& next);
  int stop_daemon(const Command& cmd, Config& next);
  int add_laddr(const Command& cmd, Config& next);
  int del_laddr(const Command& cmd, Config& next);
  void to_trash(const ServiceKey& svc, DestNode dest);
  std::optional<DestNode> from_trash(const ServiceKey& svc, const DestKey& key);
  void purge_trash();
  void publish_locked();

  ControlOptions options_;
  mutable std::mutex mutex_;  // serialises writers and the estimator against listings
  std::shared_ptr<const Config> current_;
  std::vector<TrashEntry> trash_;
  uint64_t generation_ = 0;
  dp::EpochPublisher<dp::Snapshot> publisher_;
  ConfigListener config_listener_;
  std::function<std::vector<ConnView>()> connection_source_;

  std::mutex estimator_mutex_;
  std::condition_variable estimator_cv_;
  bool stopping_ = false;
  std::thread estimator_;
};

}  // namespace uvs::ctl
