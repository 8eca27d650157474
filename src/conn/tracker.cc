#include "conn/tracker.h"

#include <random>

namespace uvs::conn {

namespace {

constexpr uint64_t kDefenseIntervalMs = 1000;

}  // namespace

Tracker::Tracker(const TrackerOptions& options, uint64_t now_ms)
    : table_(options.table),
      wheel_(table_, now_ms, options.wheel),
      timeouts_(options.timeouts),
      sysctls_(options.sysctls),
      defense_(options.sysctls.defense),
      next_defense_ms_(now_ms + kDefenseIntervalMs),
      rng_(options.rng_seed != 0
                     ? options.rng_seed
                     : (uint64_t{std::random_device{}()} << 32) | std::random_device{}()) {
  drop_scan_pos_ = static_cast<uint32_t>(rng_.next() % table_.capacity());
}

void Tracker::set_sysctls(const ConnSysctls& sysctls) {
  const DefenseModes& old = sysctls_.defense;
  const DefenseModes& now = sysctls.defense;
  const bool modes_changed =
      old.drop_entry != now.drop_entry || old.drop_packet != now.drop_packet ||
      old.secure_tcp != now.secure_tcp || old.am_droprate != now.am_droprate ||
      old.full_percent != now.full_percent;
  sysctls_ = sysctls;
  if (modes_changed) {
    // Writing a defence sysctl re-evaluates at once, as the kernel's proc handler does.
    defense_.set_modes(now);
    defense_.update(table_.available(), table_.capacity());
  }
}

// --- Creation ---------------------------------------------------------------------------

void Tracker::bind_dest(Conn& c, sched::Dest* dest, uint16_t extra_flags) {
  // ip_vs_bind_dest(): the dest's connection flags (forwarding method, INACTIVE, NOOUTPUT for
  // methods that never see replies), then the counter that matches.
  uint16_t conn_flags = kConnInactive;
  if (dest != nullptr) {
    const Fwd fwd = dest->forwarding().fwd;
    conn_flags |= static_cast<uint16_t>(fwd);
    if (fwd != Fwd::kMasq && fwd != Fwd::kFullNat) conn_flags |= kConnNoOutput;
    c.daf = static_cast<uint8_t>(dest->key().addr.family);
    c.daddr = dest->key().addr.bytes;
  } else {
    // A synced entry whose dest does not exist (yet) keeps the method its record names.
    conn_flags |= extra_flags & (kConnFwdMask | kConnNoOutput);
  }
  uint16_t flags =
      extra_flags & (kConnOnePacket | kConnNoCport | kConnSync | kConnTemplate | kConnInactive);
  if (c.protocol != kProtoUdp) flags &= ~kConnOnePacket;
  if (flags & kConnSync) {
    // A synced connection keeps the activity its record says.
    if (!(flags & kConnTemplate)) conn_flags &= ~kConnInactive;
  } else {
    flags &= ~kConnInactive;
  }
  c.flags = flags | conn_flags;
  c.dest = dest;
  if (dest != nullptr) dest->bind_conn(kind_of(c));
}

Conn* Tracker::new_entry(const ConnParams& p, sched::Dest* dest, uint16_t dport,
                         uint16_t extra_flags) {
  Conn* c = table_.alloc();
  if (c == nullptr) {
    ++stats_.create_failed;
    return nullptr;
  }
  c->af = p.af;
  c->protocol = p.protocol;
  c->caddr = p.caddr;
  c->cport = p.cport;
  c->vaddr = p.vaddr;
  c->vport = p.vport;
  c->dport = dport;
  c->fwmark = p.fwmark;
  c->daf = p.daf;
  c->daddr = p.daddr;
  bind_dest(*c, dest, extra_flags);
  // The local side of a FULLNAT connection is the pool's choice, or a sync record's.
  if (c->fwd() == Fwd::kFullNat) {
    c->laddr = p.laddr;
    c->lport = p.lport;
  }
  return c;
}

bool Tracker::link_or_undo(Conn& c) {
  if (table_.link(c)) return true;
  if (c.dest != nullptr) c.dest->unbind_conn(kind_of(c));
  table_.free(c);
  ++stats_.create_failed;
  return false;
}

Conn* Tracker::create(const ConnParams& p, sched::Dest* dest, uint16_t dport, Conn* tmpl,
                      uint64_t now_ms) {
  Conn* c = new_entry(p, dest, dport, static_cast<uint16_t>(p.flags & ~kConnTemplate));
  if (c == nullptr) {
    if (tmpl != nullptr) refresh(*tmpl, now_ms);  // the kernel's put of the template
    return nullptr;
  }
  c->state = 0;
  c->timeout_ms = kInitialTimeoutMs;
  c->expires_ms = now_ms + kInitialTimeoutMs;
  if (!(c->flags & kConnOnePacket)) {
    // A ONE_PACKET connection is never found again: not linked, not armed.
    if (!link_or_undo(*c)) {
      if (tmpl != nullptr) refresh(*tmpl, now_ms);
      return nullptr;
    }
    wheel_.arm(*c);
  }
  if (tmpl != nullptr) {
    // ip_vs_control_add(), then the template's put restarts its full timeout.
    c->control = table_.index_of(*tmpl);
    ++tmpl->n_control;
    refresh(*tmpl, now_ms);
  }
  ++stats_.conns_created;
  return c;
}

// --- Sync backup ------------------------------------------------------------------------

Conn* Tracker::create_synced(const ConnParams& p, sched::Dest* dest, uint16_t dport,
                             uint8_t state, uint32_t timeout_ms, uint64_t now_ms) {
  // ip_vs_conn_new() takes the synced forwarding method over the dest's only when there is no
  // dest; with one, the dest decides, as on the master (bind_dest()).
  Conn* c = new_entry(p, dest, dport, p.flags);
  if (c == nullptr) return nullptr;
  c->state = state;
  c->old_state = state;
  c->timeout_ms = timeout_ms;
  c->expires_ms = now_ms + timeout_ms;
  if (!link_or_undo(*c)) return nullptr;
  wheel_.arm(*c);
  if (c->is_template())
    ++stats_.templates_created;
  else
    ++stats_.conns_created;
  return c;
}

void Tracker::set_synced_activity(Conn& c, bool inactive) {
  if (c.is_template() || c.inactive() == inactive) return;
  if (c.dest != nullptr) {
    if (inactive)
      c.dest->conn_became_inactive();
    else
      c.dest->conn_became_active();
  }
  c.flags = static_cast<uint16_t>(inactive ? c.flags | kConnInactive : c.flags & ~kConnInactive);
}

void Tracker::bind_synced(Conn& c, sched::Dest* dest) {
  if (c.dest != nullptr || dest == nullptr) return;
  // The dest's forwarding method replaces the record's, and with it the entry's keys (FULLNAT
  // adds a reply key): the entry is re-filed, never re-keyed in place.
  const bool hashed = c.flags & kConnHashed;
  if (hashed) table_.unlink(c);
  bind_dest(c, dest, c.flags);
  if (hashed) table_.link(c);
}

// --- Persistence ------------------------------------------------------------------------

Conn* Tracker::find_template(const TemplateKey& key) {
  Conn* tmpl = table_.lookup_template(key);
  if (tmpl == nullptr || !check_template(*tmpl)) return nullptr;
  return tmpl;
}

bool Tracker::check_template(Conn& tmpl) {
  const sched::Dest* dest = tmpl.dest;
  if (dest != nullptr && dest->available() &&
      !(sysctls_.expire_quiescent_template && dest->weight() == 0))
    return true;
  if (tmpl.vport != kInvalidPort) {
    // Ports out of any key's range: the template can never be found again, and a new one
    // with the same key can be made next to it. It leaves when its timer says so.
    table_.unlink(tmpl);
    tmpl.dport = kInvalidPort;
    tmpl.vport = kInvalidPort;
    tmpl.cport = 0;
    table_.link(tmpl);
    ++stats_.templates_invalidated;
  }
  return false;
}

Conn* Tracker::create_template(const TemplateKey& key, const ServiceConfig& svc, sched::Dest* dest,
                               uint16_t pkt_dport, uint32_t fwmark, uint64_t now_ms) {
  Conn* t = table_.alloc();
  if (t == nullptr) {
    ++stats_.create_failed;
    return nullptr;
  }
  t->af = key.af;
  t->protocol = key.protocol;
  t->caddr = key.snet;
  t->cport = 0;
  t->vaddr = key.vaddr;
  t->vport = key.vport;
  t->dport = template_dport(svc, pkt_dport, dest != nullptr ? dest->key().port : 0);
  t->fwmark = fwmark;
  bind_dest(*t, dest, kConnTemplate);
  if (svc.flags & kSvcOnePacket) t->xflags |= kXOpsTemplate;
  t->state = kTemplateNone;
  t->timeout_ms = svc.timeout * 1000u;
  t->expires_ms = now_ms + t->timeout_ms;
  if (!table_.link(*t)) {
    if (dest != nullptr) dest->unbind_conn(sched::ConnKind::kTemplate);
    table_.free(*t);
    ++stats_.create_failed;
    return nullptr;
  }
  wheel_.arm(*t);
  ++stats_.templates_created;
  return t;
}

// --- Per packet ---------------------------------------------------------------------------

bool Tracker::is_new_conn_expected(const Conn& c, int conn_reuse_mode) {
  switch (c.protocol) {
    case kProtoTcp:
      return c.state == tcp::kTimeWait || c.state == tcp::kClose ||
             ((conn_reuse_mode & 2) && c.state == tcp::kFinWait && (c.flags & kConnNoOutput));
    case kProtoSctp:
      return c.state == sctp::kClosed;
    default:
      return false;
  }
}

Existing Tracker::check_existing(Conn& c, const L4Info& l4, bool is_fragment, uint64_t now_ms) {
  // Step 5: a new SYN/INIT on the tuple of an uncontrolled connection.
  if (!is_fragment && !c.controlled() && is_new_conn_packet(c.protocol, l4)) {
    bool resched = false;
    if (sysctls_.expire_nodest_conn && c.dest != nullptr && c.dest->weight() == 0) {
      resched = true;
    } else if (sysctls_.conn_reuse_mode != 0 && is_new_conn_expected(c, sysctls_.conn_reuse_mode)) {
      // Without conntrack there is never an old conntrack entry to protect.
      resched = true;
    }
    if (resched) {
      // An entry that controls others stays for them; the packet is scheduled anyway.
      if (c.n_control == 0) expire_now(c, now_ms);
      ++stats_.rescheduled;
      return Existing::kReschedule;
    }
  }
  // Step 6: the dest was deleted.
  if (c.dest != nullptr && !c.dest->available()) {
    if (!sysctls_.expire_nodest_conn) return Existing::kDrop;
    expire_now(c, now_ms);
    ++stats_.rescheduled;
    return Existing::kReschedule;
  }
  return Existing::kForward;
}

void Tracker::fill_cport(Conn& c, uint16_t cport) {
  if (!(c.flags & kConnNoCport)) return;
  // The client port is part of the key: out of the index, change, back in.
  const bool linked = c.flags & kConnHashed;
  table_.unlink(c);
  c.cport = cport;
  c.flags &= ~kConnNoCport;
  if (linked) table_.link(c);
}

// --- Removal --------------------------------------------------------------------------------

bool Tracker::expire_unarmed(Conn& c, uint64_t now_ms, bool with_template) {
  if (c.n_control > 0) {
    // Controlled connections still point here: look again in a minute. The kernel stores the
    // 60 s as the entry's timeout, so later re-arms use it too.
    c.timeout_ms = kControllerRecheckMs;
    c.expires_ms = now_ms + kControllerRecheckMs;
    ++stats_.kept_for_controlled;
    if (hook_ != nullptr) hook_(hook_ctx_, c, ExpireEvent::kKept);
    return true;
  }
  table_.unlink(c);
  if (c.control != kNoConn) {
    Conn& ctl = table_.at(c.control);
    c.control = kNoConn;
    --ctl.n_control;
    // ip_vs_conn_del chain: a template nobody uses any more and that never saw its client
    // through goes with its last connection.
    if (with_template && ctl.n_control == 0 &&
        (!ctl.is_template() || ctl.state != kTemplateAssured))
      expire_armed(ctl, now_ms, /*with_template=*/true);
  }
  if (c.dest != nullptr) c.dest->unbind_conn(kind_of(c));
  ++stats_.expired;
  if (hook_ != nullptr) hook_(hook_ctx_, c, ExpireEvent::kFreed);
  table_.free(c);
  return false;
}

uint64_t Tracker::expiry_after_activity(const Conn& c) const {
  if (activity_hook_ == nullptr || c.is_template()) return 0;
  const uint64_t last = activity_hook_(activity_ctx_, c);
  return last == 0 ? 0 : last + c.timeout_ms;
}

bool Tracker::expire_due(Conn& c, uint64_t now_ms) {
  if (const uint64_t later = expiry_after_activity(c); later > now_ms) {
    c.expires_ms = later;
    return true;
  }
  return expire_unarmed(c, now_ms, /*with_template=*/false);
}

void Tracker::flush(uint64_t now_ms) {
  // Controllers go after what they control; a template still controlling something is
  // skipped on one pass and taken on a later one.
  for (int pass = 0; pass < 3 && table_.size() > 0; ++pass) {
    for (uint32_t i = 0; i < table_.capacity(); ++i) {
      Conn& c = table_.at(i);
      if (!c.in_use() || c.n_control > 0) continue;
      expire_now(c, now_ms);
    }
  }
}

// --- Ticks ----------------------------------------------------------------------------------

void Tracker::update_defense(uint64_t now_ms) {
  next_defense_ms_ = now_ms + kDefenseIntervalMs;
  defense_.update(table_.available(), table_.capacity());
  if (defense_.drop_entry_active()) {
    // The kernel's 1/32 of the table per second. It starts each slice at a random bucket; we
    // go on from where the last slice ended (from a random start), so 32 s cover it all.
    drop_scan_left_ = table_.capacity() / 32 == 0 ? 1 : table_.capacity() / 32;
  } else {
    drop_scan_left_ = 0;
  }
}

bool Tracker::drop_entry_wanted(const Conn& c, uint64_t now_ms) {
  // ip_vs_random_dropentry(): half-open connections first, then idle ones with few packets.
  if (c.n_control > 0) return false;
  if (c.is_template()) {
    if (c.xflags & kXOpsTemplate) return defense_.drop_entry_candidate(c, now_ms);
    return c.state != kTemplateAssured;
  }
  if (c.flags & kConnOnePacket) return false;  // gone after this burst anyway
  switch (c.protocol) {
    case kProtoTcp:
      if (c.state == tcp::kSynRecv || c.state == tcp::kSynAck) return true;
      return c.state == tcp::kEstablished && defense_.drop_entry_candidate(c, now_ms);
    case kProtoSctp:
      if (c.state == sctp::kInit1 || c.state == sctp::kInit) return true;
      return c.state == sctp::kEstablished && defense_.drop_entry_candidate(c, now_ms);
    default:
      return defense_.drop_entry_candidate(c, now_ms);
  }
}

uint32_t Tracker::run_scans(uint64_t now_ms, uint32_t budget, uint32_t* dropped) {
  const uint32_t capacity = table_.capacity();
  uint32_t steps = 0;
  while (steps < budget && drop_scan_left_ > 0) {
    Conn& c = table_.at(drop_scan_pos_);
    drop_scan_pos_ = drop_scan_pos_ + 1 == capacity ? 0 : drop_scan_pos_ + 1;
    --drop_scan_left_;
    ++steps;
    if (c.in_use() && drop_entry_wanted(c, now_ms)) {
      expire_now_with_template(c, now_ms);
      ++stats_.defense_dropped_entries;
      ++*dropped;
    }
  }
  while (steps < budget && nodest_scan_left_ > 0) {
    Conn& c = table_.at(nodest_scan_pos_);
    nodest_scan_pos_ = nodest_scan_pos_ + 1 == capacity ? 0 : nodest_scan_pos_ + 1;
    --nodest_scan_left_;
    ++steps;
    // ip_vs_expire_nodest_conn_flush(): connections of a vanished dest, then their
    // controller if that leaves it unused.
    if (!c.in_use() || c.dest == nullptr || c.dest->available() || c.n_control > 0) continue;
    const uint32_t ctl = c.control;
    expire_now_with_template(c, now_ms);
    ++*dropped;
    if (ctl != kNoConn) {
      Conn& t = table_.at(ctl);
      if (t.in_use() && t.n_control == 0) {
        expire_now_with_template(t, now_ms);
        ++*dropped;
      }
    }
  }
  return steps;
}

TickResult Tracker::tick(uint64_t now_ms, uint32_t budget) {
  TickResult r;
  if (now_ms >= next_defense_ms_) update_defense(now_ms);
  r.wheel = wheel_.advance(now_ms, budget,
                           [&](Conn& c) { return expire_due(c, now_ms); });
  const uint32_t used = r.wheel.steps;
  if (used < budget) r.scanned = run_scans(now_ms, budget - used, &r.dropped);
  return r;
}

// --- Listing --------------------------------------------------------------------------------

ConnView Tracker::view_of(const Conn& c, uint64_t now_ms) {
  ConnView v;
  v.protocol = c.protocol;
  v.af = c.af;
  v.daf = c.daf;
  v.caddr = to_inet(c.af, c.caddr);
  v.vaddr = to_inet(c.af, c.vaddr);
  v.daddr = to_inet(c.daf, c.daddr);
  v.cport = c.cport;
  v.vport = c.vport;
  v.dport = c.dport;
  v.state = state_name(c);
  v.expire_secs = c.expires_ms > now_ms ? static_cast<uint32_t>((c.expires_ms - now_ms) / 1000) : 0;
  return v;
}

bool Tracker::serve_listing(ConnListing& listing, uint64_t now_ms, uint32_t budget) {
  if (!listing.requested()) return false;
  const uint32_t capacity = table_.capacity();
  const uint32_t end = capacity - listing.cursor_ < budget ? capacity : listing.cursor_ + budget;
  for (uint32_t i = listing.cursor_; i < end; ++i) {
    const Conn& c = table_.at(i);
    if (!c.in_use()) continue;
    listing.entries_.push_back(view_of(c, now_ms));
    // Traffic that bypassed the tracker (the XDP fast path) has pushed the expiry back already:
    // show it as the timer will find it.
    if (const uint64_t later = expiry_after_activity(c); later > std::max(c.expires_ms, now_ms))
      listing.entries_.back().expire_secs = static_cast<uint32_t>((later - now_ms) / 1000);
  }
  listing.cursor_ = end;
  if (end == capacity) listing.state_.store(ConnListing::kDone, std::memory_order_release);
  return true;
}

}  // namespace uvs::conn
