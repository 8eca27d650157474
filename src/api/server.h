// uvsd's side of the control socket: accepts clients, decodes requests, hands each Command to
// the control plane and writes the reply. Bad input gets an EINVAL reply or a closed connection.
//
// One epoll loop owns every connection (non-blocking), so a client that stalls costs a file
// descriptor, never a thread: each request must arrive whole within one deadline from when uvsd
// starts waiting for it (accept or the previous reply), and each reply must leave within one
// deadline, however the bytes trickle in or out. Decoded requests run on a small pool of
// handler threads so that a slow listing does not hold up the loop. When the descriptors run
// short, new clients wait in the listen backlog instead of being refused.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/types.h>

#include "api/genl_relay.h"
#include "api/protocol.h"

namespace uvs::api {

struct ServerOptions {
  // For a whole request to arrive, and for a whole reply to leave.
  std::chrono::milliseconds deadline{10000};
  unsigned handler_threads = 4;
  // Connections open at once; 0: what RLIMIT_NOFILE leaves after a reserve for the data plane.
  size_t max_clients = 0;
};

class Server {
 public:
  using Handler = std::function<Reply(const Command&)>;
  // Answers generic-netlink datagrams relayed by libuvs-ipvs; without one they get EINVAL.
  using GenlHandler = std::function<GenlRelayReply(const GenlRelayRequest&)>;
  // Answers a new uvsd's {"takeover": {}} with the reply's JSON; without one: EINVAL.
  using TakeoverHandler = std::function<std::string()>;
  // Answers uvsadm --pick's batches (a Command with clients); without one they get EINVAL.
  using PickHandler = std::function<Reply(const Command&, std::span<const ClientTuple>)>;

  Server(std::string path, Handler handler, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Set before serve().
  void set_genl_handler(GenlHandler handler) { genl_handler_ = std::move(handler); }
  void set_takeover_handler(TakeoverHandler handler) { takeover_handler_ = std::move(handler); }
  void set_pick_handler(PickHandler handler) { pick_handler_ = std::move(handler); }

  // Creates the socket (0600, parent directory made if missing). Fails with a message if
  // another daemon answers on the path, or if something that is not a socket is there.
  bool listen(std::string& error);
  // Serves until stop() is called from another thread (or a signal handler: it only writes to
  // a pipe).
  void serve();
  void stop();

  // Connections closed because a request or reply missed its deadline (tests, logs).
  uint64_t deadline_closes() const { return deadline_closes_.load(); }

 private:
  enum class State { kReading, kHandling, kWriting };
  struct Conn {
    uint64_t id = 0;
    int fd = -1;
    State state = State::kReading;
    FrameDecoder in{kMaxRequestBytes};
    std::string out;
    size_t out_off = 0;
    std::chrono::steady_clock::time_point deadline;
    bool armed = false;
    std::list<uint64_t>::iterator timer;  // in timers_ while armed
  };
  struct Job {
    uint64_t id;
    std::string payload;
  };
  struct Done {
    uint64_t id;
    std::string frame;
  };

  void accept_clients();
  void on_event(Conn& c, uint32_t events);
  void read_request(Conn& c);
  void next_request(Conn& c);
  void write_reply(Conn& c);
  void take_done();
  void expire(std::chrono::steady_clock::time_point now);
  void arm(Conn& c);
  void disarm(Conn& c);
  void watch(Conn& c, uint32_t events);
  void close_conn(Conn& c);
  void pause_accepting(bool pause);
  void handler_loop();
  std::string answer(const std::string& payload);

  std::string path_;
  Handler handler_;
  GenlHandler genl_handler_;
  TakeoverHandler takeover_handler_;
  PickHandler pick_handler_;
  ServerOptions options_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  dev_t socket_dev_ = 0;  // the socket file this server made: only that one is removed
  ino_t socket_ino_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> deadline_closes_{0};

  // Owned by the loop thread.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::list<uint64_t> timers_;  // armed connections, earliest deadline first (all equal length)
  uint64_t next_id_ = 2;        // 0 and 1 tag the listening socket and the wake pipe
  bool accept_paused_ = false;
  std::chrono::steady_clock::time_point accept_retry_{};  // after EMFILE

  // Between the loop and the handler threads.
  std::mutex jobs_mutex_;
  std::condition_variable jobs_cv_;
  std::deque<Job> jobs_;
  std::mutex done_mutex_;
  std::vector<Done> done_;
  std::vector<std::thread> handlers_;
};

}  // namespace uvs::api
