import assert from "node:assert/strict";
import { extractBatchKeys, extractKey, type KeyExtraction } from "../datapath/flow_extract.ts";
import {
  ETH_TYPE_NONE,
  FRAG_ANY,
  FRAG_LATER,
  KEY_WORDS,
  META_WORDS,
  USED_WORDS,
  VLAN_CFI,
  W_ARP_SHA_HI,
  W_ARP_SHA_LO,
  W_ARP_THA_HI,
  W_ARP_THA_LO,
  W_ETH_DST_HI,
  W_ETH_DST_LO,
  W_ETH_SRC_HI,
  W_ETH_SRC_LO,
  W_ETH_TYPE,
  W_IN_PORT,
  W_IPV6_DST,
  W_IPV6_LABEL,
  W_IPV6_SRC,
  W_MPLS_LSE,
  W_ND_TARGET,
  W_NW_DST,
  W_NW_PROTO_TOS_TTL_FRAG,
  W_NW_SRC,
  W_RECIRC_ID,
  W_TCP_FLAGS,
  W_TP,
  W_TUN_ID_LO,
  W_TUN_IPV4_DST,
  W_VLAN_INNER,
  W_VLAN_OUTER,
} from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";
import {
  arpFrame,
  bytesToHex,
  concatBytes,
  ethFrame,
  hexToBytes,
  icmp4Frame,
  icmp6Frame,
  ipv4Packet,
  ipv6AuthHeader,
  ipv6ExtHeader,
  ipv6FragmentHeader,
  ipv6Packet,
  mplsFrame,
  ndFrame,
  sctp4Frame,
  tcp4Frame,
  tcp6Frame,
  udp4Frame,
  udp6Frame,
} from "./fixtures/packets.ts";

// ---- helpers

interface Extracted {
  key: Uint32Array;
  map: Uint32Array;
  l3: number;
  l4: number;
  fits: boolean;
}

/** Extracts `frame` (copied into its own buffer) with optional metadata. */
function extract(frame: Uint8Array, meta: Uint32Array | null = null): Extracted {
  const job: KeyExtraction = {
    bytes: frame.slice(),
    offset: 0,
    length: frame.length,
    meta,
    metaOffset: 0,
    key: new Uint32Array(KEY_WORDS),
    keyOffset: 0,
    map: new Uint32Array(2),
    mapOffset: 0,
    l3: 0,
    l4: 0,
  };
  const fits = extractKey(job);
  checkInvariants(job.key, 0, job.map, 0);
  return { key: job.key, map: job.map, l3: job.l3, l4: job.l4, fits };
}

/** Every non-zero word is in the map; words past USED_WORDS are zero. */
function checkInvariants(key: Uint32Array, k: number, map: Uint32Array, m: number): void {
  for (let w = 0; w < KEY_WORDS; w++) {
    if (key[k + w] === 0) continue;
    assert.ok(w < USED_WORDS, `word ${w} past USED_WORDS is set`);
    const bit = w < 32 ? (map[m] >>> w) & 1 : (map[m + 1] >>> (w - 32)) & 1;
    assert.equal(bit, 1, `word ${w} = ${key[k + w].toString(16)} is not in the map`);
  }
}

const ETH_WORDS = {
  [W_ETH_DST_HI]: 0x00000000,
  [W_ETH_DST_LO]: 0x0002,
  [W_ETH_SRC_HI]: 0x00000000,
  [W_ETH_SRC_LO]: 0x0001,
};

/** Asserts the key words exactly: listed words equal, every other word zero. */
function expectKey(
  frame: Uint8Array,
  words: Record<number, number>,
  l3: number,
  l4: number,
  meta: Uint32Array | null = null,
): Extracted {
  const got = extract(frame, meta);
  const want = new Uint32Array(KEY_WORDS);
  for (const [w, v] of Object.entries({ ...ETH_WORDS, ...words })) want[Number(w)] = v;
  const diffs: string[] = [];
  for (let w = 0; w < KEY_WORDS; w++) {
    if (got.key[w] !== want[w]) {
      diffs.push(`word ${w}: got ${got.key[w].toString(16)} want ${want[w].toString(16)}`);
    }
  }
  assert.deepEqual(diffs, []);
  assert.equal(got.fits, true);
  assert.equal(got.l3, l3, "l3");
  assert.equal(got.l4, l4, "l4");
  return got;
}

