/**
 * Small helpers the peer runners share: whether a program is on PATH, and
 * a promise that resolves after a delay.
 *
 * @module
 */

/** True when `tool` is a file in one of PATH's folders. */
export function onPath(tool: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${tool}`).isFile) return true;
    } catch { /* not in this folder */ }
  }
  return false;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
