// The sync daemon's threads (ip_vs_sync.c's sync_thread_master() and sync_thread_backup()).
//
//   Outbox    one per worker on a master: the worker adds records to the message it is
//             filling; a full message, or one older than IPVS_SYNC_FLUSH_TIME (2 s), moves
//             to a single-producer ring. The worker never waits and makes no system call; a
//             full ring (sync_qlen_max) drops the message and counts it, as sb_queue_tail().
//   Master    one thread per sync port: sends what the outboxes hold to the group.
//   Backup    one thread per sync port: reads messages (sync/message.h) and hands the good
//             records to a sink, which routes them to the workers that own their flows.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "model/service.h"
#include "sync/message.h"
#include "util/spsc_ring.h"

namespace uvs::sync {

inline constexpr uint64_t kFlushMs = 2000;  // IPVS_SYNC_FLUSH_TIME

class Outbox {
 public:
  static constexpr uint32_t kSlots = 32;
  struct Message {
    uint32_t len = 0;
    std::array<uint8_t, 65536> data;
  };

  Outbox(uint8_t syncid, size_t maxlen) : builder_(syncid, maxlen) {}

  // Worker side.
  // A master (re)started with this syncid and sync_maxlen: the message being filled is dropped.
  void reconfigure(uint8_t syncid, size_t maxlen) { builder_.reset(syncid, maxlen); }
  void add(const SyncConn& c, uint64_t now_ms);
  // sync_qlen_max's share of this outbox: messages waiting beyond it are dropped (before the
  // workers start; at most kSlots).
  void set_queue_limit(uint32_t messages) { limit_ = messages < 1 ? 1 : messages > kSlots ? kSlots : messages; }
  void flush_if_older(uint64_t now_ms, uint64_t max_age_ms = kFlushMs);
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // Sender side: the oldest whole message, or null; release() it once sent.
  const Message* peek() const { return ring_.peek(); }
  void release() { ring_.release(); }

 private:
  void push();

  MessageBuilder builder_;
  uint64_t started_ms_ = 0;  // when the message being filled got its first record
  uint32_t limit_ = kSlots;
  std::atomic<uint64_t> dropped_{0};
  util::SpscRing<Message, kSlots> ring_;
};

struct DaemonStats {
  uint64_t messages = 0;  // sent (master) or read (backup)
  uint64_t errors = 0;    // send or receive failures
  ReadStats read;         // backup: what the reader took and refused
};

class Master {
 public:
  // Sends what OUTBOXES hold to group:port+id; sync_sock_size (`sock_size`, 0: the system's)
  // sizes its send buffer.
  Master(DaemonConfig config, unsigned id, std::vector<Outbox*> outboxes, int sock_size = 0);
  ~Master() { stop(); }
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // Opens the socket and starts the thread; false with `error` (and errno) if the socket
  // cannot be made.
  bool start(std::string& error);
  void stop();
  DaemonStats stats() const;

 private:
  void run();

  DaemonConfig config_;
  unsigned id_;
  std::vector<Outbox*> outboxes_;
  int sock_size_;
  int fd_ = -1;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  DaemonStats stats_;
};

class Backup {
 public:
  // Called on the backup thread with each message's good records, in order.
  using Sink = std::function<void(std::span<const SyncConn>)>;

  // Reads group:port+id; sync_sock_size (`sock_size`) sizes its receive buffer. Backups of
  // one director may share a sink: it must take calls from several threads.
  Backup(DaemonConfig config, unsigned id, Sink sink, int sock_size = 0);
  ~Backup() { stop(); }
  Backup(const Backup&) = delete;
  Backup& operator=(const Backup&) = delete;

  bool start(std::string& error);
  void stop();
  DaemonStats stats() const;

 private:
  void run();

  DaemonConfig config_;
  unsigned id_;
  Sink sink_;
  int sock_size_;
  int fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the thread out of poll()
  std::thread thread_;
  mutable std::mutex mutex_;
  DaemonStats stats_;
};

}  // namespace uvs::sync
