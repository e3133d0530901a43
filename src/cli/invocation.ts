/**
 * What the program was started for, decided once from argv (main.ts switches on it):
 *
 * - `sst`: mariadbd's call — it starts with an option (never a command word) and carries
 *   `--role` or `--address`;
 * - `check-responder`: one connection of `check --listen` (started by its socat);
 * - `donor-gate`: one donor connection checked against `[sst] donor-names` (started by the
 *   joiner's socat);
 * - `cli`: anything else, the human-facing command line (`--help`, `check`, `certs`, `--version`).
 *
 * @module
 */
import { RESPONDER_FLAG } from "./check_wire.ts";
import { DONOR_GATE_FLAG } from "../tunnel/donor_gate.ts";

/** The kinds of invocation; `args`: what that mode parses. */
export type Invocation =
  | { kind: "sst"; args: readonly string[] }
  | { kind: "check-responder" }
  | { kind: "donor-gate"; args: string[] }
  | { kind: "cli"; args: string[] };

/** Decides what argv asks for. */
export function invocationOf(argv: readonly string[]): Invocation {
  if (argv[0] === RESPONDER_FLAG) return { kind: "check-responder" };
  if (argv[0] === DONOR_GATE_FLAG) return { kind: "donor-gate", args: argv.slice(1) };
  const sst = (argv[0] ?? "").startsWith("--") &&
    argv.some((a) => /^--(role|address)(=|$)/.test(a)) &&
    !argv.includes("--help") && !argv.includes("--version");
  return sst ? { kind: "sst", args: argv } : { kind: "cli", args: [...argv] };
}
