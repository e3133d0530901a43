/**
 * What `check` found: one line per finding on stderr as it is found (ERROR with the exit code
 * the SST would end with, WARNING, or INFO), and the verdict at the end: exit 0 only when no
 * finding is an error, else the exit code of the first error (the SST stops at its first).
 *
 * @module
 */
import { SstError } from "../core/errors.ts";
import * as log from "../core/log.ts";

/** The findings of one check run. */
export class CheckReport {
  private readonly errors: SstError[] = [];
  private warnings = 0;

  /** A finding the SST would fail on, with its exit code (the same one twice is told once). */
  error(e: SstError): void {
    if (this.errors.some((x) => x.message === e.message)) return;
    log.error(e.message);
    this.errors.push(e);
  }

  /** A finding the SST survives, but an operator should fix. */
  warn(text: string): void {
    log.warn(text);
    this.warnings++;
  }

  /** A fact worth knowing (what was checked and found good). */
  info(text: string): void {
    log.info(text);
  }

  /**
   * Runs one check; an expected failure ({@link SstError}) it throws becomes an error finding.
   * Returns the check's result, or undefined when it failed.
   */
  async step<T>(fn: () => Promise<T> | T): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof SstError)) throw e;
      this.error(e);
      return undefined;
    }
  }

  /** Logs the verdict; returns the exit status. */
  finish(): number {
    if (this.errors.length === 0) {
      log.info(`configuration OK${this.warnings ? ` (${this.warnings} warning(s) above)` : ""}`);
      return 0;
    }
    const code = this.errors[0].exitCode;
    log.info(
      `check found ${this.errors.length} error(s) and ${this.warnings} warning(s); an SST ` +
        `would end with exit code ${code}`,
    );
    return code;
  }
}
