/**
 * The foreign symbols deno-dpif binds, one table per library, each parameter
 * commented with its C prototype. Only ffi/loader.ts opens them.
 *
 * Arrays the fast path hands to C (mbuf pointer bursts) are `buffer`
 * parameters: a typed array passed as a buffer keeps the call a V8 fast call
 * (about 25 ns), while a `pointer` parameter makes it a slow call (120 ns or
 * more, measured on DPDK 22.11 / Deno 2.9.6). Pointers that C returns and
 * that stay with an object (a mempool) are `pointer`.
 *
 * @module
 */

/** librte_eal: initialisation, hotplug, threads, error strings. */
export const EAL_SYMBOLS = {
  /** int rte_eal_init(int argc, char **argv) */
  rte_eal_init: {
    parameters: [
      "i32", // int argc
      "buffer", // char **argv: pointers to NUL-terminated strings, NULL-terminated
    ],
    result: "i32",
  },
  /** int rte_eal_cleanup(void) */
  rte_eal_cleanup: { parameters: [], result: "i32" },
  /** const char *rte_eal_get_runtime_dir(void): "" before rte_eal_init */
  rte_eal_get_runtime_dir: { parameters: [], result: "pointer" },
  /** unsigned int rte_lcore_count(void) */
  rte_lcore_count: { parameters: [], result: "u32" },
  /** int rte_dev_probe(const char *devargs): 0 or -errno */
  rte_dev_probe: {
    parameters: [
      "buffer", // const char *devargs (NUL-terminated)
    ],
    result: "i32",
  },
  /** int rte_eal_hotplug_remove(const char *busname, const char *devname) */
  rte_eal_hotplug_remove: {
    parameters: [
      "buffer", // const char *busname, e.g. "vdev"
      "buffer", // const char *devname, e.g. "net_ring0"
    ],
    result: "i32",
  },
  /** const char *rte_strerror(int errnum) */
  rte_strerror: {
    parameters: [
      "i32", // int errnum
    ],
    result: "pointer",
  },
  /** int rte_thread_register(void): gives the calling thread an lcore id */
  rte_thread_register: { parameters: [], result: "i32" },
  /** void rte_thread_unregister(void) */
  rte_thread_unregister: { parameters: [], result: "void" },
  /** unsigned int rte_socket_id(void): NUMA socket of the calling thread */
  rte_socket_id: { parameters: [], result: "u32" },
  /** unsigned int rte_socket_count(void): NUMA sockets the EAL found */
  rte_socket_count: { parameters: [], result: "u32" },
  /** int rte_socket_id_by_idx(unsigned int idx): socket id of the idx-th socket, -1 past the end */
  rte_socket_id_by_idx: { parameters: ["u32" /* unsigned int idx */], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** librte_mempool: counts and lifetime of a pool. */
export const MEMPOOL_SYMBOLS = {
  /** unsigned int rte_mempool_avail_count(const struct rte_mempool *mp) */
  rte_mempool_avail_count: {
    parameters: [
      "pointer", // const struct rte_mempool *mp
    ],
    result: "u32",
  },
  /** unsigned int rte_mempool_in_use_count(const struct rte_mempool *mp) */
  rte_mempool_in_use_count: {
    parameters: [
      "pointer", // const struct rte_mempool *mp
    ],
    result: "u32",
  },
  /** struct rte_mempool *rte_mempool_lookup(const char *name): NULL + rte_errno ENOENT */
  rte_mempool_lookup: {
    parameters: [
      "buffer", // const char *name (NUL-terminated)
    ],
    result: "pointer",
  },
  /** void rte_mempool_free(struct rte_mempool *mp) */
  rte_mempool_free: {
    parameters: [
      "pointer", // struct rte_mempool *mp
    ],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** librte_mbuf: packet pools and bulk free. */
export const MBUF_SYMBOLS = {
  /**
   * struct rte_mempool *rte_pktmbuf_pool_create(const char *name, unsigned int n,
   *   unsigned int cache_size, uint16_t priv_size, uint16_t data_room_size, int socket_id):
   * NULL + rte_errno on failure
   */
  rte_pktmbuf_pool_create: {
    parameters: [
      "buffer", // const char *name (NUL-terminated, unique)
      "u32", // unsigned int n: number of mbufs
      "u32", // unsigned int cache_size: per-lcore cache
      "u16", // uint16_t priv_size: application private area after the mbuf header
      "u16", // uint16_t data_room_size: headroom + data
      "i32", // int socket_id: SOCKET_ID_ANY = -1
    ],
    result: "pointer",
  },
  /** void rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count): frees whole chains */
  rte_pktmbuf_free_bulk: {
    parameters: [
      "buffer", // struct rte_mbuf **mbufs
      "u32", // unsigned int count
    ],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** librte_ethdev: port configuration, control and counters (the bursts are in the shim). */
export const ETHDEV_SYMBOLS = {
  /** int rte_eth_dev_get_port_by_name(const char *name, uint16_t *port_id) */
  rte_eth_dev_get_port_by_name: {
    parameters: [
      "buffer", // const char *name (NUL-terminated)
      "buffer", // uint16_t *port_id (out)
    ],
    result: "i32",
  },
  /** int rte_eth_dev_get_name_by_port(uint16_t port_id, char *name): name buffer of RTE_ETH_NAME_MAX_LEN (64) */
  rte_eth_dev_get_name_by_port: {
    parameters: [
      "u16", // uint16_t port_id
      "buffer", // char *name (out, 64 bytes)
    ],
    result: "i32",
  },
  /** int rte_eth_dev_configure(uint16_t port_id, uint16_t nb_rx_q, uint16_t nb_tx_q, const struct rte_eth_conf *conf) */
  rte_eth_dev_configure: {
    parameters: [
      "u16", // uint16_t port_id
      "u16", // uint16_t nb_rx_queue
      "u16", // uint16_t nb_tx_queue
      "buffer", // const struct rte_eth_conf *eth_conf
    ],
    result: "i32",
  },
  /**
   * int rte_eth_rx_queue_setup(uint16_t port_id, uint16_t rx_queue_id, uint16_t nb_rx_desc,
   *   unsigned int socket_id, const struct rte_eth_rxconf *rx_conf, struct rte_mempool *mb_pool)
   */
  rte_eth_rx_queue_setup: {
    parameters: [
      "u16", // uint16_t port_id
      "u16", // uint16_t rx_queue_id
      "u16", // uint16_t nb_rx_desc
      "u32", // unsigned int socket_id
      "pointer", // const struct rte_eth_rxconf *rx_conf (NULL: driver defaults)
      "pointer", // struct rte_mempool *mb_pool
    ],
    result: "i32",
  },
  /**
   * int rte_eth_tx_queue_setup(uint16_t port_id, uint16_t tx_queue_id, uint16_t nb_tx_desc,
   *   unsigned int socket_id, const struct rte_eth_txconf *tx_conf)
   */
  rte_eth_tx_queue_setup: {
    parameters: [
      "u16", // uint16_t port_id
      "u16", // uint16_t tx_queue_id
      "u16", // uint16_t nb_tx_desc
      "u32", // unsigned int socket_id
      "pointer", // const struct rte_eth_txconf *tx_conf (NULL: driver defaults)
    ],
    result: "i32",
  },
  /** int rte_eth_dev_info_get(uint16_t port_id, struct rte_eth_dev_info *dev_info) */
  rte_eth_dev_info_get: {
    parameters: [
      "u16", // uint16_t port_id
      "buffer", // struct rte_eth_dev_info *dev_info (out, ETH_DEV_INFO.SIZE bytes)
    ],
    result: "i32",
  },
  /** int rte_eth_dev_start(uint16_t port_id) */
  rte_eth_dev_start: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
  /** int rte_eth_dev_stop(uint16_t port_id) */
  rte_eth_dev_stop: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
  /** int rte_eth_dev_close(uint16_t port_id) */
  rte_eth_dev_close: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
  /** int rte_eth_dev_socket_id(uint16_t port_id): NUMA socket or -1 (SOCKET_ID_ANY) */
  rte_eth_dev_socket_id: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
  /** int rte_eth_stats_get(uint16_t port_id, struct rte_eth_stats *stats) */
  rte_eth_stats_get: {
    parameters: [
      "u16", // uint16_t port_id
      "buffer", // struct rte_eth_stats *stats (out)
    ],
    result: "i32",
  },
  /** int rte_eth_stats_reset(uint16_t port_id) */
  rte_eth_stats_reset: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
  /** int rte_eth_macaddr_get(uint16_t port_id, struct rte_ether_addr *mac_addr) */
  rte_eth_macaddr_get: {
    parameters: [
      "u16", // uint16_t port_id
      "buffer", // struct rte_ether_addr *mac_addr (out, 6 bytes)
    ],
    result: "i32",
  },
  /** int rte_eth_dev_default_mac_addr_set(uint16_t port_id, struct rte_ether_addr *mac_addr) */
  rte_eth_dev_default_mac_addr_set: {
    parameters: [
      "u16", // uint16_t port_id
      "buffer", // struct rte_ether_addr *mac_addr (6 bytes)
    ],
    result: "i32",
  },
  /** int rte_eth_link_get_nowait(uint16_t port_id, struct rte_eth_link *link) */
  rte_eth_link_get_nowait: {
    parameters: [
      "u16", // uint16_t port_id
      "buffer", // struct rte_eth_link *link (out)
    ],
    result: "i32",
  },
  /** int rte_eth_dev_set_mtu(uint16_t port_id, uint16_t mtu) */
  rte_eth_dev_set_mtu: {
    parameters: [
      "u16", // uint16_t port_id
      "u16", // uint16_t mtu
    ],
    result: "i32",
  },
  /** int rte_eth_dev_get_mtu(uint16_t port_id, uint16_t *mtu) */
  rte_eth_dev_get_mtu: {
    parameters: [
      "u16", // uint16_t port_id
      "buffer", // uint16_t *mtu (out)
    ],
    result: "i32",
  },
  /** int rte_eth_promiscuous_enable(uint16_t port_id) */
  rte_eth_promiscuous_enable: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
  /** int rte_eth_promiscuous_disable(uint16_t port_id) */
  rte_eth_promiscuous_disable: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
  /** int rte_eth_promiscuous_get(uint16_t port_id): 1, 0, or -1 for a bad port */
  rte_eth_promiscuous_get: { parameters: ["u16" /* uint16_t port_id */], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** librte_ring: rings that back ring ports (ffi/ring_pair.ts). */
export const RING_SYMBOLS = {
  /** struct rte_ring *rte_ring_create(const char *name, unsigned int count, int socket_id, unsigned int flags) */
  rte_ring_create: {
    parameters: [
      "buffer", // const char *name (NUL-terminated, unique)
      "u32", // unsigned int count: a power of two; count - 1 entries usable
      "i32", // int socket_id: SOCKET_ID_ANY = -1
      "u32", // unsigned int flags: RING_F_SP_ENQ | RING_F_SC_DEQ ...
    ],
    result: "pointer",
  },
  /** void rte_ring_free(struct rte_ring *r) */
  rte_ring_free: {
    parameters: [
      "pointer", // struct rte_ring *r
    ],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** librte_net_ring: ethdev ports made from rings. */
export const NET_RING_SYMBOLS = {
  /**
   * int rte_eth_from_rings(const char *name, struct rte_ring *const rx_queues[], unsigned nb_rx_queues,
   *   struct rte_ring *const tx_queues[], unsigned nb_tx_queues, unsigned numa_node): port id or -1
   */
  rte_eth_from_rings: {
    parameters: [
      "buffer", // const char *name: the vdev name of the new port
      "buffer", // struct rte_ring *const rx_queues[]
      "u32", // unsigned nb_rx_queues
      "buffer", // struct rte_ring *const tx_queues[]
      "u32", // unsigned nb_tx_queues
      "u32", // unsigned numa_node
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** libdpif_shim (ffi/shim/dpif_shim.c): exported twins of DPDK's static-inline fast path. */
export const SHIM_SYMBOLS = {
  /** int dpif_rte_errno(void): rte_errno of the calling thread */
  dpif_rte_errno: { parameters: [], result: "i32" },
  /** uint16_t dpif_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) */
  dpif_rx_burst: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "buffer", // struct rte_mbuf **pkts (out, n slots)
      "u16", // uint16_t n
    ],
    result: "u16",
  },
  /**
   * uint16_t dpif_tx_burst_or_free(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n):
   * returns how many were sent; frees pkts[sent..n)
   */
  dpif_tx_burst_or_free: {
    parameters: [
      "u16", // uint16_t port
      "u16", // uint16_t queue
      "buffer", // struct rte_mbuf **pkts
      "u16", // uint16_t n
    ],
    result: "u16",
  },
  /**
   * unsigned dpif_alloc_bulk(struct rte_mempool *const *pool_slot, struct rte_mbuf **out, unsigned n):
   * how many were allocated
   */
  dpif_alloc_bulk: {
    parameters: [
      "buffer", // struct rte_mempool *const *pool_slot: one pointer, the pool
      "buffer", // struct rte_mbuf **out
      "u32", // unsigned n
    ],
    result: "u32",
  },
  /** uint16_t dpif_pktmbuf_data_room_size(struct rte_mempool *pool): headroom + data bytes per mbuf */
  dpif_pktmbuf_data_room_size: {
    parameters: ["pointer" /* struct rte_mempool *pool */],
    result: "u16",
  },
} as const satisfies Deno.ForeignLibraryInterface;