function nw(proto: number, tos: number, ttl: number, frag: number): number {
  return ((proto << 24) | (tos << 16) | (ttl << 8) | frag) >>> 0;
}

const IP4 = { [W_ETH_TYPE]: 0x0800, [W_NW_SRC]: 0x0a000001, [W_NW_DST]: 0x0a000002 };
const IP6_ADDRS = {
  [W_ETH_TYPE]: 0x86dd,
  [W_IPV6_SRC]: 0x20010db8,
  [W_IPV6_SRC + 3]: 1,
  [W_IPV6_DST]: 0x20010db8,
  [W_IPV6_DST + 3]: 2,
};

// ---- fixtures: builders agree with independently built hex

const UDP4_HEX = "000000000002000000000001080045100020123400004011" +
  "54870a0000010a00000204d212b5000c0f8661626364";
const TCP6_HEX = "00000000000200000000000186dd62e123450014064020010db8" +
  "00000000000000000000000120010db80000000000000000000000029c4001bb" +
  "00000001000000005012ffffb6610000";

Deno.test("fixtures: builders match hand-built hex frames", () => {
  const udp = udp4Frame({
    tos: 0x10,
    id: 0x1234,
    srcPort: 1234,
    dstPort: 4789,
    payload: hexToBytes("61626364"),
  });
  assert.equal(bytesToHex(udp), UDP4_HEX);
  const tcp = tcp6Frame({
    trafficClass: 0x2e,
    flowLabel: 0x12345,
    srcPort: 40000,
    dstPort: 443,
    flags: 0x012,
  });
  assert.equal(bytesToHex(tcp), TCP6_HEX);
  assert.throws(() => hexToBytes("abc"), SyntaxError);
});

// ---- exact keys, protocol by protocol

Deno.test("udp/ipv4 hex frame: addresses, tos, ttl, ports, metadata", () => {
  const meta = new Uint32Array(META_WORDS);
  meta[W_IN_PORT] = 5;
  meta[W_TUN_IPV4_DST] = 0xc0a80001;
  const got = expectKey(
    hexToBytes(UDP4_HEX),
    {
      ...IP4,
      [W_IN_PORT]: 5,
      [W_TUN_IPV4_DST]: 0xc0a80001,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0x10, 64, 0),
      [W_TP]: (1234 << 16) | 4789,
    },
    14,
    34,
    meta,
  );
  // Zero metadata words are not mapped; in_port and the tunnel word are.
  assert.equal(got.map[0] & ((1 << W_RECIRC_ID) | (1 << W_TUN_ID_LO)), 0);
  assert.equal(got.map[0] & (1 << W_IN_PORT), 1 << W_IN_PORT);
});

Deno.test("tunnel metadata words without a tunnel destination are ignored, as OVS does", () => {
  const meta = new Uint32Array(META_WORDS);
  meta[W_IN_PORT] = 3;
  meta[W_TUN_ID_LO] = 0xdead; // left over from an earlier packet in the slot
  meta[W_TUN_IPV4_DST] = 0;
  const plain = extract(hexToBytes(UDP4_HEX), meta);
  assert.equal(plain.key[W_TUN_ID_LO], 0);
  assert.equal(plain.map[0] & ~((1 << W_IN_PORT) | (0xf << 28)), 0, "only in_port and L2 words");
  meta[W_TUN_IPV4_DST] = 0x0a000002;
  const tunnelled = extract(hexToBytes(UDP4_HEX), meta);
  assert.equal(tunnelled.key[W_TUN_ID_LO], 0xdead);
  assert.equal(tunnelled.key[W_TUN_IPV4_DST], 0x0a000002);
});

Deno.test("tcp/ipv6 hex frame: label, tclass, hop limit, flags", () => {
  expectKey(
    hexToBytes(TCP6_HEX),
    {
      ...IP6_ADDRS,
      [W_IPV6_LABEL]: 0x12345,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(6, 0x2e, 64, 0),
      [W_TP]: (40000 << 16) | 443,
      [W_TCP_FLAGS]: 0x012,
    },
    14,
    54,
  );
});

