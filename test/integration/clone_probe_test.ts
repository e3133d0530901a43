/**
 * The clone probe (src/transfer/clone_probe.ts) on a split layout of real loop-mounted file
 * systems: the parts on XFS and btrfs clone, the part on ext4 uses the locked pass and the one
 * INFO line says why; a file system below the free-space floor does not clone; `[sst] clone`
 * applies (`on` refuses before the lock, `off` probes nothing).
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { withLoopFs } from "../../scripts/lib/loop_fs.ts";
import { Scope } from "../../src/sst/scope.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { SnapshotDirs } from "../../src/transfer/snapshot_dir.ts";
import { applyCloneSetting, type PartPlan, probeClones } from "../../src/transfer/clone_probe.ts";

const SMALL_FLOOR = { fraction: 0, minBytes: 1024 ** 2 };

async function stderrOf<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const original = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (p: Uint8Array) => {
    lines.push(new TextDecoder().decode(p).trimEnd());
    return p.length;
  };
  try {
    return { value: await fn(), lines };
  } finally {
    Deno.stderr.writeSync = original;
  }
}

function summary(plans: PartPlan[]): [string, string, string][] {
  return plans.map((p) => [p.part.key, p.fsType, p.mechanism.kind]);
}

Deno.test("clone probe: XFS and btrfs parts clone, the ext4 part uses the locked pass, one INFO line says why", async () => {
  await withLoopFs("xfs", 320, async (xfs) => {
    await withLoopFs("btrfs", 128, async (btrfs) => {
      await withLoopFs("ext4", 32, async (ext4) => {
        const scope = new Scope();
        try {
          const parts = [
            { key: "datadir", label: "datadir", dir: xfs.dir },
            { key: "undo", label: "undo", dir: xfs.dir },
            { key: "redo", label: "redo log", dir: ext4.dir },
            { key: "binlog", label: "binlog", dir: btrfs.dir },
          ];
          const snaps = await SnapshotDirs.create(parts, scope);
          const { value: plans, lines } = await stderrOf(() => probeClones(snaps, SMALL_FLOOR));
          assertEquals(summary(plans), [
            ["datadir", "xfs", "clone"],
            ["undo", "xfs", "clone"],
            ["redo", "ext4", "locked-copy"],
            ["binlog", "btrfs", "clone"],
          ]);
          const redo = plans[2].mechanism;
          assert(
            redo.kind === "locked-copy" &&
              /ext4: .*not support clones.*EOPNOTSUPP/.test(redo.reason),
          );
          assertEquals(lines.length, 1, lines.join("\n"));
          const line = lines[0];
          assert(line.startsWith("WSREP_SST: [INFO] clones: datadir, undo "), line);
          assert(
            line.includes(`redo log ${ext4.dir} (ext4 `) && line.includes("locked copy ("),
            line,
          );
          assert(line.includes(`binlog ${btrfs.dir} (btrfs `), line);
          // The ext4 snapshot directory went at once; the others stay for the clones, empty.
          assertEquals([...Deno.readDirSync(ext4.dir)].map((e) => e.name), ["lost+found"]);
          for (const fs of [xfs.dir, btrfs.dir]) {
            const snap = [...Deno.readDirSync(fs)].find((e) => e.name.startsWith("#sql-"));
            assert(snap, `snapshot directory in ${fs}`);
            assertEquals([...Deno.readDirSync(`${fs}/${snap.name}`)], [], "probe files removed");
          }
        } finally {
          await scope.close();
        }
      });
    });
  });
});

Deno.test("clone probe: a file system below the free-space floor uses the locked pass", async () => {
  await withLoopFs("xfs", 320, async (xfs) => {
    const scope = new Scope();
    try {
      const snaps = await SnapshotDirs.create(
        [{ key: "datadir", label: "datadir", dir: xfs.dir }],
        scope,
      );
      const { value: plans } = await stderrOf(() =>
        probeClones(snaps, { fraction: 0, minBytes: 1024 ** 4 })
      );
      const m = plans[0].mechanism;
      assert(m.kind === "locked-copy" && m.reason.includes("below the floor"), JSON.stringify(m));
    } finally {
      await scope.close();
    }
  });
});

Deno.test("[sst] clone: on refuses a part that cannot clone before the lock, auto sends it locked, off probes nothing", async () => {
  await withLoopFs("ext4", 32, async (ext4) => {
    const scope = new Scope();
    try {
      const parts = [{ key: "datadir", label: "datadir", dir: ext4.dir }];
      const snaps = await SnapshotDirs.create(parts, scope);
      const probe = () => stderrOf(() => probeClones(snaps, SMALL_FLOOR)).then((r) => r.value);
      let refused: unknown;
      try {
        await applyCloneSetting("on", parts, probe);
      } catch (e) {
        refused = e;
      }
      assert(refused instanceof ConfigError, String(refused));
      assert(refused.message.includes(`datadir ${ext4.dir} cannot clone`), refused.message);
      assert(refused.message.includes("[sst] clone=auto"), refused.message);
      assertEquals(
        (await applyCloneSetting("auto", parts, probe))[0].mechanism.kind,
        "locked-copy",
      );
      let probed = false;
      const off = await applyCloneSetting("off", parts, () => {
        probed = true;
        return probe();
      });
      assertEquals(probed, false);
      assertEquals(off[0].mechanism, { kind: "locked-copy", reason: "[sst] clone=off" });
    } finally {
      await scope.close();
    }
  });
});
