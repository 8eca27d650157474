#include "pkt/builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "pkt/checksum.h"

namespace uvs::pkt {

// ---- Literals --------------------------------------------------------------------------------

MacAddr mac(std::string_view text) {
  MacAddr m{};
  unsigned v[6];
  std::string s(text);
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
    std::fprintf(stderr, "pkt::mac: bad MAC address '%s'\n", s.c_str());
    std::abort();
  }
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

InetAddr addr(std::string_view text) {
  auto a = InetAddr::parse(text);
  if (!a) {
    std::fprintf(stderr, "pkt::addr: bad address '%.*s'\n", int(text.size()), text.data());
    std::abort();
  }
  return *a;
}

namespace {

void put16(Bytes& b, size_t at, uint16_t host) { store_be16(b.data() + at, host); }
void put32(Bytes& b, size_t at, uint32_t host) { store_be32(b.data() + at, host); }
void append(Bytes& to, const Bytes& from) { to.insert(to.end(), from.begin(), from.end()); }
void pad4(Bytes& b) {
  while (b.size() % 4) b.push_back(0);
}

uint16_t apply_mode(CsumMode mode, uint16_t correct, uint16_t partial, uint32_t value) {
  switch (mode) {
    case CsumMode::kCorrect: return correct;
    case CsumMode::kWrong: return correct ^ htons(0x0100);
    case CsumMode::kPartial: return partial;
    case CsumMode::kZero: return 0;
    case CsumMode::kValue: return static_cast<uint16_t>(value);
  }
  return correct;
}

}  // namespace

// ---- Builder setters -------------------------------------------------------------------------

FrameBuilder& FrameBuilder::eth(const MacAddr& src, const MacAddr& dst) {
  eth_ = true;
  src_mac_ = src;
  dst_mac_ = dst;
  return *this;
}
FrameBuilder& FrameBuilder::no_eth() {
  eth_ = false;
  return *this;
}
FrameBuilder& FrameBuilder::vlan(uint16_t tci, uint16_t tpid) {
  vlans_.emplace_back(tpid, tci);
  return *this;
}
FrameBuilder& FrameBuilder::ethertype(uint16_t type) {
  ethertype_ = type;
  return *this;
}
FrameBuilder& FrameBuilder::ipv4(std::string_view src, std::string_view dst) {
  return ip(addr(src), addr(dst));
}
FrameBuilder& FrameBuilder::ipv6(std::string_view src, std::string_view dst) {
  return ip(addr(src), addr(dst));
}
FrameBuilder& FrameBuilder::ip(const InetAddr& src, const InetAddr& dst) {
  src_ = src;
  dst_ = dst;
  return *this;
}
FrameBuilder& FrameBuilder::ttl(uint8_t ttl) {
  ttl_ = ttl;
  return *this;
}
FrameBuilder& FrameBuilder::tos(uint8_t tos) {
  tos_ = tos;
  return *this;
}
FrameBuilder& FrameBuilder::flow_label(uint32_t label) {
  flow_label_ = label & 0xfffff;
  return *this;
}
FrameBuilder& FrameBuilder::ip_id(uint16_t id) {
  ip_id_ = id;
  return *this;
}
FrameBuilder& FrameBuilder::df(bool on) {
  df_ = on;
  return *this;
}
FrameBuilder& FrameBuilder::ipv4_frag(uint16_t offset_bytes, bool more) {
  frag_offset_ = offset_bytes;
  more_frags_ = more;
  return *this;
}
FrameBuilder& FrameBuilder::ipv4_options(Bytes options) {
  ipv4_options_ = std::move(options);
  pad4(ipv4_options_);
  return *this;
}
FrameBuilder& FrameBuilder::ip_csum(CsumMode mode, uint16_t value) {
  ip_csum_mode_ = mode;
  ip_csum_value_ = value;
  return *this;
}
FrameBuilder& FrameBuilder::ip_version(uint8_t version) {
  version_ = version;
  return *this;
}
FrameBuilder& FrameBuilder::ihl(uint8_t ihl) {
  ihl_ = ihl;
  return *this;
}
FrameBuilder& FrameBuilder::tot_len(uint16_t tot_len) {
  tot_len_ = tot_len;
  return *this;
}
FrameBuilder& FrameBuilder::payload_len(uint16_t len) {
  payload_len_ = len;
  return *this;
}
FrameBuilder& FrameBuilder::protocol(uint8_t proto) {
  protocol_ = proto;
  return *this;
}
FrameBuilder& FrameBuilder::ipv6_ext(uint8_t type, uint32_t len) {
  Bytes b(len, 0);
  if (len >= 2) {
    b[1] = type == kIpv6NextAh ? static_cast<uint8_t>(len / 4 - 2) : static_cast<uint8_t>(len / 8 - 1);
  }
  exts_.push_back({type, std::move(b)});
  return *this;
}
FrameBuilder& FrameBuilder::ipv6_frag(uint16_t offset_bytes, bool more, uint32_t id) {
  Bytes b(8, 0);
  put16(b, 2, static_cast<uint16_t>((offset_bytes & kIpv6FragOffsetMask) | (more ? kIpv6FragMore : 0)));
  put32(b, 4, id);
  exts_.push_back({kIpv6NextFragment, std::move(b)});
  return *this;
}
FrameBuilder& FrameBuilder::ipv6_ext_raw(uint8_t type, Bytes bytes) {
  exts_.push_back({type, std::move(bytes)});
  return *this;
}
FrameBuilder& FrameBuilder::tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                                uint32_t ack) {
  l4_ = L4::kTcp;
  sport_ = sport;
  dport_ = dport;
  tcp_flags_ = flags;
  seq_ = seq;
  ack_ = ack;
  return *this;
}
FrameBuilder& FrameBuilder::tcp_options(Bytes options) {
  tcp_options_ = std::move(options);
  pad4(tcp_options_);
  return *this;
}
FrameBuilder& FrameBuilder::tcp_window(uint16_t window) {
  window_ = window;
  return *this;
}
FrameBuilder& FrameBuilder::tcp_doff(uint8_t doff) {
  tcp_doff_ = doff;
  return *this;
}
FrameBuilder& FrameBuilder::udp(uint16_t sport, uint16_t dport) {
  l4_ = L4::kUdp;
  sport_ = sport;
  dport_ = dport;
  return *this;
}
FrameBuilder& FrameBuilder::udp_len(uint16_t len) {
  udp_len_ = len;
  return *this;
}
FrameBuilder& FrameBuilder::sctp(uint16_t sport, uint16_t dport, uint32_t vtag) {
  l4_ = L4::kSctp;
  sport_ = sport;
  dport_ = dport;
  vtag_ = vtag;
  return *this;
}
FrameBuilder& FrameBuilder::sctp_chunk(uint8_t type, uint8_t flags, Bytes value) {
  const size_t at = sctp_chunks_.size();
  sctp_chunks_.resize(at + 4);
  sctp_chunks_[at] = type;
  sctp_chunks_[at + 1] = flags;
  put16(sctp_chunks_, at + 2, static_cast<uint16_t>(4 + value.size()));
  append(sctp_chunks_, value);
  pad4(sctp_chunks_);
  return *this;
}
FrameBuilder& FrameBuilder::sctp_chunk_raw(Bytes bytes) {
  append(sctp_chunks_, bytes);
  return *this;
}
FrameBuilder& FrameBuilder::icmp(uint8_t type, uint8_t code, uint32_t rest) {
  l4_ = L4::kIcmp;
  icmp_type_ = type;
  icmp_code_ = code;
  icmp_rest_ = rest;
  return *this;
}
FrameBuilder& FrameBuilder::icmp6(uint8_t type, uint8_t code, uint32_t rest) {
  l4_ = L4::kIcmp6;
  icmp_type_ = type;
  icmp_code_ = code;
  icmp_rest_ = rest;
  return *this;
}
FrameBuilder& FrameBuilder::icmp_echo(uint16_t id, uint16_t seq) {
  const uint32_t rest = uint32_t{id} << 16 | seq;
  return src_.is_v6() ? icmp6(ICMP6_ECHO_REQUEST, 0, rest) : icmp(ICMP_ECHO, 0, rest);
}
FrameBuilder& FrameBuilder::quote(const Bytes& inner, uint32_t max_len) {
  quote_ = inner;
  if (max_len && quote_.size() > max_len) quote_.resize(max_len);
  return *this;
}
FrameBuilder& FrameBuilder::gre(uint16_t proto, bool with_csum) {
  l4_ = L4::kGre;
  tunnel_proto_ = proto;
  tunnel_csum_ = with_csum;
  return *this;
}
FrameBuilder& FrameBuilder::gue(uint16_t sport, uint16_t dport, uint8_t inner_proto,
                                bool with_csum) {
  l4_ = L4::kGue;
  sport_ = sport;
  dport_ = dport;
  tunnel_proto_ = inner_proto;
  tunnel_csum_ = with_csum;
  return *this;
}
FrameBuilder& FrameBuilder::raw(uint8_t proto) {
  l4_ = L4::kRaw;
  raw_proto_ = proto;
  return *this;
}
FrameBuilder& FrameBuilder::l4_csum(CsumMode mode, uint32_t value) {
  l4_csum_mode_ = mode;
  l4_csum_value_ = value;
  return *this;
}
FrameBuilder& FrameBuilder::payload(Bytes bytes) {
  payload_ = std::move(bytes);
  return *this;
}
FrameBuilder& FrameBuilder::payload(std::string_view text) {
  payload_.assign(text.begin(), text.end());
  return *this;
}
FrameBuilder& FrameBuilder::payload_size(uint32_t n) {
  payload_.resize(n);
  for (uint32_t i = 0; i < n; ++i) payload_[i] = static_cast<uint8_t>(i * 7 + 1);
  return *this;
}