Deno.test("tcp/ipv4: options in the header, data offset checks", () => {
  const opts = tcp4Frame({
    flags: 0xfff,
    tcpOptions: new Uint8Array(8),
    dstPort: 22,
    ipOptions: new Uint8Array(4),
  });
  expectKey(
    opts,
    {
      ...IP4,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(6, 0, 64, 0),
      [W_TP]: (1234 << 16) | 22,
      [W_TCP_FLAGS]: 0xfff,
    },
    14,
    38,
  );
  const base = { ...IP4, [W_NW_PROTO_TOS_TTL_FRAG]: nw(6, 0, 64, 0) };
  const bad = tcp4Frame();
  bad[34 + 12] = 0x40; // data offset 4 < 5
  expectKey(bad, base, 14, 34);
  const long = tcp4Frame();
  long[34 + 12] = 0x60; // data offset 6 > the 20 bytes present
  expectKey(long, base, 14, 34);
});

Deno.test("sctp and icmp over ipv4", () => {
  expectKey(
    sctp4Frame({ srcPort: 7, dstPort: 9 }),
    {
      ...IP4,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(132, 0, 64, 0),
      [W_TP]: (7 << 16) | 9,
    },
    14,
    34,
  );
  expectKey(
    icmp4Frame({ type: 3, code: 13, ttl: 1 }),
    {
      ...IP4,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(1, 0, 1, 0),
      [W_TP]: (3 << 16) | 13,
    },
    14,
    34,
  );
});

Deno.test("ipv4 fragments: first keeps ports, later has none but an l4 offset", () => {
  expectKey(
    udp4Frame({ moreFragments: true, dontFragment: false }),
    {
      ...IP4,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, FRAG_ANY),
      [W_TP]: (1234 << 16) | 80,
    },
    14,
    34,
  );
  expectKey(
    udp4Frame({ fragmentOffset: 100 }),
    {
      ...IP4,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, FRAG_ANY | FRAG_LATER),
    },
    14,
    34,
  );
  expectKey(
    udp4Frame({ dontFragment: true }),
    {
      ...IP4,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, 0),
      [W_TP]: (1234 << 16) | 80,
    },
    14,
    34,
  );
});

Deno.test("ipv4: padding is ignored, insane headers give no L3 fields", () => {
  // 60-byte frame, 28-byte IP datagram: the UDP header is found, padding ignored.
  expectKey(
    udp4Frame({ padTo: 60 }),
    {
      ...IP4,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, 0),
      [W_TP]: (1234 << 16) | 80,
    },
    14,
    34,
  );
  // Total length says 24: only 4 UDP bytes belong to the datagram, even with padding after.
  const shortTotal = udp4Frame({ padTo: 60 });
  shortTotal[17] = 24;
  expectKey(shortTotal, { ...IP4, [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, 0) }, 14, 34);
  const l2Only = { [W_ETH_TYPE]: 0x0800 };
  const ihl4 = udp4Frame();
  ihl4[14] = 0x44;
  expectKey(ihl4, l2Only, 14, -1);
  const tooLong = udp4Frame();
  tooLong[17] += 1; // total length one past the frame
  expectKey(tooLong, l2Only, 14, -1);
  const belowHeader = udp4Frame();
  belowHeader[16] = 0;
  belowHeader[17] = 19; // total length < IHL * 4
  expectKey(belowHeader, l2Only, 14, -1);
  const ihlPastFrame = udp4Frame();
  ihlPastFrame[14] = 0x4f; // 60-byte header in a 28-byte datagram
  expectKey(ihlPastFrame, l2Only, 14, -1);
});

Deno.test("transport headers count only when complete within the IP length", () => {
  const cases: [number, Uint8Array, number][] = [
    [17, udp4Frame().subarray(34), 8],
    [6, tcp4Frame().subarray(34), 20],
    [132, sctp4Frame().subarray(34), 12],
    [1, icmp4Frame().subarray(34), 8],
    [58, icmp6Frame().subarray(54), 8],
  ];
  for (const [proto, segment, min] of cases) {
    for (let n = 0; n <= segment.length; n++) {
      const v4 = extract(
        ethFrame(0x0800, ipv4Packet(proto, segment.subarray(0, n)), { padTo: 60 }),
      );
      assert.equal(v4.l4, 34);
      assert.equal(v4.key[W_TP] !== 0, n >= min, `v4 proto ${proto} with ${n} bytes`);
      const v6 = extract(
        ethFrame(0x86dd, ipv6Packet(proto, segment.subarray(0, n)), { padTo: 120 }),
      );
      assert.equal(v6.l4, 54);
      assert.equal(v6.key[W_TP] !== 0, n >= min, `v6 proto ${proto} with ${n} bytes`);
    }
  }
});

