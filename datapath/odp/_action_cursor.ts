/**
 * A read position in OVS datapath action text, with the few primitives the
 * action and tunnel-header parsers need. Private to datapath/odp/.
 *
 * The action syntax is rigid (it follows `ovs_scan` formats in OVS's
 * lib/odp-util.c): no whitespace inside an action, numbers in `%i` form
 * (decimal, `0x` hex, or octal with a leading `0`). Every failure throws
 * {@linkcode OdpSyntaxError} naming the token at the failing position.
 *
 * @module
 */

import { OdpSyntaxError } from "../errors.ts";

/** Characters that end a token in an error message. */
const TOKEN_END = ",()={}/ \t\r\n";

/** A mutable read position over one action string. */
export class ActionCursor {
  /** The whole text being parsed. */
  readonly text: string;
  /** Current 0-based offset into `text`. */
  pos: number;

  /** Starts reading `text` at `pos` (default 0). */
  constructor(text: string, pos = 0) {
    this.text = text;
    this.pos = pos;
  }

  /** True when every character has been read. */
  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** The character at the current position, or "" at the end. */
  peek(): string {
    return this.pos < this.text.length ? this.text[this.pos] : "";
  }

  /** True if the text at the current position starts with `literal`. */
  lookingAt(literal: string): boolean {
    return this.text.startsWith(literal, this.pos);
  }

  /** Consumes `literal` if it is next; returns whether it was. */
  accept(literal: string): boolean {
    if (!this.text.startsWith(literal, this.pos)) return false;
    this.pos += literal.length;
    return true;
  }

  /** Consumes `literal` or throws "expected '<literal>'". */
  expect(literal: string, context?: string): void {
    if (!this.accept(literal)) {
      this.fail(`expected '${literal}'${context ? ` in ${context}` : ""}`);
    }
  }

  /** Reads a lower-case word (`[a-z0-9_]*`); may return "". */
  readWord(): string {
    const start = this.pos;
    while (this.pos < this.text.length && /[A-Za-z0-9_]/.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /**
   * Reads an unsigned integer in `%i` form (decimal, `0x` hex, leading-0
   * octal) no larger than `max`. Throws if none is there or it is too big.
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

  /** Reads characters up to (not including) one of `stops` or the end. */
  readUntil(stops: string): string {
    const start = this.pos;
    while (this.pos < this.text.length && !stops.includes(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** The token starting at `pos`: up to the next delimiter, at least one character. */
  tokenAt(pos: number): string {
    if (pos >= this.text.length) return "";
    let end = pos;
    while (end < this.text.length && !TOKEN_END.includes(this.text[end])) end++;
    if (end === pos) end = pos + 1;
    return this.text.slice(pos, end);
  }

  /** Throws an {@linkcode OdpSyntaxError} at `pos` (default: the current position). */
  fail(message: string, pos: number = this.pos): never {
    throw new OdpSyntaxError(message, this.tokenAt(pos), pos);
  }
}