// ---- Build -----------------------------------------------------------------------------------

uint8_t FrameBuilder::l4_proto() const {
  switch (l4_) {
    case L4::kTcp: return IPPROTO_TCP;
    case L4::kUdp:
    case L4::kGue: return IPPROTO_UDP;
    case L4::kSctp: return IPPROTO_SCTP;
    case L4::kIcmp: return IPPROTO_ICMP;
    case L4::kIcmp6: return IPPROTO_ICMPV6;
    case L4::kGre: return IPPROTO_GRE;
    case L4::kRaw: return raw_proto_;
  }
  return raw_proto_;
}

Bytes FrameBuilder::build_l4(const InetAddr& src, const InetAddr& dst, uint8_t proto) const {
  Bytes b;
  int check_at = -1;
  bool pseudo = true;
  switch (l4_) {
    case L4::kRaw:
      return payload_;
    case L4::kTcp: {
      b.resize(kTcpHdrLen);
      put16(b, 0, sport_);
      put16(b, 2, dport_);
      put32(b, 4, seq_);
      put32(b, 8, ack_);
      b[12] = static_cast<uint8_t>(
          (tcp_doff_ ? *tcp_doff_ : (kTcpHdrLen + tcp_options_.size()) / 4) << 4);
      b[13] = tcp_flags_;
      put16(b, 14, window_);
      append(b, tcp_options_);
      append(b, payload_);
      check_at = kTcpCheckOffset;
      break;
    }
    case L4::kUdp:
    case L4::kGue: {
      b.resize(kUdpHdrLen);
      put16(b, 0, sport_);
      put16(b, 2, dport_);
      if (l4_ == L4::kGue) {
        b.push_back(0);  // version 0, C 0, hlen 0
        b.push_back(static_cast<uint8_t>(tunnel_proto_));
        b.push_back(0);
        b.push_back(0);
      }
      append(b, payload_);
      put16(b, 4, udp_len_ ? *udp_len_ : static_cast<uint16_t>(b.size()));
      check_at = kUdpCheckOffset;
      break;
    }
    case L4::kSctp: {
      b.resize(kSctpHdrLen);
      put16(b, 0, sport_);
      put16(b, 2, dport_);
      put32(b, 4, vtag_);
      append(b, sctp_chunks_);
      append(b, payload_);
      uint32_t crc = sctp_checksum(b.data(), static_cast<uint32_t>(b.size()));
      switch (l4_csum_mode_) {
        case CsumMode::kCorrect: break;
        case CsumMode::kWrong: crc ^= 1; break;
        case CsumMode::kPartial:
        case CsumMode::kZero: crc = 0; break;
        case CsumMode::kValue: crc = l4_csum_value_; break;
      }
      set_sctp_checksum(b.data(), crc);
      return b;
    }
    case L4::kIcmp:
    case L4::kIcmp6: {
      b.resize(kIcmpHdrLen);
      b[0] = icmp_type_;
      b[1] = icmp_code_;
      put32(b, 4, icmp_rest_);
      append(b, quote_);
      append(b, payload_);
      check_at = kIcmpCheckOffset;
      pseudo = l4_ == L4::kIcmp6;
      break;
    }
    case L4::kGre: {
      b.resize(tunnel_csum_ ? 8 : 4);
      put16(b, 0, tunnel_csum_ ? kGreFlagCsum : 0);
      put16(b, 2, tunnel_proto_);
      append(b, payload_);
      if (tunnel_csum_) store_u16(b.data() + 4, internet_checksum(b.data(), static_cast<uint32_t>(b.size())));
      return b;
    }
  }
  const uint32_t len = static_cast<uint32_t>(b.size());
  if (l4_ == L4::kGue && !tunnel_csum_ && l4_csum_mode_ == CsumMode::kCorrect) return b;  // 0
  const uint32_t pseudo_sum_value = pseudo ? pseudo_sum(src, dst, proto, len) : 0;
  uint16_t correct = csum_finish(csum_partial(b.data(), len, pseudo_sum_value));
  if (proto == IPPROTO_UDP) correct = udp_checksum_nonzero(correct);
  const uint16_t partial = pseudo ? csum_fold(pseudo_sum_value) : 0;
  store_u16(b.data() + check_at, apply_mode(l4_csum_mode_, correct, partial, l4_csum_value_));
  return b;
}

