/**
 * Builds a key/mask pair from attributes as the text parser or the JSON
 * reader hands them over, and checks that they make one coherent match.
 *
 * Encapsulation levels: level 0 is the frame after `eth(...)`; each
 * `encap(...)` opens the next level. A level that has `vlan(...)` or
 * `encap(...)` is a VLAN level: its `eth_type` is the tag's TPID (level 0
 * the outer tag, level 1 the inner one). The `eth_type` of the last level is
 * the frame's ethertype. Values below 0x0600 (802.3 lengths) become
 * ETH_TYPE_NONE.
 *
 * Coherence (checked in strict mode, as OVS's odp_flow_key_to_flow would
 * refuse the flow): one network attribute per level and it agrees with the
 * level's eth_type (ipv4 0x0800, ipv6 0x86dd, arp 0x0806/0x8035, mpls
 * 0x8847/0x8848); one transport attribute and it agrees with the IP
 * protocol; nd(...) needs icmpv6 type 135 or 136 with code 0; no transport
 * attribute after frag=later. A selector that was not given at all is
 * filled in the key (mask left 0), so `eth(),ipv4(src=1.2.3.4)` means
 * eth_type 0x0800 in the key with a wildcarded eth_type. (A flow put
 * through the datapath also matches only untagged levels where it has no
 * `vlan(...)`: see {@linkcode matchNoTagWithoutVlan}.)
 *
 * Errors go through the `Fail` callback of the attribute concerned, so the
 * text parser throws OdpSyntaxError with a position and the JSON reader a
 * TypeError with a path.
 *
 * @module
 */

import * as K from "../flow_key.ts";
import {
  ETH_TYPE,
  type FieldSpec,
  ICMP_FIELDS,
  NW_FRAG,
  NW_PROTO,
  readField,
  tpidField,
  writeField,
} from "./key_fields.ts";

/** Reports an error about one attribute or field; never returns. */
export type Fail = (message: string) => never;

/** A key and mask pair, KEY_WORDS words each, in the layout of datapath/flow_key.ts. */
export interface FlowMatch {
  key: Uint32Array;
  mask: Uint32Array;
}

/** Attributes allowed only at level 0 (outside any encap). */
const TOP_ONLY = new Set([
  "skb_priority",
  "skb_mark",
  "recirc_id",
  "dp_hash",
  "in_port",
  "tunnel",
  "eth",
]);
const NETWORK: Record<string, readonly number[]> = {
  ipv4: [0x0800],
  ipv6: [0x86dd],
  arp: [0x0806, 0x8035],
  mpls: [0x8847, 0x8848],
};
const TRANSPORT: Record<string, { proto: number; ethTypes: readonly number[] }> = {
  tcp: { proto: 6, ethTypes: [0x0800, 0x86dd] },
  udp: { proto: 17, ethTypes: [0x0800, 0x86dd] },
  sctp: { proto: 132, ethTypes: [0x0800, 0x86dd] },
  icmp: { proto: 1, ethTypes: [0x0800] },
  icmpv6: { proto: 58, ethTypes: [0x86dd] },
};

interface Level {
  depth: number;
  attrs: Map<string, Fail>;
  ethType: { value: bigint; mask: bigint } | null;
  written: Set<string>;
}

/** Accumulates attributes into a FlowMatch; one builder per parse. */
export class KeyBuilder {
  /** The match being filled (owned by the caller; written in place). */
  readonly match: FlowMatch;
  readonly #strict: boolean;
  readonly #levels: Level[] = [];

  /**
   * Starts building into `match` (whose words should be zero). `strict`
   * enables the coherence checks (flow keys); set actions turn them off.
   */
  constructor(match: FlowMatch, strict: boolean) {
    this.match = match;
    this.#strict = strict;
    this.#levels.push(newLevel(0));
  }

  /** Current encapsulation level (0 outside any encap). */
  get depth(): number {
    return this.#top().depth;
  }

  /** Records attribute `name` at the current level; fails on duplicates or misplaced ones. */
  startAttr(name: string, fail: Fail): void {
    const level = this.#top();
    if (level.attrs.has(name)) fail(`duplicate attribute '${name}'`);
    if (level.depth > 0 && TOP_ONLY.has(name)) fail(`'${name}' is not allowed inside encap(...)`);
    if ((name === "vlan" || name === "encap") && level.depth > 1) {
      fail("at most two VLAN tags (encap levels) are supported");
    }
    level.attrs.set(name, fail);
  }

  /** Writes a field value and mask; `owner` names it for the coherence checks (e.g. "ipv4"). */
  set(owner: string, spec: FieldSpec, value: bigint, mask: bigint): void {
    writeField(this.match.key, 0, spec, value);
    writeField(this.match.mask, 0, spec, mask);
    this.#top().written.add(`${owner}.${spec.name}`);
  }

  /** Records this level's eth_type (an ethertype, or a TPID if the level has a VLAN tag). */
  setEthType(value: bigint, mask: bigint): void {
    this.#top().ethType = { value, mask };
  }

  /** Opens the level inside `encap(...)`; call after startAttr("encap"). */
  enterEncap(): void {
    this.#levels.push(newLevel(this.depth + 1));
  }

  /** Closes the level opened by enterEncap. */
  leaveEncap(): void {
    this.#commit(this.#levels.pop()!);
  }

  /** Closes all levels and runs the coherence checks. Throws through the attributes' Fail. */
  finish(): void {
    while (this.#levels.length > 0) this.#commit(this.#levels.pop()!);
  }

  #top(): Level {
    return this.#levels[this.#levels.length - 1];
  }

