/**
 * The snapshot directories of the clone pass (src/transfer/snapshot_dir.ts) on real
 * loop-mounted file systems and a real server: one per file system, 0700, with the part's
 * relative layout and directory metadata, removed when the SST's scope closes, a stale one of a
 * killed donor removed by the next SST with one INFO line, and never a database for mariadbd.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { withLoopFs } from "../../scripts/lib/loop_fs.ts";
import { Scope } from "../../src/sst/scope.ts";
import { processStartTime } from "../../src/proc/liveness.ts";
import { fileMeta } from "../../src/proc/ficlone.ts";
import { sleep } from "../../src/proc/wait.ts";
import {
  cloneSummary,
  SNAPSHOT_PREFIX,
  SnapshotDirs,
  sweepStaleSnapshots,
} from "../../src/transfer/snapshot_dir.ts";

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The WSREP_SST lines `fn` writes to stderr. */
async function stderrOf(fn: () => Promise<unknown>): Promise<string[]> {
  const out: string[] = [];
  const original = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (p: Uint8Array) => {
    out.push(new TextDecoder().decode(p).trimEnd());
    return p.length;
  };
  try {
    await fn();
  } finally {
    Deno.stderr.writeSync = original;
  }
  return out;
}

Deno.test("snapshot dirs: one per file system, 0700, clones with the same relative names, released when sent, removed when the scope closes", async () => {
  await withLoopFs("xfs", 320, async (xfs) => {
    await withLoopFs("btrfs", 128, async (btrfs) => {
      const datadir = `${xfs.dir}/data`;
      const redo = `${btrfs.dir}/redo`;
      await Deno.mkdir(`${datadir}/db1`, { recursive: true });
      await Deno.chmod(`${datadir}/db1`, 0o750);
      await Deno.chown(`${datadir}/db1`, 1234, 2345);
      await Deno.mkdir(redo);
      await Deno.writeTextFile(`${datadir}/ibdata1`, "system tablespace");
      await Deno.writeTextFile(`${datadir}/db1/t.ibd`, "table");
      await Deno.writeTextFile(`${redo}/ib_logfile0`, "redo");
      // A schema linked to another file system: its file cannot be cloned next to the datadir.
      await Deno.mkdir(`${btrfs.dir}/db2`);
      await Deno.writeTextFile(`${btrfs.dir}/db2/u.ibd`, "linked");
      await Deno.symlink(`${btrfs.dir}/db2`, `${datadir}/db2`);
      const scope = new Scope();
      const parts = [
        { key: "datadir", label: "datadir", dir: datadir },
        { key: "aria", label: "Aria log", dir: datadir },
        { key: "redo", label: "redo log", dir: redo },
      ];
      const snaps = await SnapshotDirs.create(parts, scope);
      const fss = snaps.fileSystems;
      assertEquals(fss.length, 2);
      for (const fs of fss) {
        assert(fs.path.split("/").pop()!.startsWith(SNAPSHOT_PREFIX), fs.path);
        assertEquals(Deno.statSync(fs.path).mode! & 0o777, 0o700);
      }
      assertEquals(fss.map((f) => f.home), [datadir, redo]);
      const run = snaps.cloneAll([
        { part: "datadir", rel: "ibdata1" },
        { part: "datadir", rel: "db1/t.ibd" },
        { part: "datadir", rel: "db2/u.ibd" },
        { part: "redo", rel: "ib_logfile0" },
      ]);
      assertEquals(run.cloned.map((c) => c.rel), ["ibdata1", "db1/t.ibd", "ib_logfile0"]);
      assertEquals(run.uncloned.map((u) => [u.rel, u.errno]), [["db2/u.ibd", "EXDEV"]]);
      assert(/^clones \d+\.\d\d s for 3 files$/.test(cloneSummary(run)), cloneSummary(run));
      assertEquals(Deno.readTextFileSync(`${snaps.root("datadir")}/db1/t.ibd`), "table");
      assertEquals(Deno.readTextFileSync(`${snaps.root("redo")}/ib_logfile0`), "redo");
      const dir = fileMeta(`${snaps.root("datadir")}/db1`);
      assertEquals([dir.mode & 0o7777, dir.uid, dir.gid], [0o750, 1234, 2345]);
      await snaps.release(run.cloned[0]);
      assert(!exists(run.cloned[0].path), "a released clone is gone");
      assertEquals(await scope.close(), []);
      for (const fs of fss) assert(!exists(fs.path), `${fs.path} removed at scope close`);
      assert(exists(`${datadir}/db1/t.ibd`) && exists(`${redo}/ib_logfile0`), "sources kept");
    });
  });
});

