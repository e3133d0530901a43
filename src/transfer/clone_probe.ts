/**
 * Before `flush tables`: which parts of the data set the clone pass may clone under the lock,
 * decided per file system (st_dev) by a real clone, and per part by what can differ within one
 * file system. A part clones only when all of these hold:
 *
 * - its file system's snapshot directory could be made, and is on the part's device;
 * - its file system has at least the free-space floor (space_guard.ts);
 * - a small file written in the snapshot directory clones there (`FICLONE`): ext4, XFS with
 *   `reflink=0`, tmpfs, NFS… refuse at once (EOPNOTSUPP, EINVAL);
 * - the part's directory and the snapshot directory agree on btrfs' nodatacow flag (`chattr
 *   +C`, inherited by new files): btrfs refuses to clone between a nodatacow file and one that
 *   is not (EINVAL).
 *
 * A file that still cannot be cloned under the lock (a nodatacow file in a directory that is
 * not, a file under a link to another file system) is sent by the locked pass
 * (snapshot_dir.ts). `[sst] clone` then applies ({@link applyCloneSetting}).
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";
import * as log from "../core/log.ts";
import type { Clone } from "../config/clone.ts";
import { cloneFile, noCow } from "../proc/ficlone.ts";
import { statFs } from "../proc/statfs.ts";
import { type ClonePart, deviceOf, type SnapshotDirs, type SnapshotFs } from "./snapshot_dir.ts";
import { checkFloor, CloneSpaceError, DEFAULT_FLOOR, type FloorPolicy } from "./space_guard.ts";

/** How a part is copied under the lock. */
export type Mechanism =
  | { kind: "clone" }
  | { kind: "locked-copy"; reason: string };

/** The decision for one part. */
export interface PartPlan {
  part: ClonePart;
  /** `major:minor` of the part's file system. */
  dev: string;
  /** Its type (`xfs`, `btrfs`, `ext4`, …). */
  fsType: string;
  mechanism: Mechanism;
}

const PROBE_BYTES = 64 * 1024;

/**
 * Probes every file system of `snapshots` with a real clone and returns the decision for each
 * part, in the order of the parts; logs it as one INFO line ({@link planLine}). File systems
 * that will not clone have their snapshot directory removed.
 */
export async function probeClones(
  snapshots: SnapshotDirs,
  policy: FloorPolicy = DEFAULT_FLOOR,
): Promise<PartPlan[]> {
  const plans: PartPlan[] = [];
  for (const fs of snapshots.fileSystems) {
    const fsType = statFs(fs.home)?.type ?? "unknown";
    const verdict = await probeFs(fs, fsType, policy);
    for (const part of fs.parts) {
      const mechanism = verdict ?? partVerdict(part, fs);
      plans.push({ part, dev: fs.dev, fsType, mechanism });
    }
    if (fs.parts.every((p) => plans.find((x) => x.part === p)?.mechanism.kind !== "clone")) {
      await snapshots.drop(fs.dev);
    }
  }
  log.info(planLine(plans));
  return plans;
}

/** Why no part of `fs` clones, or null when a probe clone worked. */
async function probeFs(
  fs: SnapshotFs,
  fsType: string,
  policy: FloorPolicy,
): Promise<Mechanism | null> {
  if (fs.unusable) return lockedCopy(fs.unusable);
  try {
    checkFloor({ path: fs.path, label: `${fs.home} (${fsType})` }, policy);
  } catch (e) {
    if (e instanceof CloneSpaceError) return lockedCopy(e.message);
    throw e;
  }
  const src = `${fs.path}/probe`;
  const dst = `${fs.path}/probe.clone`;
  try {
    await Deno.writeFile(src, new Uint8Array(PROBE_BYTES).fill(0x5a), { mode: 0o600 });
    const r = cloneFile(src, dst);
    return r.kind === "cloned" ? null : lockedCopy(`${fsType}: ${r.reason} (${r.errno})`);
  } catch (e) {
    return lockedCopy(`the probe clone in ${fs.path} failed: ${(e as Error).message}`);
  } finally {
    for (const p of [src, dst]) await Deno.remove(p).catch(() => {});
  }
}

function lockedCopy(reason: string): Mechanism {
  return { kind: "locked-copy", reason };
}

/** Why `part` cannot clone although its file system can, or clone. */
function partVerdict(part: ClonePart, fs: SnapshotFs): Mechanism {
  const dev = deviceOf(part.dir);
  if (dev !== fs.dev) {
    return lockedCopy(`${part.dir} is on device ${dev}, its snapshot directory on ${fs.dev}`);
  }
  const [partNoCow, snapNoCow] = [noCow(part.dir), noCow(fs.path)];
  if (partNoCow !== snapNoCow) {
    return lockedCopy(
      `btrfs nodatacow (chattr +C) is ${partNoCow ? "set" : "not set"} on ${part.dir} but ` +
        `${snapNoCow ? "set" : "not set"} on its snapshot directory`,
    );
  }
  return { kind: "clone" };
}

/**
 * The INFO line: parts that share a directory and a decision are named together, e.g.
 * `clones: datadir, InnoDB data home /var/lib/mysql (xfs 253:1): clone; redo log /redo (ext4
 * 8:1): locked copy (ext4: the file system does not support clones (EOPNOTSUPP))`.
 */
export function planLine(plans: readonly PartPlan[]): string {
  const groups: { labels: string[]; plan: PartPlan; text: string }[] = [];
  for (const p of plans) {
    const text = mechanismText(p.mechanism);
    const same = groups.find((g) => g.plan.part.dir === p.part.dir && g.text === text);
    if (same) same.labels.push(p.part.label);
    else groups.push({ labels: [p.part.label], plan: p, text });
  }
  return "clones: " +
    groups.map((g) =>
      `${g.labels.join(", ")} ${g.plan.part.dir} (${g.plan.fsType} ${g.plan.dev}): ${g.text}`
    ).join("; ");
}

function mechanismText(m: Mechanism): string {
  switch (m.kind) {
    case "clone":
      return "clone";
    case "locked-copy":
      return `locked copy (${m.reason})`;
  }
}

/**
 * Applies `[sst] clone` to a probe: `off` sends every part under the lock without probing (the
 * probe is not run); `on` refuses, before `flush tables`, when a part cannot clone; `auto`
 * takes the probe as it is.
 */
export async function applyCloneSetting(
  setting: Clone,
  parts: readonly ClonePart[],
  probe: () => Promise<PartPlan[]>,
): Promise<PartPlan[]> {
  switch (setting) {
    case "off":
      return parts.map((part) => ({
        part,
        dev: deviceOf(part.dir) ?? "?",
        fsType: statFs(part.dir)?.type ?? "unknown",
        mechanism: lockedCopy("[sst] clone=off"),
      }));
    case "auto":
      return await probe();
    case "on": {
      const plans = await probe();
      const refused = plans.filter((p) => p.mechanism.kind !== "clone");
      if (refused.length === 0) return plans;
      throw new ConfigError(
        `[sst] clone=on, but ${
          refused.map((p) =>
            `the ${p.part.label} ${p.part.dir} cannot clone: ${
              p.mechanism.kind === "locked-copy" ? p.mechanism.reason : ""
            }`
          ).join("; ")
        }; move it to a file system with clones (XFS reflink=1, btrfs) or set [sst] clone=auto`,
      );
    }
  }
}
