#include "nl/nexthop.h"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace uvs::nl {
namespace {

// The answer for a destination the published table does not hold yet.
const NextHop kPendingHop{};

// A neighbour the kernel is already soliciting for is asked about again at most this often: a
// second request changes nothing while the first is under way.
constexpr std::chrono::milliseconds kProbeGap{1000};
// While replaced tables wait for a slow reader, the helper looks again this often.
constexpr std::chrono::milliseconds kReclaimPoll{50};

size_t table_capacity(size_t entries) {
  size_t capacity = 8;
  while (capacity < 2 * entries) capacity *= 2;
  return capacity;
}

}  // namespace

// ---- NextHopTable ----------------------------------------------------------------------------

NextHopTable::NextHopTable(uint64_t generation,
                           const std::vector<std::pair<InetAddr, NextHop>>& entries)
    : generation_(generation),
      size_(entries.size()),
      mask_(table_capacity(entries.size()) - 1),
      slots_(table_capacity(entries.size())) {
  for (const auto& [addr, hop] : entries) {
    size_t i = InetAddrHash()(addr) & mask_;
    while (slots_[i].used && !(slots_[i].key == addr)) i = (i + 1) & mask_;
    slots_[i].used = true;
    slots_[i].key = addr;
    slots_[i].hop = hop;
  }
}

// ---- TablePublisher --------------------------------------------------------------------------
//
// Why it is safe (all operations below are sequentially consistent). The writer replaces the
// table, then advances the epoch to E, then frees the old table once every reader's
// seen_epoch_ is >= E. A reader stores the epoch it read into seen_epoch_ before it loads the
// table. A reader whose seen_epoch_ is >= E read the epoch after the writer advanced it, hence
// after the replacement, so it loads the new table; a reader that loaded the old table stored
// an epoch < E and keeps the old table alive until its next quiescent point. A reader coming
// online after the writer saw it offline stores its epoch after that check, so it too loads
// the new table.

const NextHopTable* TablePublisher::Reader::refresh() {
  seen_epoch_.store(publisher_->epoch_.load());
  return publisher_->current_.load();
}

void TablePublisher::Reader::go_offline() { seen_epoch_.store(kOffline); }

TablePublisher::TablePublisher(size_t max_readers)
    : readers_(new Reader[max_readers]), max_readers_(max_readers) {
  for (size_t i = 0; i < max_readers; ++i) readers_[i].publisher_ = this;
}

TablePublisher::~TablePublisher() {
  delete current_.load();
  for (const auto& [epoch, table] : retired_) delete table;
}

TablePublisher::Reader* TablePublisher::add_reader() {
  std::lock_guard lock(add_mu_);
  size_t index = reader_count_.load();
  if (index == max_readers_) return nullptr;
  reader_count_.store(index + 1);
  return &readers_[index];
}

void TablePublisher::publish(std::unique_ptr<const NextHopTable> table) {
  const NextHopTable* old = current_.exchange(table.release());
  uint64_t free_at = epoch_.fetch_add(1) + 1;
  if (old != nullptr) retired_.emplace_back(free_at, old);
  reclaim();
}

size_t TablePublisher::reclaim() {
  if (retired_.empty()) return 0;
  uint64_t oldest_seen = Reader::kOffline;
  size_t count = reader_count_.load();
  for (size_t i = 0; i < count; ++i)
    oldest_seen = std::min(oldest_seen, readers_[i].seen_epoch_.load());
  std::erase_if(retired_, [&](const auto& entry) {
    if (entry.first > oldest_seen) return false;
    delete entry.second;
    return true;
  });
  return retired_.size();
}

// ---- RequestRing -----------------------------------------------------------------------------

bool RequestRing::push(const InetAddr& addr) {
  uint32_t head = head_.load(std::memory_order_relaxed);
  if (head - tail_.load(std::memory_order_acquire) == kCapacity) return false;
  slots_[head % kCapacity] = addr;
  head_.store(head + 1, std::memory_order_release);
  return true;
}

bool RequestRing::pop(InetAddr& addr) {
  uint32_t tail = tail_.load(std::memory_order_relaxed);
  if (tail == head_.load(std::memory_order_acquire)) return false;
  addr = slots_[tail % kCapacity];
  tail_.store(tail + 1, std::memory_order_release);
  return true;
}

