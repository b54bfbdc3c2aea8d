/**
 * Flow-key extraction: turns packet bytes plus metadata into the 64-word key
 * of {@linkcode ./flow_key.ts}, with the semantics of Open vSwitch's
 * `miniflow_extract` (lib/flow.c). The hottest code of the datapath.
 *
 * What a key holds, layer by layer:
 * - metadata: the first META_WORDS words, copied from the batch (the tunnel
 *   words only when a tunnel destination is set: FIRST_TUNNEL_WORD);
 * - Ethernet: dst, src; up to two VLAN tags (TPID 0x8100 or 0x88a8), outer
 *   then inner, each `tpid << 16 | tci | VLAN_CFI`; a third tag stays in the
 *   payload and its TPID is the ethertype; an 802.3 length field gives the
 *   LLC/SNAP ethertype (OUI 0) or ETH_TYPE_NONE;
 * - MPLS: the first label stack entry, nothing past the stack;
 * - IPv4, IPv6, ARP/RARP: see ./flow_extract_l3.ts;
 * - TCP, UDP, SCTP, ICMP, ICMPv6 + neighbour discovery: ./flow_extract_l4.ts.
 *
 * The word map of a key: bit `w` of the low word for key word `w` < 32, bit
 * `w - 32` of the high word otherwise. A metadata word is in the map when it
 * is not zero; every other word is in it when the parse path wrote it (even
 * when it wrote zero), so the map is a function of the packet bytes and
 * metadata alone. Every key word outside the map is zero.
 *
 * L3 / L4 offsets (from the first byte of the packet, -1 when absent), as
 * OVS's `l3_ofs` / `l4_ofs`: L3 is where the network header starts (after
 * Ethernet, VLAN tags, LLC/SNAP and any MPLS stack) for every frame of at
 * least 14 bytes, whatever its ethertype and even when that header turns out
 * truncated or malformed. L4 is where the transport header starts when an IPv4
 * or IPv6 header (and its extension chain) was accepted and the packet is not
 * a later fragment, whatever the protocol and even when the transport header
 * itself is incomplete. Code that writes through these offsets must check
 * lengths itself.
 *
 * Fast path: no allocation, no closures, no strings; big-endian values are
 * read through the pool's `view` (a DataView: measured ~20-30 % faster than
 * composing them from `Uint8Array` bytes) at absolute offsets, never at or
 * past `offset + length`; one loop over the batch, no per-packet call. Nothing is thrown for any packet content.
 *
 * @module
 */

import {
  ETH_TYPE_NONE,
  FIRST_TUNNEL_WORD,
  KEY_SHIFT,
  KEY_WORDS,
  META_WORDS,
  VLAN_CFI,
  W_ETH_DST_HI,
  W_ETH_DST_LO,
  W_ETH_SRC_HI,
  W_ETH_SRC_LO,
  W_ETH_TYPE,
  W_MPLS_LSE,
  W_NW_DST,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
  W_TCP_FLAGS,
  W_TP,
  W_TUN_IPV4_DST,
  W_TUN_IPV6_DST,
  W_VLAN_INNER,
  W_VLAN_OUTER,
} from "./flow_key.ts";
import { META_SHIFT, type PacketBatch } from "./packet_batch.ts";
import { extractArp, extractIpv4, extractIpv6, l4Found } from "./flow_extract_l3.ts";
import { IPPROTO_TCP, IPPROTO_UDP } from "./flow_extract_l4.ts";

/** Shortest frame that has a key: an Ethernet header. */
export const ETH_HEADER_LEN = 14;

const ETH_TYPE_MIN = 0x0600;
const ETH_TYPE_IP = 0x0800;
const ETH_TYPE_ARP = 0x0806;
const ETH_TYPE_RARP = 0x8035;
const ETH_TYPE_IPV6 = 0x86dd;
const ETH_TYPE_VLAN_8021Q = 0x8100;
const ETH_TYPE_VLAN_8021AD = 0x88a8;
const ETH_TYPE_MPLS = 0x8847;
const ETH_TYPE_MPLS_MCAST = 0x8848;
const LLC_SNAP_HEADER_LEN = 8;

/** Low-map bits of the four Ethernet address words (28..31). */
const LO_BITS_ETH = (0xf << W_ETH_SRC_HI) | 0;
const HI_BIT_VLAN_OUTER = 1 << (W_VLAN_OUTER - 32);
const HI_BIT_VLAN_INNER = 1 << (W_VLAN_INNER - 32);
const HI_BIT_ETH_TYPE = 1 << (W_ETH_TYPE - 32);
const HI_BIT_MPLS = 1 << (W_MPLS_LSE - 32);

