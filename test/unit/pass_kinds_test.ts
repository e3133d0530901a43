/**
 * A pass's kind alone decides how it treats its rsyncs (src/transfer/pass.ts): the same rsync
 * outcome (a stand-in rsync through the real process adapter) is tolerated by a hot pass and
 * fails a locked pass; only a hot pass feeds the pre-copy record: with every job that exited 0,
 * and with the tolerated one together with the lines naming its files that shrank or vanished
 * (the record leaves those out); only the locked pass writes the protocol's progress lines.
 * Every rsync's process group is recorded, whatever the kind.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { type Pass, runPass } from "../../src/transfer/pass.ts";
import { OPENED_PREFIX, type Tunnel } from "../../src/transfer/rsync_runner.ts";
import type { RsyncLine } from "../../src/transfer/rsync_failures.ts";
import type { PrecopyRecord } from "../../src/transfer/precopy_record.ts";
import type { RsyncJob } from "../../src/transfer/passes.ts";
import { NO_WIRE_OPTIONS } from "../../src/config/wire_options.ts";
import { type Child, denoAdapter, type SpawnSpec } from "../../src/proc/process.ts";
import { TransferError } from "../../src/core/errors.ts";

/** Real rsync 3.5.0 lines: a file truncated while read, two vanished; exit 23. */
const SHRUNK = [
  'rsync: [sender] read errors mapping "/tmp/rd/src/big": No data available (61)',
  'file has vanished: "/tmp/rd/src/z"',
  "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]",
];

function job(label: string): RsyncJob {
  return {
    label,
    selection: { kind: "files" },
    options: [],
    sources: [`/d/${label}/`],
    module: "m",
  };
}

/** A tunnel whose `rsync` prints `lines` and exits `code` for the job labelled `failing`. */
function tunnel(failing: string, code: number, groups: number[]): Tunnel {
  return {
    adapter: {
      spawn(spec: SpawnSpec): Child {
        const fails = spec.args.includes(`/d/${failing}/`);
        return denoAdapter.spawn({
          ...spec,
          cmd: "sh",
          args: [
            "-c",
            'printf "%s\\n" "$@" >&2; exit $0',
            String(fails ? code : 0),
            ...(fails ? SHRUNK : []),
          ],
        });
      },
    },
    rsync: "rsync",
    rsh: { rsh: "true", env: {} },
    passwordFile: "/nonexistent",
    idleTimeoutSec: 30,
    statusDir: "/nonexistent",
    peer: "127.0.0.1:1",
    wire: NO_WIRE_OPTIONS,
    streams: 2,
    stop: { signal: new AbortController().signal, check: () => {} },
    recordGroup: (pgid) => groups.push(pgid),
    relayed: new Set(),
  };
}

const PLAN = {
  lead: job("structure"),
  jobs: [{ job: job("shop"), bytes: 10 }, { job: job("crm"), bytes: 20 }],
  total: 30,
};

async function runKind(kind: "hot" | "locked") {
  const ended: string[] = [];
  const record = {
    ended: (j: RsyncJob, settled: readonly RsyncLine[]) =>
      ended.push(`${j.label}${settled.map((l) => ` [${l.kind}: ${l.text}]`).join("")}`),
  } as unknown as PrecopyRecord;
  const pass: Pass = kind === "hot"
    ? { kind, plan: PLAN, delta: false, record }
    : { kind, plan: PLAN, delta: true };
  const lines: string[] = [];
  const groups: number[] = [];
  let error: unknown = null;
  await runPass(pass, tunnel("shop", 23, groups), { protocol: (l) => lines.push(l) })
    .catch((e) => error = e);
  return { ended: ended.sort(), lines, groups, error };
}

