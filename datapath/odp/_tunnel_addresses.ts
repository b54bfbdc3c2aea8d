/**
 * MAC, IPv4 and IPv6 address text as the tunnel header text needs it
 * (`f8:bc:12:44:34:b6`, `1.1.2.88`, `2001:cafe::88`, printed like glibc's
 * `inet_ntop`, which OVS uses). Private to datapath/odp/; every parse throws
 * RangeError naming the bad text.
 *
 * @module
 */

/** Parses `xx:xx:xx:xx:xx:xx` into 6 bytes. */
export function parseMacAddress(text: string): Uint8Array {
  const parts = text.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new RangeError(`'${text}' is not a MAC address`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Formats 6 bytes as lower-case `xx:xx:xx:xx:xx:xx`. */
export function formatMacAddress(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Parses dotted-quad IPv4 into its 32-bit value (`10.0.0.1` is 0x0a000001). */
export function parseIpv4Address(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p) || Number(p) > 255)) {
    throw new RangeError(`'${text}' is not an IPv4 address`);
  }
  return parts.reduce((value, p) => value * 256 + Number(p), 0);
}

/** Formats a 32-bit value as dotted quad. */
export function formatIpv4Address(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Parses IPv6 text (with `::` and an optional trailing dotted quad) into 16 bytes. */
export function parseIpv6Address(text: string): Uint8Array {
  const bad = () => new RangeError(`'${text}' is not an IPv6 address`);
  let body = text;
  const tail: number[] = [];
  if (text.includes(".")) {
    const lastColon = text.lastIndexOf(":");
    const v4 = parseIpv4Address(text.slice(lastColon + 1));
    tail.push(v4 >>> 16, v4 & 0xffff);
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) throw bad();
  const groups = (part: string): number[] => {
    if (part === "") return [];
    return part.split(":").map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
      return parseInt(g, 16);
    });
  };
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const used = head.length + rest.length + tail.length;
  if (halves.length === 2 ? used > 7 : used !== 8) throw bad();
  const words = [...head, ...new Array(8 - used).fill(0), ...rest, ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >>> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

/** Formats 16 bytes as glibc's `inet_ntop` does (longest zero run compressed). */
export function formatIpv6Address(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  if (bestLength < 2) bestStart = -1;
  const embedsIpv4 = bestStart === 0 &&
    (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff));
  let text = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += "::";
      i += bestLength - 1;
      continue;
    }
    if (embedsIpv4 && i === 6) {
      if (!text.endsWith(":")) text += ":";
      text += formatIpv4Address(((words[6] << 16) | words[7]) >>> 0);
      break;
    }
    if (text !== "" && !text.endsWith(":")) text += ":";
    text += words[i].toString(16);
  }
  return text;
}
