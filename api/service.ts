/**
 * The deno-dpif service: restores (or creates) the datapaths, serves the
 * REST API, optionally runs the learning switch, and stops cleanly on
 * SIGINT/SIGTERM. Start order: state store, backend, restore, learning
 * switch, then the listener, so forwarding resumes from the stored state
 * before any client is answered; then the port monitor (port_monitor.ts),
 * which logs link changes and growing error counters. At stop, the shared
 * packet pool's in-use count is logged ("packet pool at stop"; an error
 * when buffers leaked).
 *
 * @module
 */

import { DatapathRegistry } from "../datapath/registry.ts";
import { createApp, DPIF_VERSION } from "./app.ts";
import { type BackendPlan, selectBackend } from "./backend.ts";
import { ChangeFeed } from "./change_feed.ts";
import { Control } from "./control.ts";
import { LearningSwitch } from "./learning_switch.ts";
import { PortMonitor } from "./port_monitor.ts";
import { createLogger, type Logger } from "./logger.ts";
import {
  isLoopback,
  parseServiceArgs,
  SERVICE_HELP,
  type ServiceConfig,
} from "./service_config.ts";
import { StateStore } from "./state_store.ts";
import { StateWriter } from "./state_writer.ts";

/** A running service. */
export interface RunningService {
  /** The address the API listens on. */
  hostname: string;
  /** The port it listens on (the real one when 0 was asked for). */
  port: number;
  /** The datapaths. */
  registry: DatapathRegistry;
  /**
   * Stops listening, ends streams, closes datapaths, backend and state
   * (idempotent); logs "stopped" in any case, then rethrows the first step
   * that failed.
   */
  stop(): Promise<void>;
}

/** Options for {@linkcode startService}. */
export interface StartOptions {
  /** Default: JSON lines on stderr at the configured level. */
  logger?: Logger;
}

/**
 * Starts the service.
 * @throws {Error} when the listen address needs a token and none is
 *   configured, the token file is unreadable or empty, or the state
 *   database cannot be opened.
 */
export async function startService(
  config: ServiceConfig,
  options: StartOptions = {},
): Promise<RunningService> {
  const log = options.logger ?? createLogger({ level: config.logLevel, base: { svc: "dpif" } });
  const token = config.tokenFile === null ? undefined : await readToken(config.tokenFile);
  if (!isLoopback(config.hostname) && token === undefined) {
    throw new Error(
      `refusing to listen on ${config.hostname}: not a loopback address and no --token-file`,
    );
  }
  // The state is read (and the defaults of a first start written) on this
  // thread; then that connection is closed and every later write goes
  // through the writer thread (state_writer.ts: the API's commits never
  // block this thread).
  let initial = config.stateDir === null ? undefined : StateStore.open(config.stateDir);
  let store: StateWriter | undefined;
  const backend = selectBackend({ dpdk: config.dpdk, eal: config.eal, learning: config.learning });
  log.info("backend", { type: backend.datapathType, reason: backend.reason });
  const registry = new DatapathRegistry(backend.datapathOptions);
  const feed = new ChangeFeed();
  const shutdown = new AbortController();
  let learning: LearningSwitch | undefined;
  try {
    const liveFlows = bringUp(registry, backend, initial, feed, log);
    if (initial !== undefined) {
      initial.close();
      initial = undefined;
      store = await StateWriter.open(config.stateDir!, { liveFlows });
    }
    if (backend.start !== undefined) {
      await backend.start(registry);
      log.info("pmd threads started", {
        datapath: backend.defaultDatapath,
        threads: backend.pmdControl?.get(backend.defaultDatapath)?.threads ?? 0,
      });
    }
    if (config.learning) {
      learning = new LearningSwitch({
        datapath: registry.open(backend.defaultDatapath),
        logger: log,
      });
      learning.start();
      log.info("learning switch started", { datapath: backend.defaultDatapath });
    }
  } catch (error) {
    await backend.stop?.();
    registry.closeAll();
    initial?.close();
    await store?.close();
    backend.close();
    throw error;
  }
  const app = createApp({
    registry,
    store,
    token,
    bodyLimit: config.bodyLimit,
    logger: log,
    feed,
    signal: shutdown.signal,
    pmdControl: backend.pmdControl,
    info: {
      version: DPIF_VERSION,
      datapathType: backend.datapathType,
      dpdkVersion: backend.dpdkVersion,
    },
  });
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: config.hostname,
    port: config.port,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    onError: (error) => {
      log.error("unhandled request error", { error });
      return new Response(
        JSON.stringify({ error: { code: "EIO", message: "internal error" } }),
        { status: 500, headers: { "content-type": "application/json" } },
      );
    },
  }, app.fetch);
  const addr = await listening.promise;
  log.info("listening", { hostname: addr.hostname, port: addr.port, token: token !== undefined });
  // Link changes and growing error counters of every port go to the log.
  const portMonitor = new PortMonitor({ registry, logger: log });
  portMonitor.start();

  let stopping: Promise<void> | undefined;
  return {
    hostname: addr.hostname,
    port: addr.port,
    registry,
    stop() {
      stopping ??= (async () => {
        log.info("stopping");
        shutdown.abort();
        feed.closeAll();
        // Every step runs even when an earlier one fails, so everything that
        // can be released is; the first failure is rethrown at the end.
        const failures: unknown[] = [];
        const step = async (what: string, action: () => unknown) => {
          try {
            await action();
          } catch (error) {
            failures.push(error);
            log.error(`stop: ${what} failed`, { error });
          }
        };
        portMonitor.stop();
        await step("learning switch", () => learning?.stop());
        await step("http server", () => server.shutdown());
        await step("pmd threads", () => backend.stop?.());
        await step("datapaths", () => registry.closeAll());
        const pool = backend.datapathOptions.pool;
        if (pool !== undefined) {
          // Every port is closed: anything still out of the shared pool is a leak.
          const fields = { in_use: pool.inUse(), capacity: pool.capacity };
          if (fields.in_use === 0) log.info("packet pool at stop", fields);
          else log.error("packet pool at stop: buffers leaked", fields);
        }
        await step("state store", () => store?.close());
        await step("backend", () => backend.close());
        log.info("stopped", { clean: failures.length === 0 });
        if (failures.length > 0) throw failures[0];
      })();
      return stopping;
    },
  };
}

