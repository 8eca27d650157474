#include "sync/message.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "conn/state.h"

namespace uvs::sync {

namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

size_t addr_len(bool inet6) { return inet6 ? 16 : 4; }
size_t fnat_option_len(bool inet6) { return 8 + addr_len(inet6); }

uint8_t* put_seq(uint8_t* p, const SeqData& s) {
  put32(p, s.init_seq);
  put32(p + 4, s.delta);
  put32(p + 8, s.previous_delta);
  return p + 12;
}
SeqData get_seq(const uint8_t* p) { return {get32(p), get32(p + 4), get32(p + 8)}; }

// The states ip_vs_proto_get(protocol)->num_states allows, 0 for a protocol uvs lacks.
unsigned num_states(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP: return conn::tcp::kStateCount;
    case IPPROTO_UDP: return conn::udp::kNormal + 1;
    case IPPROTO_SCTP: return conn::sctp::kStateCount;
    default: return 0;
  }
}

// The checks ip_vs_proc_sync_conn() makes after parsing, before it looks at the table; a
// positive answer there skips the record alone.
bool acceptable(const SyncConn& c, ReadStats& stats) {
  if (c.flags & kFlagTemplate) return true;  // template states are only logged
  const unsigned states = num_states(c.protocol);
  if (states == 0) {
    stats.count(Reject::kProtocol);
    return false;
  }
  if (c.state >= states) {
    stats.count(Reject::kState);
    return false;
  }
  return true;
}

// ip_vs_proc_sync_conn()'s option walk. False: the message's rest is dropped (`why` says why).
bool read_options(const uint8_t* p, const uint8_t* end, SyncConn& c, Reject& why) {
  bool seen_pe_data = false, seen_pe_name = false;
  while (p < end) {
    if (end - p < 2) {
      why = Reject::kRecordMalformed;
      return false;
    }
    const uint8_t type = p[0], len = p[1];
    p += 2;
    if (len == 0 || end - p < len) {
      why = Reject::kRecordMalformed;
      return false;
    }
    switch (type & ~kOptParam) {
      case kOptSeqData:  // ip_vs_proc_seqopt(): exact size, once
        if (len != kSeqOptionLen || c.has_seq) {
          why = Reject::kRecordMalformed;
          return false;
        }
        c.has_seq = true;
        c.in_seq = get_seq(p);
        c.out_seq = get_seq(p + 12);
        break;
      case kOptPeData:  // ip_vs_proc_str(): bounded, once
      case kOptPeName: {
        const bool name = (type & ~kOptParam) == kOptPeName;
        bool& seen = name ? seen_pe_name : seen_pe_data;
        if (len > (name ? kPeNameMax : kPeDataMax) || seen) {
          why = Reject::kRecordMalformed;
          return false;
        }
        seen = true;
        // ip_vs_conn_fill_param_sync() looks a PE up only for PE data (and refuses data
        // without a name); uvs registers none, so PE data skips the record.
        if (!name) c.has_pe = true;
        break;
      }
      default:
        if (type == kOptUvsFullNat && len == fnat_option_len(c.inet6)) {
          c.has_fnat = true;
          c.fnat.lport = get16(p);
          c.fnat.xflags = p[2];
          c.fnat.seq_delta = get32(p + 4);
          std::memcpy(c.fnat.laddr.data(), p + 8, addr_len(c.inet6));
        } else if (!(type & kOptParam)) {
          c.unknown_mandatory = true;  // the record is skipped, the message read on
        }
        break;  // an optional parameter uvs does not know (or a malformed own one): ignored
    }
    p += len;
  }
  return true;
}