Deno.test("ipv6 extension headers: hop-by-hop, routing, dest options, AH", () => {
  const ext = concatBytes(
    ipv6ExtHeader(43),
    ipv6ExtHeader(60, new Uint8Array(14)), // 16 bytes
    ipv6ExtHeader(51),
    ipv6AuthHeader(17, 4), // 24 bytes
  );
  expectKey(
    udp6Frame({ extHeaders: ext, firstHeader: 0, hopLimit: 9, dstPort: 53 }),
    {
      ...IP6_ADDRS,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 9, 0),
      [W_TP]: (1234 << 16) | 53,
    },
    14,
    54 + 8 + 16 + 8 + 24,
  );
});

Deno.test("ipv6 fragments: first fragment continues, later ones stop with proto 44", () => {
  expectKey(
    udp6Frame({ extHeaders: ipv6FragmentHeader(17, 0, true), firstHeader: 44 }),
    {
      ...IP6_ADDRS,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, FRAG_ANY),
      [W_TP]: (1234 << 16) | 80,
    },
    14,
    62,
  );
  expectKey(
    udp6Frame({ extHeaders: ipv6FragmentHeader(17, 0, false), firstHeader: 44 }),
    {
      ...IP6_ADDRS,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, 0), // atomic fragment: not a fragment
      [W_TP]: (1234 << 16) | 80,
    },
    14,
    62,
  );
  expectKey(
    udp6Frame({ extHeaders: ipv6FragmentHeader(17, 185, false), firstHeader: 44 }),
    {
      ...IP6_ADDRS,
      [W_NW_PROTO_TOS_TTL_FRAG]: nw(44, 0, 64, FRAG_ANY | FRAG_LATER),
    },
    14,
    62,
  );
});

Deno.test("ipv6: truncated extension chain keeps only addresses; bad payload length none", () => {
  // A hop-by-hop header claiming 64 bytes in a 16-byte payload.
  const hbh = ipv6ExtHeader(17);
  hbh[1] = 7;
  expectKey(udp6Frame({ extHeaders: hbh, firstHeader: 0, flowLabel: 5 }), IP6_ADDRS, 14, -1);
  // Fewer than 8 bytes left for an extension header.
  expectKey(ethFrame(0x86dd, ipv6Packet(60, new Uint8Array(7))), IP6_ADDRS, 14, -1);
  const tooLong = udp6Frame();
  tooLong[19] += 1;
  expectKey(tooLong, { [W_ETH_TYPE]: 0x86dd }, 14, -1);
  expectKey(udp6Frame().subarray(0, 53), { [W_ETH_TYPE]: 0x86dd }, 14, -1);
});

Deno.test("icmpv6 and neighbour discovery", () => {
  const icmp6 = (type: number, code: number) => ({
    ...IP6_ADDRS,
    [W_NW_PROTO_TOS_TTL_FRAG]: nw(58, 0, 255, 0),
    [W_TP]: (type << 16) | code,
  });
  const target = { [W_ND_TARGET]: 0x20010db8, [W_ND_TARGET + 3]: 2 };
  const sll = { [W_ARP_SHA_HI]: 0x0a0b0c0d, [W_ARP_SHA_LO]: 0x0e0f };
  const tll = { [W_ARP_THA_HI]: 0x01020304, [W_ARP_THA_LO]: 0x0506 };
  expectKey(icmp6Frame({ type: 128, hopLimit: 255 }), icmp6(128, 0), 14, 54);
  expectKey(ndFrame({ sll: "0a:0b:0c:0d:0e:0f" }), { ...icmp6(135, 0), ...target, ...sll }, 14, 54);
  expectKey(
    ndFrame({ type: 136, tll: "01:02:03:04:05:06" }),
    { ...icmp6(136, 0), ...target, ...tll },
    14,
    54,
  );
  expectKey(
    ndFrame({
      sll: "0a:0b:0c:0d:0e:0f",
      tll: "01:02:03:04:05:06",
      extraOptions: hexToBytes("0302" + "00".repeat(14)),
    }),
    { ...icmp6(135, 0), ...target, ...sll, ...tll },
    14,
    54,
  );
  expectKey(ndFrame(), { ...icmp6(135, 0), ...target }, 14, 54);
  // Duplicate source link-layer address: invalid, every ND field cleared.
  const dup = ndFrame({ sll: "0a:0b:0c:0d:0e:0f", extraOptions: hexToBytes("0101aabbccddeeff") });
  expectKey(dup, icmp6(135, 0), 14, 54);
  // A zero address first does not count as present (as in OVS): the second is kept.
  expectKey(
    ndFrame({ sll: "00:00:00:00:00:00", extraOptions: hexToBytes("01010a0b0c0d0e0f") }),
    { ...icmp6(135, 0), ...target, ...sll },
    14,
    54,
  );
  // Option length 0 stops the walk, keeping what was found before it.
  const zeroLen = ndFrame({
    sll: "0a:0b:0c:0d:0e:0f",
    extraOptions: hexToBytes("0200010203040506"),
  });
  expectKey(zeroLen, { ...icmp6(135, 0), ...target, ...sll }, 14, 54);
  // Code 1 is not ND; an 8-byte body has no whole target.
  expectKey(
    icmp6Frame({ type: 135, code: 1, hopLimit: 255, body: new Uint8Array(20) }),
    icmp6(135, 1),
    14,
    54,
  );
  expectKey(
    icmp6Frame({ type: 136, hopLimit: 255, body: new Uint8Array(12) }),
    icmp6(136, 0),
    14,
    54,
  );
});

