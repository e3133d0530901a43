/**
 * What every child's environment holds (src/proc/process.ts `childEnv`): the allow-list of ours,
 * the C locale whatever ours is (we read the tools' messages: rsync_failures.ts,
 * connection_failures.ts, tls_failures.ts), the run's id, and nothing else of ours.
 */
import { assertEquals } from "../support/assert.ts";
import { childEnv, RUN_ID_ENV, runId } from "../../src/proc/process.ts";

const GERMAN: Record<string, string> = {
  PATH: "/usr/bin:/bin",
  LANG: "de_DE.UTF-8",
  LC_ALL: "de_DE.UTF-8",
  LC_MESSAGES: "de_DE.UTF-8",
  LANGUAGE: "de",
  WSREP_SST_OPT_REMOTE_AUTH: "secret",
};

Deno.test("child environment: the C locale whatever ours is, so the tools' messages read as the rule tables expect", () => {
  const env = childEnv(undefined, (n) => GERMAN[n]);
  assertEquals(env.LC_ALL, "C");
  assertEquals(env.PATH, "/usr/bin:/bin");
});

Deno.test("child environment: the per-SST secret of mariadbd's environment never reaches a child; the run id does", () => {
  const env = childEnv({ OWN: "1" }, (n) => GERMAN[n]);
  assertEquals(env.WSREP_SST_OPT_REMOTE_AUTH, undefined);
  assertEquals(env.OWN, "1");
  assertEquals(env[RUN_ID_ENV], runId());
});
