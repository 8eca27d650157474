// uvsd's side of the control socket: accepts clients, decodes requests, hands each Command to
// the control plane and writes the reply. Bad input gets an EINVAL reply or a closed connection.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "api/protocol.h"

namespace uvs::api {

class Server {
 public:
  using Handler = std::function<Reply(const Command&)>;

  Server(std::string path, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the socket (0600, parent directory made if missing). Fails with a message if
  // another daemon answers on the path.
  bool listen(std::string& error);
  // Accepts until stop() is called from another thread or a signal handler's flag.
  void serve();
  void stop();

 private:
  struct ClientSlot {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void serve_client(ClientSlot& slot);
  void reap_finished();

  static constexpr int kMaxClients = 64;

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::mutex clients_mutex_;
  std::list<ClientSlot> clients_;
};

}  // namespace uvs::api
