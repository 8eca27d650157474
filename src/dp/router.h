// Where a packet goes next, as a worker asks it: the kernel's routing and neighbour tables
// (nl/) for live traffic, a fixed table in tests and benchmarks.
#pragma once

#include <cstdint>
#include <vector>

#include "model/address.h"
#include "xmit/l3.h"

namespace uvs::dp {

using Hop = xmit::Hop;

enum class RouteResult : uint8_t {
  kResolved,
  kPending,      // the neighbour is being resolved: hold the packet briefly
  kUnreachable,  // no route
  kLocal,        // the destination is an address of this host
};

class Router {
 public:
  virtual ~Router() = default;
  // Non-blocking, lock-free for the calling worker.
  virtual RouteResult route(const InetAddr& dst, Hop* hop) = 0;
  // Quiescent points: answers from before begin_burst() are not used after it; idle() before
  // the worker sleeps.
  virtual void begin_burst() {}
  virtual void idle() {}
};

// A fixed table: exact destinations, then per-family defaults. For tests and benchmarks.
class StaticRouter : public Router {
 public:
  void add(const InetAddr& dst, const Hop& hop) { exact_.push_back({dst, hop}); }
  void set_default(uint16_t af, const Hop& hop) { (af == AF_INET6 ? v6_ : v4_) = {true, hop}; }
  void add_local(const InetAddr& addr) { local_.push_back(addr); }
  // `dst`'s neighbour is being resolved: kPending until resolve_pending(dst).
  void add_pending(const InetAddr& dst) { pending_.push_back(dst); }
  void resolve_pending(const InetAddr& dst) { std::erase(pending_, dst); }

  RouteResult route(const InetAddr& dst, Hop* hop) override {
    for (const auto& p : pending_)
      if (p == dst) return RouteResult::kPending;
    for (const auto& l : local_)
      if (l == dst) return RouteResult::kLocal;
    for (const auto& [addr, h] : exact_)
      if (addr == dst) {
        *hop = h;
        return RouteResult::kResolved;
      }
    const auto& def = dst.is_v6() ? v6_ : v4_;
    if (!def.first) return RouteResult::kUnreachable;
    *hop = def.second;
    return RouteResult::kResolved;
  }

 private:
  std::vector<std::pair<InetAddr, Hop>> exact_;
  std::vector<InetAddr> local_;
  std::vector<InetAddr> pending_;
  std::pair<bool, Hop> v4_{false, {}};
  std::pair<bool, Hop> v6_{false, {}};
};

}  // namespace uvs::dp
