/**
 * rsync's output, recognised by the rule table of src/transfer/rsync_failures.ts. Every fixture
 * is what a real rsync printed (3.5.0 on the host, 3.2.3 in the bullseye root): sending to a
 * directory or a daemon, a 16 MiB file truncated to 1 MiB and two files removed while it was
 * sent, a source that was never there, a link whose target was removed; pushing to a daemon, a
 * datadir on a full 1 MiB tmpfs, a module its user may not write, a wrong password, an unknown
 * module, a remote shell that is no rsync daemon, nothing listening. And the runner itself (a
 * stand-in rsync printing these lines through the process adapter): a hot-pass rsync whose
 * files shrank or vanished is tolerated and reported, yet never counts as ended cleanly (the
 * pre-copy record leaves the files it names out: precopy_record_test.ts); anything else fails.
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  classifyRsyncLine,
  type RsyncLineKind,
  rsyncSays,
  settledByLockedPass,
} from "../../src/transfer/rsync_failures.ts";
import { type JobRun, runJob, type Tunnel } from "../../src/transfer/rsync_runner.ts";
import { NO_WIRE_OPTIONS } from "../../src/config/wire_options.ts";
import type { RsyncJob } from "../../src/transfer/passes.ts";
import { type Child, denoAdapter, type SpawnSpec } from "../../src/proc/process.ts";
import { TransferError } from "../../src/core/errors.ts";

/** A file truncated in place (16 MiB → 1 MiB) while the sender read it; rsync exit 23. */
const SHRUNK = [
  'rsync: [sender] read errors mapping "/tmp/rd/src/big": No data available (61)',
  'file has vanished: "/tmp/rd/src/z"',
  'file has vanished: "/tmp/rd/src/sub/f"',
  "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]",
];
/** The same with rsync 3.2.3 (bullseye). */
const SHRUNK_323 = [
  'rsync: [sender] read errors mapping "/tmp/rx_hotpass/src/big": No data available (61)',
  'file has vanished: "/tmp/rx_hotpass/src/z"',
  "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1333) [sender=3.2.3]",
];
/** A source that was gone before rsync started (a schema directory dropped); exit 23. */
const GONE_SOURCE = [
  'rsync: [sender] link_stat "/tmp/rx/src/nonexist" failed: No such file or directory (2)',
  "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]",
];
/** A link (--copy-links) whose target was removed; exit 23. */
const DANGLING = [
  'symlink has no referent: "/tmp/rl_hp/src/t.MYD"',
  "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]",
];
/** Only vanished files; exit 24. */
const VANISHED = [
  'file has vanished: "/tmp/rx/src/gone"',
  "rsync warning: some files vanished before they could be transferred (code 24) at main.c(1400) [sender=3.5.0]",
];
/** The joiner's datadir on a full tmpfs; exit 11. */
const NO_SPACE = [
  'rsync: [receiver] write failed on "big" (in full): No space left on device (28)',
  "rsync error: error in file IO (code 11) at receiver.c(657) [receiver=3.5.0]",
  "rsync error: error in file IO (code 11) at io.c(1892) [generator=3.5.0]",
  "rsync: [sender] read error: Connection reset by peer (104)",
];
/** A module the daemon's user may not write; exit 23 (as the hot-pass tolerated ones). */
const JOINER_DENIED = [
  'rsync: [generator] recv_generator: mkdir "sub" (in ro) failed: Permission denied (13)',
  "*** Skipping any contents from this failed directory ***",
  'rsync: [receiver] open "big" (in ro) failed: No such file or directory (2)',
  'rsync: [receiver] mkstemp ".small.cL9PB2" (in ro) failed: Permission denied (13)',
  "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]",
];
const AUTH = [
  "@ERROR: auth failed on module auth",
  "rsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]",
];
const NO_MODULE = [
  "@ERROR: Unknown module 'nomod'",
  "rsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]",
];
const NOT_A_DAEMON = [
  'rsync: server sent "garbage" rather than greeting',
  "rsync: did not see server greeting",
];
const BROKEN = [
  "rsync: [sender] safe_write failed to write 41 bytes to fd 4: Broken pipe (32)",
  "rsync error: error in rsync protocol data stream (code 12) at io.c(387) [sender=3.5.0]",
  "rsync: [sender] failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111)",
  "rsync error: error in socket IO (code 10) at clientserver.c(165) [sender=3.5.0]",
  // The joiner's daemon when the donor was SIGKILLed mid-file (interrupted_sst_test.ts).
  "rsync: [generator] write error: Broken pipe (32)",
  "rsync: [receiver] read error: Connection reset by peer (104)",
];

const kinds = (lines: string[]) => lines.map((l) => classifyRsyncLine(l).kind);

Deno.test("rsync lines: a file that shrank while read, files that vanished, and their closing line", () => {
  assertEquals(kinds(SHRUNK), ["shrunk", "vanished", "vanished", "partial"]);
  assertEquals(kinds(SHRUNK_323), ["shrunk", "vanished", "partial"]);
  assertEquals(kinds(GONE_SOURCE), ["vanished", "partial"]);
  assertEquals(kinds(VANISHED), ["vanished", "partial"]);
  assertEquals(kinds(DANGLING), ["vanished", "partial"]);
});