  #commit(level: Level): void {
    const { key, mask } = this.match;
    const isVlanLevel = level.attrs.has("vlan") || level.attrs.has("encap");
    if (isVlanLevel) {
      for (const [name, fail] of level.attrs) {
        if (name in NETWORK || name in TRANSPORT || name === "tcp_flags" || name === "nd") {
          fail(`'${name}' must be inside encap(...) after vlan(...)`);
        }
      }
      if (level.ethType) {
        writeField(key, 0, tpidField(level.depth), level.ethType.value);
        writeField(mask, 0, tpidField(level.depth), level.ethType.mask);
      }
      return;
    }
    if (level.ethType) {
      const value = level.ethType.value < 0x600n ? BigInt(K.ETH_TYPE_NONE) : level.ethType.value;
      writeField(key, 0, ETH_TYPE, value);
      writeField(mask, 0, ETH_TYPE, level.ethType.mask);
    }
    if (this.#strict) this.#checkLayers(level);
  }

  #checkLayers(level: Level): void {
    const { key } = this.match;
    const network = [...level.attrs.keys()].filter((n) => n in NETWORK);
    if (network.length > 1) {
      level.attrs.get(network[1])!(`'${network[1]}' conflicts with '${network[0]}'`);
    }
    const ethTypeGiven = level.ethType !== null;
    let ethType = Number(readField(key, 0, ETH_TYPE));
    if (network.length === 1) {
      const name = network[0], allowed = NETWORK[name];
      if (!ethTypeGiven) {
        writeField(key, 0, ETH_TYPE, BigInt(allowed[0]));
        ethType = allowed[0];
      } else if (!allowed.includes(ethType)) {
        level.attrs.get(name)!(
          `'${name}' requires eth_type(0x${allowed[0].toString(16).padStart(4, "0")})`,
        );
      }
    }
    const transport = [...level.attrs.keys()].filter((n) => n in TRANSPORT);
    if (transport.length > 1) {
      level.attrs.get(transport[1])!(`'${transport[1]}' conflicts with '${transport[0]}'`);
    }
    let l4 = transport[0];
    if (level.attrs.has("tcp_flags")) {
      if (l4 !== undefined && l4 !== "tcp") {
        level.attrs.get("tcp_flags")!(`'tcp_flags' conflicts with '${l4}'`);
      }
      l4 = "tcp";
    }
    if (l4 === undefined) {
      if (level.attrs.has("nd")) {
        level.attrs.get("nd")!("'nd' requires icmpv6(type=135 or 136,code=0)");
      }
      return;
    }
    const fail = level.attrs.get(transport[0] ?? "tcp_flags")!;
    const rule = TRANSPORT[l4];
    if (!rule.ethTypes.includes(ethType)) {
      fail(
        `'${l4}' requires ${
          rule.ethTypes.length > 1
            ? "ipv4(...) or ipv6(...)"
            : rule.proto === 1
            ? "ipv4(...)"
            : "ipv6(...)"
        }`,
      );
    }
    const owner = ethType === 0x0800 ? "ipv4" : "ipv6";
    if (level.written.has(`${owner}.proto`)) {
      if (Number(readField(key, 0, NW_PROTO)) !== rule.proto) {
        fail(`'${l4}' requires proto=${rule.proto}`);
      }
    } else {
      writeField(key, 0, NW_PROTO, BigInt(rule.proto));
    }
    if (
      level.written.has(`${owner}.frag`) &&
      Number(readField(key, 0, NW_FRAG)) === (K.FRAG_ANY | K.FRAG_LATER)
    ) {
      fail(`'${l4}' is not allowed with frag=later (later fragments have no transport header)`);
    }
    if (level.attrs.has("nd")) {
      const failNd = level.attrs.get("nd")!;
      const [typeField, codeField] = ICMP_FIELDS;
      const type = Number(readField(key, 0, typeField));
      if (l4 !== "icmpv6" || !level.written.has("icmpv6.type") || (type !== 135 && type !== 136)) {
        failNd("'nd' requires icmpv6(type=135 or 136,code=0)");
      }
      if (level.written.has("icmpv6.code") && readField(key, 0, codeField) !== 0n) {
        failNd("'nd' requires icmpv6 code=0");
      }
    }
  }
}

function newLevel(depth: number): Level {
  return { depth, attrs: new Map(), ethType: null, written: new Set() };
}

/**
 * Makes a flow's match behave as OVS's does where it has no `vlan(...)`:
 * OVS matches "no tag" there (its catch-all `eth_type(0x1234/0)` does not
 * match tagged frames; tests/ovs_differential_test.ts). The outer VLAN word,
 * when its mask is 0, becomes an exact match on 0 (untagged); when the match
 * requires an outer tag (CFI set in key and mask) and says nothing about the
 * inner one, the inner word becomes an exact 0 (one tag only). Changes
 * `match` in place; the formatters show an exact 0 as no attribute at all.
 */
export function matchNoTagWithoutVlan(match: FlowMatch): void {
  const { key, mask } = match;
  if (mask[K.W_VLAN_OUTER] === 0) {
    key[K.W_VLAN_OUTER] = 0;
    mask[K.W_VLAN_OUTER] = 0xffffffff;
    key[K.W_VLAN_INNER] = 0;
    mask[K.W_VLAN_INNER] = 0;
    return;
  }
  const tagRequired = (key[K.W_VLAN_OUTER] & mask[K.W_VLAN_OUTER] & K.VLAN_CFI) !== 0;
  if (tagRequired && mask[K.W_VLAN_INNER] === 0) {
    key[K.W_VLAN_INNER] = 0;
    mask[K.W_VLAN_INNER] = 0xffffffff;
  }
}
