// uvsd --http ADDR:PORT: a small read-only HTTP server (civetweb) in the control plane, on its
// own threads. It serves /metrics (Prometheus), / (the live page), /chart.min.js (Chart.js, built
// into the binary) and /api/v1/{services,stats,connections}.
//
// It reads what uvsadm's listings read (the control plane's table, the workers' published
// counters, their connection listings) and changes nothing. Hostile or slow clients are bounded:
// a fixed pool of threads, a bounded queue of accepted connections (beyond it clients wait in
// the listen backlog), a size limit on the request head and a deadline on every request; none
// of it touches a worker or the control socket's event loop.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dp/report.h"
#include "model/listing.h"

struct mg_context;
struct mg_connection;

namespace uvs::http {

// Where the figures come from (uvsd's Control and DataPlane).
struct Sources {
  std::function<TableView()> table;
  // nullopt without a data plane.
  std::function<std::optional<dp::DataPlaneReport>()> dataplane;
  std::function<std::vector<ConnView>()> connections;
};

struct ServerOptions {
  std::string listen;  // ADDR:PORT, [ADDR6]:PORT
  unsigned threads = 4;
  unsigned queue = 32;                  // accepted connections waiting for a thread
  unsigned request_timeout_ms = 5000;   // a request must arrive whole, and leave, within it
  unsigned max_request_head = 8192;     // request line and headers, bytes
  // A connection listing is taken from the workers at most this often; requests in between
  // page through the last one.
  std::chrono::milliseconds connections_max_age{1000};
};

// *listen = ADDR:PORT in the form civetweb takes; false if `text` is not IPv4:PORT or
// [IPv6]:PORT with a port in 1..65535.
bool parse_listen(const std::string& text, std::string* listen);

class Server {
 public:
  // Listening on options.listen; null and *error if it cannot bind.
  static std::unique_ptr<Server> start(const ServerOptions& options, Sources sources,
                                       std::string* error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Bodies, exposed for tests.
  std::string metrics();
  std::string services();
  std::string stats();
  std::string connections(size_t offset, size_t limit);

 private:
  Server(const ServerOptions& options, Sources sources);
  static int handle(mg_connection* conn, void* self);
  int serve(mg_connection* conn);

  ServerOptions options_;
  Sources sources_;
  mg_context* ctx_ = nullptr;
  std::mutex conns_mutex_;  // the cached connection listing
  std::vector<ConnView> conns_;
  std::chrono::steady_clock::time_point conns_at_{};
};

}  // namespace uvs::http
