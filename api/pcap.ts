/**
 * Writes pcap files (the classic libpcap format, microsecond timestamps,
 * little-endian, link type Ethernet) that Wireshark and tshark open.
 *
 * @module
 */

/** A captured frame with its capture time (ms since the epoch). */
export interface CapturedFrame {
  /** The frame's bytes. */
  data: Uint8Array;
  /** When it was seen, in milliseconds since the epoch. */
  time: number;
}

/** Largest frame length recorded (longer frames are truncated, orig_len kept). */
export const PCAP_SNAPLEN = 65535;
const LINKTYPE_ETHERNET = 1;

/** Encodes frames as a pcap file. */
export function encodePcap(frames: readonly CapturedFrame[]): Uint8Array<ArrayBuffer> {
  let size = 24;
  for (const f of frames) size += 16 + Math.min(f.data.length, PCAP_SNAPLEN);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setInt32(8, 0, true);
  view.setUint32(12, 0, true);
  view.setUint32(16, PCAP_SNAPLEN, true);
  view.setUint32(20, LINKTYPE_ETHERNET, true);
  let at = 24;
  for (const f of frames) {
    const length = Math.min(f.data.length, PCAP_SNAPLEN);
    const seconds = Math.floor(f.time / 1000);
    view.setUint32(at, seconds, true);
    view.setUint32(at + 4, Math.round((f.time - seconds * 1000) * 1000), true);
    view.setUint32(at + 8, length, true);
    view.setUint32(at + 12, f.data.length, true);
    out.set(f.data.subarray(0, length), at + 16);
    at += 16 + length;
  }
  return out;
}
