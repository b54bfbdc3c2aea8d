/**
 * Text forms of network addresses, in the spellings Open vSwitch prints:
 * MAC `00:0a:0b:0c:0d:0e`, IPv4 dotted quads, IPv6 as glibc's `inet_ntop`
 * writes it (longest run of two or more zero groups compressed, first run on
 * ties, `::ffff:1.2.3.4` and `::1.2.3.4` for mapped/compatible addresses).
 *
 * Addresses are numbers or words in the flow-key conventions
 * (datapath/flow_key.ts): IPv4 as one unsigned 32-bit number, MAC as a
 * 48-bit value split into `hi` (bytes 0..3) and `lo` (bytes 4..5 in bits
 * 0..15), IPv6 as four words, first byte most significant.
 *
 * Parsers return `null` on malformed text and never throw; callers turn that
 * into their own error with a position.
 *
 * @module
 */

const HEX_DIGITS = /^[0-9a-fA-F]{1,2}$/;
const DECIMAL_OCTET = /^[0-9]{1,3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Formats a MAC address from its two key words (`hi`: bytes 0..3, `lo`: bytes 4..5). */
export function formatMac(hi: number, lo: number): string {
  const bytes = [
    hi >>> 24,
    (hi >>> 16) & 0xff,
    (hi >>> 8) & 0xff,
    hi & 0xff,
    (lo >>> 8) & 0xff,
    lo & 0xff,
  ];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * Parses `xx:xx:xx:xx:xx:xx` (one or two hex digits per byte, as OVS's
 * `ETH_ADDR_SCAN_FMT`). Returns the two key words, or null if malformed.
 */
export function parseMac(text: string): { hi: number; lo: number } | null {
  const parts = text.split(":");
  if (parts.length !== 6 || !parts.every((p) => HEX_DIGITS.test(p))) return null;
  const b = parts.map((p) => parseInt(p, 16));
  return { hi: ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0, lo: (b[4] << 8) | b[5] };
}

/** Formats an IPv4 address held as an unsigned 32-bit number. */
export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** Parses a dotted-quad IPv4 address (decimal octets 0..255). Returns null if malformed. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => DECIMAL_OCTET.test(p))) return null;
  let value = 0;
  for (const p of parts) {
    const octet = Number(p);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * Formats an IPv6 address from four words starting at `offset` of `words`,
 * exactly as glibc's `inet_ntop(AF_INET6)` does (which is what OVS prints).
 */
export function formatIpv6(words: ArrayLike<number>, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[offset + i] >>> 0;
    groups.push(w >>> 16, w & 0xffff);
  }
  // Longest run of zero groups; only runs of two or more are compressed.
  let bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (groups[i] === 0) {
      if (curBase < 0) curBase = i, curLen = 0;
      curLen++;
      if (curLen > bestLen) bestBase = curBase, bestLen = curLen;
    } else {
      curBase = -1;
    }
  }
  if (bestLen < 2) bestBase = -1;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    // Mapped (::ffff:a.b.c.d) and compatible (::a.b.c.d) forms.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && groups[5] === 0xffff))) {
      out += formatIpv4(((groups[6] << 16) | groups[7]) >>> 0);
      return out;
    }
    out += groups[i].toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ":";
  return out;
}

/**
 * Parses an IPv6 address (full, `::`-compressed, or with a dotted IPv4
 * tail). Returns four words, or null if malformed.
 */
export function parseIpv6(text: string): Uint32Array | null {
  if (text.length === 0 || text.length > 45) return null;
  let hexText = text;
  if (text.includes(".")) {
    // Dotted IPv4 tail: rewrite it as two hex groups.
    const lastColon = text.lastIndexOf(":");
    const v4 = lastColon < 0 ? null : parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    hexText = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${
      (v4 & 0xffff).toString(16)
    }`;
  }
  const halves = hexText.split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0]);
  const rest = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (head === null || rest === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return words;
}

/** Parses colon-separated hex groups ("" gives none); null if malformed. */
function parseGroups(text: string): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  if (!parts.every((p) => HEX_GROUP.test(p))) return null;
  return parts.map((p) => parseInt(p, 16));
}

/**
 * Byte forms for header templates (tunnel headers): each parser throws
 * RangeError `'text' is not a ... address` instead of returning null.
 */

/** Parses a MAC address into its 6 bytes. Throws RangeError if malformed. */
export function macBytes(text: string): Uint8Array {
  const mac = parseMac(text);
  if (mac === null) throw new RangeError(`'${text}' is not a MAC address`);
  const { hi, lo } = mac;
  return Uint8Array.of(
    hi >>> 24,
    (hi >>> 16) & 0xff,
    (hi >>> 8) & 0xff,
    hi & 0xff,
    lo >>> 8,
    lo & 0xff,
  );
}

/** Parses a dotted-quad IPv4 address into its 32-bit value. Throws RangeError if malformed. */
export function ipv4Value(text: string): number {
  const value = parseIpv4(text);
  if (value === null) throw new RangeError(`'${text}' is not an IPv4 address`);
  return value;
}

/** Parses an IPv6 address into its 16 bytes. Throws RangeError if malformed. */
export function ipv6Bytes(text: string): Uint8Array {
  const words = parseIpv6(text);
  if (words === null) throw new RangeError(`'${text}' is not an IPv6 address`);
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 4; i++) view.setUint32(4 * i, words[i]);
  return bytes;
}

/** Formats the first 6 bytes of `bytes` as a MAC address. */
export function formatMacBytes(bytes: Uint8Array): string {
  const hi = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return formatMac(hi, (bytes[4] << 8) | bytes[5]);
}

/** Formats the first 16 bytes of `bytes` as an IPv6 address (as `inet_ntop`). */
export function formatIpv6Bytes(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return formatIpv6([0, 4, 8, 12].map((at) => view.getUint32(at)));
}