Bytes FrameBuilder::build() const {
  const bool v6 = src_.is_v6();
  const uint8_t proto = l4_proto();
  const Bytes l4 = build_l4(src_, dst_, proto);
  const uint8_t wire_proto = protocol_ ? *protocol_ : proto;

  Bytes ip;
  if (!v6) {
    ip.resize(kIpv4HdrLen);
    append(ip, ipv4_options_);
    const uint32_t hlen = static_cast<uint32_t>(ip.size());
    ip[0] = static_cast<uint8_t>((version_ ? *version_ : 4) << 4 | (ihl_ ? *ihl_ : hlen / 4));
    ip[1] = tos_;
    put16(ip, 2, tot_len_ ? *tot_len_ : static_cast<uint16_t>(hlen + l4.size()));
    put16(ip, 4, ip_id_);
    put16(ip, 6, static_cast<uint16_t>((df_ ? kIpv4FlagDf : 0) | (more_frags_ ? kIpv4FlagMf : 0) |
                                       ((frag_offset_ / 8) & kIpv4OffsetMask)));
    ip[8] = ttl_;
    ip[9] = wire_proto;
    std::memcpy(ip.data() + 12, src_.bytes.data(), 4);
    std::memcpy(ip.data() + 16, dst_.bytes.data(), 4);
    const uint16_t correct = internet_checksum(ip.data(), hlen);
    store_u16(ip.data() + kIpv4CheckOffset, apply_mode(ip_csum_mode_, correct, 0, ip_csum_value_));
  } else {
    ip.resize(kIpv6HdrLen);
    put32(ip, 0, uint32_t{version_ ? *version_ : 6u} << 28 | uint32_t{tos_} << 20 | flow_label_);
    ip[6] = exts_.empty() ? wire_proto : exts_.front().type;
    ip[7] = ttl_;
    std::memcpy(ip.data() + 8, src_.bytes.data(), 16);
    std::memcpy(ip.data() + 24, dst_.bytes.data(), 16);
    for (size_t i = 0; i < exts_.size(); ++i) {
      Bytes e = exts_[i].bytes;
      if (!e.empty()) e[0] = i + 1 < exts_.size() ? exts_[i + 1].type : wire_proto;
      append(ip, e);
    }
    put16(ip, 4, payload_len_ ? *payload_len_
                              : static_cast<uint16_t>(ip.size() - kIpv6HdrLen + l4.size()));
  }
  append(ip, l4);
  if (!eth_) return ip;

  Bytes frame(12);
  std::memcpy(frame.data(), dst_mac_.data(), 6);
  std::memcpy(frame.data() + 6, src_mac_.data(), 6);
  for (const auto& [tpid, tci] : vlans_) {
    frame.resize(frame.size() + 4);
    put16(frame, frame.size() - 4, tpid);
    put16(frame, frame.size() - 2, tci);
  }
  frame.resize(frame.size() + 2);
  put16(frame, frame.size() - 2, ethertype_ ? *ethertype_ : (v6 ? kEthPIpv6 : kEthPIpv4));
  append(frame, ip);
  return frame;
}