// ---- WorkerNextHops --------------------------------------------------------------------------

void WorkerNextHops::begin_burst() {
  table_ = reader_->refresh();
  woke_helper_this_burst_ = false;
}

void WorkerNextHops::go_idle() {
  table_ = nullptr;
  reader_->go_offline();
}

const NextHop& WorkerNextHops::resolve(const InetAddr& daddr) {
  if (table_ != nullptr) {
    if (const NextHop* hop = table_->find(daddr)) return *hop;
  }
  request(daddr);
  return kPendingHop;
}

void WorkerNextHops::request(const InetAddr& daddr) {
  uint64_t generation = this->generation();
  RecentRequest& recent = recent_[InetAddrHash()(daddr) % kRecentSlots];
  // Asked already and no table came out since: the helper has it.
  if (recent.generation == generation && recent.addr == daddr && generation != 0) return;
  if (!requests_.push(daddr)) return;  // full: the next packet asks again
  recent.addr = daddr;
  recent.generation = generation;
  if (!woke_helper_this_burst_) {
    // The only syscall a worker makes here, and only for a destination new to it.
    uint64_t one = 1;
    ssize_t written = write(wake_fd_, &one, sizeof(one));
    (void)written;  // a full eventfd counter already means "wake up"
    woke_helper_this_burst_ = true;
  }
}

// ---- NextHopResolver -------------------------------------------------------------------------

NextHopResolver::NextHopResolver(const Options& options, std::unique_ptr<KernelCache> cache,
                                 int wake_fd)
    : options_(options),
      cache_(std::move(cache)),
      wake_fd_(wake_fd),
      // One reader more than workers: the control plane's, for lookup().
      publisher_(options.max_workers + 1),
      workers_(options.max_workers) {}

std::unique_ptr<NextHopResolver> NextHopResolver::start(const Options& options,
                                                        std::string* error) {
  std::unique_ptr<KernelCache> cache = KernelCache::open(error);
  if (cache == nullptr) return nullptr;
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    *error = std::string("eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<NextHopResolver> resolver(
      new NextHopResolver(options, std::move(cache), wake_fd));
  resolver->control_reader_ = resolver->publisher_.add_reader();
  resolver->generation_.store(1);
  resolver->publisher_.publish(
      std::make_unique<NextHopTable>(1, std::vector<std::pair<InetAddr, NextHop>>{}));
  resolver->helper_ = std::thread([r = resolver.get()] { r->run(); });
  pthread_setname_np(resolver->helper_.native_handle(), "uvs-nexthop");
  return resolver;
}

NextHopResolver::~NextHopResolver() {
  stopping_.store(true);
  wake_helper();
  if (helper_.joinable()) helper_.join();
  close(wake_fd_);
}

void NextHopResolver::wake_helper() {
  uint64_t one = 1;
  ssize_t written = write(wake_fd_, &one, sizeof(one));
  (void)written;
}

WorkerNextHops* NextHopResolver::add_worker() {
  std::lock_guard lock(control_mu_);
  size_t index = worker_count_.load();
  if (index == workers_.size()) return nullptr;
  TablePublisher::Reader* reader = publisher_.add_reader();
  if (reader == nullptr) return nullptr;
  workers_[index].reset(new WorkerNextHops(reader, wake_fd_));
  // Published after the slot is filled: the helper only reads slots below the count.
  worker_count_.store(index + 1);
  return workers_[index].get();
}

void NextHopResolver::prefetch(const InetAddr& daddr) {
  {
    std::lock_guard lock(control_mu_);
    prefetch_queue_.push_back(daddr);
  }
  wake_helper();
}

void NextHopResolver::forget(const InetAddr& daddr) {
  {
    std::lock_guard lock(control_mu_);
    forget_queue_.push_back(daddr);
  }
  wake_helper();
}

std::optional<NextHop> NextHopResolver::lookup(const InetAddr& daddr) {
  std::lock_guard lock(control_mu_);
  const NextHopTable* table = control_reader_->refresh();
  std::optional<NextHop> result;
  if (table != nullptr) {
    if (const NextHop* hop = table->find(daddr)) result = *hop;
  }
  control_reader_->go_offline();
  return result;
}

// ---- Helper thread ---------------------------------------------------------------------------

