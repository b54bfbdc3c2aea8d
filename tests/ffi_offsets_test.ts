/**
 * Checks every struct offset and size in ffi/offsets.ts against the installed
 * DPDK headers: a small C program prints `offsetof` / `sizeof` / bit
 * positions, compiled with gcc and `pkg-config --cflags libdpdk`.
 */
import assert from "node:assert/strict";
import * as offsets from "../ffi/offsets.ts";

/** The C expression giving each constant of ffi/offsets.ts. */
const C_EXPRESSIONS: Record<string, Record<string, string> | string> = {
  MBUF: {
    BUF_ADDR: "offsetof(struct rte_mbuf, buf_addr)",
    DATA_OFF: "offsetof(struct rte_mbuf, data_off)",
    REFCNT: "offsetof(struct rte_mbuf, refcnt)",
    NB_SEGS: "offsetof(struct rte_mbuf, nb_segs)",
    PORT: "offsetof(struct rte_mbuf, port)",
    OL_FLAGS: "offsetof(struct rte_mbuf, ol_flags)",
    PKT_LEN: "offsetof(struct rte_mbuf, pkt_len)",
    DATA_LEN: "offsetof(struct rte_mbuf, data_len)",
    BUF_LEN: "offsetof(struct rte_mbuf, buf_len)",
    POOL: "offsetof(struct rte_mbuf, pool)",
    NEXT: "offsetof(struct rte_mbuf, next)",
    SIZE: "sizeof(struct rte_mbuf)",
  },
  PKTMBUF_HEADROOM: "RTE_PKTMBUF_HEADROOM",
  MEMPOOL: {
    SIZE: "offsetof(struct rte_mempool, size)",
    ELT_SIZE: "offsetof(struct rte_mempool, elt_size)",
    HEADER_SIZE: "offsetof(struct rte_mempool, header_size)",
    TRAILER_SIZE: "offsetof(struct rte_mempool, trailer_size)",
    POPULATED_SIZE: "offsetof(struct rte_mempool, populated_size)",
    NB_MEM_CHUNKS: "offsetof(struct rte_mempool, nb_mem_chunks)",
    MEM_LIST: "offsetof(struct rte_mempool, mem_list)",
  },
  MEMPOOL_MEMHDR: {
    NEXT: "offsetof(struct rte_mempool_memhdr, next)",
    ADDR: "offsetof(struct rte_mempool_memhdr, addr)",
    LEN: "offsetof(struct rte_mempool_memhdr, len)",
  },
  ETH_STATS: {
    IPACKETS: "offsetof(struct rte_eth_stats, ipackets)",
    OPACKETS: "offsetof(struct rte_eth_stats, opackets)",
    IBYTES: "offsetof(struct rte_eth_stats, ibytes)",
    OBYTES: "offsetof(struct rte_eth_stats, obytes)",
    IMISSED: "offsetof(struct rte_eth_stats, imissed)",
    IERRORS: "offsetof(struct rte_eth_stats, ierrors)",
    OERRORS: "offsetof(struct rte_eth_stats, oerrors)",
    RX_NOMBUF: "offsetof(struct rte_eth_stats, rx_nombuf)",
    SIZE: "sizeof(struct rte_eth_stats)",
  },
  ETH_CONF: {
    RXMODE_MQ_MODE: "offsetof(struct rte_eth_conf, rxmode.mq_mode)",
    RXMODE_OFFLOADS: "offsetof(struct rte_eth_conf, rxmode.offloads)",
    RSS_KEY: "offsetof(struct rte_eth_conf, rx_adv_conf.rss_conf.rss_key)",
    RSS_KEY_LEN: "offsetof(struct rte_eth_conf, rx_adv_conf.rss_conf.rss_key_len)",
    RSS_HF: "offsetof(struct rte_eth_conf, rx_adv_conf.rss_conf.rss_hf)",
    SIZE: "sizeof(struct rte_eth_conf)",
  },
  ETH_DEV_INFO: {
    MAX_RX_QUEUES: "offsetof(struct rte_eth_dev_info, max_rx_queues)",
    RX_OFFLOAD_CAPA: "offsetof(struct rte_eth_dev_info, rx_offload_capa)",
    FLOW_TYPE_RSS_OFFLOADS: "offsetof(struct rte_eth_dev_info, flow_type_rss_offloads)",
    SIZE: "sizeof(struct rte_eth_dev_info)",
  },
  ETH_RX_OFFLOAD: { SCATTER: "RTE_ETH_RX_OFFLOAD_SCATTER" },
  ETH_RSS: {
    MQ_RX_RSS: "RTE_ETH_MQ_RX_RSS",
    IP: "RTE_ETH_RSS_IP",
    TCP: "RTE_ETH_RSS_TCP",
    UDP: "RTE_ETH_RSS_UDP",
  },
  ETH_LINK: {
    SPEED: "offsetof(struct rte_eth_link, link_speed)",
    DUPLEX_BIT: "LINK_BIT(link_duplex)",
    AUTONEG_BIT: "LINK_BIT(link_autoneg)",
    STATUS_BIT: "LINK_BIT(link_status)",
    SIZE: "sizeof(struct rte_eth_link)",
  },
  ETHER_ADDR: { SIZE: "sizeof(struct rte_ether_addr)" },
};