/**
 * Restores the stored state, or creates (and stores) the defaults on a
 * first start. Returns the stored flow count of each datapath.
 */
function bringUp(
  registry: DatapathRegistry,
  backend: BackendPlan,
  store: StateStore | undefined,
  feed: ChangeFeed,
  log: Logger,
): Record<string, number> {
  const control = new Control(registry, { store, feed, logger: log });
  if (store !== undefined && store.isInitialized()) {
    const stored = store.load();
    const counts = control.restore(stored);
    log.info("state restored", counts);
    return Object.fromEntries(stored.map((dp) => [dp.name, dp.flows.length]));
  }
  const dp = backend.defaultDatapath;
  const createDefaults = () => {
    control.createDatapath(dp);
    for (const port of backend.defaultPorts) control.addPort(dp, port);
    store?.markInitialized();
  };
  if (store === undefined) createDefaults();
  else store.transaction(createDefaults);
  log.info("defaults created", { datapath: dp, ports: backend.defaultPorts.map((p) => p.name) });
  return {};
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`--token-file ${path}: ${(error as Error).message}`);
  }
  const token = text.trim();
  if (token === "" || /\s/.test(token)) {
    throw new Error(`--token-file ${path}: must hold one token without spaces`);
  }
  return token;
}

/**
 * Runs the service from command-line flags until SIGINT or SIGTERM; returns
 * the process exit code (0 after a clean stop, 2 for bad flags, 1 when it
 * could not start).
 */
export async function runService(args: string[]): Promise<number> {
  let config: ServiceConfig | "help";
  try {
    config = parseServiceArgs(args);
  } catch (error) {
    console.error(`dpif: ${(error as Error).message}`);
    return 2;
  }
  if (config === "help") {
    console.log(SERVICE_HELP);
    return 0;
  }
  const log = createLogger({ level: config.logLevel, base: { svc: "dpif" } });
  // Listen before starting, so a signal during start-up still stops cleanly, and
  // until the stop is complete: a signal sent to the whole process group often
  // arrives twice (from the sender, and forwarded by a parent such as
  // `deno task`), and one arriving with no listener left would end the process
  // before it has released everything.
  const signalled = Promise.withResolvers<string>();
  const onInt = () => signalled.resolve("SIGINT");
  const onTerm = () => signalled.resolve("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    let service: RunningService;
    try {
      service = await startService(config, { logger: log });
    } catch (error) {
      log.error("could not start", { error });
      return 1;
    }
    const signal = await signalled.promise;
    log.info("signal", { signal });
    try {
      await service.stop();
    } catch {
      return 1; // logged by stop
    }
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
}