/**
 * Extracts the flow key of every packet of `batch`. Packet i's key goes to
 * `keys[i << KEY_SHIFT ...]`, its word map to `maps[2*i]` (bit w for key word
 * w < 32 that may be non-zero) and `maps[2*i+1]` (bit w-32 for words 32..63).
 * On entry `maps[]` holds the map the slot had last time (or zeros), which is
 * how stale words get zeroed; on exit every key word not in the map is 0.
 * Sets `batch.l3[i]` / `batch.l4[i]` (offset from the packet start, -1 if
 * absent; see the module doc for exactly when they are set).
 *
 * Returns a mask of the packets shorter than 14 bytes (bit i set, as an
 * unsigned 32-bit number): their keys hold only metadata and the caller drops
 * and counts them (DROP_SHORT_FRAME). The batch is not otherwise changed.
 * `keys` must hold `batch.count << KEY_SHIFT` words and `maps` `2 * count`.
 * Throws nothing.
 */
export function extractBatchKeys(batch: PacketBatch, keys: Uint32Array, maps: Uint32Array): number {
  return extractRange(
    batch.pool.view,
    batch.offset,
    batch.length,
    batch.count,
    batch.meta,
    0,
    keys,
    0,
    maps,
    0,
    batch.l3,
    batch.l4,
  );
}

/**
 * Where {@linkcode extractKey} reads one packet and writes its key; reusable,
 * nothing is retained. `l3` and `l4` are outputs.
 */
export interface KeyExtraction {
  /** Bytes holding the packet (a pool's `bytes`, or the frame itself). */
  bytes: Uint8Array;
  /** Offset of the packet's first byte in `bytes`. */
  offset: number;
  /** Packet length in bytes. */
  length: number;
  /** Metadata words in the flow-key layout at `metaOffset`, or null for all zeros. */
  meta: Uint32Array | null;
  /** Offset of the first metadata word in `meta`. */
  metaOffset: number;
  /** Where the key goes: KEY_WORDS words from `keyOffset`. */
  key: Uint32Array;
  /** Offset of the key's first word in `key`. */
  keyOffset: number;
  /** The key's word map: low word at `mapOffset`, high word after it. Holds the old map on entry. */
  map: Uint32Array;
  /** Offset of the map's low word in `map`. */
  mapOffset: number;
  /** Output: L3 offset from the packet start, or -1. */
  l3: number;
  /** Output: L4 offset from the packet start, or -1. */
  l4: number;
}

const NO_META = new Uint32Array(META_WORDS);
const OUT_L3 = new Int32Array(1);
const OUT_L4 = new Int32Array(1);
const ONE_OFFSET = new Int32Array(1);
const ONE_LENGTH = new Int32Array(1);
/** DataView over the buffer of the last `extractKey` call, rebuilt when the buffer changes. */
let lastView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * Extracts the key of one packet as {@linkcode extractBatchKeys} does for each
 * packet of a batch, and sets `job.l3` / `job.l4`. Returns false when the
 * packet is shorter than 14 bytes (its key then holds only metadata).
 * Allocates nothing while `job.bytes` stays over the same buffer (a DataView
 * over it is made once), so a caller may reuse one `job` object per packet.
 * Throws RangeError when the packet region, metadata, key or map does not lie
 * inside its array (never for packet content).
 */
export function extractKey(job: KeyExtraction): boolean {
  const { bytes, offset, length, keyOffset, mapOffset } = job;
  const meta = job.meta ?? NO_META;
  const metaOffset = job.meta === null ? 0 : job.metaOffset;
  if (
    !isIndex(offset) || !isIndex(length) || offset + length > bytes.length ||
    !isIndex(metaOffset) || metaOffset + META_WORDS > meta.length ||
    !isIndex(keyOffset) || keyOffset + KEY_WORDS > job.key.length ||
    !isIndex(mapOffset) || mapOffset + 2 > job.map.length
  ) {
    throw new RangeError("extractKey: packet, metadata, key or map outside its array");
  }
  if (lastView.buffer !== bytes.buffer) lastView = new DataView(bytes.buffer);
  ONE_OFFSET[0] = bytes.byteOffset + offset;
  ONE_LENGTH[0] = length;
  const short = extractRange(
    lastView,
    ONE_OFFSET,
    ONE_LENGTH,
    1,
    meta,
    metaOffset,
    job.key,
    keyOffset,
    job.map,
    mapOffset,
    OUT_L3,
    OUT_L4,
  );
  job.l3 = OUT_L3[0]; // relative to the packet start, so byteOffset drops out
  job.l4 = OUT_L4[0];
  return short === 0;
}

/** High-map bits of a fast-path IPv4 key: nw_src, nw_dst, proto/tos/ttl/frag, ports. */
const HI_BITS_IPV4_PORTS = (1 << (W_NW_SRC - 32)) | (1 << (W_NW_DST - 32)) |
  (1 << (W_NW_PROTO_TOS_TTL_FRAG - 32)) | (1 << (W_TP - 32));
