/**
 * The joiner's reading of its rsync daemon log: lines (as rsync 3.2–3.5 write them) become
 * typed events per session, the follower reads only what was appended (a half-written line
 * waits for its end), and only sessions that proved the secret can fail the SST.
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import { DaemonLogFollower, parseDaemonLine } from "../../src/transfer/daemon_log.ts";
import { sessionFailure } from "../../src/sst/session_failure.ts";
import type { ServerLayout } from "../../src/config/settings.ts";
import { ExitCode } from "../../src/core/errors.ts";

const T = "2026/12/01 21:47:27";
const LAYOUT: ServerLayout = {
  datadir: "/d",
  innodbDataHomeDir: "/d",
  innodbLogGroupHomeDir: "/d",
  innodbUndoDirectory: "/d/undo",
  ariaLogDirPath: "/d",
};

/** A probe (hangs up at the challenge), then a real session, then a hostile hang-up. */
const LOG = [
  `${T} [100] connect from UNKNOWN (0.0.0.0)`,
  `${T} [100] rsync error: error in rsync protocol data stream (code 12) at io.c(387) [Receiver=3.5.0]`,
  `${T} [200] connect from UNKNOWN (0.0.0.0)`,
  `${T} [200] rsync to rsync_tunnel_sst/ from sst@UNKNOWN (0.0.0.0)`,
  `${T} [200] receiving file list`,
  `${T} [300] connect from UNKNOWN (0.0.0.0)`,
  `${T} [300] auth failed on module rsync_tunnel_sst from UNKNOWN (0.0.0.0): invalid challenge response`,
  `${T} [300] rsync error: error in rsync protocol data stream (code 12) at io.c(387) [Receiver=3.5.0]`,
].join("\n") + "\n";

Deno.test("daemon log: lines become typed events with their session's pid", () => {
  assertEquals(parseDaemonLine(`${T} [7] connect from UNKNOWN (0.0.0.0)`), {
    kind: "connect",
    pid: 7,
  });
  assertEquals(parseDaemonLine(`${T} [7] rsync to rsync_tunnel_sst-log_dir/ from sst@x (1)`), {
    kind: "authenticated",
    pid: 7,
    target: "rsync_tunnel_sst-log_dir/",
  });
  assertEquals(
    parseDaemonLine(`${T} [7] rsync: [receiver] daemon refused to receive directory "undo/x"`),
    { kind: "refused", pid: 7, path: "undo/x" },
  );
  assertEquals(
    parseDaemonLine(
      `${T} [8] rsync: [receiver] write failed on "shop/t.ibd" (in rsync_tunnel_sst): No space left on device (28)`,
    )?.kind,
    "no-space",
  );
  assertEquals(parseDaemonLine(`${T} [9] rsync error: timeout in data send/receive (code 30)`), {
    kind: "error",
    pid: 9,
    code: 30,
    text: "rsync error: timeout in data send/receive (code 30)",
  });
  assertEquals(parseDaemonLine(`${T} [9] receiving file list`), null);
  assertEquals(parseDaemonLine("garbage"), null);
});

Deno.test("daemon log: errors of sessions that never proved the secret fail nothing; an authenticated session's error does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rsyncd.log`;
    const daemon = new DaemonLogFollower(path);
    assertEquals(await daemon.poll(), []); // no file yet
    await Deno.writeTextFile(path, LOG);
    const events = await daemon.poll();
    assertEquals(events.length, 6);
    assertEquals(daemon.transferStarted, true);
    assertEquals([100, 200, 300].map((p) => daemon.trusted(p)), [false, true, false]);
    assertEquals(sessionFailure(events, daemon, LAYOUT), null);

    // Half a line waits for its end; the authenticated session's error then counts.
    const broken = `${T} [200] rsync error: error in rsync protocol data stream (code 12) at x`;
    await Deno.writeTextFile(path, broken.slice(0, 30), { append: true });
    assertEquals(await daemon.poll(), []);
    await Deno.writeTextFile(path, broken.slice(30) + "\n", { append: true });
    const more = await daemon.poll();
    assertEquals(more.map((e) => e.kind), ["error"]);
    assertMatch(sessionFailure(more, daemon, LAYOUT)?.message ?? "", /broke off .*code 12/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon log: a full disk outranks the error that follows it; a timeout is left to the idle timer", () => {
  const trusted = { trusted: () => true };
  const lines = [
    `${T} [5] rsync error: timeout in data send/receive (code 30) at io.c(1)`,
    `${T} [5] rsync: [receiver] write failed on "shop/t.ibd" (in m): No space left on device (28)`,
    `${T} [5] rsync error: error in file IO (code 11) at receiver.c(1)`,
  ];
  const events = lines.map(parseDaemonLine).filter((e) => e !== null);
  assertEquals(sessionFailure(events.slice(0, 1), trusted, LAYOUT), null);
  const failure = sessionFailure(events, trusted, LAYOUT);
  assertEquals(failure?.exitCode, ExitCode.noSpace);
  assertMatch(failure?.message ?? "", /writing shop\/t\.ibd/);
});

Deno.test("daemon log: a refused push names the joiner's directory that is in the way", () => {
  const e = parseDaemonLine(
    `${T} [5] rsync: [receiver] daemon refused to receive directory "undo/x"`,
  )!;
  assertMatch(
    sessionFailure([e], { trusted: () => true }, LAYOUT)?.message ?? "",
    /schema directory 'undo' but this node keeps its innodb_undo_directory directory \/d\/undo/,
  );
});

Deno.test("daemon log: a file the receiving side could not stat or write fails the SST, though the donor's rsync may exit 0", () => {
  const e = parseDaemonLine(
    `${T} [5] rsync: [generator] recv_generator: failed to stat "gh/t.ibd" (in rsync_tunnel_sst): Too many levels of symbolic links (40)`,
  )!;
  assertEquals(e.kind, "file-error");
  assertMatch(
    sessionFailure([e], { trusted: () => true }, LAYOUT)?.message ?? "",
    /could not install what the donor sent \(rsync: \[generator\] recv_generator: failed to stat "gh\/t\.ibd"/,
  );
  assertEquals(sessionFailure([e], { trusted: () => false }, LAYOUT), null);
});

Deno.test("daemon log: a write to the donor that breaks (the donor killed mid-file) is a broken transfer, not a file this node could not install", () => {
  const events = [
    `${T} [5] rsync: [generator] write error: Broken pipe (32)`,
    `${T} [5] rsync error: error in socket IO (code 10) at io.c(949) [generator=3.5.0]`,
  ].map((l) => parseDaemonLine(l)).filter((e) => e !== null);
  const message = sessionFailure(events, { trusted: () => true }, LAYOUT)?.message ?? "";
  assertMatch(message, /^a transfer from the donor broke off \(rsync error: error in socket IO/);
});
