/**
 * Frames for the packet fuzzer: a seed corpus of valid frames (built with
 * tests/fixtures/packets.ts: every L3/L4 the extractor knows, VLAN stacks,
 * MPLS, IPv6 extension chains, VXLAN / Geneve / GRE over IPv4 and IPv6, and
 * tunnels inside tunnels) and the mutators that turn them into bad input:
 * truncation, bogus lengths and IHL, odd ethertypes, inserted tags, broken
 * tunnel headers, byte flips, splices, frames of 0..14 bytes and frames at
 * and just over the maximum size.
 *
 * @module
 */

import {
  arpFrame,
  concatBytes,
  ethFrame,
  icmp4Frame,
  icmp6Frame,
  ipv4Packet,
  ipv6AuthHeader,
  ipv6ExtHeader,
  ipv6FragmentHeader,
  ipv6Packet,
  mplsFrame,
  ndFrame,
  pushVlan,
  sctp4Frame,
  tcp4Frame,
  tcp6Frame,
  udp4Frame,
  udp6Frame,
} from "../tests/fixtures/packets.ts";
import type { Prng } from "./prng.ts";

/** VXLAN header (I flag, VNI) in front of `inner`. */
function vxlan(vni: number, inner: Uint8Array, flags = 0x08): Uint8Array {
  const h = Uint8Array.of(flags, 0, 0, 0, (vni >>> 16) & 0xff, (vni >>> 8) & 0xff, vni & 0xff, 0);
  return concatBytes(h, inner);
}

/** Geneve header with `options` (a multiple of 4 bytes) in front of `inner`. */
function geneve(vni: number, options: Uint8Array, inner: Uint8Array, critical = false): Uint8Array {
  const h = Uint8Array.of(
    options.length / 4,
    critical ? 0x40 : 0,
    0x65,
    0x58,
    (vni >>> 16) & 0xff,
    (vni >>> 8) & 0xff,
    vni & 0xff,
    0,
  );
  return concatBytes(h, options, inner);
}

/** GRE header with C/K/S flags (0x8000 / 0x2000 / 0x1000) for Ethernet in front of `inner`. */
function gre(flags: number, inner: Uint8Array, proto = 0x6558): Uint8Array {
  const words: number[] = [];
  if (flags & 0x8000) words.push(0);
  if (flags & 0x2000) words.push(123);
  if (flags & 0x1000) words.push(7);
  const h = new Uint8Array(4 + 4 * words.length);
  h[0] = flags >> 8;
  h[1] = flags & 0xff;
  h[2] = proto >> 8;
  h[3] = proto & 0xff;
  words.forEach((w, i) => {
    h[4 + 4 * i + 2] = (w >> 8) & 0xff;
    h[4 + 4 * i + 3] = w & 0xff;
  });
  return concatBytes(h, inner);
}

/** An outer Ethernet + IPv4 (or IPv6) + UDP to `dstPort` carrying `payload`. */
function udpTunnel(ipv6: boolean, dstPort: number, payload: Uint8Array): Uint8Array {
  const o = { srcPort: 49152, dstPort, payload, ethSrc: "0a:00:00:00:00:01" };
  return ipv6
    ? udp6Frame({ ...o, ipSrc: "2001:cafe::1", ipDst: "2001:cafe::2" })
    : udp4Frame({ ...o, ipSrc: "172.31.1.1", ipDst: "172.31.1.2", dontFragment: true });
}

/** An outer Ethernet + IPv4 (or IPv6) + GRE carrying `payload`. */
function greTunnel(ipv6: boolean, flags: number, inner: Uint8Array): Uint8Array {
  const body = gre(flags, inner);
  return ipv6
    ? ethFrame(0x86dd, ipv6Packet(47, body, { ipSrc: "2001:cafe::1", ipDst: "2001:cafe::2" }))
    : ethFrame(0x0800, ipv4Packet(47, body, { ipSrc: "172.31.1.1", ipDst: "172.31.1.2" }));
}

/** Wraps `inner` in a random tunnel (VXLAN, Geneve, GRE; IPv4 or IPv6 outside). */
export function encapsulate(rng: Prng, inner: Uint8Array): Uint8Array {
  const ipv6 = rng.chance(0.3);
  switch (rng.int(3)) {
    case 0:
      return udpTunnel(ipv6, 4789, vxlan(rng.int(1 << 24), inner));
    case 1: {
      const options = rng.chance(0.5)
        ? Uint8Array.of(0xff, 0xff, 0x80, 0x01, 0xaa, 0xbb, 0xcc, 0xdd)
        : new Uint8Array(0);
      return udpTunnel(ipv6, 6081, geneve(rng.int(1 << 24), options, inner, rng.chance(0.2)));
    }
    default:
      return greTunnel(ipv6, rng.pick([0, 0x2000, 0xa000, 0xb000, 0x1000]), inner);
  }
}