/** Plus TCP flags. */
const HI_BITS_IPV4_TCP = HI_BITS_IPV4_PORTS | (1 << (W_TCP_FLAGS - 32));

/**
 * Fast path of the commonest packet: IPv4 without options, not a fragment,
 * carrying a complete UDP or TCP header (TCP data offset sane). Writes the
 * same key words extractIpv4 + extractL4 would and returns their high-map
 * bits (the L4 header is then at p + 20); returns 0, having written
 * nothing, for any other packet, which takes the general path.
 *
 * Why: the general path is two calls deep (extractIpv4 is too big for V8 to
 * inline), passes the L4 offset through a module array and re-tests every
 * protocol; this is a few straight reads. It took bench/extract_bench.ts's
 * udp4 case from 26.5 to 28.9 Mpps (38 to 35 ns a packet, one run each on
 * the shared machine, 2026-11-23) and about 8 ns a packet off the PMD's
 * CPU time in case (1) EMC off (167 to 159 ns, medians of 5 alternated
 * runs). tests/fast_path_equivalence_test.ts checks it against extractIpv4.
 */
function ipv4Fast(v: DataView, p: number, end: number, keys: Uint32Array, k: number): number {
  const avail = end - p;
  if (avail < 28 || (v.getUint8(p) & 0x0f) !== 5) return 0;
  const totalLen = v.getUint16(p + 2);
  if (totalLen < 28 || totalLen > avail || avail - totalLen > 0xffff) return 0;
  if ((v.getUint16(p + 6) & 0x3fff) !== 0) return 0; // MF or an offset: a fragment
  const proto = v.getUint8(p + 9);
  let bits: number;
  if (proto === IPPROTO_UDP) {
    bits = HI_BITS_IPV4_PORTS;
  } else if (proto === IPPROTO_TCP && totalLen >= 40) {
    const ctl = v.getUint16(p + 32);
    const headerLen = (ctl >>> 12) << 2;
    if (headerLen < 20 || headerLen > totalLen - 20) return 0;
    keys[k + W_TCP_FLAGS] = ctl & 0x0fff;
    bits = HI_BITS_IPV4_TCP;
  } else {
    return 0;
  }
  keys[k + W_NW_SRC] = v.getInt32(p + 12);
  keys[k + W_NW_DST] = v.getInt32(p + 16);
  keys[k + W_NW_PROTO_TOS_TTL_FRAG] = (proto << 24) | (v.getUint8(p + 1) << 16) |
    (v.getUint8(p + 8) << 8);
  keys[k + W_TP] = v.getInt32(p + 20);
  return bits;
}

function isIndex(x: number): boolean {
  return Number.isInteger(x) && x >= 0;
}

/**
 * The worker behind both exports: packets 0..count-1 at `offsets[i]` /
 * `lengths[i]` of `v`, packet i's metadata at `meta[metaBase + (i << META_SHIFT)]`,
 * key at `keys[keyBase + (i << KEY_SHIFT)]`, map at `maps[mapBase + 2 * i]`,
 * offsets into `l3s[i]` / `l4s[i]`. Returns the short-frame mask. One loop,
 * no per-packet call (measured faster than a per-packet function).
 */
