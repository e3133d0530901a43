/**
 * Minimal assertions (JSR's @std/assert is not reachable from our machines).
 *
 * @module
 */
export { deepStrictEqual, match, ok } from "node:assert/strict";
import { deepStrictEqual, match, ok } from "node:assert/strict";

/** Asserts `actual` deep-equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  deepStrictEqual(actual, expected, msg);
}

/** Asserts `value` is truthy. */
export function assert(value: unknown, msg?: string): asserts value {
  ok(value, msg);
}

/** Asserts `text` matches `re`. */
export function assertMatch(text: string | undefined, re: RegExp, msg?: string): void {
  match(text ?? "", re, msg);
}

/** Asserts that `fn` throws (or rejects) an error of class `cls` whose message matches `re`. */
export async function assertRejects(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  re?: RegExp,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    if (re) match((e as Error).message, re);
    return e as Error;
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}
