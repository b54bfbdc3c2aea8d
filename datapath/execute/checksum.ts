/**
 * Internet checksums (RFC 1071) computed in full, updated incrementally
 * (RFC 1624), and the CRC32c that SCTP uses.
 *
 * A checksum "sum" here is an unfolded ones' complement accumulator: add
 * 16-bit words with {@linkcode sumBytes} or `+`, then {@linkcode finishChecksum}.
 * Everything works on integers only and allocates nothing, so it is safe on
 * the fast path. Sums stay far below 2^31 for any buffer under 64 KiB.
 *
 * @module
 */

/**
 * Adds the big-endian 16-bit words of `bytes[start, start + length)` to
 * `sum` and returns the new (unfolded) sum. An odd last byte is padded with
 * a zero byte, as the Internet checksum requires. Never throws; the caller
 * keeps the range inside `bytes`.
 */
export function sumBytes(bytes: Uint8Array, start: number, length: number, sum: number): number {
  const end = start + length;
  let p = start;
  // Fast path: 8 bytes per round.
  for (; p + 8 <= end; p += 8) {
    sum += ((bytes[p] << 8) | bytes[p + 1]) + ((bytes[p + 2] << 8) | bytes[p + 3]) +
      ((bytes[p + 4] << 8) | bytes[p + 5]) + ((bytes[p + 6] << 8) | bytes[p + 7]);
  }
  for (; p + 2 <= end; p += 2) sum += (bytes[p] << 8) | bytes[p + 1];
  if (p < end) sum += bytes[p] << 8;
  return sum;
}

/** Folds an unfolded sum (below 2^32) into 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Returns the checksum field value for an unfolded sum: `~fold(sum) & 0xffff`. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/**
 * RFC 1624 equation 3: the new checksum after one 16-bit word of the
 * covered data changed from `oldWord` to `newWord`: `~(~HC + ~m + m')`.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/** As {@linkcode updateChecksum16} for a 32-bit value (two words) of the covered data. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  const sum = (~checksum & 0xffff) + (~(oldValue >>> 16) & 0xffff) + (newValue >>> 16) +
    (~oldValue & 0xffff) + (newValue & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

const CRC32C_TABLE = buildCrc32cTable();

function buildCrc32cTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * CRC32c (Castagnoli) of `bytes[start, start + length)`, as SCTP computes
 * it (final value already complemented). SCTP stores it little-endian.
 */
export function crc32c(bytes: Uint8Array, start: number, length: number): number {
  let crc = 0xffffffff;
  const end = start + length;
  for (let p = start; p < end; p++) crc = CRC32C_TABLE[(crc ^ bytes[p]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
