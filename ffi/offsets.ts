/**
 * Every DPDK 22.11 struct offset and size deno-dpif relies on, in one place.
 * tests/ffi_offsets_test.ts compiles an `offsetof` program against the
 * installed headers and checks each value here, so a DPDK upgrade that moves
 * a field fails a test instead of corrupting memory.
 *
 * Offsets are in bytes from the start of the struct. Bit fields are given as
 * absolute bit numbers (byte * 8 + bit, least significant bit first).
 *
 * @module
 */

/** `struct rte_mbuf` (two cache lines). */
export const MBUF = {
  /** `void *buf_addr`: virtual address of the segment buffer. */
  BUF_ADDR: 0,
  /** `uint16_t data_off`: start of data from buf_addr. */
  DATA_OFF: 16,
  /** `uint16_t refcnt`. */
  REFCNT: 18,
  /** `uint16_t nb_segs`: segments in the chain (valid in the first one). */
  NB_SEGS: 20,
  /** `uint16_t port`: input port. */
  PORT: 22,
  /** `uint64_t ol_flags`: offload flags. */
  OL_FLAGS: 24,
  /** `uint32_t pkt_len`: sum of data_len over all segments. */
  PKT_LEN: 36,
  /** `uint16_t data_len`: bytes of data in this segment. */
  DATA_LEN: 40,
  /** `uint16_t buf_len`: size of the segment buffer. */
  BUF_LEN: 54,
  /** `struct rte_mempool *pool`: pool the mbuf came from. */
  POOL: 56,
  /** `struct rte_mbuf *next`: next segment. */
  NEXT: 64,
  /** `sizeof(struct rte_mbuf)`. */
  SIZE: 128,
} as const;

/** `RTE_PKTMBUF_HEADROOM`: data_off of a freshly allocated mbuf. */
export const PKTMBUF_HEADROOM = 128;

/** `struct rte_mempool`. */
export const MEMPOOL = {
  /** `uint32_t size`: number of elements. */
  SIZE: 64,
  /** `uint32_t elt_size`: size of an element (mbuf header + private + data room). */
  ELT_SIZE: 72,
  /** `uint32_t header_size`: size of the per-object header in front of each element. */
  HEADER_SIZE: 76,
  /** `uint32_t trailer_size`: size of the per-object trailer. */
  TRAILER_SIZE: 80,
  /** `uint32_t populated_size`: number of populated objects. */
  POPULATED_SIZE: 104,
  /** `uint32_t nb_mem_chunks`: number of memory chunks. */
  NB_MEM_CHUNKS: 128,
  /** `struct rte_mempool_memhdr_list mem_list`: STAILQ head, first pointer at this offset. */
  MEM_LIST: 136,
} as const;

/** `struct rte_mempool_memhdr`: one memory chunk of a pool. */
export const MEMPOOL_MEMHDR = {
  /** `STAILQ_ENTRY next`: pointer to the next chunk. */
  NEXT: 0,
  /** `void *addr`: virtual address of the chunk. */
  ADDR: 16,
  /** `size_t len`: length of the chunk in bytes. */
  LEN: 32,
} as const;

/** `struct rte_eth_stats`: all fields `uint64_t`. */
export const ETH_STATS = {
  IPACKETS: 0,
  OPACKETS: 8,
  IBYTES: 16,
  OBYTES: 24,
  IMISSED: 32,
  IERRORS: 40,
  OERRORS: 48,
  RX_NOMBUF: 56,
  /** `sizeof(struct rte_eth_stats)` (per-queue counters follow the totals). */
  SIZE: 704,
} as const;

/**
 * `struct rte_eth_conf`: passed zeroed to rte_eth_dev_configure (all
 * defaults) but for RSS on ports with several rx queues.
 */
export const ETH_CONF = {
  /** `uint32_t rxmode.mq_mode` (`enum rte_eth_rx_mq_mode`). */
  RXMODE_MQ_MODE: 8,
  /** `uint64_t rxmode.offloads`: RTE_ETH_RX_OFFLOAD_* to enable. */
  RXMODE_OFFLOADS: 24,
  /** `uint8_t *rx_adv_conf.rss_conf.rss_key` (NULL: the driver's default key). */
  RSS_KEY: 128,
  /** `uint8_t rx_adv_conf.rss_conf.rss_key_len`. */
  RSS_KEY_LEN: 136,
  /** `uint64_t rx_adv_conf.rss_conf.rss_hf`: the flow types hashed. */
  RSS_HF: 144,
  SIZE: 2272,
} as const;

/** `struct rte_eth_dev_info` (rte_eth_dev_info_get). */
export const ETH_DEV_INFO = {
  /** `uint16_t max_rx_queues`. */
  MAX_RX_QUEUES: 44,
  /** `uint64_t rx_offload_capa`: RTE_ETH_RX_OFFLOAD_* the device supports. */
  RX_OFFLOAD_CAPA: 72,
  /** `uint64_t flow_type_rss_offloads`: RTE_ETH_RSS_* flow types the device can hash. */
  FLOW_TYPE_RSS_OFFLOADS: 112,
  SIZE: 376,
} as const;

/** `RTE_ETH_RX_OFFLOAD_*` flags. */
export const ETH_RX_OFFLOAD = {
  /** `RTE_ETH_RX_OFFLOAD_SCATTER`: frames longer than one mbuf arrive as a chain. */
  SCATTER: 0x2000,
} as const;

/** Flag values for RSS (`rte_ethdev.h` macros; all below 2^53). */
export const ETH_RSS = {
  /** `RTE_ETH_MQ_RX_RSS`: spread rx over the queues by hash. */
  MQ_RX_RSS: 1,
  /** `RTE_ETH_RSS_IP`: IPv4 and IPv6 (fragments, other protocols, extension headers). */
  IP: 0xa38c,
  /** `RTE_ETH_RSS_TCP`: TCP over IPv4 and IPv6. */
  TCP: 0x10410,
  /** `RTE_ETH_RSS_UDP`: UDP over IPv4 and IPv6. */
  UDP: 0x20820,
} as const;

/** `struct rte_eth_link`. */
export const ETH_LINK = {
  /** `uint32_t link_speed` in Mbps. */
  SPEED: 0,
  /** Bit number of `link_duplex : 1` (1 = full duplex). */
  DUPLEX_BIT: 32,
  /** Bit number of `link_autoneg : 1`. */
  AUTONEG_BIT: 33,
  /** Bit number of `link_status : 1` (1 = up). */
  STATUS_BIT: 34,
  /** `sizeof(struct rte_eth_link)`. */
  SIZE: 8,
} as const;

/** `struct rte_ether_addr`. */
export const ETHER_ADDR = {
  SIZE: 6,
} as const;