void NextHopResolver::run() {
  Clock::time_point next_refresh = Clock::now() + options_.refresh_interval;
  while (!stopping_.load()) {
    Clock::time_point now = Clock::now();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_refresh - now);
    if (publisher_.reclaim() > 0) wait = std::min(wait, kReclaimPoll);
    if (publish_due_)
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(*publish_due_ - now));
    pollfd fds[2] = {{cache_->event_fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    poll(fds, 2, static_cast<int>(std::max<int64_t>(wait.count(), 0)));
    if (stopping_.load()) break;
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      ssize_t got = read(wake_fd_, &count, sizeof(count));
      (void)got;
    }

    CacheChanges changes = cache_->process_events();
    const Taken taken = take_requests();
    bool refresh = Clock::now() >= next_refresh;
    if (refresh) {
      // Ask everything again: catches what raises no event (a learned path MTU).
      cache_->invalidate_routes();
      next_refresh = Clock::now() + options_.refresh_interval;
    }
    if (changes.any() || refresh)
      recompute(refresh, taken.changed() || publish_due_.has_value());
    else if (taken.changed())
      add_destinations(taken);
    // A worker that asked waits for the table (a held packet): now.
    if (publish_due_ && (taken.from_worker || Clock::now() >= *publish_due_)) publish();
  }
}

void NextHopResolver::add_destinations(const Taken& taken) {
  for (const InetAddr& addr : taken.added) {
    auto it = destinations_.find(addr);
    if (it != destinations_.end()) it->second = compute(addr, &it->second, false);
  }
  if (!publish_due_) publish_due_ = Clock::now() + kCoalesce;
}

NextHopResolver::Taken NextHopResolver::take_requests() {
  Taken taken;
  auto add = [&](const InetAddr& addr) {
    if (destinations_.emplace(addr, kPendingHop).second) taken.added.push_back(addr);
  };
  size_t count = worker_count_.load();
  for (size_t i = 0; i < count; ++i) {
    InetAddr addr;
    while (workers_[i]->requests_.pop(addr)) {
      add(addr);
      taken.from_worker = true;
    }
  }
  std::vector<InetAddr> prefetches;
  std::vector<InetAddr> forgets;
  {
    std::lock_guard lock(control_mu_);
    prefetches.swap(prefetch_queue_);
    forgets.swap(forget_queue_);
  }
  for (const InetAddr& addr : prefetches) add(addr);
  for (const InetAddr& addr : forgets) {
    if (destinations_.erase(addr) > 0) {
      cache_->forget_route(addr);
      taken.removed = true;
    }
  }
  // One forgotten and added again in the same round is simply there.
  std::erase_if(taken.added, [&](const InetAddr& a) { return !destinations_.count(a); });
  return taken;
}

void NextHopResolver::recompute(bool refresh, bool force_publish) {
  bool changed = force_publish;
  for (auto& [daddr, hop] : destinations_) {
    NextHop next = compute(daddr, &hop, refresh);
    if (!(next == hop)) {
      hop = next;
      changed = true;
    }
  }
  if (refresh) {
    // Forget probe times nobody will compare against any more.
    Clock::time_point horizon =
        Clock::now() - 4 * std::max(options_.failed_neighbour_retry, options_.refresh_interval);
    std::erase_if(last_probe_, [&](const auto& entry) { return entry.second < horizon; });
  }
  if (changed) publish();
}

void NextHopResolver::publish() {
  publish_due_.reset();
  std::vector<std::pair<InetAddr, NextHop>> entries(destinations_.begin(), destinations_.end());
  uint64_t generation = generation_.load() + 1;
  publisher_.publish(std::make_unique<NextHopTable>(generation, entries));
  generation_.store(generation);
}

bool NextHopResolver::probe_neighbour(uint32_t ifindex, const InetAddr& addr,
                                      std::chrono::milliseconds min_gap) {
  Clock::time_point now = Clock::now();
  auto [it, inserted] = last_probe_.try_emplace(NeighbourKey{ifindex, addr}, now);
  if (!inserted) {
    if (now - it->second < min_gap) return false;
    it->second = now;
  }
  return cache_->request_neighbour(ifindex, addr) == 0;
}

