// uvsd's live data plane: the XDP steering program on every data interface, one AF_XDP
// worker per queue (pinned), next hops from the kernel, and the XDP maps kept in step with the
// configuration.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <span>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ctl/control.h"
#include "dp/pipeline.h"
#include "dp/report.h"
#include "dp/worker_listings.h"
#include "io/afxdp.h"
#include "io/xdp_flows.h"
#include "io/xdp_steering.h"
#include "nl/nexthop.h"
#include "nl/xdp_egress.h"
#include "sync/daemon.h"

namespace uvs::daemon {

struct DataPlaneOptions {
  std::vector<std::string> interfaces;
  unsigned workers = 1;
  uint64_t conn_max = 1 << 20;
  bool force_generic = false;  // skb-mode XDP everywhere
  // The fast path: established connections forwarded by XDP itself (dp/offload.h), toward
  // the egresses that take XDP_TX / redirected frames (nl/xdp_egress.h).
  bool offload = true;
  // Steering map sizes: services (uvs_vips) and NAT real servers (uvs_nat_replies; a fwmark
  // service's take three each); 0 keeps io::XdpSteering's defaults.
  uint32_t max_services = 0;
  uint32_t max_reals = 0;
  // FULLNAT local addresses of other directors of a cluster (uvsd --peer-laddr): steered like
  // this director's own, so that the replies of a connection learned by sync are translated
  // here once that director is gone. Never allocated from: new connections use the services'.
  std::vector<InetAddr> peer_laddrs;
  // uvsd --takeover: the predecessor's connections (sync messages), put in the workers' tables
  // before the workers take their first packet.
  std::vector<std::vector<uint8_t>> adopt;
  // uvsd --takeover: the predecessor's XDP links (interface, fd in this process), taken over
  // (XdpSteering::prepare_handover()).
  std::vector<std::pair<std::string, int>> handover_links;
  // uvsd --takeover: called once the program is loaded and verified and its maps are filled,
  // before any interface or queue is touched: stops the predecessor, so that the gap between
  // its last packet and this uvsd's first is only the attach and the sockets (false: give up).
  std::function<bool()> before_attach;
};

// Queues of an interface (its RX queue count), 1 if it cannot be read.
unsigned interface_queues(const std::string& ifname);

class DataPlane {
 public:
  // Attaches, creates the workers' sockets and starts them. Null and *error on failure.
  static std::unique_ptr<DataPlane> start(const DataPlaneOptions& options, ctl::Control& control,
                                          std::string* error);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Every worker's connections, for uvsadm -c.
  std::vector<ConnView> connections();
  // The workers' last published counters, the XDP program's and the sync daemons' (uvsd
  // --http); never waits for a worker.
  dp::DataPlaneReport report() const;

  // Takeover (uvsd --takeover): every connection of every worker as sync messages, for the
  // uvsd taking this one's place; empty if a worker does not finish within `timeout`.
  std::optional<std::vector<std::vector<uint8_t>>> dump_connections(
      std::chrono::milliseconds timeout);
  // The running side of a takeover: see XdpSteering::prepare_handover().
  std::optional<std::vector<std::pair<std::string, int>>> prepare_handover(std::string* error) {
    return steering_->prepare_handover(error);
  }
  // Connections of DataPlaneOptions::adopt now in the tables.
  size_t adopted() const { return adopted_; }

 private:
  struct Worker;
  DataPlane(const DataPlaneOptions& options, ctl::Control& control);
  // Applies one change of the table to the steering maps: 0 or the errno that refuses it.
  int sync_steering(const ctl::ConfigDelta& change);
  void run(Worker& w);
  // The offload thread: drains the workers' rings into the fast path's BPF map.
  void write_flows();
  // Control's daemon listener: runs or stops a sync daemon's thread (0 or the errno that
  // refuses the start).
  int run_daemon(const DaemonConfig& daemon, bool start);
  // The backup thread's sink: each record to the worker that owns its flow (a template to
  // every worker, whose connections it may control).
  void route_synced(std::span<const sync::SyncConn> records);
  // The worker a record belongs to.
  unsigned owner_of(const sync::SyncConn& record) const;

  DataPlaneOptions options_;
  ctl::Control& control_;
  std::unique_ptr<io::XdpSteering> steering_;
  std::unique_ptr<nl::NextHopResolver> resolver_;
  std::unique_ptr<dp::Handoff> handoff_;  // with more than one worker
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<dp::WorkerListings> listings_;
  std::unique_ptr<io::XdpFlows> flows_;  // with offload
  std::vector<std::unique_ptr<dp::OffloadRing>> offload_rings_;
  dp::XdpEgresses egresses_;  // where XDP may send (checked by the offload thread)
  std::vector<int> egress_said_;  // what was last logged for each, -1 before the first check
  // Checks every data interface (nl/xdp_egress.h), logging what changed.
  void check_egresses(nl::NetlinkSocket& socket);
  std::vector<std::unique_ptr<dp::SyncPort>> sync_ports_;  // one per worker
  // One thread per sync port (sysctl sync_ports), each a port of its own: a master thread
  // sends the outboxes of the workers w with w % threads == its id.
  // daemons_mutex_ guards the two vectors against report() (never taken by a worker).
  mutable std::mutex daemons_mutex_;
  std::vector<std::unique_ptr<sync::Master>> sync_masters_;
  size_t adopted_ = 0;
  std::vector<std::unique_ptr<sync::Backup>> sync_backups_;
  std::mutex route_mutex_;  // the backup threads take turns as the inboxes' single producer
  // backup_only: while a backup sync daemon runs, the XDP program passes every packet on.
  void set_backup_only(bool on);
  std::thread flow_writer_;
  // Logs the drop reasons that start and stop (watch_drops()).
  void watch_drops();
  std::thread watcher_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> workers_stopped_{false};
};

}  // namespace uvs::daemon
