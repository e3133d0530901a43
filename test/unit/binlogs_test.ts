/**
 * Unit tests for binary-log selection and installation (src/transfer/binlogs.ts) and the
 * per-datadir instance lock (src/sst/instance_lock.ts), on temporary directories.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import {
  indexEntry,
  installBinlogs,
  removeOldBinlogs,
  selectBinlogs,
} from "../../src/transfer/binlogs.ts";
import type { ServerLayout } from "../../src/config/settings.ts";
import { acquireInstanceLock, PID_FILE } from "../../src/sst/instance_lock.ts";
import { runId } from "../../src/proc/process.ts";
import { BusyError } from "../../src/core/errors.ts";
import { Scope } from "../../src/sst/scope.ts";
import { isAlive, processStartTime } from "../../src/proc/liveness.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "binlogs-unit-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function layoutFor(datadir: string, binlogDir = datadir, base = "mysql-bin"): ServerLayout {
  return {
    datadir,
    innodbDataHomeDir: datadir,
    innodbLogGroupHomeDir: datadir,
    innodbUndoDirectory: datadir,
    ariaLogDirPath: datadir,
    binlogBase: `${binlogDir}/${base}`,
    binlogIndex: `${binlogDir}/${base}.index`,
  };
}

async function touch(path: string, text = "x"): Promise<void> {
  await Deno.writeTextFile(path, text);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// selectBinlogs

/** A datadir with binlogs 1–3 present and an index naming 1–4 (4 is missing). */
async function donorDatadir(dd: string): Promise<ServerLayout> {
  const layout = layoutFor(dd);
  for (const n of [1, 2, 3]) await touch(`${dd}/mysql-bin.00000${n}`);
  await touch(
    layout.binlogIndex!,
    "./mysql-bin.000001\n./mysql-bin.000002\n./mysql-bin.000003\n./mysql-bin.000004\n",
  );
  return layout;
}

Deno.test("binlogs: selectBinlogs takes the last N existing files of the index", async () => {
  await withTemp(async (dd) => {
    const layout = await donorDatadir(dd);
    assertEquals(await selectBinlogs(layout, 1), [`${dd}/mysql-bin.000003`]);
    assertEquals(await selectBinlogs(layout, 2), [
      `${dd}/mysql-bin.000002`,
      `${dd}/mysql-bin.000003`,
    ]);
    assertEquals((await selectBinlogs(layout, 10)).length, 3);
  });
});

Deno.test("binlogs: selectBinlogs with a negative count takes all, with 0 none", async () => {
  await withTemp(async (dd) => {
    const layout = await donorDatadir(dd);
    assertEquals(await selectBinlogs(layout, -1), [
      `${dd}/mysql-bin.000001`,
      `${dd}/mysql-bin.000002`,
      `${dd}/mysql-bin.000003`,
    ]);
    assertEquals(await selectBinlogs(layout, 0), []);
  });
});

Deno.test("binlogs: selectBinlogs skips index entries whose file is missing", async () => {
  await withTemp(async (dd) => {
    const layout = await donorDatadir(dd);
    await Deno.remove(`${dd}/mysql-bin.000002`);
    assertEquals(await selectBinlogs(layout, -1), [
      `${dd}/mysql-bin.000001`,
      `${dd}/mysql-bin.000003`,
    ]);
  });
});

Deno.test("binlogs: selectBinlogs reads absolute entries and tolerates a missing index", async () => {
  await withTemp(async (dd) => {
    const layout = layoutFor(dd, `${dd}/logs`);
    await Deno.mkdir(`${dd}/logs`);
    await touch(`${dd}/logs/mysql-bin.000009`);
    assertEquals(await selectBinlogs(layout, 1), []);
    await touch(layout.binlogIndex!, `${dd}/logs/mysql-bin.000009\n\n`);
    assertEquals(await selectBinlogs(layout, 1), [`${dd}/logs/mysql-bin.000009`]);
    assertEquals(await selectBinlogs({ ...layout, binlogIndex: undefined }, 1), []);
  });
});

// ---------------------------------------------------------------------------------------------
// removeOldBinlogs

Deno.test("binlogs: removeOldBinlogs removes indexed and unindexed <base>.NNNNNN and the index only", async () => {
  await withTemp(async (dd) => {
    const layout = layoutFor(dd);
    for (
      const f of [
        "mysql-bin.000001", // indexed
        "mysql-bin.000002", // indexed
        "mysql-bin.000007", // not indexed, matches <base>.NNNNNN
        "custom.000003", // indexed under another name
        "mysql-bin.000001.bak",
        "mysql-bin.log",
        "mysql-bin.00000a",
        "other-bin.000001",
        "ibdata1",
        "mysql-bin",
      ]
    ) await touch(`${dd}/${f}`);
    await touch(layout.binlogIndex!, "./mysql-bin.000001\n./mysql-bin.000002\n./custom.000003\n");
    assertEquals(await removeOldBinlogs(layout), 4);
    assertEquals(await listing(dd), [
      "ibdata1",
      "mysql-bin",
      "mysql-bin.000001.bak",
      "mysql-bin.00000a",
      "mysql-bin.log",
      "other-bin.000001",
    ]);
  });
});

