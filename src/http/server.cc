#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <civetweb.h>
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <cstring>
#include <mutex>

#include "http/assets.h"
#include "http/json.h"
#include "http/metrics.h"

namespace uvs::http {

namespace {

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// A decimal query parameter, `fallback` when absent or not a number; at most `max`.
size_t query_number(const char* query, const char* name, size_t fallback, size_t max) {
  if (!query) return fallback;
  char buf[24];
  if (mg_get_var(query, std::strlen(query), name, buf, sizeof buf) <= 0) return fallback;
  char* end;
  unsigned long long v = std::strtoull(buf, &end, 10);
  if (*end || buf[0] == '-') return fallback;
  return v > max ? max : static_cast<size_t>(v);
}

void reply(mg_connection* conn, const char* type, std::string_view body, bool head) {
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n",
            type, body.size());
  if (!head) mg_write(conn, body.data(), body.size());
}

// A TCP connection to LISTEN (as parse_listen() wrote it), closed at once.
void wake_listener(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  const int port = std::atoi(listen.c_str() + colon + 1);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (host.size() > 2 && host.front() == '[') {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &sa->sin6_addr) != 1) return;
    len = sizeof *sa;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1) return;
    len = sizeof *sa;
  }
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  ::close(fd);
}

}  // namespace

bool parse_listen(const std::string& text, std::string* listen) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  char* end;
  const unsigned long p = std::strtoul(port.c_str(), &end, 10);
  if (*end || port[0] == '-' || p < 1 || p > 65535) return false;
  unsigned char buf[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buf) != 1) return false;
  } else if (inet_pton(AF_INET, host.c_str(), buf) != 1) {
    return false;
  }
  *listen = host + ":" + std::to_string(p);
  return true;
}

Server::Server(const ServerOptions& options, Sources sources)
    : options_(options), sources_(std::move(sources)) {}

std::unique_ptr<Server> Server::start(const ServerOptions& options, Sources sources,
                                      std::string* error) {
  static std::once_flag library;
  std::call_once(library, [] { mg_init_library(0); });
  std::unique_ptr<Server> server(new Server(options, std::move(sources)));
  const std::string threads = std::to_string(options.threads);
  const std::string queue = std::to_string(options.queue);
  const std::string timeout = std::to_string(options.request_timeout_ms);
  const std::string head = std::to_string(options.max_request_head);
  const char* config[] = {"listening_ports", options.listen.c_str(),
                          "num_threads", threads.c_str(),
                          "connection_queue", queue.c_str(),
                          "listen_backlog", queue.c_str(),
                          "request_timeout_ms", timeout.c_str(),
                          "max_request_size", head.c_str(),
                          "enable_keep_alive", "yes",
                          "keep_alive_timeout_ms", timeout.c_str(),
                          nullptr};
  mg_callbacks callbacks{};
  // Its own messages (a client that went away, a bad request) are nothing an operator acts on.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  mg_init_data init{&callbacks, server.get(), config};
  char text[256] = "";
  unsigned code = 0;
  mg_error_data err{&code, text, sizeof text};
  server->ctx_ = mg_start2(&init, &err);
  if (!server->ctx_) {
    if (error) *error = fmt::format("--http {}: {}", options.listen, text[0] ? text : "cannot start");
    return nullptr;
  }
  mg_set_request_handler(server->ctx_, "/", &Server::handle, server.get());
  return server;
}

Server::~Server() {
  if (!ctx_) return;
  // civetweb's master thread polls its listening socket for up to 2 s and looks at the stop
  // flag only between polls: without a wake-up, every stop (SIGTERM, a --takeover) would wait
  // that long. A connection to the socket wakes it; one every 10 ms until mg_stop() returns.
  std::atomic<bool> stopped{false};
  std::thread waker([this, &stopped] {
    while (!stopped.load()) {
      wake_listener(options_.listen);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  mg_stop(ctx_);
  stopped = true;
  waker.join();
}

int Server::handle(mg_connection* conn, void* self) {
  return static_cast<Server*>(self)->serve(conn);
}

std::string Server::metrics() {
  const TableView table = sources_.table();
  const std::optional<dp::DataPlaneReport> report = sources_.dataplane();
  return format_metrics(table, report ? &*report : nullptr);
}

std::string Server::services() { return services_json(sources_.table()).dump(); }

std::string Server::stats() {
  const TableView table = sources_.table();
  const std::optional<dp::DataPlaneReport> report = sources_.dataplane();
  return stats_json(table, report ? &*report : nullptr, wall_ms()).dump();
}

std::string Server::connections(size_t offset, size_t limit) {
  std::lock_guard lock(conns_mutex_);
  // Every listing makes each worker copy its table between bursts: clients polling faster than
  // this share one.
  const auto now = std::chrono::steady_clock::now();
  if (conns_at_ == std::chrono::steady_clock::time_point{} ||
      now - conns_at_ >= options_.connections_max_age) {
    conns_ = sources_.connections();
    conns_at_ = now;
  }
  return connections_json(conns_, offset, limit).dump();
}

int Server::serve(mg_connection* conn) {
  const mg_request_info* req = mg_get_request_info(conn);
  const std::string_view method = req->request_method ? req->request_method : "";
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    mg_printf(conn,
              "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n\r\n");
    return 405;
  }
  const std::string_view uri = req->local_uri ? req->local_uri : "";
  if (uri == "/metrics") {
    reply(conn, "text/plain; version=0.0.4; charset=utf-8", metrics(), head);
  } else if (uri == "/" || uri == "/index.html") {
    reply(conn, "text/html; charset=utf-8", page_html(), head);
  } else if (uri == "/chart.min.js") {
    reply(conn, "application/javascript", chart_js(), head);
  } else if (uri == "/api/v1/services") {
    reply(conn, "application/json", services(), head);
  } else if (uri == "/api/v1/stats") {
    reply(conn, "application/json", stats(), head);
  } else if (uri == "/api/v1/connections") {
    constexpr size_t kMaxLimit = 1000;
    const size_t offset = query_number(req->query_string, "offset", 0, SIZE_MAX / 2);
    const size_t limit = query_number(req->query_string, "limit", 100, kMaxLimit);
    reply(conn, "application/json", connections(offset, limit), head);
  } else {
    mg_printf(conn, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n"
                    "not found\n");
    return 404;
  }
  return 200;
}

}  // namespace uvs::http
