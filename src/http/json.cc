#include "http/json.h"

#include <algorithm>

#include "http/metrics.h"
#include "pkt/parse.h"

namespace uvs::http {

namespace {

using nlohmann::json;

const char* fwd_name(Fwd fwd) {
  switch (fwd) {
    case Fwd::kMasq:
      return "masq";
    case Fwd::kLocal:
      return "local";
    case Fwd::kTunnel:
      return "tunnel";
    case Fwd::kRoute:
      return "route";
    case Fwd::kBypass:
      return "bypass";
    case Fwd::kFullNat:
      return "fullnat";
  }
  return "unknown";
}

const char* proto_name(uint8_t protocol) {
  switch (protocol) {
    case kProtoTcp:
      return "TCP";
    case kProtoUdp:
      return "UDP";
    case kProtoSctp:
      return "SCTP";
    default:
      return "IP";
  }
}

json stats_of(const StatsView& s) {
  return {{"conns", s.conns},
          {"inpkts", s.inpkts},
          {"outpkts", s.outpkts},
          {"inbytes", s.inbytes},
          {"outbytes", s.outbytes}};
}

json rate_of(const RateView& r) {
  return {{"cps", r.cps}, {"inpps", r.inpps}, {"outpps", r.outpps}, {"inbps", r.inbps},
          {"outbps", r.outbps}};
}

}  // namespace

json services_json(const TableView& table) {
  json out = json::array();
  for (const auto& s : table.services) {
    const ServiceLabels l = service_labels(s.cfg);
    json svc = {{"proto", l.proto},
                {"name", s.cfg.key.is_fwmark()
                             ? "FWM " + std::to_string(s.cfg.key.fwmark)
                             : l.proto + " " + format_endpoint(s.cfg.key.addr, s.cfg.key.port)},
                {"scheduler", s.cfg.sched_name},
                {"persistent", s.cfg.persistent()},
                {"timeout", s.cfg.timeout},
                {"stats", stats_of(s.stats)},
                {"rate", rate_of(s.rate)}};
    if (s.cfg.key.is_fwmark()) {
      svc["fwmark"] = s.cfg.key.fwmark;
    } else {
      svc["address"] = s.cfg.key.addr.to_string();
      svc["port"] = s.cfg.key.port;
    }
    json dests = json::array();
    for (const auto& d : s.dests)
      dests.push_back({{"address", d.cfg.key.addr.to_string()},
                       {"port", d.cfg.key.port},
                       {"name", format_endpoint(d.cfg.key.addr, d.cfg.key.port)},
                       {"forward", fwd_name(d.cfg.fwd)},
                       {"weight", d.cfg.weight},
                       {"active", d.activeconns},
                       {"inactive", d.inactconns},
                       {"persistent", d.persistconns},
                       {"stats", stats_of(d.stats)},
                       {"rate", rate_of(d.rate)}});
    svc["dests"] = std::move(dests);
    json laddrs = json::array();
    for (const auto& la : s.laddrs)
      laddrs.push_back({{"address", la.addr.to_string()},
                        {"conns", la.conns},
                        {"port_conflicts", la.port_conflicts}});
    svc["local_addresses"] = std::move(laddrs);
    out.push_back(std::move(svc));
  }
  return out;
}

json stats_json(const TableView& table, const dp::DataPlaneReport* dataplane, uint64_t now_ms) {
  const StatsView total = table_totals(table);
  json out = {{"time_ms", now_ms},
              {"totals", stats_of(total)},
              {"conn_table_size", table.conn_tab_size},
              {"data_plane", dataplane != nullptr}};
  if (!dataplane) return out;
  json workers = json::array();
  uint64_t used = 0, slots = 0, user = 0;
  json drops_total = json::object();
  for (const auto& r : dataplane->workers) {
    json drops = json::object(), malformed = json::object();
    for (size_t i = 0; i < r.stats.drops.size(); ++i) {
      const char* name = dp::drop_name(static_cast<dp::Drop>(i));
      drops[name] = r.stats.drops[i];
      drops_total[name] = drops_total.value(name, uint64_t{0}) + r.stats.drops[i];
    }
    for (size_t i = 1; i < r.stats.malformed.size(); ++i)
      if (r.stats.malformed[i])
        malformed[pkt::reason_name(static_cast<pkt::Reason>(i))] = r.stats.malformed[i];
    workers.push_back({{"worker", r.worker},
                       {"rx", r.stats.rx},
                       {"tx", r.stats.tx},
                       {"passed", r.stats.passed},
                       {"forwarded", r.stats.forwarded},
                       {"icmp_sent", r.stats.icmp_sent},
                       {"handed_off", r.stats.handed_off},
                       {"taken_over", r.stats.taken_over},
                       {"drops", std::move(drops)},
                       {"malformed", std::move(malformed)},
                       {"conns", r.conns},
                       {"conn_slots", r.conn_capacity}});
    used += r.conns;
    slots += r.conn_capacity;
    user += r.stats.rx;
  }
  out["workers"] = std::move(workers);
  out["drops"] = std::move(drops_total);
  out["connections"] = {{"used", used}, {"slots", slots}};
  out["packets"] = {{"user_space", user}, {"fast_path", dataplane->steer.flow_forwarded}};
  out["fast_path"] = dataplane->offload;
  const dp::SyncReport& sync = dataplane->sync;
  out["sync"] = {{"master", sync.master},
                 {"backup", sync.backup},
                 {"master_messages", sync.master_stats.messages},
                 {"backup_messages", sync.backup_stats.messages},
                 {"backup_records", sync.backup_stats.read.records},
                 {"errors", sync.master_stats.errors + sync.backup_stats.errors},
                 {"queue_dropped", sync.outbox_dropped}};
  return out;
}

json connections_json(const std::vector<ConnView>& conns, size_t offset, size_t limit) {
  json list = json::array();
  const size_t end = offset >= conns.size() ? offset : offset + std::min(limit, conns.size() - offset);
  for (size_t i = offset; i < end; ++i) {
    const ConnView& c = conns[i];
    list.push_back({{"proto", proto_name(c.protocol)},
                    {"client", format_endpoint(c.caddr, c.cport)},
                    {"virtual", format_endpoint(c.vaddr, c.vport)},
                    {"dest", format_endpoint(c.daddr, c.dport)},
                    {"state", c.state},
                    {"expire", c.expire_secs}});
  }
  return {{"total", conns.size()}, {"offset", offset}, {"limit", limit},
          {"connections", std::move(list)}};
}

}  // namespace uvs::http
