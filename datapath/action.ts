/**
 * Datapath actions as a discriminated union: the parsed form of the OVS
 * datapath action syntax (`output(2)`, `set(ipv4(src=1.2.3.4))`,
 * `tnl_push(...)`, ...). Parsing and formatting live in datapath/odp/;
 * execution compiles a list of these when a flow is installed.
 *
 * An empty list drops, as does `drop`.
 *
 * @module
 */

/** Send the packet to a port (clones when more actions follow). */
export interface OutputAction {
  type: "output";
  port: number;
}

/**
 * `set(field(...))` and masked `set(field(value/mask))`: key and mask use the
 * flow-key layout (datapath/flow_key.ts), `KEY_WORDS` words each. For an
 * unmasked set the mask is all-ones over the fields the text named.
 */
export interface SetAction {
  type: "set";
  /** True for the masked form (`set(ipv4(src=1.2.3.4/255.255.255.0))`). */
  masked: boolean;
  key: Uint32Array;
  mask: Uint32Array;
}

/** Push an 802.1Q / 802.1ad tag. */
export interface PushVlanAction {
  type: "push_vlan";
  /** 0x8100 or 0x88a8. */
  tpid: number;
  /** VLAN id (0..4095). */
  vid: number;
  /** Priority code point (0..7). */
  pcp: number;
}

/** Pop the outermost VLAN tag. */
export interface PopVlanAction {
  type: "pop_vlan";
}

/**
 * Prepend a tunnel header built when the flow was installed. `header` holds
 * the whole template (Ethernet, IPv4/IPv6, UDP/GRE, VXLAN/Geneve); push
 * copies it and patches lengths, checksums and, for UDP with source port 0,
 * the source port.
 */
export interface TunnelPushAction {
  type: "tnl_push";
  /** The tunnel vport this header belongs to: `tnl_port(N)`. */
  tunnelPort: number;
  /** OVS vport type number: 3 GRE, 4 VXLAN, 5 Geneve (`header(type=..)`). */
  headerType: number;
  /** The header template, `header(size=..)` bytes. */
  header: Uint8Array;
  /** The in_port the packet gets after the push: `out_port(M)`. */
  outPort: number;
}

/** Strip the tunnel headers for tunnel port N, fill metadata, recirculate. */
export interface TunnelPopAction {
  type: "tnl_pop";
  port: number;
}

/** Send to userspace as an action upcall. */
export interface UserspaceAction {
  type: "userspace";
  pid: number;
  /** Opaque bytes given back with the upcall, or null. */
  userdata: Uint8Array | null;
  /** `tunnel_out_port=N`, or null. */
  tunnelOutPort: number | null;
  /** True when `actions` was given (the upcall carries the actions). */
  actions: boolean;
}

/** Re-run the pipeline with recirc_id set. */
export interface RecircAction {
  type: "recirc";
  id: number;
}

/** Compute dp_hash: `hash(l4(basis))` or `hash(sym_l4(basis))`. */
export interface HashAction {
  type: "hash";
  algorithm: "l4" | "sym_l4";
  basis: number;
}

/** Run nested actions on a copy of the packet. */
export interface CloneAction {
  type: "clone";
  actions: Action[];
}

/** Truncate the packet to at most `maxLength` bytes for the next output. */
export interface TruncAction {
  type: "trunc";
  maxLength: number;
}

/** Push an MPLS label stack entry. */
export interface PushMplsAction {
  type: "push_mpls";
  label: number;
  tc: number;
  ttl: number;
  bos: number;
  /** 0x8847 or 0x8848. */
  ethType: number;
}

/** Pop an MPLS label stack entry, setting the ethertype. */
export interface PopMplsAction {
  type: "pop_mpls";
  ethType: number;
}

/** Branch on packet length: `check_pkt_len(size=N,gt(...),le(...))`. */
export interface CheckPktLenAction {
  type: "check_pkt_len";
  size: number;
  greater: Action[];
  lessEqual: Action[];
}

/** Explicit drop. */
export interface DropAction {
  type: "drop";
}

/** Any datapath action. */
export type Action =
  | OutputAction
  | SetAction
  | PushVlanAction
  | PopVlanAction
  | TunnelPushAction
  | TunnelPopAction
  | UserspaceAction
  | RecircAction
  | HashAction
  | CloneAction
  | TruncAction
  | PushMplsAction
  | PopMplsAction
  | CheckPktLenAction
  | DropAction;

/** OVS vport type numbers used in `tnl_push(header(type=N))`. */
export const TUNNEL_TYPE_GRE = 3;
/** VXLAN's vport type number. */
export const TUNNEL_TYPE_VXLAN = 4;
/** Geneve's vport type number. */
export const TUNNEL_TYPE_GENEVE = 5;
