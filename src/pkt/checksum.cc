#include "pkt/checksum.h"

#include <array>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "pkt/parse.h"

namespace uvs::pkt {

const char* csum_status_name(CsumStatus status) {
  switch (status) {
    case CsumStatus::kUnchecked: return "unchecked";
    case CsumStatus::kValid: return "valid";
    case CsumStatus::kPartial: return "partial";
    case CsumStatus::kBad: return "bad";
    case CsumStatus::kNone: return "none";
  }
  return "unknown";
}

// The tail handling of csum_partial and the slicing-by-8 CRC assume a little-endian host.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host assumed");

namespace {

inline uint64_t add_carry(uint64_t a, uint64_t b) {
  uint64_t r;
  const bool carry = __builtin_add_overflow(a, b, &r);
  return r + carry;
}

}  // namespace

// Two independent 64-bit end-around-carry chains over 32-byte blocks keep the adders busy
// (each add/adc pair depends only on its own chain). Native 64-bit loads are fine: ones'
// complement sums of 64-bit words fold to the same 16-bit sum as RFC 1071's 16-bit words.
uint32_t csum_partial(const void* data, uint32_t len, uint32_t initial) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t a = initial;
  uint64_t b = 0;
  while (len >= 32) {
    a = add_carry(a, load_u64(p));
    b = add_carry(b, load_u64(p + 8));
    a = add_carry(a, load_u64(p + 16));
    b = add_carry(b, load_u64(p + 24));
    p += 32;
    len -= 32;
  }
  while (len >= 8) {
    a = add_carry(a, load_u64(p));
    p += 8;
    len -= 8;
  }
  if (len) {
    // The tail keeps its byte positions inside a zeroed little-endian word, so an odd last byte
    // lands in the high-order (first) byte of its 16-bit word, as RFC 1071 pads it. Fixed-size
    // loads instead of a variable memcpy: this path runs for every 20-byte IPv4 header.
    uint64_t tail = 0;
    unsigned shift = 0;
    if (len & 4) {
      tail = load_u32(p);
      p += 4;
      shift = 32;
    }
    if (len & 2) {
      tail |= uint64_t{load_u16(p)} << shift;
      p += 2;
      shift += 16;
    }
    if (len & 1) tail |= uint64_t{*p} << shift;
    b = add_carry(b, tail);
  }
  return csum_fold64(add_carry(a, b));
}

uint16_t compute_l4_checksum(const InetAddr& saddr, const InetAddr& daddr, uint8_t proto,
                             const uint8_t* l4, uint32_t l4_len) {
  const int check_off = l4_checksum_offset(proto);
  uint32_t sum = proto == IPPROTO_ICMP ? 0 : pseudo_sum(saddr, daddr, proto, l4_len);
  sum = csum_partial(l4, l4_len, sum);
  // Take the stored field back out: the result is as if it had been zero.
  if (check_off >= 0 && static_cast<uint32_t>(check_off) + 2 <= l4_len)
    sum = csum_sub(sum, load_u16(l4 + check_off));
  return csum_finish(sum);
}

CsumStatus classify_l4_checksum(const InetAddr& saddr, const InetAddr& daddr, uint8_t proto,
                                const uint8_t* l4, uint32_t l4_len) {
  const int check_off = l4_checksum_offset(proto);
  if (check_off < 0 || static_cast<uint32_t>(check_off) + 2 > l4_len) return CsumStatus::kUnchecked;
  if (proto == IPPROTO_SCTP) {
    if (l4_len < kSctpHdrLen) return CsumStatus::kUnchecked;
    const uint32_t stored = load_sctp_checksum(l4);
    if (sctp_checksum(l4, l4_len) == stored) return CsumStatus::kValid;
    return stored == 0 ? CsumStatus::kPartial : CsumStatus::kBad;
  }
  const uint16_t field = load_u16(l4 + check_off);
  if (proto == IPPROTO_UDP && field == 0)
    return saddr.is_v6() ? CsumStatus::kBad : CsumStatus::kNone;
  if (proto == IPPROTO_ICMP)
    return csum_fold(csum_partial(l4, l4_len)) == 0xffff ? CsumStatus::kValid : CsumStatus::kBad;
  const uint32_t pseudo = pseudo_sum(saddr, daddr, proto, l4_len);
  if (csum_fold(csum_partial(l4, l4_len, pseudo)) == 0xffff) return CsumStatus::kValid;
  if (field == csum_fold(pseudo)) return CsumStatus::kPartial;
  return CsumStatus::kBad;
}

// ---- CRC32c ----------------------------------------------------------------------------------

namespace {

constexpr uint32_t kCrc32cPolyReflected = 0x82f63b78u;

// Slicing-by-8 tables, built at compile time: table[0] is the classic byte-at-a-time table,
// table[k][b] is the CRC of byte b followed by k zero bytes.
using Crc32cTables = std::array<std::array<uint32_t, 256>, 8>;
constexpr Crc32cTables make_crc32c_tables() {
  Crc32cTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? kCrc32cPolyReflected : 0);
    t[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; ++b)
    for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  return t;
}
constexpr Crc32cTables kCrc32cTables = make_crc32c_tables();

