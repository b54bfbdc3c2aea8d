/**
 * The flow key: a fixed layout of 32-bit words that every part of the
 * datapath agrees on.
 *
 * A key (and a mask, which has the same layout) is {@linkcode KEY_WORDS}
 * consecutive words of a `Uint32Array`. Keys of a batch live side by side in
 * one array, packet `i` at word `i * KEY_WORDS`, so the fast path only ever
 * handles integer offsets. The first {@linkcode META_WORDS} words are the
 * packet metadata (in_port, recirc_id, tunnel metadata, ...), laid out exactly
 * as a packet batch keeps its per-packet metadata, so that key extraction
 * starts by copying them.
 *
 * Conventions:
 * - Multi-byte protocol fields are stored as numbers in host order of their
 *   network value: IPv4 10.0.0.1 is `0x0a000001`, TCP port 80 is `80`.
 * - Byte strings (MAC, IPv6 addresses, Geneve options) are packed four bytes
 *   per word, first byte in the most significant position.
 * - A field the packet does not have is zero. Which fields are present
 *   follows from `eth_type`, `nw_proto` and the VLAN/tunnel words, as in
 *   Open vSwitch's `struct flow`.
 * - Words that pack several fields list them from the most significant bits
 *   down.
 *
 * @module
 */

/** Number of words in a key (and in a mask). A power of two. */
export const KEY_WORDS = 64;
/** `log2(KEY_WORDS)`, for computing key offsets with a shift. */
export const KEY_SHIFT = 6;

// --- Metadata (words 0 .. META_WORDS-1): also the per-packet metadata layout.

/** Input port number (32 bits). */
export const W_IN_PORT = 0;
/** Recirculation id (32 bits). */
export const W_RECIRC_ID = 1;
/** Datapath hash computed by a `hash` action (32 bits). */
export const W_DP_HASH = 2;
/** skb_priority (32 bits). */
export const W_SKB_PRIORITY = 3;
/** skb_mark (32 bits). */
export const W_SKB_MARK = 4;
/** Tunnel id, most significant 32 bits of the 64-bit tun_id. */
export const W_TUN_ID_HI = 5;
/** Tunnel id, least significant 32 bits (a VXLAN VNI sits in bits 0..23). */
export const W_TUN_ID_LO = 6;
/** Outer IPv4 source of a received tunnel packet, or the one to send with. */
export const W_TUN_IPV4_SRC = 7;
/** Outer IPv4 destination. */
export const W_TUN_IPV4_DST = 8;
/** Outer IPv6 source: four words. */
export const W_TUN_IPV6_SRC = 9;
/** Outer IPv6 destination: four words. */
export const W_TUN_IPV6_DST = 13;
/** Outer tos (bits 24..31), ttl (16..23), tunnel flags (0..15, TNL_F_*). */
export const W_TUN_TOS_TTL_FLAGS = 17;
/** Outer UDP source port (bits 16..31) and destination port (0..15). */
export const W_TUN_TP = 18;
/** Length in bytes of the Geneve options in W_TUN_OPTS (0..TUN_OPTS_MAX). */
export const W_TUN_OPTS_LEN = 19;
/** Raw Geneve option TLVs as on the wire, packed four bytes per word. */
export const W_TUN_OPTS = 20;
/** Largest Geneve option block a key holds, in bytes. */
export const TUN_OPTS_MAX = 32;
/** Number of metadata words: the per-packet metadata of a batch. */
export const META_WORDS = 28;
/**
 * First tunnel metadata word. In a packet's metadata, the tunnel words
 * (FIRST_TUNNEL_WORD .. META_WORDS-1) are meaningful only while a tunnel
 * destination is set ({@linkcode tunnelDstSet}); otherwise they may hold
 * anything and every reader takes them as zero, as Open vSwitch does with
 * `flow_tnl_dst_is_set`. Whoever sets a destination writes every tunnel
 * word. This lets receive, batch moves and key extraction touch 10 words of
 * metadata instead of 28 for the packets that carry no tunnel (almost all).
 */
export const FIRST_TUNNEL_WORD = W_TUN_ID_HI;
/** Metadata words that are always meaningful: the non-tunnel words and the tunnel destination. */
export const LIVE_META_WORDS: readonly number[] = [
  W_IN_PORT,
  W_RECIRC_ID,
  W_DP_HASH,
  W_SKB_PRIORITY,
  W_SKB_MARK,
  W_TUN_IPV4_DST,
  W_TUN_IPV6_DST,
  W_TUN_IPV6_DST + 1,
  W_TUN_IPV6_DST + 2,
  W_TUN_IPV6_DST + 3,
];

/**
 * True when the metadata at `meta[m ...]` has a tunnel destination (IPv4 or
 * IPv6), so that its tunnel words are meaningful. Slow-path helper; the fast
 * path inlines the same five loads.
 */
