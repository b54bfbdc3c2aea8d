/**
 * Test harness for the action executor and tunnel tests: a small real
 * ExecutionContext that records what leaves the executor as byte arrays,
 * hex frame helpers, and checksum / CRC code written independently of
 * datapath/execute/checksum.ts (bit by bit, the plain RFC 1071 way) to check
 * the executor's results against.
 *
 * Not a test file itself (no `_test` suffix).
 *
 * @module
 */

import type { UserspaceAction } from "../datapath/action.ts";
import { DROP_INVALID_PORT, newDropCounters } from "../datapath/drop_reason.ts";
import type { ExecutionContext } from "../datapath/execute/context.ts";
import { META_WORDS } from "../datapath/flow_key.ts";
import { MemoryPool } from "../datapath/memory_pool.ts";
import { META_SHIFT, PacketBatch } from "../datapath/packet_batch.ts";

/** A packet as it left the executor. */
export interface Sent {
  port: number;
  bytes: Uint8Array;
  meta: Uint32Array;
}

/** Records outputs, recirculations, upcalls and drops; frees what it is given. */
export class RecordingContext implements ExecutionContext {
  readonly outputs: Sent[] = [];
  readonly recirculated: Sent[] = [];
  readonly upcalls: { bytes: Uint8Array; action: UserspaceAction }[] = [];
  readonly drops = newDropCounters();
  readonly ports = new Set<number>([1, 2, 3, 4]);
  readonly tunnels = new Map<number, { type: "vxlan" | "geneve" | "gre"; dstPort: number }>();
  borrowed = 0;

  constructor(readonly pool: MemoryPool) {}

  output(port: number, batch: PacketBatch): void {
    if (!this.ports.has(port)) {
      this.drops[DROP_INVALID_PORT] += batch.count;
      batch.freeAll();
      return;
    }
    for (let i = 0; i < batch.count; i++) this.outputs.push(record(port, batch, i));
    batch.freeAll();
  }

  recirculate(batch: PacketBatch): void {
    for (let i = 0; i < batch.count; i++) this.recirculated.push(record(-1, batch, i));
    batch.freeAll();
  }

  upcall(batch: PacketBatch, i: number, action: UserspaceAction): void {
    this.upcalls.push({ bytes: record(-1, batch, i).bytes, action });
  }

  drop(reason: number, count: number): void {
    this.drops[reason] += count;
  }

  tunnelPort(port: number): { type: "vxlan" | "geneve" | "gre"; dstPort: number } | null {
    return this.tunnels.get(port) ?? null;
  }

  borrowBatch(): PacketBatch {
    this.borrowed++;
    return new PacketBatch(this.pool);
  }

  releaseBatch(batch: PacketBatch): void {
    if (batch.count !== 0) throw new Error("a borrowed batch came back with packets");
    this.borrowed--;
  }

  /** Total drops over all reasons. */
  totalDrops(): number {
    return this.drops.reduce((a, b) => a + b, 0);
  }
}

function record(port: number, batch: PacketBatch, i: number): Sent {
  const start = batch.offset[i];
  const bytes = batch.pool.bytes.slice(start, start + batch.length[i]);
  const m = i << META_SHIFT;
  return { port, bytes, meta: batch.meta.slice(m, m + META_WORDS) };
}

/** Bytes from hex text; spaces, newlines and `|` are ignored. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s|]/g, "");
  if (clean.length % 2 !== 0) throw new Error("odd hex");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Hex text of bytes, no separators. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A batch holding copies of `frames` (each at the pool's headroom) with optional metadata. */
export function loadBatch(
  pool: MemoryPool,
  frames: Uint8Array[],
  meta: Record<number, number> = {},
): PacketBatch {
  const batch = new PacketBatch(pool);
  for (const frame of frames) {
    const i = batch.pushCopy(frame);
    if (i < 0) throw new Error("pool empty");
    for (const [w, v] of Object.entries(meta)) batch.meta[(i << META_SHIFT) + Number(w)] = v;
  }
  return batch;
}

/** Plain RFC 1071 sum of 16-bit words, folded (not complemented). */
export function onesSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i] << 8) + (i + 1 < bytes.length ? bytes[i + 1] : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  return sum;
}

/** The checksum field value for `bytes` (with its checksum field zeroed). */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return 0xffff - onesSum(bytes, initial);
}

/** Pseudo-header sum for a transport segment of `length` bytes and protocol `proto`. */
export function pseudoHeaderSum(ip: Uint8Array, proto: number, length: number): number {
  const v6 = ip[0] >> 4 === 6;
  const addresses = v6 ? ip.subarray(8, 40) : ip.subarray(12, 20);
  return onesSum(addresses, proto + length);
}

/** Bitwise CRC32c (no table), complemented, as SCTP uses. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (~crc) >>> 0;
}

/**
 * Recomputes, independently of the datapath code, the IPv4 header checksum
 * and the TCP / UDP / ICMPv6 / SCTP checksum of an untagged Ethernet frame,
 * in place. UDP with a 0 checksum over IPv4 is left 0. Returns the frame.
 */
