// /metrics: the table and the data plane in the Prometheus text format (version 0.0.4).
//
// node_exporter's IPVS collector (collector/ipvs_linux.go) comes first, with its names, help
// texts and labels, so that dashboards and alerts written for a kernel director work unchanged:
// the totals of /proc/net/ip_vs_stats without labels, and per real server the active and
// inactive connections and the weight with local_address, local_port, local_mark,
// remote_address, remote_port and proto as procfs reads them from /proc/net/ip_vs (a fwmark
// service: proto "FWM", local_mark the mark as the kernel prints it, %08X, no address, port 0).
// Then uvs_* figures kernel IPVS has no file for.
#pragma once

#include <string>

#include "dp/report.h"
#include "model/listing.h"

namespace uvs::http {

// `dataplane` is null when uvsd runs without --interface (a control plane only).
// Every service's traffic summed (the kernel's tot_stats, /proc/net/ip_vs_stats).
StatsView table_totals(const TableView& table);

std::string format_metrics(const TableView& table, const dp::DataPlaneReport* dataplane);

// A label value escaped as the text format wants it (backslash, double quote, newline).
std::string escape_label(const std::string& value);

// The labels of a service as node_exporter gives them, and the protocol's name there.
struct ServiceLabels {
  std::string local_address, local_port, local_mark, proto;
};
ServiceLabels service_labels(const ServiceConfig& svc);

}  // namespace uvs::http