// ---- Fragmenting -----------------------------------------------------------------------------

namespace {

size_t l3_offset(const Bytes& frame, bool has_eth) {
  if (!has_eth) return 0;
  size_t off = 12;
  while (off + 4 <= frame.size() &&
         (load_be16(frame.data() + off) == kEthP8021Q || load_be16(frame.data() + off) == kEthP8021AD))
    off += 4;
  return off + 2;
}

}  // namespace

std::vector<Bytes> fragment_frame(const Bytes& frame, uint32_t data_per_frag, uint32_t id,
                                  bool has_eth) {
  std::vector<Bytes> out;
  const size_t l3 = l3_offset(frame, has_eth);
  data_per_frag &= ~7u;
  if (data_per_frag == 0 || frame.size() < l3 + 1) return out;
  const bool v6 = (frame[l3] >> 4) == 6;
  size_t hdr_end;   // end of the part copied into every fragment
  size_t data_end;  // end of the datagram
  uint8_t first_nh = 0;
  size_t nh_at = 0;  // byte naming the first fragmentable header
  if (!v6) {
    hdr_end = l3 + (frame[l3] & 0x0f) * 4u;
    data_end = l3 + load_be16(frame.data() + l3 + 2);
  } else {
    data_end = l3 + kIpv6HdrLen + load_be16(frame.data() + l3 + 4);
    nh_at = l3 + kIpv6NextHdrOffset;
    hdr_end = l3 + kIpv6HdrLen;
    // Hop-by-hop and routing headers stay in every fragment (RFC 8200 section 4.5).
    while (frame[nh_at] == kIpv6NextHopByHop || frame[nh_at] == kIpv6NextRouting) {
      nh_at = hdr_end;
      hdr_end += (uint32_t{frame[hdr_end + 1]} + 1) * 8;
    }
    first_nh = frame[nh_at];
  }
  for (size_t pos = hdr_end; pos < data_end; pos += data_per_frag) {
    const size_t n = std::min<size_t>(data_per_frag, data_end - pos);
    const bool more = pos + n < data_end;
    const uint32_t offset = static_cast<uint32_t>(pos - hdr_end);
    Bytes f(frame.begin(), frame.begin() + hdr_end);
    if (!v6) {
      put16(f, l3 + 2, static_cast<uint16_t>(hdr_end - l3 + n));
      const uint16_t flags = ipv4_frag_off(f.data() + l3) & kIpv4FlagDf;
      put16(f, l3 + kIpv4FragOffOffset,
            static_cast<uint16_t>(flags | (more ? kIpv4FlagMf : 0) | offset / 8));
      set_ipv4_header_checksum(f.data() + l3);
    } else {
      f[nh_at] = kIpv6NextFragment;
      Bytes fh(8, 0);
      fh[0] = first_nh;
      put16(fh, 2, static_cast<uint16_t>(offset | (more ? kIpv6FragMore : 0)));
      put32(fh, 4, id);
      append(f, fh);
      put16(f, l3 + 4, static_cast<uint16_t>(f.size() - l3 - kIpv6HdrLen + n));
    }
    f.insert(f.end(), frame.begin() + pos, frame.begin() + pos + n);
    out.push_back(std::move(f));
  }
  return out;
}