Deno.test("arp and rarp", () => {
  const arp = {
    [W_ETH_TYPE]: 0x0806,
    [W_NW_SRC]: 0x0a000001,
    [W_NW_DST]: 0x0a000002,
    [W_ARP_SHA_HI]: 0x00000000,
    [W_ARP_SHA_LO]: 0x0001,
    [W_ARP_THA_HI]: 0xffeeddcc,
    [W_ARP_THA_LO]: 0xbbaa,
  };
  const hex = "ffffffffffff000000000001080600010800060400010000000000010a000001" +
    "ffeeddccbbaa0a000002";
  expectKey(
    hexToBytes(hex),
    {
      ...arp,
      [W_ETH_DST_HI]: 0xffffffff,
      [W_ETH_DST_LO]: 0xffff,
      [W_NW_PROTO_TOS_TTL_FRAG]: 1 << 24,
    },
    14,
    -1,
  );
  expectKey(
    arpFrame({ op: 2, tha: "ff:ee:dd:cc:bb:aa", padTo: 60 }),
    { ...arp, [W_NW_PROTO_TOS_TTL_FRAG]: 2 << 24 },
    14,
    -1,
  );
  expectKey(
    arpFrame({ op: 3, ethType: 0x8035, tha: "ff:ee:dd:cc:bb:aa" }),
    { ...arp, [W_ETH_TYPE]: 0x8035, [W_NW_PROTO_TOS_TTL_FRAG]: 3 << 24 },
    14,
    -1,
  );
  expectKey(arpFrame({ op: 0x100, tha: "ff:ee:dd:cc:bb:aa" }), arp, 14, -1); // opcode > 0xff: no proto
  const hln8 = arpFrame();
  hln8[18] = 8;
  expectKey(hln8, { [W_ETH_TYPE]: 0x0806 }, 14, -1);
  expectKey(arpFrame().subarray(0, 41), { [W_ETH_TYPE]: 0x0806 }, 14, -1);
});

Deno.test("vlan tags: one, two (QinQ), a third stays in the payload", () => {
  const vlanUdp = (tags: { tpid?: number; tci: number }[]) => udp4Frame({ vlans: tags });
  const l3 = { ...IP4, [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, 0), [W_TP]: (1234 << 16) | 80 };
  expectKey(
    vlanUdp([{ tci: 0x2064 }]),
    { ...l3, [W_VLAN_OUTER]: (0x8100 << 16 | 0x2064 | VLAN_CFI) >>> 0 },
    18,
    38,
  );
  expectKey(
    vlanUdp([{ tpid: 0x88a8, tci: 0xf00a }, { tci: 20 }]),
    {
      ...l3,
      [W_VLAN_OUTER]: (0x88a8 << 16 | 0xf00a | VLAN_CFI) >>> 0,
      [W_VLAN_INNER]: (0x8100 << 16 | 20 | VLAN_CFI) >>> 0,
    },
    22,
    42,
  );
  expectKey(
    vlanUdp([{ tci: 1 }, { tci: 2 }, { tci: 3 }]),
    {
      [W_VLAN_OUTER]: (0x8100 << 16 | 1 | VLAN_CFI) >>> 0,
      [W_VLAN_INNER]: (0x8100 << 16 | 2 | VLAN_CFI) >>> 0,
      [W_ETH_TYPE]: 0x8100,
    },
    22,
    -1,
  );
});

