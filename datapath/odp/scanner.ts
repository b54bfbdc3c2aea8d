/**
 * A cursor over OVS datapath flow or action text, with position tracking
 * for error messages. Flow-key and action parsers share it: every syntax
 * error they raise is an {@linkcode OdpSyntaxError} carrying the offending
 * token and its 0-based position.
 *
 * Lexical conventions (those of lib/odp-util.c):
 * - attributes look like `name(...)`; names are `[A-Za-z0-9_]+`;
 * - a "word" is a maximal run of characters other than whitespace and
 *   `,()/{}=|+`: numbers, addresses and flag names are words;
 * - numbers are decimal or `0x` hexadecimal (C octal is refused), except
 *   where actions use `%i` (readInteger: octal accepted, as OVS's
 *   `ovs_scan`) or `0x%x` (readHex);
 * - between top-level items, any of `, \t\r\n` may appear.
 *
 * @example
 * ```ts
 * const s = new OdpScanner("in_port(1)");
 * s.readName(); // "in_port"
 * s.expect("(");
 * s.readNumber(32); // 1n
 * s.expect(")");
 * s.atEnd(); // true
 * ```
 *
 * @module
 */

import { OdpSyntaxError } from "../errors.ts";

const WORD_STOP = new Set([",", "(", ")", "/", "{", "}", "=", "|", "+", " ", "\t", "\r", "\n"]);
const DELIMITERS = new Set([",", " ", "\t", "\r", "\n"]);
const NAME_CHAR = /[A-Za-z0-9_]/;
const DECIMAL = /^[0-9]+$/;
const HEX = /^0[xX][0-9a-fA-F]+$/;

/** A cursor over flow or action text. `pos` may be read and restored freely. */
export class OdpScanner {
  /** The whole text being scanned. */
  readonly text: string;
  /** Current 0-based offset into `text`. */
  pos: number;

  /** Starts scanning `text` at `pos` (default 0). */
  constructor(text: string, pos = 0) {
    this.text = text;
    this.pos = pos;
  }

  /** True when the cursor is at the end of the text. */
  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** The character at the cursor, or "" at the end. */
  peek(): string {
    return this.pos < this.text.length ? this.text[this.pos] : "";
  }

  /** True if the text at the cursor starts with `s`. */
  lookingAt(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  /** Consumes `s` if the text at the cursor starts with it; returns whether it did. */
  tryEat(s: string): boolean {
    if (!this.lookingAt(s)) return false;
    this.pos += s.length;
    return true;
  }

  /**
   * Consumes `s` or throws an OdpSyntaxError "expected 's'" at the cursor,
   * with " in `context`" appended when a context is given.
   */
  expect(s: string, context?: string): void {
    if (!this.tryEat(s)) this.fail(`expected '${s}'${context ? ` in ${context}` : ""}`);
  }

  /** Skips spaces, tabs and newlines. */
  skipSpaces(): void {
    while (
      this.pos < this.text.length && DELIMITERS.has(this.text[this.pos]) &&
      this.text[this.pos] !== ","
    ) {
      this.pos++;
    }
  }

  /** Skips the top-level delimiters `, \t\r\n` (any number of them). */
  skipDelimiters(): void {
    while (this.pos < this.text.length && DELIMITERS.has(this.text[this.pos])) this.pos++;
  }

  /**
   * Reads a name (`[A-Za-z0-9_]+`) at the cursor. Throws an OdpSyntaxError
   * `expected what` if there is none.
   */
  readName(what = "a name"): string {
    const start = this.pos;
    while (this.pos < this.text.length && NAME_CHAR.test(this.text[this.pos])) this.pos++;
    if (this.pos === start) this.fail(`expected ${what}`);
    return this.text.slice(start, this.pos);
  }

  /** Reads a word (see the module doc); throws `expected what` if it is empty. */
  readWord(what = "a value"): string {
    const start = this.pos;
    while (this.pos < this.text.length && !WORD_STOP.has(this.text[this.pos])) this.pos++;
    if (this.pos === start) this.fail(`expected ${what}`);
    return this.text.slice(start, this.pos);
  }

  /**
   * Reads an unsigned number of at most `bits` bits (decimal or 0x hex) and
   * returns it as a bigint. Throws an OdpSyntaxError naming the word if it is
   * not a number or is out of range.
   */
  readNumber(bits: number, what = "a number"): bigint {
    const start = this.pos;
    const word = this.readWord(what);
    const value = parseUnsigned(word);
    if (value === null) this.fail(`bad number (expected ${what})`, start);
    if (value >> BigInt(bits) !== 0n) this.fail(`number out of range for ${bits} bits`, start);
    return value;
  }

  /**
   * Reads an unsigned integer in C `%i` form (decimal, `0x` hex, or octal
   * with a leading 0), as action arguments are scanned by OVS's `ovs_scan`,
   * no larger than `max`. Throws if none is there or it is too big.
   */
  readInteger(max: number, what: string): number {
    const start = this.pos;
    const match = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(this.text.slice(start));
    if (match === null) this.fail(`expected a number for ${what}`);
    const digits = match[1];
    let value: number;
    if (digits.length > 1 && (digits[1] === "x" || digits[1] === "X")) {
      value = parseInt(digits.slice(2), 16);
    } else if (digits.length > 1 && digits[0] === "0") {
      value = parseInt(digits, 8);
    } else {
      value = Number(digits);
    }
    if (!(value <= max)) this.fail(`${what} out of range (max ${max})`, start);
    this.pos += digits.length;
    return value;
  }

  /** Reads `0x` followed by hex digits (OVS `0x%x` fields), at most `max`. */
  readHex(max: number, what: string): number {
    const start = this.pos;
    const match = /^0[xX]([0-9a-fA-F]+)/.exec(this.text.slice(start));
    if (match === null) this.fail(`expected 0x-prefixed hex for ${what}`);
    const value = parseInt(match[1], 16);
    if (!(value <= max)) this.fail(`${what} out of range (max 0x${max.toString(16)})`, start);
    this.pos += match[0].length;
    return value;
  }

  /** Reads characters up to (not including) one of `stops` or the end; may return "". */
  readUntil(stops: string): string {
    const start = this.pos;
    while (this.pos < this.text.length && !stops.includes(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** Reads a name (`[A-Za-z0-9_]*`) like readName, but returns "" instead of throwing. */
  readOptionalName(): string {
    return NAME_CHAR.test(this.peek()) ? this.readName() : "";
  }

  /** The token starting at `pos`, for error messages ("" at the end of the text). */
  tokenAt(pos: number): string {
    if (pos >= this.text.length) return "";
    let end = pos;
    while (end < this.text.length && !WORD_STOP.has(this.text[end])) end++;
    return end === pos ? this.text[pos] : this.text.slice(pos, end);
  }

  /** Throws an OdpSyntaxError with `message` and the token at `pos` (default: the cursor). */
  fail(message: string, pos: number = this.pos): never {
    throw new OdpSyntaxError(message, this.tokenAt(pos), pos);
  }
}

/**
 * Parses an unsigned decimal or `0x` hexadecimal number; returns null if the
 * text is neither. Decimal numbers with a leading zero (C octal) are refused.
 */
export function parseUnsigned(text: string): bigint | null {
  if (HEX.test(text)) return BigInt(text.toLowerCase());
  if (DECIMAL.test(text) && (text.length === 1 || text[0] !== "0")) return BigInt(text);
  return null;
}