// ---- Decoding for describe_diff / describe_frame -----------------------------------------------

namespace {

struct Field {
  std::string name;
  std::string value;
  Bytes raw;  // payload fields: the bytes, for a precise diff
};

std::string hex_bytes(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", p[i]);
  return s;
}
std::string mac_text(const uint8_t* p) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", p[0], p[1], p[2], p[3], p[4], p[5]);
}
std::string addr_text(const uint8_t* p, bool v6) {
  InetAddr a;
  a.family = v6 ? AF_INET6 : AF_INET;
  std::memcpy(a.bytes.data(), p, v6 ? 16 : 4);
  return a.to_string();
}
std::string tcp_flags_text(uint8_t f) {
  static constexpr const char* kNames[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (f & (1 << i)) {
      if (!s.empty()) s += '|';
      s += kNames[i];
    }
  }
  return s.empty() ? "none" : s;
}

class Decoder {
 public:
  Decoder(std::span<const uint8_t> frame) : d_(frame.data()), n_(frame.size()) {}

  std::vector<Field> decode(bool has_eth) {
    size_t l3 = 0;
    uint16_t type = 0;
    if (has_eth) {
      if (n_ < kEthHdrLen) {
        add("eth.truncated", fmt::format("{} bytes", n_));
        return std::move(fields_);
      }
      add("eth.dst", mac_text(d_));
      add("eth.src", mac_text(d_ + 6));
      size_t off = 12;
      type = load_be16(d_ + off);
      for (int i = 0; (type == kEthP8021Q || type == kEthP8021AD) && off + 6 <= n_; ++i) {
        add(fmt::format("vlan{}.tpid", i), fmt::format("{:#06x}", type));
        add(fmt::format("vlan{}.tci", i), fmt::format("{}", load_be16(d_ + off + 2)));
        off += 4;
        type = load_be16(d_ + off);
      }
      add("eth.type", fmt::format("{:#06x}", type));
      l3 = off + 2;
      if (type != kEthPIpv4 && type != kEthPIpv6) {
        payload("eth.payload", l3, n_);
        return std::move(fields_);
      }
    }
    const size_t end = ip("", l3, n_, false, 0);
    if (end < n_) payload("frame.trailer", end, n_);
    return std::move(fields_);
  }

 private:
  void add(std::string name, std::string value) { fields_.push_back({std::move(name), std::move(value), {}}); }
  void payload(const std::string& name, size_t off, size_t end) {
    if (off >= end) return;
    Field f{name, "", Bytes(d_ + off, d_ + end)};
    f.value = fmt::format("{} bytes {}{}", end - off, hex_bytes(d_ + off, std::min<size_t>(end - off, 32)),
                          end - off > 32 ? "..." : "");
    fields_.push_back(std::move(f));
  }
  bool need(const std::string& layer, size_t off, size_t end, size_t len) {
    if (off <= end && end - off >= len) return true;
    add(layer + ".truncated", fmt::format("{} of {} bytes", off <= end ? end - off : 0, len));
    payload(layer + ".bytes", off, end);
    return false;
  }

