#include "xmit/synproxy.h"

#include <cstring>

#include "pkt/checksum.h"
#include "pkt/headers.h"
#include "xmit/reset.h"

namespace uvs::xmit {

namespace {

constexpr uint8_t kOptEol = 0, kOptNop = 1, kOptMss = 2, kOptWscale = 3, kOptSackPerm = 4,
                  kOptTimestamp = 8;
constexpr uint32_t kSeqOff = 4, kAckOff = 8, kDoffOff = 12, kFlagsOff = 13, kWindowOff = 14;
constexpr uint8_t kEcnMask = 0x03;
constexpr uint32_t kMaxSynOptions = 20;  // MSS 4 + SACK-permitted/timestamps 12 + wscale 4

// Calls fn(kind, option bytes, length) for each option of the TCP header at `tcp`.
template <typename Fn>
void for_each_option(const uint8_t* tcp, uint32_t hlen, Fn fn) {
  uint32_t i = pkt::kTcpHdrLen;
  while (i < hlen) {
    const uint8_t kind = tcp[i];
    if (kind == kOptEol) return;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= hlen) return;
    const uint8_t len = tcp[i + 1];
    if (len < 2 || i + len > hlen) return;
    fn(kind, tcp + i, len);
    i += len;
  }
}

uint32_t tcp_hlen(const uint8_t* frame, const pkt::ParsedPacket& p) {
  const uint32_t hlen = (frame[p.l4_off + kDoffOff] >> 4) * 4u;
  return hlen >= pkt::kTcpHdrLen && p.l4_off + hlen <= p.l3_end ? hlen : pkt::kTcpHdrLen;
}

// The options of a SYN or SYN-ACK as Linux's tcp_options_write() lays them out.
uint32_t write_options(uint8_t* o, const SynFields& s) {
  uint32_t n = 0;
  if (s.mss) {
    o[n++] = kOptMss;
    o[n++] = 4;
    pkt::store_be16(o + n, s.mss);
    n += 2;
  }
  if (s.timestamps) {
    if (s.sack) {
      o[n++] = kOptSackPerm;
      o[n++] = 2;
    } else {
      o[n++] = kOptNop;
      o[n++] = kOptNop;
    }
    o[n++] = kOptTimestamp;
    o[n++] = 10;
    pkt::store_be32(o + n, s.tsval);
    pkt::store_be32(o + n + 4, s.tsecr);
    n += 8;
  } else if (s.sack) {
    o[n++] = kOptNop;
    o[n++] = kOptNop;
    o[n++] = kOptSackPerm;
    o[n++] = 2;
  }
  if (s.wscale != 0xf) {
    o[n++] = kOptNop;
    o[n++] = kOptWscale;
    o[n++] = 3;
    o[n++] = s.wscale;
  }
  return n;
}

// IP and TCP headers of a SYN or SYN-ACK at f.data + kEthHdrLen; the frame is already sized.
void write_segment(io::Frame& f, bool v6, uint8_t tos, uint8_t ttl, const InetAddr& src,
                   const InetAddr& dst, uint16_t sport, uint16_t dport, uint8_t flags,
                   const SynFields& s, uint32_t opt_len) {
  const uint32_t ip_len = v6 ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen;
  const uint32_t tcp_len = pkt::kTcpHdrLen + opt_len;
  uint8_t* ip = f.data + pkt::kEthHdrLen;
  uint8_t* th = ip + ip_len;
  std::memset(th, 0, pkt::kTcpHdrLen);
  pkt::store_be16(th, sport);
  pkt::store_be16(th + 2, dport);
  pkt::store_be32(th + kSeqOff, s.seq);
  pkt::store_be32(th + kAckOff, s.ack);
  th[kDoffOff] = static_cast<uint8_t>((tcp_len / 4) << 4);
  th[kFlagsOff] = flags;
  pkt::store_be16(th + kWindowOff, s.window);
  write_options(th + pkt::kTcpHdrLen, s);
  write_local_tcp_ip(ip, v6, tos, ttl, src, dst, tcp_len);
}

uint32_t options_len(const SynFields& s) {
  uint8_t scratch[kMaxSynOptions];
  return write_options(scratch, s);
}

uint8_t tos_of(const uint8_t* frame, const pkt::ParsedPacket& p) {
  const uint8_t* ip = frame + p.l3_off;
  return static_cast<uint8_t>((p.is_v6() ? (pkt::load_be16(ip) >> 4) & 0xff : ip[1]) &
                              ~kEcnMask);
}

}  // namespace

