#include "sync/daemon.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "sync/transport.h"

namespace uvs::sync {

namespace {
// How often the master thread looks at the outboxes: what a record may wait beyond its
// message being complete (the kernel's thread is woken by the queue instead).
constexpr auto kMasterPoll = std::chrono::milliseconds(5);
}  // namespace

void Outbox::add(const SyncConn& c, uint64_t now_ms) {
  if (builder_.empty()) started_ms_ = now_ms;
  if (builder_.add(c)) return;
  if (!builder_.empty()) {
    push();
    started_ms_ = now_ms;
    if (builder_.add(c)) return;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);  // sync_maxlen below one record
}

void Outbox::flush_if_older(uint64_t now_ms, uint64_t max_age_ms) {
  if (!builder_.empty() && now_ms - started_ms_ >= max_age_ms) push();
}

void Outbox::push() {
  Message* m = kSlots - ring_.room() < limit_ ? ring_.claim() : nullptr;
  if (m) {
    const auto bytes = builder_.bytes();
    m->len = static_cast<uint32_t>(bytes.size());
    std::memcpy(m->data.data(), bytes.data(), bytes.size());
    ring_.publish();
  } else {
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  builder_.reset();
}

Master::Master(DaemonConfig config, unsigned id, std::vector<Outbox*> outboxes, int sock_size)
    : config_(std::move(config)), id_(id), outboxes_(std::move(outboxes)), sock_size_(sock_size) {}

bool Master::start(std::string& error) {
  fd_ = open_master_socket(config_, id_, sock_size_, error);
  if (fd_ < 0) return false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void Master::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

DaemonStats Master::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Master::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    uint64_t sent = 0, errors = 0;
    for (Outbox* box : outboxes_) {
      while (const Outbox::Message* m = box->peek()) {
        // A message the kernel refuses (ENOBUFS, the interface down) is lost, as
        // ip_vs_send_sync_msg()'s caller drops it after its retry.
        if (::send(fd_, m->data.data(), m->len, MSG_NOSIGNAL) == static_cast<ssize_t>(m->len))
          ++sent;
        else
          ++errors;
        box->release();
      }
    }
    lock.lock();
    stats_.messages += sent;
    stats_.errors += errors;
    wake_.wait_for(lock, kMasterPoll, [this] { return stopping_; });
  }
}

Backup::Backup(DaemonConfig config, unsigned id, Sink sink, int sock_size)
    : config_(std::move(config)), id_(id), sink_(std::move(sink)), sock_size_(sock_size) {}

bool Backup::start(std::string& error) {
  fd_ = open_backup_socket(config_, id_, sock_size_, error);
  if (fd_ < 0) return false;
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    error = std::string("eventfd: ") + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void Backup::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  for (int* fd : {&fd_, &stop_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

DaemonStats Backup::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Backup::run() {
  std::vector<uint8_t> buf(backup_buffer_len(config_));
  std::vector<SyncConn> records(kMaxConnsPerMessage);
  const uint8_t syncid = static_cast<uint8_t>(config_.syncid);
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      ++stats_.errors;
      continue;
    }
    ReadStats read;
    const size_t good =
        read_message({buf.data(), static_cast<size_t>(n)}, syncid, records, read);
    if (good > 0) sink_({records.data(), good});
    std::lock_guard lock(mutex_);
    ++stats_.messages;
    stats_.read.messages += read.messages;
    stats_.read.records += read.records;
    for (size_t i = 0; i < read.rejects.size(); ++i) stats_.read.rejects[i] += read.rejects[i];
  }
}

}  // namespace uvs::sync
