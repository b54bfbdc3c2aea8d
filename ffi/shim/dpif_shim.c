/*
 * dpif_shim: exported wrappers for the DPDK functions that are static inline
 * in the headers (so no library exports them) and that the fast path needs.
 * Opened with Deno.dlopen, each of these is a V8 fast call (about 25 ns),
 * against 1.5 us for an UnsafeFnPointer call through rte_eth_fp_ops.
 *
 * Every function takes the mbuf pointer array as a plain buffer so that one
 * FFI call moves a whole burst. No state lives here: any thread (a Worker
 * with its own isolate) can call these functions.
 */
#include <errno.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

/* rte_errno of the calling thread (a per-lcore TLS variable: not reachable
 * through dlsym). */
int dpif_rte_errno(void) { return rte_errno; }

/* rte_eth_rx_burst: fills pkts[0..n) and returns how many were received. */
uint16_t dpif_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) {
	return rte_eth_rx_burst(port, queue, pkts, n);
}

/* rte_eth_tx_burst, then frees every mbuf the queue did not take.
 * Returns how many were sent; pkts[sent..n) are freed and must be forgotten. */
uint16_t dpif_tx_burst_or_free(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) {
	uint16_t sent = rte_eth_tx_burst(port, queue, pkts, n);
	if (sent < n) rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	return sent;
}

/* Allocates up to n reset mbufs of *pool_slot into out[0..n): all at once
 * when the pool has enough, else one by one until it runs dry. Returns how
 * many. The pool comes through a one-pointer buffer so that the call stays a
 * fast call (a pointer parameter would not). */
unsigned dpif_alloc_bulk(struct rte_mempool *const *pool_slot, struct rte_mbuf **out, unsigned n) {
	struct rte_mempool *pool = *pool_slot;
	unsigned i;
	if (rte_pktmbuf_alloc_bulk(pool, out, n) == 0) return n;
	for (i = 0; i < n; i++) {
		out[i] = rte_pktmbuf_alloc(pool);
		if (out[i] == NULL) break;
	}
	return i;
}

/* rte_pktmbuf_data_room_size: headroom + data bytes of each mbuf of the pool
 * (slow path: read once when a port is configured). */
uint16_t dpif_pktmbuf_data_room_size(struct rte_mempool *pool) {
	return rte_pktmbuf_data_room_size(pool);
}
