/**
 * Records what a real Open vSwitch datapath transmits for each case of
 * tools/ovs_cases.ts and tools/ovs_cases_extra.ts, into tests/fixtures/ovs_differential.json.
 *
 * Needs Debian's `openvswitch-switch` (OVS 3.1). Starts ovsdb-server and
 * ovs-vswitchd in a private temporary folder (`--enable-dummy`, no system
 * datapath), makes one `dummy@` datapath with the ports of OVS_PORTS (dummy
 * ports are `dummy-pmd` with a `tx_pcap`), and for each case: deletes all
 * flows, adds the case's flows, injects its frames with
 * `netdev-dummy/receive`, waits until the tx pcaps stop growing, and takes
 * the frames appended to each. A case OVS refuses is recorded with `refused`
 * (the error text) instead of outputs. Stops both daemons at the end.
 *
 * Run: `deno run -A tools/ovs_record.ts [output.json]`
 *
 * @module
 */

import { decodePcap } from "../tests/fixtures/pcap.ts";
import { bytesToHex } from "../tests/fixtures/packets.ts";
import { OVS_CASES as BASE_CASES, OVS_PORTS, type OvsPortSpec } from "./ovs_cases.ts";
import { OVS_EXTRA_CASES } from "./ovs_cases_extra.ts";

const OVS_CASES = [...BASE_CASES, ...OVS_EXTRA_CASES];

/** One recorded case, as the fixture file holds it. */
export interface RecordedCase {
  name: string;
  flows: { flow: string; actions: string }[];
  ports: OvsPortSpec[];
  input: { port: number; hex: string }[];
  /** Frames each dummy port transmitted, in order (ports with none are listed empty). */
  outputs: { port: number; hex: string[] }[];
  /** What a reader should know about the case. */
  note?: string;
  /** Present when OVS refused a flow: its error text. */
  refused?: string;
  /** OVS's normalised form of each flow (dpctl/get-flow), for reading. */
  ovs_flows?: string[];
}

const DP = "dummy@ovsdiff";
const OUTPUT = Deno.args[0] ??
  new URL("../tests/fixtures/ovs_differential.json", import.meta.url).pathname;

const dir = Deno.makeTempDirSync({ prefix: "ovs_record_" });
const env = {
  OVS_RUNDIR: dir,
  OVS_DBDIR: dir,
  OVS_LOGDIR: dir,
  OVS_SYSCONFDIR: dir,
};

/** Runs a command; returns its output, or throws Error with stderr. */
function run(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

function appctl(...args: string[]): string {
  return run("ovs-appctl", args);
}

function pcapPath(portNo: number): string {
  return `${dir}/p${portNo}.pcap`;
}

function frameCounts(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const p of OVS_PORTS) {
    if (p.type === "dummy") {
      counts.set(p.port_no, decodePcap(Deno.readFileSync(pcapPath(p.port_no))).length);
    }
  }
  return counts;
}

/** Waits until no tx pcap has grown for 300 ms (PMD threads transmit asynchronously). */
async function settle(): Promise<void> {
  let last = JSON.stringify([...frameCounts()]);
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = JSON.stringify([...frameCounts()]);
    if (now === last) return;
    last = now;
  }
}

function startOvs(): void {
  run("ovsdb-tool", ["create", `${dir}/conf.db`, "/usr/share/openvswitch/vswitch.ovsschema"]);
  run("ovsdb-server", [
    "--detach",
    "--no-chdir",
    "--pidfile",
    "--log-file",
    `--remote=punix:${dir}/db.sock`,
    `${dir}/conf.db`,
  ]);
  run("ovs-vsctl", ["--no-wait", `--db=unix:${dir}/db.sock`, "init"]);
  run("ovs-vswitchd", [
    "--enable-dummy",
    "--disable-system",
    "--disable-system-route",
    "--dummy-numa",
    "0,0",
    "--detach",
    "--no-chdir",
    "--pidfile",
    "--log-file",
    `unix:${dir}/db.sock`,
  ]);
  appctl("dpctl/add-dp", DP);
  for (const p of OVS_PORTS) {
    const opts = p.type === "dummy"
      ? [`type=dummy-pmd`, `tx_pcap=${pcapPath(p.port_no)}`]
      : [`type=${p.type}`, ...Object.entries(p.options ?? {}).map(([k, v]) => `${k}=${v}`)];
    appctl("dpctl/add-if", DP, [p.name, `port_no=${p.port_no}`, ...opts].join(","));
  }
}

function stopOvs(): void {
  for (const target of ["ovs-vswitchd", "ovsdb-server"]) {
    try {
      run("ovs-appctl", ["-t", target, "exit"]);
    } catch (error) {
      console.error(`stopping ${target}: ${(error as Error).message}`);
    }
  }
}

function ufid(caseIndex: number, flowIndex: number): string {
  const n = (caseIndex * 16 + flowIndex + 1).toString(16).padStart(12, "0");
  return `ufid:0d1f0000-0000-4000-8000-${n}`;
}

async function recordCase(index: number): Promise<RecordedCase> {
  const c = OVS_CASES[index];
  const recorded: RecordedCase = { ...c, ports: OVS_PORTS, outputs: [] };
  appctl("dpctl/del-flows", DP);
  try {
    recorded.ovs_flows = c.flows.map((f, i) => {
      const id = ufid(index, i);
      appctl("dpctl/add-flow", DP, `${id},${f.flow}`, f.actions);
      return appctl("dpctl/get-flow", DP, id).trim();
    });
  } catch (error) {
    recorded.refused = (error as Error).message;
    return recorded;
  }
  const before = frameCounts();
  for (const input of c.input) {
    const name = OVS_PORTS.find((p) => p.port_no === input.port)!.name;
    appctl("netdev-dummy/receive", name, input.hex);
    await settle();
  }
  for (const [portNo, count] of before) {
    const frames = decodePcap(Deno.readFileSync(pcapPath(portNo))).slice(count);
    recorded.outputs.push({ port: portNo, hex: frames.map(bytesToHex) });
  }
  return recorded;
}

startOvs();
try {
  const cases: RecordedCase[] = [];
  for (let i = 0; i < OVS_CASES.length; i++) {
    const recorded = await recordCase(i);
    const sent = recorded.outputs.reduce((n, o) => n + o.hex.length, 0);
    console.log(`${recorded.refused ? "REFUSED" : `${sent} frames`}\t${recorded.name}`);
    if (recorded.refused) console.log(`  ${recorded.refused}`);
    cases.push(recorded);
  }
  Deno.writeTextFileSync(OUTPUT, JSON.stringify(cases, null, 2) + "\n");
  console.log(`wrote ${cases.length} cases to ${OUTPUT}`);
} finally {
  stopOvs();
  Deno.removeSync(dir, { recursive: true });
}