export function fixChecksums(frame: Uint8Array, keepUdpZero = true): Uint8Array {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const type = dv.getUint16(12);
  let l4: number, proto: number, l4Length: number, ip: Uint8Array;
  if (type === 0x0800) {
    const ihl = (frame[14] & 15) * 4;
    dv.setUint16(24, 0);
    dv.setUint16(24, internetChecksum(frame.subarray(14, 14 + ihl)));
    proto = frame[23];
    l4 = 14 + ihl;
    l4Length = dv.getUint16(16) - ihl;
    ip = frame.subarray(14, 34);
  } else if (type === 0x86dd) {
    proto = frame[20];
    l4 = 54;
    l4Length = dv.getUint16(18);
    ip = frame.subarray(14, 54);
  } else return frame;
  const seg = frame.subarray(l4, l4 + l4Length);
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 ? 2 : -1;
  if (proto === 132) {
    dv.setUint32(l4 + 8, 0);
    dv.setUint32(l4 + 8, crc32cBitwise(seg), true);
  } else if (at >= 0) {
    if (proto === 17 && keepUdpZero && dv.getUint16(l4 + 6) === 0) return frame;
    dv.setUint16(l4 + at, 0);
    const c = internetChecksum(seg, pseudoHeaderSum(ip, proto, l4Length));
    dv.setUint16(l4 + at, proto === 17 && c === 0 ? 0xffff : c);
  }
  return frame;
}

/** A fresh pool for one test. */
export function newPool(capacity = 64): MemoryPool {
  return new MemoryPool({ capacity, bufferSize: 2048, headroom: 128 });
}

/** Ethernet + IPv4 + UDP 1234 -> 5678 + 4 payload bytes, 46 bytes, checksums right. */
export function udp4Frame(): Uint8Array {
  return fixChecksums(
    hex(`
    000000000002 000000000001 0800
    45000020 00004000 40110000 0a000001 0a000002
    04d2162e 000c0000
    deadbeef`),
    false,
  );
}

/** Ethernet + IPv4 + TCP 1000 -> 80 (SYN) + 2 payload bytes, 56 bytes. */
export function tcp4Frame(): Uint8Array {
  return fixChecksums(hex(`
    000000000002 000000000001 0800
    4500002a 12344000 40060000 c0a80101 c0a80202
    03e80050 00000001 00000000 50022000 00000000
    abcd`));
}

/** Ethernet + IPv6 + TCP 1000 -> 80 + 2 payload bytes, 76 bytes. */
export function tcp6Frame(): Uint8Array {
  return fixChecksums(hex(`
    000000000002 000000000001 86dd
    60000000 00160640
    20010db8000000000000000000000001 20010db8000000000000000000000002
    03e80050 00000001 00000000 50022000 00000000
    abcd`));
}

/** Ethernet + IPv6 + UDP 1234 -> 5678 + 4 payload bytes, 66 bytes. */
export function udp6Frame(): Uint8Array {
  return fixChecksums(hex(`
    000000000002 000000000001 86dd
    60000000 000c1140
    fe800000000000000000000000000001 fe800000000000000000000000000002
    04d2162e 000c0000
    01020304`));
}

// --- Tunnel header templates (what `tnl_push(header(...))` carries), in hex.

const OUTER_ETH_4 = "0000000000bb 0000000000aa 0800";
const OUTER_ETH_6 = "0000000000bb 0000000000aa 86dd";
const OUTER_IP4 = (proto: string) => `45000000 00004000 40${proto}0000 c0a80001 c0a80002`;
const OUTER_IP6 = (proto: string) =>
  `60000000 0000${proto}40 20010db8000000000000000000000001 20010db8000000000000000000000002`;

/** Outer Ethernet + IPv4/IPv6 (DF, ttl 64) for a template with IP protocol `proto` (hex). */
export function outerHeaders(ipv6: boolean, proto: string): string {
  return ipv6 ? OUTER_ETH_6 + OUTER_IP6(proto) : OUTER_ETH_4 + OUTER_IP4(proto);
}

/** VXLAN template: UDP src 0 (hashed), dst 4789, csum 0 or 0xffff (compute), VNI 123. */
export function vxlanTemplate(ipv6: boolean, udpChecksum: boolean): Uint8Array {
  return hex(
    outerHeaders(ipv6, "11") + `0000 12b5 0000 ${udpChecksum ? "ffff" : "0000"}` +
      "08000000 00007b00",
  );
}

/**
 * Geneve template: UDP src 0, dst 6081, csum as asked, O and C bits, VNI 123
 * and one critical option (class 0x0102, type 0x80, 4 data bytes aabbccdd).
 */
export function geneveTemplate(ipv6: boolean, udpChecksum: boolean): Uint8Array {
  return hex(
    outerHeaders(ipv6, "11") + `0000 17c1 0000 ${udpChecksum ? "ffff" : "0000"}` +
      "02c06558 00007b00 01028001 aabbccdd",
  );
}

/** GRE template with the given flags (hex, e.g. "b000" = C K S), key 123. */
export function greTemplate(ipv6: boolean, flags: number): Uint8Array {
  let gre = flags.toString(16).padStart(4, "0") + "6558";
  if (flags & 0x8000) gre += "00000000";
  if (flags & 0x2000) gre += "0000007b";
  if (flags & 0x1000) gre += "00000000";
  return hex(outerHeaders(ipv6, "2f") + gre);
}