export function tunnelDstSet(meta: Uint32Array, m: number): boolean {
  return (meta[m + W_TUN_IPV4_DST] | meta[m + W_TUN_IPV6_DST] | meta[m + W_TUN_IPV6_DST + 1] |
    meta[m + W_TUN_IPV6_DST + 2] | meta[m + W_TUN_IPV6_DST + 3]) !== 0;
}

// --- Layer 2

/** Ethernet source, bytes 0..3. */
export const W_ETH_SRC_HI = 28;
/** Ethernet source, bytes 4..5 in bits 0..15. */
export const W_ETH_SRC_LO = 29;
/** Ethernet destination, bytes 0..3. */
export const W_ETH_DST_HI = 30;
/** Ethernet destination, bytes 4..5 in bits 0..15. */
export const W_ETH_DST_LO = 31;
/**
 * Outer VLAN tag: TPID (bits 16..31) and TCI (0..15). The TCI has
 * {@linkcode VLAN_CFI} set whenever a tag is present, as in OVS.
 */
export const W_VLAN_OUTER = 32;
/** Inner VLAN tag (QinQ), same format as W_VLAN_OUTER. */
export const W_VLAN_INNER = 33;
/**
 * The ethertype after any VLAN tags (bits 0..15). Frames with an 802.3
 * length field instead of an ethertype get {@linkcode ETH_TYPE_NONE}.
 */
export const W_ETH_TYPE = 34;
/** First MPLS label stack entry (label, tc, bos, ttl as on the wire). */
export const W_MPLS_LSE = 35;

// --- Layer 3

/** IPv4 source, or ARP sender protocol address. */
export const W_NW_SRC = 36;
/** IPv4 destination, or ARP target protocol address. */
export const W_NW_DST = 37;
/** IPv6 source: four words. */
export const W_IPV6_SRC = 38;
/** IPv6 destination: four words. */
export const W_IPV6_DST = 42;
/** IPv6 flow label (bits 0..19). */
export const W_IPV6_LABEL = 46;
/**
 * IP protocol or ARP opcode (bits 24..31), tos / traffic class (16..23),
 * ttl / hop limit (8..15), fragment bits (0..7: FRAG_ANY, FRAG_LATER).
 */
export const W_NW_PROTO_TOS_TTL_FRAG = 47;

// --- Layer 4

/**
 * Transport source port (bits 16..31) and destination port (0..15). For
 * ICMP and ICMPv6, type sits in the source and code in the destination.
 */
export const W_TP = 48;
/** TCP flags (bits 0..11). */
export const W_TCP_FLAGS = 49;

// --- ARP and IPv6 neighbour discovery

/** ARP sender hardware address, or ND source link-layer address: bytes 0..3. */
export const W_ARP_SHA_HI = 50;
/** Same, bytes 4..5 in bits 0..15. */
export const W_ARP_SHA_LO = 51;
/** ARP target hardware address, or ND target link-layer address: bytes 0..3. */
export const W_ARP_THA_HI = 52;
/** Same, bytes 4..5 in bits 0..15. */
export const W_ARP_THA_LO = 53;
/** IPv6 neighbour discovery target: four words. */
export const W_ND_TARGET = 54;
/** First unused word; words from here to KEY_WORDS are always zero. */
export const USED_WORDS = 58;

// --- Values

/** Set in a VLAN TCI whenever a tag is present (OVS's VLAN_CFI). */
export const VLAN_CFI = 0x1000;
/** Ethertype for frames whose type field is an 802.3 length (OVS's FLOW_DL_TYPE_NONE). */
export const ETH_TYPE_NONE = 0x05ff;
/** Fragment bit: the packet is a fragment (first or later). */
export const FRAG_ANY = 1;
/** Fragment bit: the packet is a later fragment (offset is not zero). */
export const FRAG_LATER = 2;
/** Tunnel flag: don't fragment was set on the outer header. */
export const TNL_F_DONT_FRAGMENT = 1 << 0;
/** Tunnel flag: the outer header carried a checksum. */
export const TNL_F_CSUM = 1 << 1;
/** Tunnel flag: the tunnel id is meaningful (a key was present). */
export const TNL_F_KEY = 1 << 2;
/** Tunnel flag: Geneve OAM bit. */
export const TNL_F_OAM = 1 << 3;
/** Tunnel flag: a Geneve option had its critical bit set. */
export const TNL_F_CRIT_OPT = 1 << 4;

/** Allocates room for `count` keys (or masks), zeroed. */
export function newKeys(count: number): Uint32Array {
  return new Uint32Array(count << KEY_SHIFT);
}

/**
 * Returns true if `(a & mask) == (b & mask)` over the whole key, where the
 * keys and the mask start at the given word offsets.
 */
export function keysMatch(
  a: Uint32Array,
  aOffset: number,
  b: Uint32Array,
  bOffset: number,
  mask: Uint32Array,
  maskOffset: number,
): boolean {
  for (let w = 0; w < USED_WORDS; w++) {
    const m = mask[maskOffset + w];
    if (((a[aOffset + w] ^ b[bOffset + w]) & m) !== 0) return false;
  }
  return true;
}