Deno.test("binlogs: removeOldBinlogs without binary logging touches nothing", async () => {
  await withTemp(async (dd) => {
    await touch(`${dd}/mysql-bin.000001`);
    const layout = { ...layoutFor(dd), binlogBase: undefined, binlogIndex: undefined };
    assertEquals(await removeOldBinlogs(layout), 0);
    assert(await exists(`${dd}/mysql-bin.000001`));
  });
});

// ---------------------------------------------------------------------------------------------
// installBinlogs

async function staged(dir: string, files: string[]): Promise<string> {
  const staging = `${dir}/staging`;
  await Deno.mkdir(staging);
  for (const f of files) await touch(`${staging}/${f}`, f);
  return staging;
}

Deno.test("binlogs: installBinlogs into the datadir moves files and writes ./name entries, oldest first", async () => {
  await withTemp(async (root) => {
    const dd = `${root}/data`;
    await Deno.mkdir(dd);
    const layout = layoutFor(dd);
    const staging = await staged(root, ["mysql-bin.000005", "mysql-bin.000004", "junk.txt"]);
    assertEquals(await installBinlogs(layout, staging), ["mysql-bin.000004", "mysql-bin.000005"]);
    assertEquals(
      await Deno.readTextFile(layout.binlogIndex!),
      "./mysql-bin.000004\n./mysql-bin.000005\n",
    );
    assertEquals(await Deno.readTextFile(`${dd}/mysql-bin.000005`), "mysql-bin.000005");
    assertEquals(await listing(staging), ["junk.txt"]);
  });
});

Deno.test("binlogs: installBinlogs into a subdirectory of the datadir writes ./sub/name entries", async () => {
  await withTemp(async (dd) => {
    await Deno.mkdir(`${dd}/logs`);
    const layout = layoutFor(dd, `${dd}/logs`);
    const staging = await staged(dd, ["mysql-bin.000001"]);
    await installBinlogs(layout, staging);
    assertEquals(await Deno.readTextFile(layout.binlogIndex!), "./logs/mysql-bin.000001\n");
    assert(await exists(`${dd}/logs/mysql-bin.000001`));
  });
});

Deno.test("binlogs: installBinlogs outside the datadir writes absolute entries", async () => {
  await withTemp(async (root) => {
    const dd = `${root}/data`;
    const bl = `${root}/binlog`;
    await Deno.mkdir(dd);
    await Deno.mkdir(bl);
    const layout = layoutFor(dd, bl);
    const staging = await staged(root, ["node1-bin.000002", "node1-bin.000003"]);
    assertEquals(await installBinlogs(layout, staging), ["node1-bin.000002", "node1-bin.000003"]);
    assertEquals(
      await Deno.readTextFile(layout.binlogIndex!),
      `${bl}/node1-bin.000002\n${bl}/node1-bin.000003\n`,
    );
    assertEquals(await listing(staging), []);
  });
});

Deno.test("binlogs: indexEntry is ./relative under the datadir only (not for a prefix sibling)", () => {
  const layout = layoutFor("/var/lib/mysql");
  assertEquals(indexEntry(layout, "/var/lib/mysql/mysql-bin.000001"), "./mysql-bin.000001");
  assertEquals(
    indexEntry(layout, "/var/lib/mysql-logs/mysql-bin.000001"),
    "/var/lib/mysql-logs/mysql-bin.000001",
  );
});

Deno.test({
  name: "binlogs: installBinlogs orders the index numerically across 6→7 digit extensions",
  fn: async () => {
    await withTemp(async (dd) => {
      const layout = layoutFor(dd);
      const staging = await staged(dd, ["mysql-bin.1000000", "mysql-bin.999999"]);
      assertEquals(await installBinlogs(layout, staging), [
        "mysql-bin.999999",
        "mysql-bin.1000000",
      ]);
    });
  },
});

// ---------------------------------------------------------------------------------------------
// instance lock

/** What our lock file starts with: our PID, our start time and our run id. */
const OURS = `${Deno.pid}\nstarted ${processStartTime(Deno.pid)}\nrun ${runId()}\n`;

Deno.test("lock: acquireInstanceLock creates wsrep_sst.pid with our pid, start time and run id; close releases it", async () => {
  await withTemp(async (dd) => {
    const scope = new Scope();
    const lock = await acquireInstanceLock(dd, scope, 1);
    assertEquals(PID_FILE, "wsrep_sst.pid");
    assertEquals(lock.file, `${dd}/wsrep_sst.pid`);
    assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), OURS);
    assertEquals((await Deno.stat(`${dd}/wsrep_sst.pid`)).mode! & 0o777, 0o600);
    lock.recordGroup(424242);
    assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), `${OURS}group 424242\n`);
    assertEquals(await scope.close(), []);
    assertEquals(await exists(`${dd}/wsrep_sst.pid`), false);
  });
});