Deno.test("pass kinds: a hot pass tolerates files that shrank or vanished and hands the record every job, the tolerated one with the lines naming those files; it writes no protocol line", async () => {
  const hot = await runKind("hot");
  assertEquals(hot.error, null);
  assertEquals(hot.ended, [
    "crm",
    `shop [shrunk: ${SHRUNK[0]}] [vanished: ${SHRUNK[1]}]`,
    "structure",
  ]);
  assertEquals(hot.lines, []);
  assertEquals(hot.groups.length, 3);
});

Deno.test("pass kinds: a locked pass fails on the same rsync outcome, feeds no record, and writes the progress lines", async () => {
  const locked = await runKind("locked");
  assert(locked.error instanceof TransferError, String(locked.error));
  assertEquals(locked.ended, []);
  assertEquals(locked.lines[0], "total 30");
  assert(locked.groups.length >= 1);
});

Deno.test("pass kinds: the completion record is one whole-file rsync with the records before it, its process group recorded", async () => {
  const groups: number[] = [];
  const seen: (readonly string[])[] = [];
  const t = tunnel("none", 0, groups);
  const spawn = t.adapter.spawn;
  t.adapter = { spawn: (spec) => (seen.push(spec.args), spawn(spec)) };
  await runPass({ kind: "completion", file: "/p/sst_complete", before: ["/p/manifest"] }, t, {});
  assertEquals(seen.length, 1);
  assert(seen[0].includes("--whole-file"), seen[0].join(" "));
  const [manifest, record] = ["/p/manifest", "/p/sst_complete"].map((f) => seen[0].indexOf(f));
  assert(manifest >= 0 && record > manifest, "the records before it, then the completion record");
  assertEquals(groups.length, 1);
});

Deno.test("pass kinds: a clone pass sends every source from its clone root (module and names unchanged), asks rsync to name each file it opens and hands each name on as it comes, hands back the clones of each job that exited 0, fails like a locked pass, and writes the progress lines", async () => {
  const seen: (readonly string[])[] = [];
  const sent: string[] = [];
  const opened: string[] = [];
  const t = tunnel("none", 0, []);
  t.adapter = {
    spawn(spec: SpawnSpec): Child {
      seen.push(spec.args);
      const fails = spec.args.includes("/snap/d/shop/");
      return denoAdapter.spawn({
        ...spec,
        cmd: "sh",
        args: [
          "-c",
          `printf "${OPENED_PREFIX}t.ibd\\n"; printf "%s\\n" "$@" >&2; exit $0`,
          fails ? "23" : "0",
          ...SHRUNK,
        ],
      });
    },
  };
  const pass: Pass = {
    kind: "clone",
    plan: PLAN,
    delta: false,
    roots: [{ from: "/d", to: "/snap/d" }],
    opened: (j, name) => opened.push(`${j.sources.join(" ")} ${name}`),
    sent: (j) => sent.push(j.sources.join(" ")),
  };
  const lines: string[] = [];
  let error: unknown = null;
  await runPass(pass, t, { protocol: (l) => lines.push(l) }).catch((e) => error = e);
  const tail = (args: readonly string[]) => args.slice(args.indexOf("--") + 1);
  for (const args of seen) {
    const [source, dest, ...rest] = tail(args);
    assert(/^\/snap\/d\/(structure|shop|crm)\/$/.test(source), `from the clones: ${source}`);
    assertEquals([dest, ...rest], ["sst@joiner::m/"], "the same module, one source");
  }
  assert(seen.map(tail).some((a) => a[0] === "/snap/d/shop/"), "the failing job ran");
  assert(error instanceof TransferError, String(error));
  assert(!sent.includes("/snap/d/shop/"), "a failed job keeps its clones");
  assert(sent.every((s) => s.startsWith("/snap/d/")), sent.join(" "));
  assertEquals(lines[0], "total 30");
  assert(seen.every((a) => a.includes(`--out-format=${OPENED_PREFIX}%n`)), "rsync names them");
  assertEquals(opened.sort(), seen.map((a) => `${tail(a)[0]} t.ibd`).sort());
});