/** The seed corpus: valid frames of every kind the extractor parses. */
export function seedFrames(): Uint8Array[] {
  const payload = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  const udp = udp4Frame({ dstPort: 53, payload, padTo: 60 });
  const tcp6 = tcp6Frame({ srcPort: 1000, dstPort: 80, payload });
  const seeds: Uint8Array[] = [
    udp,
    tcp4Frame({ srcPort: 1000, dstPort: 80, flags: 0x12, payload }),
    sctp4Frame({ payload }),
    icmp4Frame({ type: 8, code: 0 }),
    udp4Frame({ ipOptions: new Uint8Array(8).fill(1), payload }),
    udp4Frame({ moreFragments: true, id: 7, payload }),
    udp4Frame({ fragmentOffset: 100, payload }),
    udp6Frame({ payload }),
    tcp6,
    icmp6Frame({ type: 128 }),
    ndFrame({ sll: "00:00:00:00:00:01" }),
    ndFrame({ type: 136, tll: "00:00:00:00:00:02" }),
    tcp6Frame({
      extHeaders: concatBytes(ipv6ExtHeader(43), ipv6ExtHeader(60), ipv6AuthHeader(6)),
      firstHeader: 0,
      payload,
    }),
    udp6Frame({ extHeaders: ipv6FragmentHeader(17, 0, true), firstHeader: 44, payload }),
    udp6Frame({ extHeaders: ipv6FragmentHeader(17, 20, false), firstHeader: 44, payload }),
    arpFrame(),
    arpFrame({ op: 2, ethType: 0x8035 }),
    mplsFrame([{ label: 100 }, { label: 200, tc: 3 }], udp.subarray(14)),
    pushVlan(udp, 0x2007),
    pushVlan(pushVlan(udp, 0x0064), 0x00c8, 0x88a8),
    pushVlan(pushVlan(pushVlan(tcp6, 5), 6, 0x88a8), 7, 0x88a8),
    ethFrame(0x05dc, concatBytes(Uint8Array.of(0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00), payload)),
    ethFrame(0x0100, payload),
    ethFrame(0x88cc, payload, { padTo: 60 }),
  ];
  const inner = tcp4Frame({ payload });
  seeds.push(udpTunnel(false, 4789, vxlan(123, inner)));
  seeds.push(udpTunnel(true, 4789, vxlan(0xffffff, udp)));
  seeds.push(
    udpTunnel(false, 6081, geneve(455, Uint8Array.of(0xff, 0xff, 0x80, 1, 0, 0, 0, 0xa), inner)),
  );
  seeds.push(udpTunnel(true, 6081, geneve(7, new Uint8Array(0), tcp6)));
  seeds.push(greTunnel(false, 0xa000, inner));
  seeds.push(greTunnel(true, 0x2000, udp));
  seeds.push(greTunnel(false, 0xb000, pushVlan(udp, 10)));
  // Tunnels inside tunnels.
  seeds.push(udpTunnel(false, 4789, vxlan(1, udpTunnel(false, 4789, vxlan(2, inner)))));
  seeds.push(greTunnel(false, 0x2000, udpTunnel(true, 6081, geneve(3, new Uint8Array(0), udp))));
  return seeds;
}

/** Offsets where headers usually start: Ethernet type, IPv4/IPv6, after tags, L4. */
const HOT_OFFSETS = [12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 34, 36, 38, 40, 42, 46, 54];

