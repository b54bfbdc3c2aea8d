/**
 * tnl_push: the header template of a `tnl_push` action, checked and
 * pre-digested once when the flow is installed ({@linkcode compileTunnelPush}),
 * and prepended to a packet per packet ({@linkcode pushTunnel}).
 *
 * As OVS's netdev_tnl_push_udp_header / netdev_gre_push_header, the push
 * copies the template in front of the packet, in its headroom (the payload
 * never moves), and patches only: IPv4 total length and header checksum (or
 * IPv6 payload length), UDP length, the UDP source port (always: hashed
 * from the inner 5-tuple into 32768..60999, stable per flow; like OVS, the
 * template's source port is ignored, tests/ovs_differential_test.ts),
 * the UDP checksum when the template's is not 0 (full computation with the
 * pseudo header; a computed 0 is sent as 0xffff), the GRE sequence number
 * when S is set, and the GRE checksum when C is set (after the sequence
 * number, so it covers it).
 *
 * The GRE sequence counter belongs to the compiled action (OVS keeps one per
 * tunnel port); it starts at 0.
 *
 * @module
 */

import {
  TUNNEL_TYPE_GENEVE,
  TUNNEL_TYPE_GRE,
  TUNNEL_TYPE_VXLAN,
  type TunnelPushAction,
} from "../action.ts";
import { DpifError } from "../errors.ts";
import type { PacketBatch } from "../packet_batch.ts";
import { finishChecksum, sumBytes } from "../execute/checksum.ts";
import { ETH_TYPE_IPV4, ETH_TYPE_IPV6, IPPROTO_GRE, IPPROTO_UDP } from "../execute/headers.ts";
import { hashPacketL4, tunnelSourcePort } from "../execute/packet_hash.ts";
import { geneveTemplateLength } from "./geneve.ts";
import { tunnelTypeNumber } from "./pop.ts";
import { GRE_CSUM, GRE_KEY, GRE_SEQ, greTemplateLength } from "./gre.ts";
import { vxlanTemplateLength } from "./vxlan.ts";

/** Length of a UDP header. */
const UDP_HEADER_LENGTH = 8;

/** A checked tnl_push header template with what the per-packet patch needs. */
export class TunnelTemplate {
  /** The header bytes (a private copy of the action's template). */
  readonly header: Uint8Array;
  /** Header length in bytes. */
  readonly length: number;
  /** OVS vport type number: TUNNEL_TYPE_GRE / _VXLAN / _GENEVE. */
  readonly headerType: number;
  /** The tunnel vport the header belongs to. */
  readonly tunnelPort: number;
  /** The in_port packets get after the push. */
  readonly outPort: number;
  /** Offset of the outer IP header (after Ethernet). */
  readonly l3: number;
  /** Offset of the UDP or GRE header. */
  readonly l4: number;
  /** Outer header is IPv6. */
  readonly ipv6: boolean;
  /** UDP-based (VXLAN, Geneve) rather than GRE. */
  readonly udp: boolean;
  /** The source port is hashed per packet (every UDP tunnel, whatever the template says). */
  readonly hashSourcePort: boolean;
  /** The UDP checksum is computed (template's is not 0). */
  readonly udpChecksum: boolean;
  /**
   * IPv4: unfolded sum of the template's IP header words except total
   * length and checksum. Adding the total length and finishing gives the
   * checksum.
   */
  readonly ipv4HeaderSum: number;
  /** Unfolded sum of the pseudo-header addresses and protocol (no length). */
  readonly pseudoSum: number;
  /** Offset of the GRE checksum field, or -1. */
  readonly greChecksumAt: number;
  /** Offset of the GRE sequence number, or -1. */
  readonly greSequenceAt: number;
  /** Next GRE sequence number. */
  greSequence = 0;
  /**
   * The tunnel port object last found to be of this template's type (see
   * {@linkcode templateFitsPort}), or null.
   */
  checkedPort: object | null = null;
  /**
   * The template as big-endian 32-bit words (`header` padded with zeros to
   * a multiple of 4), for {@linkcode pushTunnel}'s copy.
   */
  readonly words: Int32Array;

