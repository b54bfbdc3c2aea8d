/**
 * Interning of flow action lists for the flow table: identical lists (same
 * actions with the same arguments) are stored once and named by a small
 * integer id, reference counted by the flows that use them. Slow path only.
 *
 * @module
 */

import type { Action } from "./action.ts";

/** Reference-counted store of action lists, one copy per distinct list. */
export class ActionInterner {
  private lists: (Action[] | null)[] = [];
  private texts: string[] = [];
  private refs: number[] = [];
  private freeIds: number[] = [];
  private idsByText = new Map<string, number>();

  /** Number of distinct lists held. */
  get size(): number {
    return this.idsByText.size;
  }

  /**
   * Returns the id of a list equal to `actions` (the first one given is kept),
   * adding a reference. The list must not be mutated afterwards.
   */
  acquire(actions: Action[]): number {
    const text = canonicalText(actions);
    let id = this.idsByText.get(text);
    if (id === undefined) {
      id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.lists.length;
      this.lists[id] = actions;
      this.texts[id] = text;
      this.refs[id] = 0;
      this.idsByText.set(text, id);
    }
    this.refs[id]++;
    return id;
  }

  /** Drops a reference to list `id`, forgetting the list at zero. */
  release(id: number): void {
    if (--this.refs[id] > 0) return;
    this.idsByText.delete(this.texts[id]);
    this.lists[id] = null;
    this.texts[id] = "";
    this.freeIds.push(id);
  }

  /** The list with this id; RangeError for an unknown id. */
  list(id: number): Action[] {
    const actions = this.lists[id];
    if (actions === undefined || actions === null) {
      throw new RangeError(`no action list with id ${id}`);
    }
    return actions;
  }

  /** Forgets every list. */
  clear(): void {
    this.lists = [];
    this.texts = [];
    this.refs = [];
    this.freeIds = [];
    this.idsByText.clear();
  }
}

/**
 * A text that two action lists share exactly when they are equal. Typed
 * arrays are spelt with their type (a replacer); lists without any, the
 * common case, skip the replacer, which keeps JSON.stringify on its fast
 * path (the same text, about 3 times faster).
 */
function canonicalText(actions: Action[]): string {
  if (!containsTypedArray(actions, 0)) return JSON.stringify(actions);
  return JSON.stringify(actions, (_name, value) => {
    if (value instanceof Uint8Array) return { u8: Array.from(value) };
    if (value instanceof Uint32Array) return { u32: Array.from(value) };
    return value;
  });
}

/** True when `value` holds a typed array (or anything ArrayBuffer-backed) at any depth up to 8. */
function containsTypedArray(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (ArrayBuffer.isView(value) || depth > 8) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (containsTypedArray(value[i], depth + 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    if (containsTypedArray((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}