size_t read_v1(std::span<const uint8_t> msg, std::span<SyncConn> out, ReadStats& stats) {
  const uint8_t* const base = msg.data();
  const uint8_t* const end = base + msg.size();
  const unsigned nr_conns = base[4];
  const uint8_t* next = base + kHeaderV1;
  size_t n = 0;
  for (unsigned i = 0; i < nr_conns; ++i) {
    const uint8_t* p = next;
    if (end - p < static_cast<ptrdiff_t>(kRecordV4)) {
      stats.count(Reject::kRecordShort);
      return n;
    }
    const uint16_t ver_size = get16(p + 2);
    const size_t size = ver_size & 0x0fff;  // SVER_MASK
    if (end - p < static_cast<ptrdiff_t>(size)) {
      stats.count(Reject::kRecordOverrun);
      return n;
    }
    if (ver_size >> 12) {
      stats.count(Reject::kRecordVersion);
      return n;
    }
    const uint8_t* const rec_end = p + size;
    SyncConn c;
    c.inet6 = p[0] & kTypeInet6;
    const size_t fixed = c.inet6 ? kRecordV6 : kRecordV4;
    if ((!c.inet6 && p[0] != 0) || size < fixed) {  // ip_vs_proc_sync_conn(): -10, -20
      stats.count(Reject::kRecordMalformed);
      return n;
    }
    c.protocol = p[1];
    c.flags = get32(p + 4);
    c.state = get16(p + 8);
    c.cport = get16(p + 10);
    c.vport = get16(p + 12);
    c.dport = get16(p + 14);
    c.fwmark = get32(p + 16);
    c.timeout_s = get32(p + 20);
    const size_t alen = addr_len(c.inet6);
    std::memcpy(c.caddr.data(), p + 24, alen);
    std::memcpy(c.vaddr.data(), p + 24 + alen, alen);
    std::memcpy(c.daddr.data(), p + 24 + 2 * alen, alen);
    Reject why{};
    if (!read_options(p + fixed, rec_end, c, why)) {
      stats.count(why);
      return n;
    }
    c.flags &= kBackupFlagsMask;
    if (c.unknown_mandatory) {
      stats.count(Reject::kUnknownOption);
    } else if (!acceptable(c, stats)) {
      // skipped alone
    } else if (c.has_pe) {  // ip_vs_conn_fill_param_sync(): the named PE is not registered
      stats.count(Reject::kPe);
    } else if (n < out.size()) {
      out[n++] = c;
    }
    next = p + ((size + 3) & ~size_t{3});
  }
  return n;
}

size_t read_v0(std::span<const uint8_t> msg, std::span<SyncConn> out, ReadStats& stats) {
  const uint8_t* const base = msg.data();
  const uint8_t* const end = base + msg.size();
  const unsigned nr_conns = base[0];
  const uint8_t* p = base + kHeaderV0;
  size_t n = 0;
  for (unsigned i = 0; i < nr_conns; ++i) {
    if (end - p < static_cast<ptrdiff_t>(kRecordV0)) {
      stats.count(Reject::kRecordShort);
      return n;
    }
    SyncConn c;
    c.protocol = p[1];
    c.cport = get16(p + 2);
    c.vport = get16(p + 4);
    c.dport = get16(p + 6);
    std::memcpy(c.caddr.data(), p + 8, 4);
    std::memcpy(c.vaddr.data(), p + 12, 4);
    std::memcpy(c.daddr.data(), p + 16, 4);
    c.flags = get16(p + 20) & ~kFlagHashed;
    c.state = get16(p + 22);
    const uint8_t* const options = p + kRecordV0;
    p += kRecordV0;
    if (c.flags & kFlagSeqMask) {
      if (end - p < static_cast<ptrdiff_t>(kSeqOptionLen)) {
        stats.count(Reject::kRecordShort);
        return n;
      }
      // v0 copied struct ip_vs_seq raw, in the master's byte order: little-endian on every
      // machine uvs runs on.
      uint32_t seq[6];
      std::memcpy(seq, options, sizeof seq);
      c.has_seq = true;
      c.in_seq = {seq[0], seq[1], seq[2]};
      c.out_seq = {seq[3], seq[4], seq[5]};
      p += kSeqOptionLen;
    }
    c.flags &= kBackupFlagsMask;
    if (acceptable(c, stats) && n < out.size()) out[n++] = c;
  }
  return n;
}

}  // namespace

size_t record_size(const SyncConn& c) {
  size_t len = c.inet6 ? kRecordV6 : kRecordV4;
  if (c.has_seq && (c.flags & kFlagSeqMask)) len += 2 + kSeqOptionLen;
  if (c.has_fnat) len += 2 + fnat_option_len(c.inet6);
  return len;
}

MessageBuilder::MessageBuilder(uint8_t syncid, size_t maxlen) : buf_(kMaxLen) {
  reset(syncid, maxlen);
}