NextHop NextHopResolver::compute(const InetAddr& daddr, const NextHop* previous, bool refresh) {
  NextHop hop;
  auto unreachable = [&](int error) {
    hop.state = NextHopState::kUnreachable;
    hop.error = error;
    return hop;
  };

  Route route = cache_->route_to(daddr);
  if (route.lookup_failed()) {
    // No answer this time; the last one stands until the next event or refresh asks again.
    return previous != nullptr ? *previous : kPendingHop;
  }
  if (route.error != 0) return unreachable(route.error);
  hop.ifindex = route.oif;
  hop.src = route.prefsrc.value_or(InetAddr{});
  std::optional<Link> link = cache_->link(route.oif);
  uint32_t link_mtu = link ? link->mtu : 0;
  hop.mtu = route.mtu != 0 && link_mtu != 0 ? std::min(route.mtu, link_mtu)
                                            : (route.mtu != 0 ? route.mtu : link_mtu);
  switch (route.type) {
    case RTN_LOCAL:
      hop.state = NextHopState::kResolved;
      hop.is_local = true;
      if (hop.src.is_zero()) hop.src = daddr;
      return hop;
    case RTN_UNICAST:
      break;
    case RTN_UNREACHABLE:
      return unreachable(EHOSTUNREACH);
    case RTN_PROHIBIT:
      return unreachable(EACCES);
    case RTN_BLACKHOLE:
      return unreachable(EINVAL);
    default:  // broadcast, multicast, anycast, throw: nothing a real server lives behind
      return unreachable(ENETUNREACH);
  }

  if (!link) return unreachable(ENODEV);
  if (!link->running()) return unreachable(ENETDOWN);
  // Frames are built for Ethernet links only (veth, physical NICs, virtio, bonds, VLANs).
  if (link->type != ARPHRD_ETHER || !link->mac) return unreachable(ENOTSUP);
  hop.src_mac = *link->mac;
  hop.via_gateway = route.gateway.has_value();
  hop.neighbour = route.gateway.value_or(daddr);

  std::optional<Neighbour> neighbour = cache_->neighbour(hop.ifindex, hop.neighbour);
  if (neighbour && neighbour->usable()) {
    // STALE: the kernel would re-verify the entry when it next sends through it, but uvs's
    // packets bypass the kernel, so ask it to (STALE -> DELAY -> PROBE, unicast solicitation).
    if (refresh && (neighbour->state & NUD_STALE))
      probe_neighbour(hop.ifindex, hop.neighbour, kProbeGap);
    hop.state = NextHopState::kResolved;
    hop.dst_mac = *neighbour->mac;
    return hop;
  }

  bool same_neighbour = previous != nullptr && previous->ifindex == hop.ifindex &&
                        previous->neighbour == hop.neighbour;
  // Unreachable because this very neighbour did not answer (not because of the route).
  bool failed_before = same_neighbour && previous->state == NextHopState::kUnreachable &&
                       previous->error == EHOSTUNREACH;
  bool failed_now = neighbour && (neighbour->state & NUD_FAILED);
  // An entry the kernel does not hold (never made, or dropped) is asked for at once; one it
  // is already soliciting for is not pressed; a failed one is retried now and then.
  bool absent = !neighbour || neighbour->state == NUD_NONE;
  std::chrono::milliseconds gap = failed_now || failed_before ? options_.failed_neighbour_retry
                                  : absent                    ? std::chrono::milliseconds(0)
                                                              : kProbeGap;
  bool probed = probe_neighbour(hop.ifindex, hop.neighbour, gap);
  if (failed_before) return unreachable(EHOSTUNREACH);
  if (failed_now) {
    // A failure older than our own solicitation (left by earlier kernel traffic) says nothing
    // yet: the kernel is asking again, wait for that answer.
    bool new_here =
        previous == nullptr || !same_neighbour || previous->state == NextHopState::kPending;
    if (!(new_here && probed)) return unreachable(EHOSTUNREACH);
    hop.state = NextHopState::kPending;
    return hop;
  }
  if (same_neighbour && previous->state == NextHopState::kResolved) {
    // The kernel dropped an entry we were using (garbage collection, a flush) and is
    // resolving it again: keep sending to the address it had rather than holding traffic; a
    // new address or a failure arrives as an event.
    hop.state = NextHopState::kResolved;
    hop.dst_mac = previous->dst_mac;
    return hop;
  }
  hop.state = NextHopState::kPending;
  return hop;
}

}  // namespace uvs::nl
