/**
 * Minimal assertions for the e2e tests (no remote imports needed).
 *
 * @module
 */

/** Thrown by the assertions below. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError(message);
}

function stable(v: unknown): string {
  return JSON.stringify(v, (_k, val) => {
    if (val instanceof Map) val = Object.fromEntries(val);
    if (val && typeof val === "object" && !Array.isArray(val)) {
      return Object.fromEntries(Object.entries(val).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return val;
  }, 2);
}

/** Deep equality through a key-sorted JSON rendering (plain data only). */
export function assertEquals<T>(actual: T, expected: T, message: string): void {
  const a = stable(actual);
  const e = stable(expected);
  if (a !== e) {
    throw new AssertionError(`${message}\n--- actual ---\n${a}\n--- expected ---\n${e}`);
  }
}

/** Lists keys whose values differ between two string maps (for readable failures). */
export function diffMaps(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const k of [...keys].sort()) {
    if (a[k] !== b[k]) out.push(`${k}: ${a[k] ?? "<missing>"} != ${b[k] ?? "<missing>"}`);
  }
  return out;
}
