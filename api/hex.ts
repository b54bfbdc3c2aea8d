/**
 * Packets as hex text, the way the API and CLI carry them: pairs of hex
 * digits, either case, no separators.
 *
 * @module
 */

const HEX_PATTERN = /^(?:[0-9a-fA-F]{2})*$/;

/** True if `text` is an even number of hex digits. */
export function isHex(text: string): boolean {
  return HEX_PATTERN.test(text);
}

/**
 * Decodes hex text to bytes.
 * @throws {SyntaxError} naming the first bad character or an odd length.
 */
export function hexToBytes(text: string): Uint8Array {
  if (!isHex(text)) {
    const bad = text.search(/[^0-9a-fA-F]/);
    throw new SyntaxError(
      bad >= 0
        ? `bad hex: '${text[bad]}' at position ${bad}`
        : `bad hex: odd number of digits (${text.length})`,
    );
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Encodes bytes as lowercase hex text. */
export function bytesToHex(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += bytes[i].toString(16).padStart(2, "0");
  return text;
}