Deno.test("lock: release leaves a pid file that is no longer ours", async () => {
  await withTemp(async (dd) => {
    const scope = new Scope();
    await acquireInstanceLock(dd, scope, 1);
    await touch(`${dd}/wsrep_sst.pid`, "1\n");
    await scope.close();
    assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), "1\n");
  });
});

Deno.test("lock: a stale pid file of a dead process is replaced", async () => {
  await withTemp(async (dd) => {
    // a pid that existed and is gone now
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    assert(!isAlive(gone.pid));
    await touch(`${dd}/wsrep_sst.pid`, `${gone.pid}\ngroup ${gone.pid}\n`);
    const scope = new Scope();
    // A live holder would be waited for 30 s (exit 114); a dead one not at all. Half the wait
    // is a bound no loaded machine reaches without waiting, and still fails if we wait.
    const started = Date.now();
    await acquireInstanceLock(dd, scope, 30);
    const took = Date.now() - started;
    assert(took < 15_000, `a dead holder must not be waited for (took ${took} ms of a 30 s wait)`);
    assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), OURS);
    await scope.close();
  });
});

Deno.test("lock: a live holder that is not an SST (pid reused) is stale; its non-helper group is not killed", async () => {
  await withTemp(async (dd) => {
    const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      await touch(`${dd}/wsrep_sst.pid`, `${other.pid}\ngroup ${other.pid}\n`);
      const scope = new Scope();
      await acquireInstanceLock(dd, scope, 5);
      assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), OURS);
      assert(isAlive(other.pid), "a 'sleep' process group must not be killed as a leftover");
      await scope.close();
    } finally {
      other.kill("SIGKILL");
      await other.status;
    }
  });
});

Deno.test("lock: a live holder recorded with its start time is waited for whatever its command line (exit 114)", async () => {
  await withTemp(async (dd) => {
    // e.g. a compiled binary or a launcher under another name: no "wsrep_sst" in its argv.
    const holder = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      const started = processStartTime(holder.pid);
      await touch(
        `${dd}/wsrep_sst.pid`,
        `${holder.pid}\nstarted ${started}\ngroup ${holder.pid}\n`,
      );
      const e = await assertRejects(
        () => acquireInstanceLock(dd, new Scope(), 1),
        BusyError,
        new RegExp(`another SST \\(pid ${holder.pid}\\) is still running`),
      );
      assertEquals((e as BusyError).exitCode, 114);
      assert(isAlive(holder.pid));
      // The same PID with another start time is a reused PID: stale, and nothing is killed.
      await touch(`${dd}/wsrep_sst.pid`, `${holder.pid}\nstarted 1\ngroup ${holder.pid}\n`);
      const scope = new Scope();
      await acquireInstanceLock(dd, scope, 1);
      assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), OURS);
      assert(isAlive(holder.pid));
      await scope.close();
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
    }
  });
});

Deno.test("lock: a live wsrep_sst holder makes us wait waitSec and fail with exit 114", async () => {
  await withTemp(async (dd) => {
    // argv contains "wsrep_sst_fake" ($0 of the sh script); the loop keeps sh itself alive.
    const holder = new Deno.Command("sh", {
      args: ["-c", "while :; do sleep 0.2; done", "wsrep_sst_fake"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // Until sh has exec'd, its cmdline is still the test runner's.
      for (let i = 0; i < 100; i++) {
        const argv = await Deno.readTextFile(`/proc/${holder.pid}/cmdline`).catch(() => "");
        if (argv.includes("wsrep_sst_fake")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await touch(`${dd}/wsrep_sst.pid`, `${holder.pid}\n`);
      const started = Date.now();
      const e = await assertRejects(
        () => acquireInstanceLock(dd, new Scope(), 1),
        BusyError,
        new RegExp(`another SST \\(pid ${holder.pid}\\) is still running`),
      );
      const waited = Date.now() - started;
      assertEquals((e as BusyError).exitCode, 114);
      // At least the 1 s wait; the upper bound only says it ends (generous for a loaded host).
      assert(waited >= 900 && waited < 30_000, `waited ${waited} ms`);
      assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), `${holder.pid}\n`);
      assert(isAlive(holder.pid));
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
    }
  });
});

Deno.test("lock: the lock is taken once the live holder goes away within waitSec", async () => {
  await withTemp(async (dd) => {
    const holder = new Deno.Command("sh", {
      args: ["-c", "while :; do sleep 0.2; done", "wsrep_sst_fake"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await touch(`${dd}/wsrep_sst.pid`, `${holder.pid}\n`);
    const timer = setTimeout(() => holder.kill("SIGKILL"), 300);
    try {
      const scope = new Scope();
      await acquireInstanceLock(dd, scope, 5);
      assertEquals(await Deno.readTextFile(`${dd}/wsrep_sst.pid`), OURS);
      await scope.close();
    } finally {
      clearTimeout(timer);
      try {
        holder.kill("SIGKILL");
      } catch { /* already gone */ }
      await holder.status;
    }
  });
});