SynOffer read_syn_offer(const uint8_t* frame, const pkt::ParsedPacket& p) {
  SynOffer o;
  const uint8_t* tcp = frame + p.l4_off;
  for_each_option(tcp, tcp_hlen(frame, p), [&](uint8_t kind, const uint8_t* opt, uint8_t len) {
    if (kind == kOptMss && len == 4) {
      o.mss = pkt::load_be16(opt + 2);
    } else if (kind == kOptWscale && len == 3) {
      o.wscale = opt[2] > 14 ? 14 : opt[2];  // RFC 7323 2.3
    } else if (kind == kOptSackPerm && len == 2) {
      o.sack = true;
    } else if (kind == kOptTimestamp && len == 10) {
      o.timestamps = true;
      o.tsval = pkt::load_be32(opt + 2);
    }
  });
  return o;
}

bool read_timestamps(const uint8_t* frame, const pkt::ParsedPacket& p, uint32_t* tsval,
                     uint32_t* tsecr) {
  bool found = false;
  const uint8_t* tcp = frame + p.l4_off;
  for_each_option(tcp, tcp_hlen(frame, p), [&](uint8_t kind, const uint8_t* opt, uint8_t len) {
    if (kind != kOptTimestamp || len != 10) return;
    *tsval = pkt::load_be32(opt + 2);
    *tsecr = pkt::load_be32(opt + 6);
    found = true;
  });
  return found;
}

SynFields syn_fields(const conn::SynOptions& o) {
  SynFields s;
  s.mss = o.mss;
  s.wscale = o.wscale;
  s.sack = o.sack;
  s.timestamps = o.timestamps;
  return s;
}

bool make_synack(io::Frame& f, const pkt::ParsedPacket& p, const SynFields& s, uint8_t ttl,
                 const L2Next& back) {
  const bool v6 = p.is_v6();
  const uint8_t tos = tos_of(f.data, p);
  const InetAddr src = p.daddr, dst = p.saddr;
  const uint16_t sport = p.dport, dport = p.sport;
  const uint32_t opt_len = options_len(s);
  const uint32_t len = pkt::kEthHdrLen + (v6 ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen) +
                       pkt::kTcpHdrLen + opt_len;
  // The IP header moves to right after a plain Ethernet header (VLAN tags go).
  const int32_t shift = static_cast<int32_t>(pkt::kEthHdrLen) - static_cast<int32_t>(p.l3_off);
  if (shift > 0 && !f.push_front(static_cast<uint16_t>(shift))) return false;
  if (shift < 0) f.pull_front(static_cast<uint16_t>(-shift));
  if (!f.adjust_tail(static_cast<int32_t>(len) - static_cast<int32_t>(f.len))) return false;
  write_segment(f, v6, tos, ttl, src, dst, sport, dport, pkt::kTcpSyn | pkt::kTcpAck, s,
                opt_len);
  return set_ethernet_at(f, pkt::kEthHdrLen, v6 ? AF_INET6 : AF_INET, back);
}

bool make_proxy_syn(io::Frame& out, const io::Frame& ack, const pkt::ParsedPacket& p,
                    const SynFields& s) {
  const bool v6 = p.is_v6();
  const uint32_t opt_len = options_len(s);
  const uint32_t len = pkt::kEthHdrLen + (v6 ? pkt::kIpv6HdrLen : pkt::kIpv4HdrLen) +
                       pkt::kTcpHdrLen + opt_len;
  out.len = 0;
  if (!out.adjust_tail(static_cast<int32_t>(len))) return false;
  // The client's Ethernet addresses, as the transmitter expects of a received frame.
  std::memcpy(out.data, ack.data, 12);
  pkt::store_be16(out.data + 12, v6 ? pkt::kEthPIpv6 : pkt::kEthPIpv4);
  out.port = ack.port;
  write_segment(out, v6, tos_of(ack.data, p), ack.data[p.ttl_off()], p.saddr, p.daddr, p.sport,
                p.dport, pkt::kTcpSyn, s, opt_len);
  return true;
}

}  // namespace uvs::xmit
