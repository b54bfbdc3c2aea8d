/**
 * Errors the datapath interface throws, named after the errno values
 * Open vSwitch's dpif layer returns, so that clients (REST, CLI) can map them
 * to status codes without parsing messages.
 *
 * @module
 */

/** The errno-style codes a {@linkcode DpifError} carries. */
export type DpifErrorCode =
  | "EEXIST" // already exists (flow, port name, datapath)
  | "ENOENT" // no such flow, port or datapath
  | "EBUSY" // requested port number in use
  | "EINVAL" // invalid argument (bad key, mask, action, option)
  | "EPERM" // operation not permitted (deleting the local port)
  | "EFBIG" // too many items (flow table, port table full)
  | "ENODEV" // device could not be opened
  | "EOPNOTSUPP"; // not supported by this port type or backend

/** An error from a datapath operation, carrying an errno-style code. */
export class DpifError extends Error {
  /** The errno-style code, e.g. `"EEXIST"`. */
  readonly code: DpifErrorCode;

  /** Creates an error with a code and a human-readable message. */
  constructor(code: DpifErrorCode, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
    this.name = "DpifError";
    this.code = code;
  }
}

/**
 * A syntax error in OVS datapath flow or action text. The message names the
 * offending token and its position; `position` is a 0-based offset into the
 * text that was parsed.
 */
export class OdpSyntaxError extends SyntaxError {
  /** 0-based character offset of the offending token. */
  readonly position: number;
  /** The offending token (may be empty at end of input). */
  readonly token: string;

  /** Creates an error; the message is completed with token and position. */
  constructor(message: string, token: string, position: number) {
    super(
      `${message} at position ${position}${token === "" ? " (end of input)" : ` near '${token}'`}`,
    );
    this.name = "OdpSyntaxError";
    this.position = position;
    this.token = token;
  }
}
