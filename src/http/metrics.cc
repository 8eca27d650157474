#include "http/metrics.h"

#include <fmt/core.h>

#include <cstdint>
#include <iterator>
#include <vector>

#include "pkt/parse.h"

namespace uvs::http {

namespace {

class Writer {
 public:
  // `# HELP` and `# TYPE` once per family, before its samples.
  void family(const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <typename T>
  void sample(const char* name, const std::string& labels, T value) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(const char* name, const std::string& value) {
  return fmt::format("{}=\"{}\"", name, escape_label(value));
}

std::string join(std::initializer_list<std::string> parts) {
  std::string s;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!s.empty()) s += ',';
    s += p;
  }
  return s;
}

std::string service_label_set(const ServiceLabels& l) {
  return join({label("local_address", l.local_address), label("local_mark", l.local_mark),
               label("local_port", l.local_port), label("proto", l.proto)});
}

std::string backend_label_set(const ServiceLabels& l, const DestView& d) {
  return join({label("local_address", l.local_address), label("local_mark", l.local_mark),
               label("local_port", l.local_port), label("proto", l.proto),
               label("remote_address", d.cfg.key.addr.to_string()),
               label("remote_port", std::to_string(d.cfg.key.port))});
}

std::string worker_label(unsigned w) { return label("worker", std::to_string(w)); }

}  // namespace

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

ServiceLabels service_labels(const ServiceConfig& svc) {
  ServiceLabels l;
  if (svc.key.is_fwmark()) {
    l.proto = "FWM";
    l.local_mark = fmt::format("{:08X}", svc.key.fwmark);
    l.local_port = "0";
    return l;
  }
  switch (svc.key.protocol) {
    case kProtoTcp:
      l.proto = "TCP";
      break;
    case kProtoUdp:
      l.proto = "UDP";
      break;
    case kProtoSctp:
      l.proto = "SCTP";
      break;
    default:
      l.proto = std::to_string(svc.key.protocol);
  }
  l.local_address = svc.key.addr.to_string();
  l.local_port = std::to_string(svc.key.port);
  return l;
}

StatsView table_totals(const TableView& table) {
  StatsView total;
  for (const auto& s : table.services) {
    total.conns += s.stats.conns;
    total.inpkts += s.stats.inpkts;
    total.outpkts += s.stats.outpkts;
    total.inbytes += s.stats.inbytes;
    total.outbytes += s.stats.outbytes;
  }
  return total;
}

std::string format_metrics(const TableView& table, const dp::DataPlaneReport* dataplane) {
  Writer w;
  // Every family repeats the same label sets: made once.
  std::vector<std::string> svc_set;
  std::vector<std::vector<std::string>> dest_set;
  svc_set.reserve(table.services.size());
  dest_set.reserve(table.services.size());
  for (const auto& s : table.services) {
    const ServiceLabels l = service_labels(s.cfg);
    svc_set.push_back(service_label_set(l));
    auto& d = dest_set.emplace_back();
    d.reserve(s.dests.size());
    for (const auto& dv : s.dests) d.push_back(backend_label_set(l, dv));
  }
  // /proc/net/ip_vs_stats: every service's traffic (as the kernel's tot_stats, zeroed by -Z).
  const StatsView total = table_totals(table);
  const struct {
    const char* name;
    const char* help;
    uint64_t value;
  } totals[] = {
      {"node_ipvs_connections_total", "The total number of connections made.", total.conns},
      {"node_ipvs_incoming_packets_total", "The total number of incoming packets.", total.inpkts},
      {"node_ipvs_outgoing_packets_total", "The total number of outgoing packets.", total.outpkts},
      {"node_ipvs_incoming_bytes_total", "The total amount of incoming data.", total.inbytes},
      {"node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.", total.outbytes},
  };
  for (const auto& t : totals) {
    w.family(t.name, "counter", t.help);
    w.sample(t.name, "", t.value);
  }

  const struct {
    const char* name;
    const char* help;
    uint64_t (*value)(const DestView&);
  } backend[] = {
      {"node_ipvs_backend_connections_active",
       "The current active connections by local and remote address.",
       [](const DestView& d) { return uint64_t{d.activeconns}; }},
      {"node_ipvs_backend_connections_inactive",
       "The current inactive connections by local and remote address.",
       [](const DestView& d) { return uint64_t{d.inactconns}; }},
      {"node_ipvs_backend_weight", "The current backend weight by local and remote address.",
       [](const DestView& d) { return static_cast<uint64_t>(d.cfg.weight < 0 ? 0 : d.cfg.weight); }},
  };
  for (const auto& b : backend) {
    w.family(b.name, "gauge", b.help);
    for (size_t i = 0; i < table.services.size(); ++i)
      for (size_t j = 0; j < table.services[i].dests.size(); ++j)
        w.sample(b.name, dest_set[i][j], b.value(table.services[i].dests[j]));
  }

  // Per service and per real server: -Ln --stats --exact and --rate, which node_exporter sums
  // away.
  const struct {
    const char* name;
    const char* help;
    uint64_t StatsView::*field;
  } traffic[] = {
      {"connections_total", "Connections scheduled (-Ln --stats Conns).", &StatsView::conns},
      {"incoming_packets_total", "Packets from clients (InPkts).", &StatsView::inpkts},
      {"outgoing_packets_total", "Packets to clients (OutPkts).", &StatsView::outpkts},
      {"incoming_bytes_total", "Bytes from clients (InBytes).", &StatsView::inbytes},
      {"outgoing_bytes_total", "Bytes to clients (OutBytes).", &StatsView::outbytes},
  };
  for (const auto& t : traffic) {
    const std::string name = fmt::format("uvs_service_{}", t.name);
    w.family(name.c_str(), "counter", t.help);
    for (size_t i = 0; i < table.services.size(); ++i)
      w.sample(name.c_str(), svc_set[i], table.services[i].stats.*t.field);
  }
  for (const auto& t : traffic) {
    const std::string name = fmt::format("uvs_backend_{}", t.name);
    w.family(name.c_str(), "counter", t.help);
    for (size_t i = 0; i < table.services.size(); ++i)
      for (size_t j = 0; j < table.services[i].dests.size(); ++j)
        w.sample(name.c_str(), dest_set[i][j], table.services[i].dests[j].stats.*t.field);
  }
  w.family("uvs_backend_connections_persistent", "gauge",
           "Persistence templates pointing at the real server.");
  for (size_t i = 0; i < table.services.size(); ++i)
    for (size_t j = 0; j < table.services[i].dests.size(); ++j)
      w.sample("uvs_backend_connections_persistent", dest_set[i][j],
               uint64_t{table.services[i].dests[j].persistconns});
  const struct {
    const char* name;
    const char* help;
    uint64_t RateView::*field;
  } rates[] = {
      {"uvs_service_connection_rate", "Connections per second (2 s estimator, -Ln --rate CPS).",
       &RateView::cps},
      {"uvs_service_incoming_packet_rate", "Incoming packets per second (InPPS).", &RateView::inpps},
      {"uvs_service_outgoing_packet_rate", "Outgoing packets per second (OutPPS).",
       &RateView::outpps},
      {"uvs_service_incoming_byte_rate", "Incoming bytes per second (InBPS).", &RateView::inbps},
      {"uvs_service_outgoing_byte_rate", "Outgoing bytes per second (OutBPS).", &RateView::outbps},
  };
  for (const auto& r : rates) {
    w.family(r.name, "gauge", r.help);
    for (size_t i = 0; i < table.services.size(); ++i)
      w.sample(r.name, svc_set[i], table.services[i].rate.*r.field);
  }
  w.family("uvs_local_address_connections", "gauge",
           "FULLNAT connections holding a port of the local address (-G).");
  for (size_t i = 0; i < table.services.size(); ++i)
    for (const auto& l : table.services[i].laddrs)
      w.sample("uvs_local_address_connections",
               join({svc_set[i], label("address", l.addr.to_string())}), l.conns);
  w.family("uvs_local_address_port_conflicts_total", "counter",
           "FULLNAT local ports found taken while allocating (-G).");
  for (size_t i = 0; i < table.services.size(); ++i)
    for (const auto& l : table.services[i].laddrs)
      w.sample("uvs_local_address_port_conflicts_total",
               join({svc_set[i], label("address", l.addr.to_string())}), l.port_conflicts);
  w.family("uvs_connection_table_size", "gauge", "Connection table slots (uvsd --conn-max).");
  w.sample("uvs_connection_table_size", "", uint64_t{table.conn_tab_size});

  if (!dataplane) return w.take();
  const auto& workers = dataplane->workers;
  const struct {
    const char* name;
    const char* help;
    uint64_t dp::PipelineStats::*field;
  } packets[] = {
      {"uvs_worker_received_packets_total", "Frames the worker took from its AF_XDP sockets.",
       &dp::PipelineStats::rx},
      {"uvs_worker_transmitted_packets_total", "Frames the worker sent.", &dp::PipelineStats::tx},
      {"uvs_worker_passed_packets_total", "Frames left to the kernel (not IP, not load balanced).",
       &dp::PipelineStats::passed},
      {"uvs_worker_forwarded_packets_total",
       "Frames for no connection and no service, routed on untranslated.",
       &dp::PipelineStats::forwarded},
      {"uvs_worker_icmp_sent_total", "ICMP errors the worker sent.", &dp::PipelineStats::icmp_sent},
      {"uvs_worker_held_packets_total", "Frames that waited for a neighbour.",
       &dp::PipelineStats::held},
      {"uvs_worker_handed_off_packets_total", "Frames handed to the worker owning their flow.",
       &dp::PipelineStats::handed_off},
      {"uvs_worker_taken_over_packets_total", "Frames received from another worker.",
       &dp::PipelineStats::taken_over},
  };
  for (const auto& p : packets) {
    w.family(p.name, "counter", p.help);
    for (const auto& r : workers) w.sample(p.name, worker_label(r.worker), r.stats.*p.field);
  }
  w.family("uvs_drops_total", "counter", "Frames the workers dropped, by reason.");
  for (const auto& r : workers)
    for (size_t i = 0; i < r.stats.drops.size(); ++i)
      w.sample("uvs_drops_total",
               join({label("reason", dp::drop_name(static_cast<dp::Drop>(i))), worker_label(r.worker)}),
               r.stats.drops[i]);
  w.family("uvs_malformed_total", "counter", "Malformed frames the workers dropped, by reason.");
  for (const auto& r : workers)
    for (size_t i = 1; i < r.stats.malformed.size(); ++i)
      w.sample("uvs_malformed_total",
               join({label("reason", pkt::reason_name(static_cast<pkt::Reason>(i))),
                     worker_label(r.worker)}),
               r.stats.malformed[i]);
  w.family("uvs_nexthop_failures_total", "counter",
           "Frames dropped for want of a next hop: no route, or the neighbour did not answer in "
           "time.");
  for (const auto& r : workers) {
    w.sample("uvs_nexthop_failures_total", join({label("reason", "no-route"), worker_label(r.worker)}),
             r.stats.drop(dp::Drop::kNoRoute));
    w.sample("uvs_nexthop_failures_total",
             join({label("reason", "neighbour-pending"), worker_label(r.worker)}),
             r.stats.drop(dp::Drop::kNeighbourPending));
  }
  w.family("uvs_connections", "gauge", "Entries in the worker's connection table.");
  for (const auto& r : workers) w.sample("uvs_connections", worker_label(r.worker), uint64_t{r.conns});
  w.family("uvs_connection_slots", "gauge", "Slots of the worker's connection table.");
  for (const auto& r : workers)
    w.sample("uvs_connection_slots", worker_label(r.worker), uint64_t{r.conn_capacity});
  uint64_t used = 0, slots = 0;
  for (const auto& r : workers) used += r.conns, slots += r.conn_capacity;
  w.family("uvs_connection_table_fill_ratio", "gauge",
           "Used share of the connection table slots, all workers.");
  w.sample("uvs_connection_table_fill_ratio", "",
           slots ? static_cast<double>(used) / static_cast<double>(slots) : 0.0);

  // Where packets were handled: user space (the workers) or the XDP fast path.
  uint64_t user = 0;
  for (const auto& r : workers) user += r.stats.rx;
  w.family("uvs_packets_total", "counter",
           "Load-balanced packets by where they were handled: path=\"user_space\" (the workers) "
           "or path=\"fast_path\" (forwarded by XDP itself).");
  w.sample("uvs_packets_total", label("path", "fast_path"), dataplane->steer.flow_forwarded);
  w.sample("uvs_packets_total", label("path", "user_space"), user);
  w.family("uvs_fast_path_enabled", "gauge", "1 when the XDP fast path is on.");
  w.sample("uvs_fast_path_enabled", "", uint64_t{dataplane->offload ? 1u : 0u});
  const io::SteerCounters& c = dataplane->steer;
  const struct {
    const char* verdict;
    uint64_t value;
  } steer[] = {{"passed", c.passed},         {"parse_error", c.parse_errors},
               {"vip", c.vip},               {"fwmark", c.fwmark},
               {"nat_reply", c.nat_reply},   {"fullnat", c.fullnat},
               {"fragment", c.fragment},     {"icmp_error", c.icmp_error},
               {"no_socket", c.no_socket},   {"flow_forwarded", c.flow_forwarded}};
  w.family("uvs_xdp_packets_total", "counter",
           "What the XDP program did with each packet it saw: left to the kernel, steered to a "
           "worker (by kind), or forwarded itself.");
  for (const auto& s : steer) w.sample("uvs_xdp_packets_total", label("verdict", s.verdict), s.value);

  const dp::SyncReport& sync = dataplane->sync;
  w.family("uvs_sync_daemon_running", "gauge", "1 while the connection sync daemon runs.");
  w.sample("uvs_sync_daemon_running", label("role", "master"), uint64_t{sync.master ? 1u : 0u});
  w.sample("uvs_sync_daemon_running", label("role", "backup"), uint64_t{sync.backup ? 1u : 0u});
  w.family("uvs_sync_messages_total", "counter", "Sync messages sent (master) or read (backup).");
  w.sample("uvs_sync_messages_total", label("role", "master"), sync.master_stats.messages);
  w.sample("uvs_sync_messages_total", label("role", "backup"), sync.backup_stats.messages);
  w.family("uvs_sync_errors_total", "counter", "Sync socket send or receive failures.");
  w.sample("uvs_sync_errors_total", label("role", "master"), sync.master_stats.errors);
  w.sample("uvs_sync_errors_total", label("role", "backup"), sync.backup_stats.errors);
  w.family("uvs_sync_records_received_total", "counter",
           "Connection records the backup took from sync messages.");
  w.sample("uvs_sync_records_received_total", "", sync.backup_stats.read.records);
  w.family("uvs_sync_queue_dropped_total", "counter",
           "Connection updates the workers' sync queues had no room for (the master fell behind).");
  w.sample("uvs_sync_queue_dropped_total", "", sync.outbox_dropped);
  return w.take();
}

}  // namespace uvs::http