  // Decodes an IP packet in [off, end); returns where the datagram ends (for a trailer).
  size_t ip(const std::string& pfx, size_t off, size_t end, bool quoted, int depth) {
    if (off >= end) return end;
    const bool v6 = (d_[off] >> 4) == 6;
    const std::string l = pfx + (v6 ? "ipv6" : "ipv4");
    if (!v6) {
      if (!need(l, off, end, kIpv4HdrLen)) return end;
      const uint32_t hlen = (d_[off] & 0x0f) * 4u;
      const uint32_t tot = load_be16(d_ + off + 2);
      add(l + ".version", fmt::format("{}", d_[off] >> 4));
      add(l + ".ihl", fmt::format("{}", d_[off] & 0x0f));
      add(l + ".tos", fmt::format("{:#04x}", d_[off + 1]));
      add(l + ".tot_len", fmt::format("{}", tot));
      add(l + ".id", fmt::format("{}", load_be16(d_ + off + 4)));
      const uint16_t frag = ipv4_frag_off(d_ + off);
      add(l + ".flags", fmt::format("{}{}{}", frag & 0x8000 ? "RF " : "", frag & kIpv4FlagDf ? "DF" : "-",
                                    frag & kIpv4FlagMf ? " MF" : ""));
      add(l + ".frag_off", fmt::format("{}", (frag & kIpv4OffsetMask) * 8));
      add(l + ".ttl", fmt::format("{}", d_[off + 8]));
      add(l + ".protocol", fmt::format("{}", d_[off + 9]));
      const bool hdr_ok = hlen >= kIpv4HdrLen && end - off >= hlen;
      add(l + ".csum", fmt::format("{:#06x}{}", load_be16(d_ + off + 10),
                                   hdr_ok ? (ipv4_header_checksum_ok(d_ + off, hlen) ? " (valid)" : " (bad)") : ""));
      add(l + ".saddr", addr_text(d_ + off + 12, false));
      add(l + ".daddr", addr_text(d_ + off + 16, false));
      if (!hdr_ok) {
        payload(l + ".rest", off + kIpv4HdrLen, end);
        return end;
      }
      if (hlen > kIpv4HdrLen) add(l + ".options", hex_bytes(d_ + off + kIpv4HdrLen, hlen - kIpv4HdrLen));
      // A quoted packet's total length describes the original, not what was quoted.
      const size_t dgram_end = quoted ? end : std::min(end, off + std::max<size_t>(tot, hlen));
      if (frag & kIpv4OffsetMask) {
        payload(pfx + "fragment.payload", off + hlen, dgram_end);
      } else {
        l4(pfx, d_[off + 9], off + hlen, dgram_end, false, off, quoted, depth);
      }
      return dgram_end;
    }
    if (!need(l, off, end, kIpv6HdrLen)) return end;
    const uint32_t vtf = load_be32(d_ + off);
    const uint32_t plen = load_be16(d_ + off + 4);
    add(l + ".version", fmt::format("{}", vtf >> 28));
    add(l + ".tclass", fmt::format("{:#04x}", (vtf >> 20) & 0xff));
    add(l + ".flow", fmt::format("{:#x}", vtf & 0xfffff));
    add(l + ".payload_len", fmt::format("{}", plen));
    add(l + ".nexthdr", fmt::format("{}", d_[off + 6]));
    add(l + ".hop_limit", fmt::format("{}", d_[off + 7]));
    add(l + ".saddr", addr_text(d_ + off + 8, true));
    add(l + ".daddr", addr_text(d_ + off + 24, true));
    const size_t dgram_end = quoted ? end : std::min(end, off + kIpv6HdrLen + plen);
    uint8_t nh = d_[off + 6];
    size_t cur = off + kIpv6HdrLen;
    for (int i = 0; i < 16; ++i) {
      const bool ext = nh == kIpv6NextHopByHop || nh == kIpv6NextRouting || nh == kIpv6NextFragment ||
                       nh == kIpv6NextAh || nh == kIpv6NextDestOpts || nh == kIpv6NextMobility;
      if (!ext) break;
      const std::string e = fmt::format("{}.ext{}", l, i);
      if (!need(e, cur, dgram_end, nh == kIpv6NextFragment ? 8 : 2)) return dgram_end;
      const size_t hlen = nh == kIpv6NextFragment ? 8
                          : nh == kIpv6NextAh     ? (d_[cur + 1] + 2u) * 4
                                                  : (d_[cur + 1] + 1u) * 8;
      add(e + ".type", fmt::format("{}", nh));
      add(e + ".len", fmt::format("{}", hlen));
      if (!need(e, cur, dgram_end, hlen)) return dgram_end;
      if (nh == kIpv6NextFragment) {
        const uint16_t fo = load_be16(d_ + cur + 2);
        add(l + ".frag.offset", fmt::format("{}", fo & kIpv6FragOffsetMask));
        add(l + ".frag.more", fo & kIpv6FragMore ? "1" : "0");
        add(l + ".frag.id", fmt::format("{:#x}", load_be32(d_ + cur + 4)));
        if (fo & kIpv6FragOffsetMask) {
          add(l + ".frag.nexthdr", fmt::format("{}", d_[cur]));
          payload(pfx + "fragment.payload", cur + 8, dgram_end);
          return dgram_end;
        }
      } else if (hlen > 2) {
        add(e + ".data", hex_bytes(d_ + cur + 2, hlen - 2));
      }
      nh = d_[cur];
      cur += hlen;
    }
    l4(pfx, nh, cur, dgram_end, true, off, quoted, depth);
    return dgram_end;
  }

  std::string csum_note(bool quoted, CsumStatus st) {
    if (quoted) return "";
    return fmt::format(" ({})", csum_status_name(st));
  }

  CsumStatus l4_status(uint8_t proto, size_t l3, bool v6, size_t off, size_t len) {
    InetAddr s, d;
    s.family = d.family = v6 ? AF_INET6 : AF_INET;
    std::memcpy(s.bytes.data(), d_ + l3 + (v6 ? 8 : 12), v6 ? 16 : 4);
    std::memcpy(d.bytes.data(), d_ + l3 + (v6 ? 24 : 16), v6 ? 16 : 4);
    return classify_l4_checksum(s, d, proto, d_ + off, static_cast<uint32_t>(len));
  }

