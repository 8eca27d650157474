// The IPVS connection-sync wire format (ip_vs_sync.c): version 1 messages built the way
// ip_vs_sync_conn() fills its buffer, and version 0 and 1 messages read the way
// ip_vs_process_message() and ip_vs_proc_sync_conn() read them, errors included: a bad header
// drops the message, a bad record drops it and the rest of the message, a record for an unknown
// protocol or state is skipped alone. Plain functions over byte buffers, no sockets, no
// allocation after construction: the master's builder runs on the workers. (Skipped alone:
// unknown protocol or state, an unknown mandatory option, PE data.)
//
// What the kernel's records cannot carry and a uvs backup needs to restore a FULLNAT connection
// whole (local address and port, the sequence shift, the TOA and timestamp bits) travels in an
// option of its own with IPVS_OPT_F_PARAM (0x40) set, so a kernel backup skips it as an unknown
// optional parameter.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace uvs::sync {

inline constexpr uint8_t kProtoVersion = 1;                 // SYNC_PROTO_VER
inline constexpr size_t kHeaderV1 = 8;                      // struct ip_vs_sync_mesg
inline constexpr size_t kHeaderV0 = 4;                      // struct ip_vs_sync_mesg_v0
inline constexpr size_t kRecordV4 = 36;                     // struct ip_vs_sync_v4
inline constexpr size_t kRecordV6 = 72;                     // struct ip_vs_sync_v6
inline constexpr size_t kRecordV0 = 24;                     // SIMPLE_CONN_SIZE
inline constexpr size_t kSeqOptionLen = 24;                 // struct ip_vs_sync_conn_options
inline constexpr size_t kMaxConnsPerMessage = 255;          // nr_conns is a u8
inline constexpr uint8_t kTypeInet6 = 0x01;                 // STYPE_F_INET6
inline constexpr uint8_t kOptSeqData = 1;                   // IPVS_OPT_SEQ_DATA
inline constexpr uint8_t kOptPeData = 2;                    // IPVS_OPT_PE_DATA
inline constexpr uint8_t kOptPeName = 3;                    // IPVS_OPT_PE_NAME
inline constexpr uint8_t kOptParam = 0x40;                  // IPVS_OPT_F_PARAM: optional
inline constexpr uint8_t kOptUvsFullNat = kOptParam | 0x21;  // uvs's FULLNAT state
inline constexpr size_t kPeDataMax = 255;                   // IP_VS_PEDATA_MAXLEN
inline constexpr size_t kPeNameMax = 16;                    // IP_VS_PENAME_MAXLEN
// IP_VS_CONN_F_BACKUP_MASK: the flags a backup takes from a record (fwd method, NOOUTPUT,
// INACTIVE, SEQ_MASK, NO_CPORT, TEMPLATE); it adds IP_VS_CONN_F_SYNC itself.
inline constexpr uint32_t kBackupFlagsMask = 0x0007 | 0x0080 | 0x0100 | 0x0600 | 0x0800 | 0x1000;
inline constexpr uint32_t kFlagHashed = 0x0040;
inline constexpr uint32_t kFlagSeqMask = 0x0600;
inline constexpr uint32_t kFlagTemplate = 0x1000;

// struct ip_vs_seq: one direction's sequence adjustment.
struct SeqData {
  uint32_t init_seq = 0;
  uint32_t delta = 0;
  uint32_t previous_delta = 0;
};

// uvs's FULLNAT option: what conn::Conn keeps beyond the kernel's record.
struct FullNatData {
  std::array<uint8_t, 16> laddr{};  // family of the record (daddr's)
  uint16_t lport = 0;               // host order
  uint8_t xflags = 0;               // conn::kXFnat* bits
  uint32_t seq_delta = 0;           // LB-to-RS ISN minus the client's
};

// One record, host order, addresses as network-order bytes (IPv4 in the first four).
struct SyncConn {
  bool inet6 = false;
  uint8_t protocol = 0;  // 0 for fwmark templates
  uint32_t flags = 0;    // IP_VS_CONN_F_*: everything but HASHED on the wire; masked when read
  uint16_t state = 0;
  uint16_t cport = 0, vport = 0, dport = 0;
  uint32_t fwmark = 0;
  uint32_t timeout_s = 0;  // v1: the connection's current timeout; v0 records carry none (0)
  std::array<uint8_t, 16> caddr{}, vaddr{}, daddr{};
  bool has_seq = false;  // SEQ data (only with flags & SEQ_MASK)
  SeqData in_seq, out_seq;
  bool has_pe = false;   // PE data: the record needs a persistence engine uvs lacks
  bool unknown_mandatory = false;  // an option uvs does not know and may not ignore
  bool has_fnat = false;
  FullNatData fnat;
};

// The bytes one record takes, options included, padding not.
size_t record_size(const SyncConn& c);

// A version 1 message being filled, as ip_vs_sync_conn() fills sb->mesg: records 4-byte
// aligned, padding counted in the header's size, at most `maxlen` bytes (sync_maxlen) and 255
// records.
class MessageBuilder {
 public:
  static constexpr size_t kMaxLen = 65535;

  MessageBuilder(uint8_t syncid, size_t maxlen);
  // False when the record does not fit: send bytes(), reset(), add again.
  bool add(const SyncConn& c);
  std::span<const uint8_t> bytes() const { return {buf_.data(), head_}; }
  size_t count() const { return buf_[4]; }
  bool empty() const { return count() == 0; }
  void reset();
  // A new master configuration: empties the message (no allocation).
  void reset(uint8_t syncid, size_t maxlen);

 private:
  std::vector<uint8_t> buf_;  // kMaxLen bytes, allocated once
  size_t maxlen_ = 0;         // sync_maxlen, within buf_
  size_t head_ = 0;
};

// Why a message or a record was not applied; one counter each.
enum class Reject : uint8_t {
  kHeaderShort,      // shorter than the v0 header
  kBadSize,          // header's size != datagram length
  kSyncid,           // the backup's syncid is set and differs
  kRecordShort,      // a record's fixed part runs past the end: rest dropped
  kRecordOverrun,    // a record's size runs past the end: rest dropped
  kRecordVersion,    // a record version other than 0: rest dropped
  kRecordMalformed,  // a bad type, options that overrun, repeat or have bad lengths: rest
                     // dropped
  kUnknownOption,    // an unknown mandatory option: record skipped
  kProtocol,         // unknown protocol: record skipped
  kState,            // state out of range for the protocol: record skipped
  kPe,               // needs a persistence engine uvs does not have: record skipped
  kCount,
};
const char* reject_name(Reject r);

struct ReadStats {
  uint64_t messages = 0;  // read whole or in part
  uint64_t records = 0;   // handed to the caller
  std::array<uint64_t, static_cast<size_t>(Reject::kCount)> rejects{};
  void count(Reject r) { ++rejects[static_cast<size_t>(r)]; }
};

// Reads one message (v0 or v1) into `out` (room for kMaxConnsPerMessage records is enough) and
// returns how many records were good, in order. Flags come back masked to kBackupFlagsMask.
// `backup_syncid` 0 takes every syncid.
size_t read_message(std::span<const uint8_t> msg, uint8_t backup_syncid,
                    std::span<SyncConn> out, ReadStats& stats);

}  // namespace uvs::sync