  /** Use {@linkcode compileTunnelPush}; this only stores checked values. */
  constructor(action: TunnelPushAction, header: Uint8Array, l3: number, l4: number) {
    this.header = header;
    this.length = header.length;
    this.headerType = action.headerType;
    this.tunnelPort = action.tunnelPort;
    this.outPort = action.outPort;
    this.l3 = l3;
    this.l4 = l4;
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    this.words = new Int32Array((header.length + 3) >>> 2);
    for (let k = 0; k < header.length; k++) {
      this.words[k >>> 2] |= header[k] << (24 - ((k & 3) << 3));
    }
    this.ipv6 = header[l3] >> 4 === 6;
    this.udp = action.headerType !== TUNNEL_TYPE_GRE;
    this.hashSourcePort = this.udp;
    this.udpChecksum = this.udp && view.getUint16(l4 + 6) !== 0;
    let ipSum = 0;
    if (!this.ipv6) {
      for (let k = 0; k < 20; k += 2) if (k !== 2 && k !== 10) ipSum += view.getUint16(l3 + k);
    }
    this.ipv4HeaderSum = ipSum;
    const proto = this.udp ? IPPROTO_UDP : IPPROTO_GRE;
    this.pseudoSum = this.ipv6
      ? sumBytes(header, l3 + 8, 32, proto)
      : sumBytes(header, l3 + 12, 8, proto);
    const flags = this.udp ? 0 : view.getUint16(l4);
    this.greChecksumAt = (flags & GRE_CSUM) !== 0 ? l4 + 4 : -1;
    this.greSequenceAt = (flags & GRE_SEQ) !== 0
      ? l4 + 4 + ((flags & GRE_CSUM) !== 0 ? 4 : 0) + ((flags & GRE_KEY) !== 0 ? 4 : 0)
      : -1;
  }
}

/**
 * Checks a tnl_push action's template and returns its compiled form. Throws
 * DpifError EINVAL when the header type is unknown, the template is not
 * Ethernet + IPv4 (no options) / IPv6 + UDP + VXLAN / Geneve or + GRE as
 * the type says, or has bytes after the tunnel header.
 */
export function compileTunnelPush(action: TunnelPushAction): TunnelTemplate {
  const type = action.headerType;
  if (type !== TUNNEL_TYPE_GRE && type !== TUNNEL_TYPE_VXLAN && type !== TUNNEL_TYPE_GENEVE) {
    throw new DpifError("EINVAL", `tnl_push: unknown header type ${type}`);
  }
  const header = Uint8Array.from(action.header);
  const fail = (why: string): never => {
    throw new DpifError("EINVAL", `tnl_push: bad header template: ${why}`);
  };
  if (header.length < 14) fail("shorter than an Ethernet header");
  const ethType = (header[12] << 8) | header[13];
  const l3 = 14;
  let l4: number;
  let proto: number;
  if (ethType === ETH_TYPE_IPV4) {
    if (header.length < l3 + 20 || header[l3] !== 0x45) {
      fail("IPv4 header must be 20 bytes, version 4");
    }
    l4 = l3 + 20;
    proto = header[l3 + 9];
  } else if (ethType === ETH_TYPE_IPV6) {
    if (header.length < l3 + 40 || header[l3] >> 4 !== 6) {
      fail("IPv6 header must be 40 bytes, version 6");
    }
    l4 = l3 + 40;
    proto = header[l3 + 6];
  } else {
    return fail(`ethertype 0x${ethType.toString(16)} is neither IPv4 nor IPv6`);
  }
  let tunnelLength: number;
  if (type === TUNNEL_TYPE_GRE) {
    if (proto !== IPPROTO_GRE) fail("a GRE header needs IP protocol 47");
    tunnelLength = greTemplateLength(header, l4);
    if (tunnelLength < 0) fail("GRE header short, with unsupported flags or not Ethernet (0x6558)");
  } else {
    if (proto !== IPPROTO_UDP) fail("a VXLAN or Geneve header needs IP protocol 17");
    if (header.length < l4 + UDP_HEADER_LENGTH) fail("UDP header is short");
    const at = l4 + UDP_HEADER_LENGTH;
    tunnelLength = type === TUNNEL_TYPE_VXLAN
      ? vxlanTemplateLength(header, at)
      : geneveTemplateLength(header, at);
    if (tunnelLength < 0) {
      fail(type === TUNNEL_TYPE_VXLAN ? "bad VXLAN header" : "bad Geneve header");
    }
    tunnelLength += UDP_HEADER_LENGTH;
  }
  if (l4 + tunnelLength !== header.length) fail("bytes after the tunnel header");
  return new TunnelTemplate(action, header, l3, l4);
}