  void l4(const std::string& pfx, uint8_t proto, size_t off, size_t end, bool v6, size_t l3,
          bool quoted, int depth) {
    switch (proto) {
      case IPPROTO_TCP: {
        const std::string l = pfx + "tcp";
        // A quoted segment usually holds only its first 8 bytes.
        if (quoted && end - off < kTcpHdrLen) {
          if (!need(l, off, end, 8)) return;
          add(l + ".sport", fmt::format("{}", load_be16(d_ + off)));
          add(l + ".dport", fmt::format("{}", load_be16(d_ + off + 2)));
          add(l + ".seq", fmt::format("{}", load_be32(d_ + off + 4)));
          payload(l + ".rest", off + 8, end);
          return;
        }
        if (!need(l, off, end, kTcpHdrLen)) return;
        const uint32_t doff = d_[off + 12] >> 4;
        add(l + ".sport", fmt::format("{}", load_be16(d_ + off)));
        add(l + ".dport", fmt::format("{}", load_be16(d_ + off + 2)));
        add(l + ".seq", fmt::format("{}", load_be32(d_ + off + 4)));
        add(l + ".ack", fmt::format("{}", load_be32(d_ + off + 8)));
        add(l + ".doff", fmt::format("{}", doff));
        add(l + ".flags", tcp_flags_text(d_[off + 13]));
        add(l + ".window", fmt::format("{}", load_be16(d_ + off + 14)));
        add(l + ".csum", fmt::format("{:#06x}{}", load_be16(d_ + off + 16),
                                     csum_note(quoted, l4_status(proto, l3, v6, off, end - off))));
        add(l + ".urg", fmt::format("{}", load_be16(d_ + off + 18)));
        const size_t hlen = std::clamp<size_t>(doff * 4, kTcpHdrLen, end - off);
        if (hlen > kTcpHdrLen) add(l + ".options", hex_bytes(d_ + off + kTcpHdrLen, hlen - kTcpHdrLen));
        payload(pfx + "payload", off + hlen, end);
        return;
      }
      case IPPROTO_UDP: {
        const std::string l = pfx + "udp";
        if (!need(l, off, end, kUdpHdrLen)) return;
        const uint16_t sport = load_be16(d_ + off), dport = load_be16(d_ + off + 2);
        const uint16_t ulen = load_be16(d_ + off + 4);
        add(l + ".sport", fmt::format("{}", sport));
        add(l + ".dport", fmt::format("{}", dport));
        add(l + ".len", fmt::format("{}", ulen));
        const size_t seg = quoted ? end - off : std::min<size_t>(std::max<size_t>(ulen, 8), end - off);
        add(l + ".csum", fmt::format("{:#06x}{}", load_be16(d_ + off + 6),
                                     csum_note(quoted, l4_status(proto, l3, v6, off, seg))));
        // GUE: version 0 header with an IP protocol the decoder knows, not a control message.
        if (!quoted && depth == 0 && seg >= 12 && (d_[off + 8] & 0xe0) == 0 &&
            (d_[off + 9] == IPPROTO_IPIP || d_[off + 9] == IPPROTO_IPV6)) {
          const size_t ghlen = 4 + (d_[off + 8] & 0x1f) * 4u;
          add("gue.hlen", fmt::format("{}", d_[off + 8] & 0x1f));
          add("gue.proto", fmt::format("{}", d_[off + 9]));
          add("gue.flags", fmt::format("{:#06x}", load_be16(d_ + off + 10)));
          if (8 + ghlen <= seg) {
            ip(pfx + "inner.", off + 8 + ghlen, off + seg, false, depth + 1);
            return;
          }
        }
        payload(pfx + "payload", off + 8, off + seg);
        return;
      }
      case IPPROTO_SCTP: {
        const std::string l = pfx + "sctp";
        if (!need(l, off, end, quoted ? 8 : kSctpHdrLen)) return;
        add(l + ".sport", fmt::format("{}", load_be16(d_ + off)));
        add(l + ".dport", fmt::format("{}", load_be16(d_ + off + 2)));
        add(l + ".vtag", fmt::format("{:#x}", load_be32(d_ + off + 4)));
        if (end - off < kSctpHdrLen) return;
        add(l + ".csum", fmt::format("{:#010x}{}", load_sctp_checksum(d_ + off),
                                     csum_note(quoted, l4_status(proto, l3, v6, off, end - off))));
        size_t c = off + kSctpHdrLen;
        for (int i = 0; c + 4 <= end && i < 32; ++i) {
          const uint16_t clen = load_be16(d_ + c + 2);
          const std::string ch = fmt::format("{}.chunk{}", l, i);
          add(ch + ".type", fmt::format("{}", d_[c]));
          add(ch + ".flags", fmt::format("{:#04x}", d_[c + 1]));
          add(ch + ".len", fmt::format("{}", clen));
          if (clen < 4) break;
          const size_t vend = std::min(end, c + clen);
          if (vend > c + 4) add(ch + ".value", hex_bytes(d_ + c + 4, vend - c - 4));
          c += (clen + 3u) & ~3u;
        }
        if (c < end) payload(pfx + "payload", c, end);
        return;
      }
      case IPPROTO_ICMP:
      case IPPROTO_ICMPV6: {
        const bool icmp6 = proto == IPPROTO_ICMPV6;
        const std::string l = pfx + (icmp6 ? "icmp6" : "icmp");
        if (!need(l, off, end, kIcmpHdrLen)) return;
        const uint8_t type = d_[off];
        add(l + ".type", fmt::format("{}", type));
        add(l + ".code", fmt::format("{}", d_[off + 1]));
        add(l + ".csum", fmt::format("{:#06x}{}", load_be16(d_ + off + 2),
                                     csum_note(quoted, l4_status(proto, l3, v6, off, end - off))));
        add(l + ".rest", fmt::format("{:#010x}", load_be32(d_ + off + 4)));
        const bool error = icmp6 ? is_icmp6_error(type) : is_icmp_error(type);
        if (error && !quoted && depth == 0) {
          ip(pfx + "inner.", off + kIcmpHdrLen, end, true, depth + 1);
          return;
        }
        payload(pfx + "payload", off + kIcmpHdrLen, end);
        return;
      }
      case IPPROTO_GRE: {
        const std::string l = pfx + "gre";
        if (!need(l, off, end, kGreHdrLen)) return;
        const uint16_t flags = load_be16(d_ + off);
        const uint16_t ptype = load_be16(d_ + off + 2);
        add(l + ".flags", fmt::format("{:#06x}", flags));
        add(l + ".proto", fmt::format("{:#06x}", ptype));
        size_t hlen = kGreHdrLen;
        if (flags & kGreFlagCsum) {
          if (!need(l, off, end, 8)) return;
          const bool ok = csum_fold(csum_partial(d_ + off, static_cast<uint32_t>(end - off))) == 0xffff;
          add(l + ".csum", fmt::format("{:#06x} ({})", load_be16(d_ + off + 4), ok ? "valid" : "bad"));
          hlen += 4;
        }
        if (flags & kGreFlagKey) hlen += 4;
        if (flags & kGreFlagSeq) hlen += 4;
        if (depth == 0 && (ptype == kEthPIpv4 || ptype == kEthPIpv6) && off + hlen <= end) {
          ip(pfx + "inner.", off + hlen, end, false, depth + 1);
          return;
        }
        payload(pfx + "payload", std::min(off + hlen, end), end);
        return;
      }
      case IPPROTO_IPIP:
      case IPPROTO_IPV6:
        if (depth == 0) {
          ip(pfx + "inner.", off, end, false, depth + 1);
          return;
        }
        break;
      default:
        break;
    }
    payload(pfx + "payload", off, end);
  }