Deno.test("802.3 frames: LLC/SNAP with OUI 0 gives the ethertype, anything else none", () => {
  const ip = udp4Frame().subarray(14);
  const snap = (oui: string, type: string) =>
    ethFrame(8 + ip.length, concatBytes(hexToBytes("aaaa03" + oui + type), ip));
  expectKey(
    snap("000000", "0800"),
    { ...IP4, [W_NW_PROTO_TOS_TTL_FRAG]: nw(17, 0, 64, 0), [W_TP]: (1234 << 16) | 80 },
    22,
    42,
  );
  expectKey(snap("00000c", "0800"), { [W_ETH_TYPE]: ETH_TYPE_NONE }, 14, -1);
  expectKey(snap("000000", "05dc"), { [W_ETH_TYPE]: ETH_TYPE_NONE }, 22, -1);
  expectKey(
    ethFrame(38, hexToBytes("424203000000000000")),
    { [W_ETH_TYPE]: ETH_TYPE_NONE },
    14,
    -1,
  );
  expectKey(ethFrame(7, hexToBytes("aaaa03000000")), { [W_ETH_TYPE]: ETH_TYPE_NONE }, 14, -1);
});

Deno.test("mpls: first label stack entry, l3 after the stack, no L3 fields", () => {
  const ip = udp4Frame().subarray(14);
  expectKey(
    mplsFrame([{ label: 100, tc: 5, ttl: 32 }], ip),
    { [W_ETH_TYPE]: 0x8847, [W_MPLS_LSE]: 0x00064b20 },
    18,
    -1,
  );
  expectKey(
    mplsFrame([{ label: 0xfffff }, { label: 7 }], ip),
    { [W_ETH_TYPE]: 0x8847, [W_MPLS_LSE]: 0xfffff040 },
    22,
    -1,
  );
  expectKey(ethFrame(0x8848, hexToBytes("000641")), { [W_ETH_TYPE]: 0x8848 }, 14, -1);
});

Deno.test("other ethertypes and short frames", () => {
  expectKey(ethFrame(0x88cc, new Uint8Array(46)), { [W_ETH_TYPE]: 0x88cc }, 14, -1);
  const meta = new Uint32Array(META_WORDS);
  meta[W_IN_PORT] = 3;
  for (let n = 0; n < 14; n++) {
    const got = extract(udp4Frame().subarray(0, n), meta);
    assert.equal(got.fits, false);
    assert.deepEqual([got.l3, got.l4, got.map[0], got.map[1]], [-1, -1, 1 << W_IN_PORT, 0]);
    assert.deepEqual([...got.key].filter((x) => x !== 0), [3]);
  }
});

Deno.test("extractKey rejects regions outside their arrays", () => {
  const job: KeyExtraction = {
    bytes: new Uint8Array(60),
    offset: 10,
    length: 51,
    meta: null,
    metaOffset: 0,
    key: new Uint32Array(KEY_WORDS),
    keyOffset: 0,
    map: new Uint32Array(2),
    mapOffset: 0,
    l3: 0,
    l4: 0,
  };
  assert.throws(() => extractKey(job), RangeError);
  job.length = 50;
  assert.equal(extractKey(job), true);
  job.keyOffset = 1;
  assert.throws(() => extractKey(job), RangeError);
});

// ---- fixtures used by the property tests below