function extractRange(
  v: DataView,
  offsets: Int32Array,
  lengths: Int32Array,
  count: number,
  meta: Uint32Array,
  metaBase: number,
  keys: Uint32Array,
  keyBase: number,
  maps: Uint32Array,
  mapBase: number,
  l3s: Int32Array,
  l4s: Int32Array,
): number {
  let short = 0;
  for (let i = 0; i < count; i++) {
    const start = offsets[i];
    const length = lengths[i];
    const mo = metaBase + (i << META_SHIFT);
    const k = keyBase + (i << KEY_SHIFT);
    const m = mapBase + (i << 1);
    // Metadata: only non-zero words are written and mapped (the stale-word
    // sweep below zeroes the rest). The tunnel words count only when a tunnel
    // destination is set (FIRST_TUNNEL_WORD in ./flow_key.ts, as OVS's
    // miniflow_extract): five loads decide it, where reading all 23 tunnel
    // words cost ~9 ns a packet (bench/extract_bench.ts).
    let lo = 0;
    for (let w = 0; w < FIRST_TUNNEL_WORD; w++) {
      const word = meta[mo + w];
      if (word !== 0) {
        keys[k + w] = word;
        lo |= 1 << w;
      }
    }
    const tunnelDst = meta[mo + W_TUN_IPV4_DST] | meta[mo + W_TUN_IPV6_DST] |
      meta[mo + W_TUN_IPV6_DST + 1] | meta[mo + W_TUN_IPV6_DST + 2] |
      meta[mo + W_TUN_IPV6_DST + 3];
    if (tunnelDst !== 0) {
      for (let w = FIRST_TUNNEL_WORD; w < META_WORDS; w++) {
        const word = meta[mo + w];
        if (word !== 0) {
          keys[k + w] = word;
          lo |= 1 << w;
        }
      }
    }
    let hi = 0;
    let l3 = -1;
    let l4 = -1;
    const fits = length >= ETH_HEADER_LEN;
    if (fits) {
      const end = start + length;
      keys[k + W_ETH_DST_HI] = v.getInt32(start);
      keys[k + W_ETH_DST_LO] = v.getUint16(start + 4);
      keys[k + W_ETH_SRC_HI] = v.getInt32(start + 6);
      keys[k + W_ETH_SRC_LO] = v.getUint16(start + 10);
      lo |= LO_BITS_ETH;

      // VLAN tags: a tag counts only with its 4 bytes and the next type present.
      let p = start + 12;
      let type = v.getUint16(p);
      if ((type === ETH_TYPE_VLAN_8021Q || type === ETH_TYPE_VLAN_8021AD) && end - p >= 6) {
        keys[k + W_VLAN_OUTER] = (type << 16) | v.getUint16(p + 2) | VLAN_CFI;
        hi = HI_BIT_VLAN_OUTER;
        p += 4;
        type = v.getUint16(p);
        if ((type === ETH_TYPE_VLAN_8021Q || type === ETH_TYPE_VLAN_8021AD) && end - p >= 6) {
          keys[k + W_VLAN_INNER] = (type << 16) | v.getUint16(p + 2) | VLAN_CFI;
          hi |= HI_BIT_VLAN_INNER;
          p += 4;
          type = v.getUint16(p);
        }
      }
      p += 2;
      if (type < ETH_TYPE_MIN) {
        // 802.3: only LLC/SNAP with OUI 0 names an ethertype.
        if (
          end - p >= LLC_SNAP_HEADER_LEN && v.getUint8(p) === 0xaa && v.getUint8(p + 1) === 0xaa &&
          v.getUint8(p + 2) === 0x03 &&
          v.getUint8(p + 3) === 0 && v.getUint8(p + 4) === 0 && v.getUint8(p + 5) === 0
        ) {
          type = v.getUint16(p + 6);
          p += LLC_SNAP_HEADER_LEN;
          if (type < ETH_TYPE_MIN) type = ETH_TYPE_NONE;
        } else {
          type = ETH_TYPE_NONE;
        }
      }
      keys[k + W_ETH_TYPE] = type;
      hi |= HI_BIT_ETH_TYPE;

      if (type === ETH_TYPE_IP) {
        l3 = p - start;
        const fast = ipv4Fast(v, p, end, keys, k);
        if (fast !== 0) {
          hi |= fast;
          l4 = p + 20 - start;
        } else {
          hi |= extractIpv4(v, p, end, keys, k);
          if (l4Found[0] >= 0) l4 = l4Found[0] - start;
        }
      } else if (type === ETH_TYPE_IPV6) {
        l3 = p - start;
        hi |= extractIpv6(v, p, end, keys, k);
        if (l4Found[0] >= 0) l4 = l4Found[0] - start;
      } else if (type === ETH_TYPE_ARP || type === ETH_TYPE_RARP) {
        l3 = p - start;
        hi |= extractArp(v, p, end, keys, k);
      } else if (type === ETH_TYPE_MPLS || type === ETH_TYPE_MPLS_MCAST) {
        if (end - p >= 4) {
          keys[k + W_MPLS_LSE] = v.getInt32(p);
          hi |= HI_BIT_MPLS;
        }
        // L3 starts after the whole stack: up to the bottom-of-stack entry.
        while (end - p >= 4) {
          p += 4;
          if ((v.getUint8(p - 2) & 1) !== 0) break;
        }
        l3 = p - start;
      } else {
        l3 = p - start;
      }
    }

    // Zero the words the slot's previous key had and this one did not write.
    let stale = maps[m] & ~lo;
    while (stale !== 0) {
      const bit = stale & -stale;
      keys[k + 31 - Math.clz32(bit)] = 0;
      stale ^= bit;
    }
    stale = maps[m + 1] & ~hi;
    while (stale !== 0) {
      const bit = stale & -stale;
      keys[k + 63 - Math.clz32(bit)] = 0;
      stale ^= bit;
    }
    maps[m] = lo;
    maps[m + 1] = hi;
    l3s[i] = l3;
    l4s[i] = l4;
    if (!fits) short |= 1 << i;
  }
  return short >>> 0;
}