  const uint8_t* d_;
  size_t n_;
  std::vector<Field> fields_;
};

std::string payload_diff(const Bytes& e, const Bytes& a) {
  size_t i = 0;
  while (i < e.size() && i < a.size() && e[i] == a[i]) ++i;
  if (i < e.size() && i < a.size())
    return fmt::format("{} vs {} bytes, first difference at byte {}: expected {:#04x} got {:#04x}",
                       e.size(), a.size(), i, e[i], a[i]);
  return fmt::format("expected {} bytes got {} (equal for the first {})", e.size(), a.size(), i);
}

}  // namespace

std::string describe_frame(std::span<const uint8_t> frame, bool has_eth) {
  std::string s;
  for (const Field& f : Decoder(frame).decode(has_eth)) {
    if (!s.empty()) s += ' ';
    s += f.name + "=" + f.value;
  }
  return s;
}

std::string describe_diff(std::span<const uint8_t> expected, std::span<const uint8_t> actual,
                          bool has_eth) {
  if (expected.size() == actual.size() &&
      std::memcmp(expected.data(), actual.data(), expected.size()) == 0)
    return "";
  const std::vector<Field> e = Decoder(expected).decode(has_eth);
  const std::vector<Field> a = Decoder(actual).decode(has_eth);
  std::vector<std::string> diffs;
  if (expected.size() != actual.size())
    diffs.push_back(fmt::format("frame.len: expected {} got {}", expected.size(), actual.size()));
  std::vector<bool> matched(a.size(), false);
  for (const Field& fe : e) {
    size_t j = 0;
    while (j < a.size() && (matched[j] || a[j].name != fe.name)) ++j;
    if (j == a.size()) {
      diffs.push_back(fmt::format("{}: expected {} got nothing", fe.name, fe.value));
      continue;
    }
    matched[j] = true;
    if (fe.value == a[j].value && fe.raw == a[j].raw) continue;
    if (!fe.raw.empty() || !a[j].raw.empty())
      diffs.push_back(fmt::format("{}: {}", fe.name, payload_diff(fe.raw, a[j].raw)));
    else
      diffs.push_back(fmt::format("{}: expected {} got {}", fe.name, fe.value, a[j].value));
  }
  for (size_t j = 0; j < a.size(); ++j)
    if (!matched[j]) diffs.push_back(fmt::format("{}: expected nothing got {}", a[j].name, a[j].value));
  if (diffs.empty()) {
    // The decoder saw no difference (a bit it does not show): point at the first byte.
    size_t i = 0;
    while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
    diffs.push_back(fmt::format("frame: first difference at byte {}", i));
  }
  std::string out;
  for (const auto& d : diffs) {
    if (!out.empty()) out += "; ";
    out += d;
  }
  return out;
}

}  // namespace uvs::pkt