Deno.test("snapshot dirs: a stale one of a killed donor is removed with one INFO line; a live donor's is kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "snapshot-sweep-" });
  const live = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const dead = new Deno.Command("true").spawn();
    const deadStart = processStartTime(dead.pid) ?? "1";
    await dead.status;
    const stale = `${dir}/${SNAPSHOT_PREFIX}${dead.pid}-${deadStart}`;
    const running = `${dir}/${SNAPSHOT_PREFIX}${live.pid}-${processStartTime(live.pid)}`;
    const reused = `${dir}/${SNAPSHOT_PREFIX}${live.pid}-1`; // the PID, another start time
    for (const d of [stale, running, reused]) {
      await Deno.mkdir(`${d}/datadir/db1`, { recursive: true });
      await Deno.writeTextFile(`${d}/datadir/db1/t.ibd`, "clone");
    }
    let removed: string[] = [];
    const lines = await stderrOf(async () => removed = await sweepStaleSnapshots([dir, dir]));
    assertEquals(removed.sort(), [reused, stale].sort());
    assert(!exists(stale) && !exists(reused) && exists(running));
    assertEquals(lines.length, 2, lines.join("\n"));
    assert(lines.every((l) => l.startsWith("WSREP_SST: [INFO] removed snapshot directory ")));
    assert(lines.some((l) => l.includes(stale) && l.includes("left by a killed SST")));
  } finally {
    live.kill();
    await live.status;
    await Deno.remove(dir, { recursive: true });
  }
});

// --- A real server: the snapshot directory is never a database --------------------------------

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(r.stdout);
  if (!r.success) throw new Error(`${cmd}: ${new TextDecoder().decode(r.stderr)}`);
  return text;
}

Deno.test("snapshot dirs: a real mariadbd shows no snapshot directory in SHOW DATABASES or information_schema", async () => {
  const root = await Deno.makeTempDir({ prefix: "snapshot-server-" });
  await Deno.chmod(root, 0o755);
  await must("chown", ["mysql:mysql", root]); // its socket, pid file and log go there
  const datadir = `${root}/data`;
  const sock = `${root}/mysqld.sock`;
  let server: Deno.ChildProcess | null = null;
  const scope = new Scope();
  try {
    await must("mariadb-install-db", [
      "--no-defaults",
      `--datadir=${datadir}`,
      "--user=mysql",
      "--auth-root-authentication-method=socket",
      "--skip-test-db",
      "--innodb-buffer-pool-size=16M",
      "--innodb-log-file-size=16M",
    ]);
    server = new Deno.Command("mariadbd", {
      args: [
        "--no-defaults",
        `--datadir=${datadir}`,
        "--user=mysql",
        `--socket=${sock}`,
        "--skip-networking",
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-file-size=16M",
        "--performance-schema=OFF",
        `--log-error=${root}/error.log`,
        `--pid-file=${root}/mysqld.pid`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const sql = (q: string) => must("mariadb", ["-S", sock, "-N", "-B", "-e", q]);
    for (let i = 0; i < 100 && !exists(sock); i++) await sleep(100);
    const snaps = await SnapshotDirs.create(
      [{ key: "datadir", label: "datadir", dir: datadir }],
      scope,
    );
    snaps.cloneAll([{ part: "datadir", rel: "mysql/db.frm" }]); // a schema's layout inside it
    // The control: a directory made the same way under another name is a database.
    await Deno.mkdir(`${datadir}/control_dir`);
    const shown = await sql(
      "SHOW DATABASES; SELECT schema_name FROM information_schema.schemata; " +
        "SELECT DISTINCT table_schema FROM information_schema.tables",
    );
    assert(exists(snaps.fileSystems[0].path), "the snapshot directory exists while queried");
    assert(shown.includes("control_dir"), shown);
    assert(!shown.includes("wsrep_sst_snapshot"), shown);
  } finally {
    await scope.close();
    if (server) {
      try {
        server.kill("SIGTERM");
      } catch { /* it ended already: its log says why */ }
      const status = await server.status;
      if (!status.success && status.signal !== "SIGTERM") {
        console.error(await Deno.readTextFile(`${root}/error.log`).catch(() => ""));
      }
    }
    await Deno.remove(root, { recursive: true });
  }
});