function allFixtures(): Uint8Array[] {
  return [
    hexToBytes(UDP4_HEX),
    hexToBytes(TCP6_HEX),
    udp4Frame({ padTo: 60, vlans: [{ tci: 7 }] }),
    tcp4Frame({ vlans: [{ tpid: 0x88a8, tci: 1 }, { tci: 2 }], tcpOptions: new Uint8Array(12) }),
    sctp4Frame(),
    icmp4Frame({ ipOptions: new Uint8Array(8) }),
    udp4Frame({ moreFragments: true }),
    udp6Frame({
      extHeaders: concatBytes(
        ipv6ExtHeader(44),
        ipv6FragmentHeader(51, 0, true),
        ipv6AuthHeader(17),
      ),
      firstHeader: 0,
    }),
    icmp6Frame(),
    ndFrame({ sll: "0a:0b:0c:0d:0e:0f", tll: "01:02:03:04:05:06" }),
    arpFrame({ padTo: 60 }),
    arpFrame({ vlans: [{ tci: 9 }] }),
    mplsFrame([{ label: 5 }, { label: 6 }], udp4Frame().subarray(14)),
    ethFrame(8 + 28, concatBytes(hexToBytes("aaaa030000000800"), udp4Frame().subarray(14))),
    ethFrame(0x88cc, new Uint8Array(20)),
  ];
}

/** Offset of the network header and its declared end, or -1 for non-IP/ARP fixtures. */
function l3End(frame: Uint8Array, full: Extracted): number {
  const type = full.key[W_ETH_TYPE];
  const p = full.l3;
  if (type === 0x0800) return p + ((frame[p + 2] << 8) | frame[p + 3]);
  if (type === 0x86dd) return p + 40 + ((frame[p + 4] << 8) | frame[p + 5]);
  if (type === 0x0806) return p + 28;
  return -1;
}

Deno.test("truncation at every length: no throw, no field past what fits", () => {
  for (const frame of allFixtures()) {
    const full = extract(frame);
    const end = l3End(frame, full);
    const tags = (full.key[W_VLAN_OUTER] !== 0 ? 1 : 0) + (full.key[W_VLAN_INNER] !== 0 ? 1 : 0);
    for (let n = 0; n <= frame.length; n++) {
      const got = extract(frame.subarray(0, n));
      const what = `${bytesToHex(frame.subarray(12, 14))} cut at ${n}`;
      assert.equal(got.fits, n >= 14, what);
      assert.ok(got.l3 <= n && got.l4 <= n, what);
      if (n < 14) continue;
      for (let w = W_ETH_SRC_HI; w <= W_ETH_DST_LO; w++) {
        assert.equal(got.key[w], full.key[w], what);
      }
      assert.equal(got.key[W_VLAN_OUTER], tags >= 1 && n >= 18 ? full.key[W_VLAN_OUTER] : 0, what);
      assert.equal(got.key[W_VLAN_INNER], tags >= 2 && n >= 22 ? full.key[W_VLAN_INNER] : 0, what);
      if (end < 0) continue;
      for (let w = W_MPLS_LSE; w < USED_WORDS; w++) {
        assert.equal(got.key[w], n >= end ? full.key[w] : 0, `${what}: word ${w}`);
      }
    }
  }
});

// ---- batches, maps and a seeded fuzz loop

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fillBatch(batch: PacketBatch, frames: Uint8Array[]): void {
  batch.freeAll();
  for (const f of frames) {
    const j = batch.pushCopy(f);
    assert.ok(j >= 0, "a free buffer for each frame");
    batch.meta[(j << META_SHIFT) + W_IN_PORT] = j + 1;
  }
}

/** Overwrites every byte of every batch buffer outside its packet with garbage. */
function scribble(pool: MemoryPool, batch: PacketBatch, next: () => number): void {
  for (let i = 0; i < batch.count; i++) {
    const start = pool.bufferStart(batch.handle[i]);
    const end = pool.bufferEnd(batch.handle[i]);
    for (let p = start; p < batch.offset[i]; p++) pool.bytes[p] = next() * 256;
    for (let p = batch.offset[i] + batch.length[i]; p < end; p++) pool.bytes[p] = next() * 256;
  }
}

