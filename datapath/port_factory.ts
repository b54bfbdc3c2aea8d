/**
 * Creates ports from `{ name, type, options }`, as `ovs-dpctl add-if
 * NAME,type=TYPE,KEY=VALUE...` describes them. Port types are registered by
 * name, so backends that need setup (the DPDK port) add themselves later
 * with {@linkcode PortFactory.register}.
 *
 * Built in ({@linkcode createPortFactory}): "internal" (the local port, a
 * {@linkcode DummyPort}), "dummy", "vxlan", "geneve" and "gre"
 * ({@linkcode TunnelPort}). {@linkcode createPort} uses the process-wide
 * {@linkcode portFactory}, where other backends register.
 *
 * @example
 * ```ts
 * import { createPortFactory } from "./port_factory.ts";
 * import { MemoryPool } from "./memory_pool.ts";
 *
 * const factory = createPortFactory();
 * const port = factory.create({ name: "p1", type: "dummy" }, { pool: new MemoryPool() });
 * port.close();
 * ```
 *
 * @module
 */

import { DummyPort } from "./dummy_port.ts";
import { DpifError } from "./errors.ts";
import type { PacketPool } from "./packet_pool.ts";
import type { Port, PortOptions } from "./port.ts";
import { TunnelPort } from "./tunnel_port.ts";

/** What a port is created from. */
export interface PortSpec {
  /** Unique port name: 1..64 characters, no whitespace, ',', '=', '(' or ')'. */
  name: string;
  /** Registered port type, e.g. "dummy". */
  type: string;
  /** Type-specific options; default none. */
  options?: PortOptions;
}

/** What the datapath lends to every port it creates. */
export interface PortContext {
  /** The datapath's packet pool; received packets are allocated from it. */
  pool: PacketPool;
}

/**
 * Builds a port of one type. It receives a spec whose name is already
 * validated and options that are a fresh copy it may keep, and throws a
 * {@linkcode DpifError} (EINVAL for bad options, ENODEV when a device cannot
 * be opened) on failure.
 */
export type PortBuilder = (spec: Required<PortSpec>, context: PortContext) => Port;

const PORT_NAME = /^[^\s,=()]{1,64}$/;

/** A registry of port types. */
export class PortFactory {
  readonly #builders = new Map<string, PortBuilder>();

  /**
   * Registers a port type.
   * @throws {DpifError} EEXIST when the type is already registered.
   * @throws {TypeError} when the type name is empty.
   */
  register(type: string, builder: PortBuilder): void {
    if (type === "") throw new TypeError("PortFactory: empty port type");
    if (this.#builders.has(type)) {
      throw new DpifError("EEXIST", `port type '${type}' is already registered`);
    }
    this.#builders.set(type, builder);
  }

  /** Registered type names, sorted. */
  types(): string[] {
    return [...this.#builders.keys()].sort();
  }

  /**
   * Creates a port. The caller owns it (usually by adding it to a
   * {@linkcode PortTable}, which then closes it).
   * @throws {DpifError} EINVAL for a bad name or bad options; EOPNOTSUPP for
   *   an unknown type; whatever the type's builder throws.
   */
  create(spec: PortSpec, context: PortContext): Port {
    if (typeof spec.name !== "string" || !PORT_NAME.test(spec.name)) {
      throw new DpifError(
        "EINVAL",
        `bad port name ${JSON.stringify(spec.name)}: 1..64 characters without ` +
          "whitespace, ',', '=', '(' or ')'",
      );
    }
    const builder = this.#builders.get(spec.type);
    if (builder === undefined) {
      throw new DpifError(
        "EOPNOTSUPP",
        `${spec.name}: unknown port type '${spec.type}' (known: ${this.types().join(", ")})`,
      );
    }
    const options: PortOptions = {};
    for (const [key, value] of Object.entries(spec.options ?? {})) {
      if (typeof value !== "string") {
        throw new DpifError("EINVAL", `${spec.name}: option '${key}' must be a string`);
      }
      options[key] = value;
    }
    return builder({ name: spec.name, type: spec.type, options }, context);
  }
}

/**
 * The process-wide factory {@linkcode createPort} uses, with the built-in
 * types. Backends that need setup register here (e.g. the DPDK backend
 * registers "dpdk" once EAL is up).
 */
export const portFactory: PortFactory = createPortFactory();

/**
 * Creates a port with the process-wide {@linkcode portFactory}: the same as
 * `portFactory.create(spec, { pool: spec.pool })`.
 * @throws {DpifError} as {@linkcode PortFactory.create}.
 */
export function createPort(spec: PortSpec & PortContext): Port {
  return portFactory.create(spec, spec);
}

/** Returns a new factory with the built-in types: internal, dummy, vxlan, geneve, gre. */
export function createPortFactory(): PortFactory {
  const factory = new PortFactory();
  factory.register("internal", buildInternalPort);
  factory.register("dummy", buildDummyPort);
  factory.register("vxlan", buildTunnelPort);
  factory.register("geneve", buildTunnelPort);
  factory.register("gre", buildTunnelPort);
  return factory;
}

function buildInternalPort(spec: Required<PortSpec>, context: PortContext): Port {
  return new DummyPort(spec.name, context.pool, { type: "internal", options: spec.options });
}

function buildDummyPort(spec: Required<PortSpec>, context: PortContext): Port {
  return new DummyPort(spec.name, context.pool, { type: "dummy", options: spec.options });
}

function buildTunnelPort(spec: Required<PortSpec>, _context: PortContext): Port {
  return new TunnelPort(spec.name, spec.type as "vxlan" | "geneve" | "gre", spec.options);
}