const PRELUDE = `#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
/* Absolute bit number of a 1-bit field of struct rte_eth_link. */
static int first_bit(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n * 8; i++) if (p[i / 8] >> (i % 8) & 1) return (int)i;
  return -1;
}
#define LINK_BIT(field) ({ struct rte_eth_link l; memset(&l, 0, sizeof l); l.field = 1; \\
  first_bit((const unsigned char *)&l, sizeof l); })
int main(void) {
`;

function dpdkPresent(): boolean {
  try {
    return new Deno.Command("pkg-config", { args: ["--exists", "libdpdk"] }).outputSync().success;
  } catch {
    return false;
  }
}

/** Flattens offsets.ts into `GROUP.FIELD` (or `NAME`) -> value. */
function flatten(record: Record<string, unknown>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, value] of Object.entries(record)) {
    if (typeof value === "number") out.set(name, value);
    else {
      for (const [field, v] of Object.entries(value as Record<string, number>)) {
        out.set(`${name}.${field}`, v);
      }
    }
  }
  return out;
}

Deno.test("every constant in ffi/offsets.ts has a C expression, and no extra", () => {
  const ours = flatten(offsets as Record<string, unknown>);
  const cNames: string[] = [];
  for (const [name, value] of Object.entries(C_EXPRESSIONS)) {
    if (typeof value === "string") cNames.push(name);
    else for (const field of Object.keys(value)) cNames.push(`${name}.${field}`);
  }
  assert.ok(ours.size > 30, "offsets.ts lost its constants");
  assert.deepEqual([...ours.keys()].sort(), cNames.sort());
});

Deno.test({
  name: "ffi/offsets.ts matches offsetof/sizeof in the installed DPDK headers",
  ignore: !dpdkPresent(),
  fn() {
    const lines: string[] = [];
    for (const [name, value] of Object.entries(C_EXPRESSIONS)) {
      if (typeof value === "string") lines.push(`  printf("${name} %ld\\n", (long)(${value}));`);
      else {
        for (const [field, expr] of Object.entries(value)) {
          lines.push(`  printf("${name}.${field} %ld\\n", (long)(${expr}));`);
        }
      }
    }
    const dir = Deno.makeTempDirSync({ prefix: "dpif_offsets_" });
    try {
      Deno.writeTextFileSync(`${dir}/offsets.c`, PRELUDE + lines.join("\n") + "\n  return 0;\n}\n");
      const flags = new Deno.Command("pkg-config", { args: ["--cflags", "libdpdk"] }).outputSync();
      const cflags = new TextDecoder().decode(flags.stdout).trim().split(/\s+/);
      const gcc = new Deno.Command("gcc", {
        args: ["-o", `${dir}/offsets`, `${dir}/offsets.c`, ...cflags],
      }).outputSync();
      assert.ok(gcc.success, new TextDecoder().decode(gcc.stderr));
      const run = new Deno.Command(`${dir}/offsets`).outputSync();
      assert.ok(run.success);
      const measured = new Map(
        new TextDecoder().decode(run.stdout).trim().split("\n").map((line) => {
          const [name, value] = line.split(" ");
          return [name, Number(value)] as [string, number];
        }),
      );
      const ours = flatten(offsets as Record<string, unknown>);
      assert.equal(measured.size, ours.size);
      for (const [name, value] of ours) assert.equal(value, measured.get(name), name);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