void MessageBuilder::reset(uint8_t syncid, size_t maxlen) {
  maxlen_ = std::clamp<size_t>(maxlen, kHeaderV1, kMaxLen);
  buf_[1] = syncid;
  reset();
}

void MessageBuilder::reset() {
  buf_[0] = 0;  // reserved: tells v1 from v0
  put16(&buf_[2], kHeaderV1);
  buf_[4] = 0;
  buf_[5] = kProtoVersion;
  put16(&buf_[6], 0);
  head_ = kHeaderV1;
}

bool MessageBuilder::add(const SyncConn& c) {
  const size_t len = record_size(c);
  const size_t pad = (4 - head_) & 3;
  if (head_ + pad + len > maxlen_ || count() >= kMaxConnsPerMessage) return false;
  uint8_t* p = &buf_[head_];
  std::memset(p, 0, pad + len);
  p += pad;
  const size_t alen = addr_len(c.inet6);
  p[0] = c.inet6 ? kTypeInet6 : 0;
  p[1] = c.protocol;
  put16(p + 2, static_cast<uint16_t>(len & 0x0fff));  // record version 0
  put32(p + 4, c.flags & ~kFlagHashed);
  put16(p + 8, c.state);
  put16(p + 10, c.cport);
  put16(p + 12, c.vport);
  put16(p + 14, c.dport);
  put32(p + 16, c.fwmark);
  put32(p + 20, c.timeout_s);
  std::memcpy(p + 24, c.caddr.data(), alen);
  std::memcpy(p + 24 + alen, c.vaddr.data(), alen);
  std::memcpy(p + 24 + 2 * alen, c.daddr.data(), alen);
  p += c.inet6 ? kRecordV6 : kRecordV4;
  if (c.has_seq && (c.flags & kFlagSeqMask)) {
    *p++ = kOptSeqData;
    *p++ = kSeqOptionLen;
    p = put_seq(put_seq(p, c.in_seq), c.out_seq);
  }
  if (c.has_fnat) {
    *p++ = kOptUvsFullNat;
    *p++ = static_cast<uint8_t>(fnat_option_len(c.inet6));
    put16(p, c.fnat.lport);
    p[2] = c.fnat.xflags;
    p[3] = 0;
    put32(p + 4, c.fnat.seq_delta);
    std::memcpy(p + 8, c.fnat.laddr.data(), alen);
  }
  head_ += pad + len;
  ++buf_[4];
  put16(&buf_[2], static_cast<uint16_t>(head_));
  return true;
}

const char* reject_name(Reject r) {
  switch (r) {
    case Reject::kHeaderShort: return "header_short";
    case Reject::kBadSize: return "bad_size";
    case Reject::kSyncid: return "syncid";
    case Reject::kRecordShort: return "record_short";
    case Reject::kRecordOverrun: return "record_overrun";
    case Reject::kRecordVersion: return "record_version";
    case Reject::kRecordMalformed: return "record_malformed";
    case Reject::kUnknownOption: return "unknown_option";
    case Reject::kProtocol: return "protocol";
    case Reject::kState: return "state";
    case Reject::kPe: return "pe";
    case Reject::kCount: break;
  }
  return "?";
}

size_t read_message(std::span<const uint8_t> msg, uint8_t backup_syncid,
                    std::span<SyncConn> out, ReadStats& stats) {
  // ip_vs_process_message(): the size and syncid sit at the same offsets in both versions.
  if (msg.size() < kHeaderV0) {
    stats.count(Reject::kHeaderShort);
    return 0;
  }
  if (get16(msg.data() + 2) != msg.size()) {
    stats.count(Reject::kBadSize);
    return 0;
  }
  if (backup_syncid != 0 && msg[1] != backup_syncid) {
    stats.count(Reject::kSyncid);
    return 0;
  }
  ++stats.messages;
  const bool v1 = msg.size() >= kHeaderV1 && msg[0] == 0 && msg[5] == kProtoVersion &&
                  get16(msg.data() + 6) == 0;
  const size_t n = v1 ? read_v1(msg, out, stats) : read_v0(msg, out, stats);
  stats.records += n;
  return n;
}

}  // namespace uvs::sync
