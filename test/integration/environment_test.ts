/**
 * Issue 23 item 7: environment errors on our own paths during a loopback SST, with real socat,
 * rsync and openssl. A datadir or tmpdir that is missing, not writable by the user we run as,
 * on a read-only or full filesystem, or behind a loop of links is an expected failure: the side
 * that meets it exits with the errno (2, 13, 30, 28, 40; never 255), logs one ERROR line naming
 * the path, the user and the fix (no stack trace), and leaves no process and no file of its own.
 *
 * Permission cases run the side as `nobody` (`setpriv --reuid=65534 ...`, as identity_test.ts);
 * read-only cases bind-mount the directory read-only; full cases mount a filled 1 MiB tmpfs.
 * Every case is recorded in the hardening ledger as a fault.
 */
import { assertEquals } from "../support/assert.ts";
import { driveSst, type SideResult } from "../../scripts/lib/sst_driver.ts";
import {
  type Fixture,
  leftovers,
  mountTmpfs,
  waitNoProcesses,
  withFixture,
} from "../../scripts/lib/fixture.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";

type Side = "joiner" | "donor";

/** Runs a command that must succeed (mount and friends). */
async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
}

/** Mounts `dir` on itself read-only; returns the unmount. */
async function readOnly(dir: string): Promise<() => Promise<void>> {
  await sh("mount", ["--bind", dir, dir]);
  await sh("mount", ["-o", "remount,ro,bind", dir]);
  return () => sh("umount", [dir]).catch(() => sh("umount", ["-l", dir]));
}

/** Name of the file that fills a full tmpfs (not counted as a leftover). */
const FILLER = "filler";

/** Mounts a 1 MiB tmpfs on `dir` and fills it; returns the unmount. */
async function full(dir: string): Promise<() => Promise<void>> {
  const unmount = await mountTmpfs(dir, 1);
  await Deno.chmod(dir, 0o777);
  const file = await Deno.open(`${dir}/${FILLER}`, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) await file.write(chunk);
  } catch {
    /* full */
  } finally {
    file.close();
  }
  return unmount;
}

/** Replaces `dir` by a link to a link to itself; returns the undo. */
async function linkLoop(f: Fixture, dir: string): Promise<() => Promise<void>> {
  await Deno.rename(dir, `${dir}.real`);
  await Deno.symlink(`${dir}.loop`, dir);
  await Deno.symlink(dir, `${dir}.loop`);
  return async () => {
    await Deno.remove(dir);
    await Deno.remove(`${dir}.loop`);
    await Deno.rename(`${dir}.real`, dir);
    void f;
  };
}

/** Moves `dir` away; returns the undo. */
async function missing(dir: string): Promise<() => Promise<void>> {
  await Deno.rename(dir, `${dir}.away`);
  return () => Deno.rename(`${dir}.away`, dir);
}

/** Lets `side` run as nobody: its tree, tmpdir and TLS files are its own (or readable). */
async function asNobody(f: Fixture, side: Side): Promise<void> {
  await Deno.chmod(f.root, 0o711);
  const n = f[side];
  for (const p of [f.ca.cert, n.leaf.cert, n.defaultsFile]) await Deno.chmod(p, 0o644);
  await Deno.chown(n.leaf.key, 65534, 65534);
  await sh("chown", ["-R", "65534:65534", n.layout.datadir, n.tmpdir]);
  n.wrap = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
}