/** One random mutation of `frame` (a new array; `frame` is not changed). */
export function mutate(rng: Prng, frame: Uint8Array, seeds: readonly Uint8Array[]): Uint8Array {
  const f = frame.slice();
  switch (rng.int(12)) {
    case 0: // truncate
      return f.subarray(0, rng.int(f.length + 1)).slice();
    case 1: // flip random bits
      for (let n = rng.range(1, 4); n > 0 && f.length > 0; n--) {
        f[rng.int(f.length)] ^= 1 << rng.int(8);
      }
      return f;
    case 2: { // an edge value at a header offset
      const at = rng.pick(HOT_OFFSETS) + (rng.chance(0.3) ? 4 * rng.int(4) : 0);
      if (at < f.length) f[at] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x40, 0x45, 0x4f, 0x60, 0x41]);
      return f;
    }
    case 3: { // bogus IPv4 IHL / total length or IPv6 payload length
      const l3 = l3Offset(f);
      if (l3 + 8 <= f.length) {
        if ((f[l3] >> 4) === 4 && rng.chance(0.5)) f[l3] = 0x40 | rng.int(16);
        else {
          const at = (f[l3] >> 4) === 6 ? l3 + 4 : l3 + 2;
          const v = rng.edgy(0xffff);
          f[at] = v >> 8;
          f[at + 1] = v & 0xff;
        }
      }
      return f;
    }
    case 4: { // odd ethertype
      const at = l3Offset(f) - 2;
      if (at >= 12 && at + 2 <= f.length) {
        const v = rng.pick([
          0x0000,
          0x05ff,
          0x0600,
          0x8100,
          0x88a8,
          0x8847,
          0x8848,
          0x86dd,
          0x0800,
          0x0806,
          0x8035,
          0x9100,
          0xffff,
          rng.int(0x10000),
        ]);
        f[at] = v >> 8;
        f[at + 1] = v & 0xff;
      }
      return f;
    }
    case 5: // insert VLAN tags
      return f.length >= 12 ? insertTags(rng, f) : f;
    case 6: // wrap in a tunnel
      return encapsulate(rng, f);
    case 7: { // splice two frames
      const other = rng.pick(seeds);
      const cut = rng.int(f.length + 1);
      return concatBytes(f.subarray(0, cut), other.subarray(rng.int(other.length + 1)));
    }
    case 8: { // break a tunnel header just after the outer UDP / GRE
      const l3 = l3Offset(f);
      const at = l3 + ((f[l3] >> 4) === 6 ? 40 : 20) + rng.int(24);
      if (at < f.length) f[at] = rng.byte();
      return f;
    }
    case 9: { // grow or change IPv6 extension header lengths / next headers
      const l3 = l3Offset(f);
      const at = l3 + 40 + rng.int(2) + 8 * rng.int(3);
      if ((f[l3] >> 4) === 6 && at < f.length) f[at] = rng.pick([0, 0xff, 43, 44, 51, 60, 59, 6]);
      return f;
    }
    case 10: // append random bytes
      return concatBytes(f, rng.bytes(rng.int(64)));
    default: { // overwrite a random run
      const at = rng.int(f.length + 1);
      const run = rng.bytes(Math.min(rng.range(1, 16), f.length - at));
      f.set(run, at);
      return f;
    }
  }
}

/** The offset after the Ethernet header and any VLAN tags (no bounds promise). */
function l3Offset(f: Uint8Array): number {
  let at = 12;
  while (at + 4 <= f.length) {
    const t = (f[at] << 8) | f[at + 1];
    if (t !== 0x8100 && t !== 0x88a8 && t !== 0x9100) break;
    at += 4;
  }
  return at + 2;
}

function insertTags(rng: Prng, f: Uint8Array): Uint8Array {
  let out = f;
  for (let n = rng.range(1, 4); n > 0; n--) {
    out = pushVlan(out, rng.int(0x10000), rng.pick([0x8100, 0x88a8, 0x9100]));
  }
  return out;
}

/**
 * A fuzz frame: random short frames (0..14 bytes), pure noise, frames at or
 * one byte over `maxLength`, fresh tunnel stacks, or 1..4 mutations of a seed.
 */
export function generateFrame(
  rng: Prng,
  seeds: readonly Uint8Array[],
  maxLength: number,
): Uint8Array {
  const roll = rng.int(100);
  if (roll < 6) return rng.bytes(rng.int(15));
  if (roll < 9) return rng.bytes(rng.int(maxLength + 1));
  if (roll < 12) {
    const base = rng.pick(seeds);
    const size = rng.pick([maxLength, maxLength + 1, maxLength - 1]);
    const big = new Uint8Array(size);
    big.set(base.subarray(0, Math.min(base.length, size)));
    return big;
  }
  let frame = rng.pick(seeds);
  if (roll < 20) {
    for (let n = rng.range(1, 3); n > 0; n--) frame = encapsulate(rng, frame);
  }
  for (let n = rng.int(5); n > 0; n--) frame = mutate(rng, frame, seeds);
  return frame.length > maxLength + 1 ? frame.subarray(0, maxLength + 1) : frame;
}
