/**
 * A loopback SST fixture: a CA and node certificates, a generated donor datadir, an empty
 * joiner, option files for both, a free port, and checks for leftovers (processes, private
 * files) afterwards.
 *
 * @module
 */
import { type Ca, type Leaf, makeCa, makeLeaf } from "./pki.ts";
import { makeSampleDatadir, sampleLayout } from "./sample_datadir.ts";
import type { ServerLayout } from "../../src/config/settings.ts";
import type { NodeSpec } from "./sst_driver.ts";
import { commandLine } from "../../src/proc/liveness.ts";
import { tcpListeners } from "../../src/tunnel/listen_check.ts";

/** One side of the fixture. */
export interface FixtureNode extends NodeSpec {
  layout: ServerLayout;
  leaf: Leaf;
  /** Private tmpdir given as `[sst] tmpdir`; must be empty after every run. */
  tmpdir: string;
}

/** Options for {@link makeFixture}. */
export interface FixtureOptions {
  separateDirs?: boolean;
  binlog?: boolean;
  /** Extra lines for each node's `[sst]` group. */
  sstLines?: string[];
  /** Extra lines for the donor's `[sst]` group only. */
  donorSstLines?: string[];
  bigTableBytes?: number;
}

/** The fixture. */
export interface Fixture {
  root: string;
  ca: Ca;
  donor: FixtureNode;
  joiner: FixtureNode;
  port: number;
  address: string;
  cleanup(): Promise<void>;
}

/** A TCP port nobody listens on now. */
export function freePort(): number {
  const used = new Set(tcpListeners().map((l) => l.port));
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    if (!used.has(p)) return p;
  }
}

function optionFile(l: ServerLayout, ca: Ca, leaf: Leaf, tmpdir: string, extra: string[]): string {
  const lines = [
    "[mysqld]",
    `datadir=${l.datadir}`,
    `innodb_data_home_dir=${l.innodbDataHomeDir}`,
    `innodb_log_group_home_dir=${l.innodbLogGroupHomeDir}`,
    `innodb_undo_directory=${l.innodbUndoDirectory}`,
    `aria_log_dir_path=${l.ariaLogDirPath}`,
    ...(l.binlogBase ? [`log_bin=${l.binlogBase}`] : []),
    "[sst]",
    `tca=${ca.cert}`,
    `tcert=${leaf.cert}`,
    `tkey=${leaf.key}`,
    `tmpdir=${tmpdir}`,
    ...extra,
  ];
  return lines.join("\n") + "\n";
}

/** Builds the fixture under a new temp directory. */
export async function makeFixture(o: FixtureOptions = {}): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "sst-it." });
  const ca = await makeCa(root, "ca");
  const sans = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"];
  const donorLeaf = await makeLeaf(root, ca, "donor", { cn: "localhost", sans });
  const joinerLeaf = await makeLeaf(root, ca, "joiner", { cn: "localhost", sans });
  const layoutOpts = {
    root,
    separateDirs: o.separateDirs,
    binlog: o.binlog,
    bigTableBytes: o.bigTableBytes,
  };
  const donorLayout = await makeSampleDatadir({ ...layoutOpts, name: "donor" });
  const joinerLayout = sampleLayout({ ...layoutOpts, name: "joiner" });
  await Deno.mkdir(joinerLayout.datadir, { recursive: true });
  const node = async (name: string, layout: ServerLayout, leaf: Leaf, extra: string[]) => {
    const tmpdir = `${root}/${name}-tmp`;
    await Deno.mkdir(tmpdir);
    const defaultsFile = `${root}/${name}.cnf`;
    await Deno.writeTextFile(defaultsFile, optionFile(layout, ca, leaf, tmpdir, extra));
    return {
      datadir: layout.datadir + "/",
      defaultsFile,
      binlog: layout.binlogBase,
      layout,
      leaf,
      tmpdir,
    };
  };
  const port = freePort();
  return {
    root,
    ca,
    donor: await node("donor", donorLayout, donorLeaf, [
      ...(o.sstLines ?? []),
      ...(o.donorSstLines ?? []),
    ]),
    joiner: await node("joiner", joinerLayout, joinerLeaf, o.sstLines ?? []),
    port,
    address: `127.0.0.1:${port}`,
    cleanup: () => Deno.remove(root, { recursive: true }),
  };
}

/** Processes whose command line mentions `marker` (e.g. the fixture root): leftovers. */
export function processesMentioning(marker: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    const argv = commandLine(pid);
    if (argv && argv.join(" ").includes(marker)) out.push(`${pid}: ${argv.join(" ")}`);
  }
  return out;
}

/** Entries left in a directory. */
export function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name);
}