Deno.test("batch: keys and offsets equal extractKey, short-frame mask, stale words zeroed", () => {
  const pool = new MemoryPool({ capacity: 64 });
  const batch = new PacketBatch(pool);
  const fixtures = allFixtures();
  const frames = [
    ...fixtures,
    new Uint8Array(13),
    new Uint8Array(0),
    ...fixtures.slice().reverse(),
  ];
  fillBatch(batch, frames);
  const keys = new Uint32Array(32 * KEY_WORDS);
  const maps = new Uint32Array(64);
  assert.equal(
    extractBatchKeys(batch, keys, maps),
    (1 << fixtures.length) | (1 << (fixtures.length + 1)),
  );
  frames.forEach((f, i) => {
    const meta = batch.meta.slice(i << META_SHIFT, (i << META_SHIFT) + META_WORDS);
    const one = extract(f, meta);
    assert.deepEqual(keys.subarray(i * KEY_WORDS, (i + 1) * KEY_WORDS), one.key, `packet ${i}`);
    assert.deepEqual([maps[2 * i], maps[2 * i + 1], batch.l3[i], batch.l4[i]], [
      one.map[0],
      one.map[1],
      one.l3,
      one.l4,
    ]);
  });
  // Same slots, other packets: the stale words of the previous keys must be gone.
  const rotated = frames.slice(5).concat(frames.slice(0, 5));
  fillBatch(batch, rotated);
  extractBatchKeys(batch, keys, maps);
  rotated.forEach((f, i) => {
    const meta = batch.meta.slice(i << META_SHIFT, (i << META_SHIFT) + META_WORDS);
    assert.deepEqual(
      keys.subarray(i * KEY_WORDS, (i + 1) * KEY_WORDS),
      extract(f, meta).key,
      `packet ${i}`,
    );
  });
  fillBatch(batch, new Array(32).fill(new Uint8Array(5)));
  assert.equal(extractBatchKeys(batch, keys, maps), 0xffffffff);
  batch.freeAll();
  assert.equal(pool.available(), pool.capacity);
});

const ETH_TYPES = [0x0800, 0x86dd, 0x0806, 0x8035, 0x8100, 0x88a8, 0x8847, 0x0020, 0x88cc];

Deno.test("fuzz: never throws, key depends only on the bytes of the frame", () => {
  const random = prng(0xdecafbad);
  const pool = new MemoryPool({ capacity: 64, bufferSize: 512 });
  const batch = new PacketBatch(pool);
  const keysA = new Uint32Array(32 * KEY_WORDS);
  const keysB = new Uint32Array(32 * KEY_WORDS);
  const mapsA = new Uint32Array(64);
  const mapsB = new Uint32Array(64);
  const fixtures = allFixtures();
  for (let round = 0; round < 120; round++) {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 32; i++) {
      let f: Uint8Array;
      if (random() < 0.7) {
        f = fixtures[Math.floor(random() * fixtures.length)].slice();
        const flips = 1 + Math.floor(random() * 4);
        for (let j = 0; j < flips; j++) {
          f[Math.floor(random() * Math.min(f.length, 90))] = random() * 256;
        }
        if (random() < 0.3) f = f.subarray(0, Math.floor(random() * (f.length + 1)));
      } else {
        f = new Uint8Array(Math.floor(random() * 200));
        for (let j = 0; j < f.length; j++) f[j] = random() * 256;
        if (f.length >= 14) {
          const t = ETH_TYPES[Math.floor(random() * ETH_TYPES.length)];
          f[12] = t >> 8;
          f[13] = t & 0xff;
        }
      }
      frames.push(f);
    }
    fillBatch(batch, frames);
    scribble(pool, batch, random);
    const shortA = extractBatchKeys(batch, keysA, mapsA);
    const l3A = batch.l3.slice();
    const l4A = batch.l4.slice();
    scribble(pool, batch, random);
    const shortB = extractBatchKeys(batch, keysB, mapsB);
    assert.equal(shortA, shortB);
    assert.deepEqual(keysA, keysB, `round ${round}`);
    assert.deepEqual(mapsA, mapsB);
    assert.deepEqual(l3A, batch.l3);
    assert.deepEqual(l4A, batch.l4);
    for (let i = 0; i < 32; i++) {
      checkInvariants(keysA, i * KEY_WORDS, mapsA, 2 * i);
      const meta = batch.meta.slice(i << META_SHIFT, (i << META_SHIFT) + META_WORDS);
      const fresh = extract(frames[i], meta);
      assert.deepEqual(keysA.subarray(i * KEY_WORDS, (i + 1) * KEY_WORDS), fresh.key);
      assert.deepEqual([mapsA[2 * i], mapsA[2 * i + 1], l3A[i], l4A[i]], [
        fresh.map[0],
        fresh.map[1],
        fresh.l3,
        fresh.l4,
      ]);
      assert.ok(batch.l3[i] <= batch.length[i] && batch.l4[i] <= batch.length[i]);
    }
  }
  batch.freeAll();
  assert.equal(pool.available(), pool.capacity);
});