// Raw register update (no pre/post inversion).
uint32_t crc32c_tables_raw(uint32_t crc, const uint8_t* p, uint32_t len) {
  const auto& t = kCrc32cTables;
  while (len >= 8) {
    const uint32_t lo = load_u32(p) ^ crc;  // little-endian host: byte 0 is the low byte
    const uint32_t hi = load_u32(p + 4);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42_raw(uint32_t crc, const uint8_t* p,
                                                             uint32_t len) {
  uint64_t c = crc;
  while (len >= 8) {
    c = _mm_crc32_u64(c, load_u64(p));
    p += 8;
    len -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (len--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

bool detect_crc32c_hw() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

}  // namespace

bool crc32c_has_hw() {
  static const bool has_hw = detect_crc32c_hw();
  return has_hw;
}

uint32_t crc32c_portable(const void* data, uint32_t len, uint32_t prev) {
  return ~crc32c_tables_raw(~prev, static_cast<const uint8_t*>(data), len);
}

uint32_t crc32c(const void* data, uint32_t len, uint32_t prev) {
#if defined(__x86_64__)
  if (crc32c_has_hw()) return ~crc32c_sse42_raw(~prev, static_cast<const uint8_t*>(data), len);
#endif
  return crc32c_portable(data, len, prev);
}

uint32_t sctp_checksum(const uint8_t* sctp, uint32_t len) {
  if (len < kSctpHdrLen) return crc32c(sctp, len);
  static constexpr uint8_t kZero[4] = {};
  uint32_t crc = crc32c(sctp, kSctpCheckOffset);
  crc = crc32c(kZero, 4, crc);
  return crc32c(sctp + kSctpHdrLen, len - kSctpHdrLen, crc);
}

// ---- Packet-level helpers --------------------------------------------------------------------

namespace {

// The length the pseudo header carries: UDP uses its own length field (the IP payload may be
// longer, with padding); everything else the rest of the datagram.
inline uint32_t pseudo_len(const uint8_t* frame, const ParsedPacket& p) {
  if (p.proto == IPPROTO_UDP) return load_be16(frame + p.l4_off + offsetof(UdpHdr, len));
  return p.l4_len();
}

inline bool l4_checksummable(const ParsedPacket& p) {
  return p.ok() && p.has_l4 && !p.is_fragment && l4_checksum_offset(p.proto) >= 0;
}

}  // namespace

CsumStatus classify_l4_checksum(const uint8_t* frame, const ParsedPacket& p) {
  if (!l4_checksummable(p)) return CsumStatus::kUnchecked;
  return classify_l4_checksum(p.saddr, p.daddr, p.proto, frame + p.l4_off, pseudo_len(frame, p));
}

namespace {

// Addresses as they are in the frame now (the transform may have rewritten them).
inline void current_addrs(const uint8_t* frame, const ParsedPacket& p, InetAddr* s, InetAddr* d) {
  if (p.is_v6()) {
    s->family = d->family = AF_INET6;
    std::memcpy(s->bytes.data(), frame + p.l3_off + offsetof(Ipv6Hdr, saddr), 16);
    std::memcpy(d->bytes.data(), frame + p.l3_off + offsetof(Ipv6Hdr, daddr), 16);
  } else {
    s->family = d->family = AF_INET;
    std::memcpy(s->bytes.data(), frame + p.l3_off + offsetof(Ipv4Hdr, saddr), 4);
    std::memcpy(d->bytes.data(), frame + p.l3_off + offsetof(Ipv4Hdr, daddr), 4);
  }
}

}  // namespace

void recompute_l4_checksum(uint8_t* frame, const ParsedPacket& p) {
  if (!l4_checksummable(p)) return;
  uint8_t* l4 = frame + p.l4_off;
  const uint32_t len = pseudo_len(frame, p);
  if (p.proto == IPPROTO_SCTP) {
    set_sctp_checksum(l4, sctp_checksum(l4, len));
    return;
  }
  const int off = l4_checksum_offset(p.proto);
  if (p.proto == IPPROTO_UDP && !p.is_v6() && load_u16(l4 + off) == 0) return;  // sent without
  InetAddr s, d;
  current_addrs(frame, p, &s, &d);
  uint16_t check = compute_l4_checksum(s, d, p.proto, l4, len);
  if (p.proto == IPPROTO_UDP) check = udp_checksum_nonzero(check);
  store_u16(l4 + off, check);
}

void update_l4_checksum_after_nat(uint8_t* frame, const ParsedPacket& p,
                                  const InetAddr& new_saddr, const InetAddr& new_daddr,
                                  uint16_t new_sport, uint16_t new_dport) {
  if (!p.ok() || !p.has_l4) return;
  const uint8_t proto = p.proto;
  const bool pseudo = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_ICMPV6;
  const bool ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
  if (proto == IPPROTO_SCTP || p.l4_csum == CsumStatus::kPartial) {
    // SCTP's CRC has no incremental form; a partial sum must become a full one.
    if (!p.is_fragment) recompute_l4_checksum(frame, p);
    return;
  }
  if (!pseudo) return;  // ICMPv4 covers neither addresses nor ports
  uint8_t* field = frame + p.l4_off + l4_checksum_offset(proto);
  const uint16_t check = load_u16(field);
  if (proto == IPPROTO_UDP && check == 0 && !p.is_v6()) return;  // no checksum to keep
  // A first fragment carries the checksum of the whole datagram; the same delta applies.
  uint64_t delta = csum_addr_delta(p.saddr, new_saddr) + csum_addr_delta(p.daddr, new_daddr);
  if (ports) {
    delta += uvs_csum_delta16(htons(p.sport), htons(new_sport));
    delta += uvs_csum_delta16(htons(p.dport), htons(new_dport));
  }
  uint16_t updated = csum_apply_delta(check, delta);
  if (proto == IPPROTO_UDP) updated = udp_checksum_nonzero(updated);
  store_u16(field, updated);
}

}  // namespace uvs::pkt