/** One environment fault. */
interface Case {
  side: Side;
  kind: "ENOENT" | "EACCES" | "EROFS" | "ENOSPC" | "ELOOP";
  /** What is wrong, for the test name and the ledger. */
  what: string;
  exit: number;
  /** Breaks the environment; returns the repair (run before the leftover checks). */
  setup: (f: Fixture) => Promise<() => Promise<void>>;
  /** The one ERROR line. */
  message: (f: Fixture) => RegExp;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const datadirOf = (f: Fixture, side: Side) => f[side].layout.datadir;

/** The ENOENT and ELOOP cases start the side outside its (broken) datadir. */
function elsewhere(f: Fixture, side: Side): void {
  f[side].cwd = f.root;
}

/** `cannot create wsrep_sst.pid in <datadir>: <rest>`, the lock being the first file we write. */
function lockLine(f: Fixture, side: Side, rest: string): RegExp {
  return new RegExp(`cannot create wsrep_sst\\.pid in ${esc(datadirOf(f, side))}: ${rest}`);
}

const CASES: Case[] = [];
for (const side of ["joiner", "donor"] as const) {
  CASES.push(
    {
      side,
      kind: "ENOENT",
      what: "datadir does not exist",
      exit: 2,
      setup: (f) => {
        elsewhere(f, side);
        return missing(datadirOf(f, side));
      },
      message: (f) =>
        lockLine(
          f,
          side,
          "it does not exist; create .*data, writable by uid 0 \\(root\\), the user this SST " +
            "runs as, or point \\[mysqld\\] datadir elsewhere",
        ),
    },
    {
      side,
      kind: "EROFS",
      what: "datadir on a read-only filesystem",
      exit: 30,
      setup: (f) => readOnly(datadirOf(f, side)),
      message: (f) => lockLine(f, side, "it is on a read-only filesystem; remount it read-write"),
    },
    {
      side,
      kind: "ELOOP",
      what: "datadir is a loop of symbolic links",
      exit: 40,
      setup: (f) => {
        elsewhere(f, side);
        return linkLoop(f, datadirOf(f, side));
      },
      message: (f) => lockLine(f, side, "the path goes through a loop of symbolic links; fix"),
    },
    {
      side,
      kind: "ENOSPC",
      what: "tmpdir on a full filesystem",
      exit: 28,
      setup: (f) => full(f[side].tmpdir),
      message: (f) =>
        new RegExp(
          `cannot write ${esc(f[side].tmpdir)}/wsrep_sst_rsync_tunnel\\.[^ ]+: no space left on ` +
            "its filesystem; free space there, or point \\[sst\\] tmpdir elsewhere",
        ),
    },
  );
}
CASES.push(
  {
    side: "joiner",
    kind: "ENOSPC",
    what: "datadir on a full filesystem",
    exit: 28,
    setup: (f) => full(datadirOf(f, "joiner")),
    message: (f) => lockLine(f, "joiner", "no space left on its filesystem; free space there"),
  },
  {
    side: "joiner",
    kind: "EACCES",
    what: "datadir not writable by the user we run as (nobody)",
    exit: 13,
    setup: async (f) => {
      await asNobody(f, "joiner");
      await Deno.chown(datadirOf(f, "joiner"), 0, 0);
      return () => Promise.resolve();
    },
    message: (f) =>
      lockLine(
        f,
        "joiner",
        `permission denied for uid 65534 \\(nobody\\), the user this SST runs as; chown ${
          esc(datadirOf(f, "joiner"))
        } to that user \\(or chmod it so that user can write it\\)`,
      ),
  },
  {
    side: "donor",
    kind: "EACCES",
    what: "a schema directory the user we run as (nobody) cannot read",
    exit: 13,
    setup: async (f) => {
      await asNobody(f, "donor");
      const dir = `${datadirOf(f, "donor")}/shop`;
      await Deno.chown(dir, 0, 0);
      await Deno.chmod(dir, 0o700);
      return () => Promise.resolve();
    },
    message: (f) => {
      const dir = esc(`${datadirOf(f, "donor")}/shop`);
      return new RegExp(
        `cannot list ${dir}: permission denied for uid 65534 \\(nobody\\), the user this SST ` +
          `runs as; chown ${dir} to that user \\(or chmod it so that user can read it\\)`,
      );
    },
  },
);

/** Problems with what a failed side left: processes, private files, run files. */
async function leftBehind(f: Fixture, name: string): Promise<string[]> {
  const procs = await waitNoProcesses(f.root, 5000);
  recordCount("orphans", `environment: ${name}`, procs.length, procs.join("; ") || undefined);
  const out = procs.map((p) => `left running: ${p}`);
  for (const side of ["donor", "joiner"] as const) {
    const n = f[side];
    for (const e of leftovers(n.tmpdir)) out.push(`${side} tmpdir: ${e}`);
    for (const e of leftovers(n.layout.datadir)) {
      if (["wsrep_sst.pid", "sst_in_progress", "tables_flushed"].includes(e)) {
        out.push(`${side} datadir: ${e}`);
      }
    }
  }
  return out;
}

/** Problems with how the side that met the fault ended. */
function endProblems(c: Case, f: Fixture, hit: SideResult | null): string[] {
  if (!hit) return [`the ${c.side} never ran`];
  const out: string[] = [];
  if (hit.code !== c.exit) out.push(`${c.side} exit ${hit.code}/${hit.signal}, want ${c.exit}`);
  const errors = hit.stderr.split("\n").filter((l) => l.includes("[ERROR]"));
  if (errors.length !== 1) out.push(`${errors.length} ERROR lines: ${errors.join(" | ")}`);
  else if (!c.message(f).test(errors[0])) out.push(`ERROR line: ${errors[0]}`);
  if (/internal error|^\s+at /m.test(hit.stderr)) out.push("a stack trace / internal error");
  if (c.side === "donor" && hit.lines.some((l) => l.startsWith("done"))) out.push("donor done");
  return out;
}

for (const c of CASES) {
  const name = `${c.side} ${c.kind}: ${c.what}`;
  Deno.test(`environment: ${name} exits ${c.exit} with one line naming the path and the fix, leaving nothing behind`, () =>
    withFixture({}, async (f) => {
      let repair: (() => Promise<void>) | null = await c.setup(f);
      const repairOnce = async () => {
        const r = repair;
        repair = null;
        await r?.();
      };
      let problems: string[];
      try {
        const r = await driveSst({
          address: f.address,
          joiner: f.joiner,
          donor: f.donor,
          timeoutMs: 30_000,
        });
        problems = endProblems(c, f, c.side === "joiner" ? r.joiner : r.donor);
        if (c.side === "joiner" && r.donor !== null) problems.push("a donor was started");
        // The filler of a full tmpfs is the test's, not a leftover.
        await Deno.remove(`${f[c.side].tmpdir}/${FILLER}`).catch(() => {});
        await Deno.remove(`${datadirOf(f, c.side)}/${FILLER}`).catch(() => {});
        if (c.kind !== "ENOSPC") await repairOnce();
        problems.push(...await leftBehind(f, name));
      } finally {
        await repairOnce();
      }
      record({
        kind: "fault",
        name: `environment: ${name}`,
        ok: problems.length === 0,
        detail: problems.join("; ") || undefined,
      });
      assertEquals(problems, [], name);
    }));
}
