#include "xmit/tcp_opts.h"

#include <cstring>

#include "io/xdp_flow_abi.h"
#include "pkt/checksum.h"
#include "pkt/headers.h"
#include "pkt/nat_rewrite.h"

namespace uvs::xmit {

namespace {

constexpr uint8_t kOptEol = 0;
constexpr uint8_t kOptNop = 1;
constexpr uint8_t kOptMss = 2;
constexpr uint8_t kOptSack = 5;
constexpr uint8_t kOptTimestamp = 8;

uint32_t tcp_header_len(const uint8_t* tcp) { return static_cast<uint32_t>(tcp[12] >> 4) * 4; }

// Calls fn(kind, offset_of_option, length) for each option; stops at EOL or a bad length.
template <typename Fn>
void for_each_option(uint8_t* tcp, Fn fn) {
  const uint32_t end = tcp_header_len(tcp);
  uint32_t i = pkt::kTcpHdrLen;
  while (i < end) {
    uint8_t kind = tcp[i];
    if (kind == kOptEol) return;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= end) return;
    uint8_t len = tcp[i + 1];
    if (len < 2 || i + len > end) return;
    fn(kind, i, len);
    i += len;
  }
}

}  // namespace

uint32_t tcp_seq(const uint8_t* frame, const pkt::ParsedPacket& p) {
  return pkt::load_be32(frame + p.l4_off + 4);
}
uint32_t tcp_ack(const uint8_t* frame, const pkt::ParsedPacket& p) {
  return pkt::load_be32(frame + p.l4_off + 8);
}

void tcp_shift_seq(uint8_t* frame, const pkt::ParsedPacket& p, uint32_t delta) {
  uvs_tcp_shift(frame + p.l4_off, delta, 0);  // the XDP fast path's code; checksum done later
}

void tcp_unshift_ack(uint8_t* frame, const pkt::ParsedPacket& p, uint32_t delta) {
  uint8_t* tcp = frame + p.l4_off;
  uvs_tcp_shift(tcp, 0, delta);
  for_each_option(tcp, [&](uint8_t kind, uint32_t off, uint8_t len) {
    if (kind != kOptSack) return;
    // Every 4-byte edge, left and right, of every 8-byte block.
    for (uint32_t b = off + 2; b + 4 <= off + len; b += 4)
      pkt::store_be32(tcp + b, pkt::load_be32(tcp + b) - delta);
  });
}

bool tcp_shift_in(uint8_t* frame, const pkt::ParsedPacket& p, const conn::Conn& c) {
  if (c.xflags & conn::kXFnatSeqDelta) {
    tcp_shift_seq(frame, p, c.seq_delta);
    return true;
  }
  if (c.xflags & conn::kXSynproxySeq) {
    tcp_unshift_ack(frame, p, c.seq_delta);
    return true;
  }
  return false;
}

bool tcp_shift_out(uint8_t* frame, const pkt::ParsedPacket& p, const conn::Conn& c) {
  if (c.xflags & conn::kXFnatSeqDelta) {
    tcp_unshift_ack(frame, p, c.seq_delta);
    return true;
  }
  if (c.xflags & conn::kXSynproxySeq) {
    tcp_shift_seq(frame, p, c.seq_delta);
    return true;
  }
  return false;
}

uint8_t flow_shift_in(const conn::Conn& c) {
  if (c.protocol != IPPROTO_TCP) return 0;
  if (c.xflags & conn::kXFnatSeqDelta) return UVS_FLOW_F_SEQ;
  return (c.xflags & conn::kXSynproxySeq) ? UVS_FLOW_F_ACK : 0;
}

uint8_t flow_shift_out(const conn::Conn& c) {
  if (c.protocol != IPPROTO_TCP) return 0;
  if (c.xflags & conn::kXFnatSeqDelta) return UVS_FLOW_F_ACK;
  return (c.xflags & conn::kXSynproxySeq) ? UVS_FLOW_F_SEQ : 0;
}

bool tcp_syn_fixups(uint8_t* frame, const pkt::ParsedPacket& p, bool remove_ts,
                    uint16_t mss_reduce) {
  uint8_t* tcp = frame + p.l4_off;
  bool changed = false;
  for_each_option(tcp, [&](uint8_t kind, uint32_t off, uint8_t len) {
    if (kind == kOptTimestamp && remove_ts) {
      std::memset(tcp + off, kOptNop, len);
      changed = true;
    } else if (kind == kOptMss && len == 4 && mss_reduce) {
      uint16_t mss = pkt::load_be16(tcp + off + 2);
      if (mss > mss_reduce + 536) {
        pkt::store_be16(tcp + off + 2, static_cast<uint16_t>(mss - mss_reduce));
        changed = true;
      }
    }
  });
  return changed;
}

bool tcp_insert_toa(io::Frame& f, pkt::ParsedPacket& p, const InetAddr& caddr, uint16_t cport,
                    uint32_t mtu) {
  const uint8_t opt_len = caddr.is_v6() ? kToaLenV6 : kToaLenV4;
  // Options grow in 4-byte words; the v4 option is 8 bytes, the v6 one padded with 4 NOPs.
  const uint32_t grow = (opt_len + 3u) & ~3u;
  uint8_t* tcp = f.data + p.l4_off;
  const uint32_t hdr = tcp_header_len(tcp);
  if (hdr + grow > pkt::kTcpMaxHdrLen) return false;
  if (p.ip_total_len() + grow > mtu) return false;
  // The frame must end at the datagram (no link padding) before growing it.
  const uint32_t frame_end = p.l3_end;
  if (f.len > frame_end) f.adjust_tail(-static_cast<int32_t>(f.len - frame_end));
  if (!f.adjust_tail(static_cast<int32_t>(grow))) return false;
  tcp = f.data + p.l4_off;
  uint8_t* opts = tcp + pkt::kTcpHdrLen;
  std::memmove(opts + grow, opts, frame_end - (p.l4_off + pkt::kTcpHdrLen));
  std::memset(opts, kOptNop, grow);
  opts[0] = kTcpOptToa;
  opts[1] = opt_len;
  pkt::store_be16(opts + 2, cport);
  std::memcpy(opts + 4, caddr.bytes.data(), caddr.is_v6() ? 16 : 4);
  tcp[12] = static_cast<uint8_t>(((hdr + grow) / 4) << 4 | (tcp[12] & 0x0f));
  uint8_t* ip = f.data + p.l3_off;
  if (p.is_v6()) {
    auto* h = reinterpret_cast<pkt::Ipv6Hdr*>(ip);
    h->payload_len = htons(static_cast<uint16_t>(ntohs(h->payload_len) + grow));
  } else {
    auto* h = reinterpret_cast<pkt::Ipv4Hdr*>(ip);
    h->tot_len = htons(static_cast<uint16_t>(ntohs(h->tot_len) + grow));
    pkt::set_ipv4_header_checksum(ip);
  }
  p.l3_end += grow;
  return true;
}

}  // namespace uvs::xmit
