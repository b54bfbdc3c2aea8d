/**
 * What the crash-recovery driver knows about the service's state: for
 * every port and flow it ever touched, the states it may be in after a
 * kill -9. An acknowledged (2xx) change leaves one state; a change that was
 * never answered leaves two (before or after), and the changes of one
 * unanswered `operate` batch must all be before or all after.
 * {@linkcode CrashModel.verify} compares the restarted service's ports and
 * flows with that and lists every violation, then settles the uncertain
 * states to what was observed so the next round starts from certainty.
 *
 * Flows and actions are kept in the datapath's canonical text (what a dump
 * prints), so "complete" means: the key text and the actions text equal
 * one that was sent.
 *
 * @module
 */

/** A port as the model expects it (null: absent). */
export interface ExpectedPort {
  port_no: number;
  type: string;
}

/** A flow as the dump shows it. */
export interface SeenFlow {
  ufid: string;
  flow: string;
  actions: string;
}

/** A port as the port list shows it. */
export interface SeenPort {
  name: string;
  port_no: number;
  type: string;
}

/** One state change of a flow or port; `before`/`after` null means absent. */
export interface Change<T> {
  id: string;
  before: T | null;
  after: T | null;
}

/** Changes of one unanswered operate batch: all applied or none. */
interface BatchGroup {
  label: string;
  flows: Change<string>[];
}

/** Expected state of the service; see the module doc. */
export class CrashModel {
  /** Canonical key text of every flow ever put, by UFID. */
  readonly flowKeys = new Map<string, string>();
  /** UFID -> allowed actions texts (null: absent). */
  readonly #flows = new Map<string, (string | null)[]>();
  /** Port name -> allowed states (null: absent). */
  readonly #ports = new Map<string, (ExpectedPort | null)[]>();
  #batches: BatchGroup[] = [];
  /** Of the unanswered changes the last verify settled: how many had been applied, how many not. */
  lastSettled = { applied: 0, notApplied: 0 };

  /** Names of ports that must not be checked (created by the service itself). */
  readonly builtinPorts: Set<string>;

  /** Creates an empty model; `builtinPorts` are ignored by verify. */
  constructor(builtinPorts: Iterable<string>) {
    this.builtinPorts = new Set(builtinPorts);
  }

  /** The certain actions of a flow, null when absent, undefined when uncertain. */
  flowState(ufid: string): string | null | undefined {
    const states = this.#flows.get(ufid);
    if (states === undefined) return null;
    return states.length === 1 ? states[0] : undefined;
  }

  /** The certain state of a port, null when absent, undefined when uncertain. */
  portState(name: string): ExpectedPort | null | undefined {
    const states = this.#ports.get(name);
    if (states === undefined) return null;
    return states.length === 1 ? states[0] : undefined;
  }

  /** Every flow UFID the model is certain is present. */
  presentFlows(): string[] {
    return [...this.#flows].filter(([, s]) => s.length === 1 && s[0] !== null).map(([u]) => u);
  }

  /** Every port name the model is certain is present. */
  presentPorts(): string[] {
    return [...this.#ports].filter(([, s]) => s.length === 1 && s[0] !== null).map(([n]) => n);
  }

  /** Records an acknowledged flow change. */
  ackFlow(change: Change<string>): void {
    this.#flows.set(change.id, [change.after]);
  }

  /** Records a flow change that was never answered. */
  unansweredFlow(change: Change<string>): void {
    this.#flows.set(change.id, [change.before, change.after]);
  }

  /** Records an unanswered operate batch (its flow changes all or none). */
  unansweredBatch(label: string, changes: Change<string>[]): void {
    for (const change of changes) this.unansweredFlow(change);
    this.#batches.push({ label, flows: changes });
  }

  /** Records an acknowledged port change. */
  ackPort(change: Change<ExpectedPort>): void {
    this.#ports.set(change.id, [change.after]);
  }

  /** Records a port change that was never answered. */
  unansweredPort(change: Change<ExpectedPort>): void {
    this.#ports.set(change.id, [change.before, change.after]);
  }

  /**
   * Checks the restarted service's state; returns the violations (empty when
   * all is well) and settles every uncertain state to what was seen.
   */
  verify(ports: SeenPort[], flows: SeenFlow[]): string[] {
    const violations: string[] = [];
    const settled = { applied: 0, notApplied: 0 };
    const count = <T>(allowed: (T | null)[], match: T | null | undefined) => {
      if (allowed.length !== 2 || match === undefined || allowed[0] === allowed[1]) return;
      if (match === allowed[1]) settled.applied++;
      else settled.notApplied++;
    };
    const seenPorts = new Map(ports.map((p) => [p.name, p]));
    for (const port of ports) {
      if (this.builtinPorts.has(port.name)) continue;
      const allowed = this.#ports.get(port.name);
      if (allowed === undefined) violations.push(`port ${port.name}: never added, yet present`);
    }
    for (const [name, allowed] of this.#ports) {
      const seen = seenPorts.get(name);
      const match = allowed.find((state) =>
        state === null
          ? seen === undefined
          : seen !== undefined && seen.port_no === state.port_no && seen.type === state.type
      );
      count(allowed, match);
      if (match === undefined) {
        violations.push(
          `port ${name}: expected ${JSON.stringify(allowed)}, found ${
            JSON.stringify(seen ?? null)
          }`,
        );
      }
      this.#ports.set(name, [
        seen === undefined ? null : { port_no: seen.port_no, type: seen.type },
      ]);
    }

    const seenFlows = new Map(flows.map((f) => [f.ufid, f]));
    for (const flow of flows) {
      if (!this.#flows.has(flow.ufid)) {
        violations.push(`flow ${flow.ufid}: never put, yet present`);
      } else if (flow.flow !== this.flowKeys.get(flow.ufid)) {
        violations.push(
          `flow ${flow.ufid}: key '${flow.flow}' is not the key put ` +
            `'${this.flowKeys.get(flow.ufid)}'`,
        );
      }
    }
    for (const group of this.#batches) {
      const applied = group.flows.map((c) => actionsOf(seenFlows.get(c.id)) === c.after);
      const kept = group.flows.map((c) => actionsOf(seenFlows.get(c.id)) === c.before);
      if (!applied.every(Boolean) && !kept.every(Boolean)) {
        violations.push(`operate batch ${group.label}: half applied (${applied.join(",")})`);
      }
    }
    this.#batches = [];
    for (const [ufid, allowed] of this.#flows) {
      const actions = actionsOf(seenFlows.get(ufid));
      if (allowed.includes(actions)) count(allowed, actions);
      else {
        violations.push(
          `flow ${ufid}: expected actions ${JSON.stringify(allowed)}, found ${
            JSON.stringify(actions)
          }`,
        );
      }
      this.#flows.set(ufid, [actions]);
    }
    this.lastSettled = settled;
    return violations;
  }
}

function actionsOf(flow: SeenFlow | undefined): string | null {
  return flow === undefined ? null : flow.actions;
}