Deno.test("rsync lines: the joiner's disk full or unwritable, refusals, protocol and connection failures", () => {
  assertEquals(kinds(NO_SPACE), [
    "joiner-no-space",
    "error-summary",
    "error-summary",
    "connection",
  ]);
  assertEquals(kinds(JOINER_DENIED), [
    "joiner-write",
    "joiner-write",
    "joiner-write",
    "joiner-write",
    "partial",
  ]);
  assertEquals(kinds(AUTH), ["refused", "error-summary"]);
  assertEquals(kinds(NO_MODULE), ["refused", "error-summary"]);
  assertEquals(kinds(NOT_A_DAEMON), ["protocol", "protocol"]);
  assertEquals(kinds(BROKEN), [
    "connection",
    "error-summary",
    "connection",
    "connection",
    "connection",
    "connection",
  ]);
  assert(rsyncSays(NO_SPACE.join("\n"), "joiner-no-space"));
  assert(!rsyncSays(SHRUNK.join("\n"), "joiner-no-space"));
});

Deno.test("rsync lines: a donor-side read error other than a shorter file is not taken for one", () => {
  const other: [string, RsyncLineKind][] = [
    ['rsync: [sender] read errors mapping "/d/t.ibd": Input/output error (5)', "other"],
    ['rsync: [sender] send_files failed to open "/d/t.ibd": Permission denied (13)', "other"],
    ['rsync: [sender] link_stat "/d/x" failed: Permission denied (13)', "other"],
  ];
  for (const [line, kind] of other) assertEquals(classifyRsyncLine(line).kind, kind, line);
});

Deno.test("hot pass: only shrunk and vanished files with exit 23/24 are settled by the locked pass", () => {
  assertEquals(settledByLockedPass(23, SHRUNK)?.map((l) => l.kind), [
    "shrunk",
    "vanished",
    "vanished",
  ]);
  assertEquals(settledByLockedPass(23, SHRUNK_323)?.length, 2);
  assertEquals(settledByLockedPass(23, GONE_SOURCE)?.length, 1);
  assertEquals(settledByLockedPass(24, VANISHED)?.length, 1);
  assertEquals(settledByLockedPass(23, DANGLING)?.length, 1);
  for (
    const [code, lines] of [
      [11, NO_SPACE],
      [23, JOINER_DENIED],
      [5, AUTH],
      [5, NO_MODULE],
      [5, NOT_A_DAEMON],
      [12, BROKEN],
      [12, SHRUNK], // the right lines with another exit: something else went wrong
      [23, [...SHRUNK, 'rsync: [sender] read errors mapping "/d/t": Input/output error (5)']],
      [23, [...SHRUNK.slice(0, 1), "some line we have never seen"]],
      [23, [SHRUNK[3]]], // a failure that names no file
    ] as [number, string[]][]
  ) {
    assertEquals(settledByLockedPass(code, lines), null, `${code}: ${lines.join(" | ")}`);
  }
});

/** An adapter whose `rsync` prints `lines` on stderr and exits `code` (a real process). */
function standIn(lines: string[], code: number): ProcessAdapterLike {
  return {
    spawn(spec: SpawnSpec): Child {
      return denoAdapter.spawn({
        ...spec,
        cmd: "sh",
        args: ["-c", 'printf "%s\\n" "$@" >&2; exit $0', String(code), ...lines],
      });
    },
  };
}
type ProcessAdapterLike = Tunnel["adapter"];

const JOB: RsyncJob = {
  label: "shop",
  selection: { kind: "files" },
  options: [],
  sources: ["/d/shop/"],
  module: "m",
};

async function runHot(lines: string[], code: number, hot = true) {
  const ended: string[] = [];
  const settled: string[] = [];
  const tunnel: Tunnel = {
    adapter: standIn(lines, code),
    rsync: "rsync",
    rsh: { rsh: "true", env: {} },
    passwordFile: "/nonexistent",
    idleTimeoutSec: 30,
    statusDir: "/nonexistent",
    peer: "127.0.0.1:1",
    wire: NO_WIRE_OPTIONS,
    streams: 1,
    stop: { signal: new AbortController().signal, check: () => {} },
    recordGroup: () => {},
    relayed: new Set(),
  };
  // The hot pass's rule (pass.ts): what the locked pass settles is tolerated.
  const run: JobRun = {
    delta: false,
    tolerated: hot ? settledByLockedPass : () => null,
    watch: {
      command: () => {},
      started: () => {},
      tick: () => {},
      finished: (j, end) => {
        if (end.clean) ended.push(j.label);
        if (end.tolerated) settled.push(...end.tolerated.map((x) => x.kind));
      },
    },
  };
  let error: unknown = null;
  await runJob(JOB, tunnel, run).catch((e) => error = e);
  return { ended, settled, error };
}

Deno.test("runner: a hot rsync whose file shrank goes on and reports the lines naming it, but never as ended cleanly", async () => {
  const r = await runHot(SHRUNK, 23);
  assertEquals(r.error, null);
  assertEquals(r.settled, ["shrunk", "vanished", "vanished"]);
  assertEquals(r.ended, [], "a job that did not exit 0 was recorded as ended cleanly");
  const clean = await runHot([], 0);
  assertEquals([clean.error, clean.ended, clean.settled], [null, ["shop"], []]);
});

Deno.test("runner: the same rsync failure in the locked pass, and the joiner's failures in the hot pass, stop the SST", async () => {
  const locked = await runHot(SHRUNK, 23, false);
  assert(locked.error instanceof TransferError, String(locked.error));
  assertEquals([locked.ended, locked.settled], [[], []]);
  for (const [lines, code] of [[JOINER_DENIED, 23], [NO_SPACE, 11]] as [string[], number][]) {
    const hot = await runHot(lines, code);
    assert(hot.error instanceof TransferError, String(hot.error));
    assertEquals([hot.ended, hot.settled], [[], []]);
  }
  await assertRejects(
    async () => {
      const r = await runHot(NO_SPACE, 11);
      throw r.error;
    },
    TransferError,
    /joiner could not write the data \(disk full/,
  );
});
