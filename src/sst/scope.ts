/**
 * A cleanup stack: every resource an SST creates (child processes, files, markers) registers
 * how to undo itself, and {@link Scope.close} runs all of it, last first, on every exit path.
 *
 * @module
 */

/** One cleanup step. */
export type Cleanup = () => void | Promise<void>;

/** Collects cleanups and runs them once, in reverse order; a failing step does not stop others. */
export class Scope {
  #steps: { label: string; fn: Cleanup }[] = [];
  #closed = false;

  /** Registers `fn` to run at close. */
  defer(label: string, fn: Cleanup): void {
    if (this.#closed) throw new Error(`scope already closed (registering ${label})`);
    this.#steps.push({ label, fn });
  }

  /** Runs every step; returns the labels of the steps that failed, with their errors. */
  async close(): Promise<{ label: string; error: unknown }[]> {
    if (this.#closed) return [];
    this.#closed = true;
    const failures: { label: string; error: unknown }[] = [];
    for (const step of this.#steps.reverse()) {
      try {
        await step.fn();
      } catch (error) {
        failures.push({ label: step.label, error });
      }
    }
    return failures;
  }
}