/**
 * True when `port` (a context's tunnelPort answer) is a tunnel port of the
 * template's type. Remembers the last port object that passed, so the
 * per-packet path (applyInPlace: one check per packet) compares one
 * reference instead of three strings: the port's type string comes from a
 * structured clone in a PMD Worker, not internalized, and the compare went
 * through V8's StringEqual for every packet (0.5% of case (3)'s profile).
 */
export function templateFitsPort(
  template: TunnelTemplate,
  port: { type: "vxlan" | "geneve" | "gre" } | null,
): boolean {
  if (port === null) return false;
  if (port === template.checkedPort) return true;
  if (tunnelTypeNumber(port.type) !== template.headerType) return false;
  template.checkedPort = port;
  return true;
}

/**
 * Prepends the template to packet `i` of `batch` and patches it. Returns
 * false, leaving the packet untouched, when the buffer has less headroom
 * than the header or the outer IP length would pass 65535. On success the
 * packet's offset, length, l3 and l4 describe the outer frame; in_port is
 * the caller's business.
 */
export function pushTunnel(template: TunnelTemplate, batch: PacketBatch, i: number): boolean {
  const pool = batch.pool;
  const bytes = pool.bytes;
  const view = pool.view;
  const inner = batch.offset[i];
  const innerLength = batch.length[i];
  const hlen = template.length;
  const start = inner - hlen;
  if (start < pool.bufferStart(batch.handle[i])) return false;
  // Bytes after the IP header: the UDP / GRE length.
  const l4Length = hlen - template.l4 + innerLength;
  if (l4Length + (template.ipv6 ? 0 : 20) > 0xffff) return false;
  const sourcePort = template.hashSourcePort
    ? tunnelSourcePort(hashPacketL4(bytes, view, inner, innerLength, 0, false))
    : 0;
  // The template goes in as big-endian words, then the odd bytes: the
  // TypedArray.set call per packet it replaces (a builtin, not inlined) was
  // 1.8% of case (3)'s PMD profile, against ~13 stores for VXLAN's 50 bytes.
  // With templateFitsPort, the pipeline's tunnelPort cache and the hash
  // fast path, case (3) went from 283 to 234 ns a packet on the memory
  // backend (CPU time, min of 5 per run, medians of 3 alternated runs, with
  // the other changes of 2026-11-23: extraction, classifier).
  const words = template.words;
  const whole = hlen & ~3;
  for (let k = 0; k < whole; k += 4) view.setInt32(start + k, words[k >>> 2]);
  for (let k = whole; k < hlen; k++) bytes[start + k] = template.header[k];
  const ip = start + template.l3;
  const l4 = start + template.l4;
  if (template.ipv6) {
    view.setUint16(ip + 4, l4Length);
  } else {
    const total = l4Length + 20;
    view.setUint16(ip + 2, total);
    view.setUint16(ip + 10, finishChecksum(template.ipv4HeaderSum + total));
  }
  if (template.udp) {
    if (template.hashSourcePort) view.setUint16(l4, sourcePort);
    view.setUint16(l4 + 4, l4Length);
    if (template.udpChecksum) {
      view.setUint16(l4 + 6, 0);
      const c = finishChecksum(sumBytes(bytes, l4, l4Length, template.pseudoSum + l4Length));
      view.setUint16(l4 + 6, c === 0 ? 0xffff : c);
    }
  } else {
    if (template.greSequenceAt >= 0) {
      view.setUint32(start + template.greSequenceAt, template.greSequence);
      template.greSequence = (template.greSequence + 1) >>> 0;
    }
    if (template.greChecksumAt >= 0) {
      view.setUint16(start + template.greChecksumAt, 0);
      view.setUint16(
        start + template.greChecksumAt,
        finishChecksum(sumBytes(bytes, l4, l4Length, 0)),
      );
    }
  }
  batch.offset[i] = start;
  batch.length[i] = innerLength + hlen;
  batch.l3[i] = template.l3;
  batch.l4[i] = template.l4;
  return true;
}
