/**
 * Loopback micro-benchmark (not a test, not the README figures): the two SST scripts alone,
 * without mariadbd, both ends on 127.0.0.1 of one host, driven as mariadbd drives them
 * (scripts/lib/sst_driver.ts), on a generated datadir of 64 MiB random files. It measures the
 * scripts' own overhead and the loopback throughput of our tunnel against MariaDB's stock
 * `/usr/bin/wsrep_sst_rsync` (plain rsync daemon, no TLS). Loopback has no network cost and
 * the stock script's per-directory parallelism is at its worst here, so its ratio flatters us;
 * the real-cluster benchmark is `deno task bench` (scripts/bench/throughput.ts).
 *
 * Both programs run as the `mysql` user (as under mariadbd; as root the stock rsync daemon
 * would switch to `nobody` and could not write the datadir). Run as root, after
 * `deno task build`; needs socat, rsync, openssl and mariadb-server (the stock script,
 * `my_print_defaults`, the mysql account):
 *
 *     deno run -A scripts/bench_loopback.ts --size-mb 256          # default 512 MiB, 3 runs each
 *     deno run -A scripts/bench_loopback.ts --size-mb 1024 --runs 5 --keep
 *
 * The data are incompressible random files (64 MiB each, spread over 4 schemas) plus the
 * usual system files. Before every run the joiner's datadir is emptied, so each run copies
 * everything. Each run is checked (both sides exit 0, the joiner prints the state, the joiner
 * received every byte). Prints one row per run and the median per method (seconds, MiB/s), and
 * the versions involved.
 *
 * @module
 */
import { driveSst, TEST_STATE } from "./lib/sst_driver.ts";
import { type FixtureNode, freePort, makeFixture } from "./lib/fixture.ts";
import { VERSION } from "../src/core/version.ts";
import { treeBytes, versionOf } from "./bench_common.ts";

const STOCK = "/usr/bin/wsrep_sst_rsync";
const FILE_MB = 64;

function arg(name: string, def: number): number {
  const i = Deno.args.indexOf(name);
  if (i < 0) return def;
  const v = Number(Deno.args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

const sizeMb = arg("--size-mb", 512);
const runs = arg("--runs", 3);
const keep = Deno.args.includes("--keep");

/** Writes `mb` MiB of random data into 64 MiB files over four schemas of `datadir`. */
async function generateData(datadir: string, mb: number): Promise<void> {
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i * FILE_MB < mb; i++) {
    const dir = `${datadir}/bench${i % 4}`;
    await Deno.mkdir(dir, { recursive: true });
    const file = await Deno.open(`${dir}/t${i}.ibd`, { write: true, create: true });
    try {
      for (let m = 0; m < Math.min(FILE_MB, mb - i * FILE_MB); m++) {
        for (let o = 0; o < chunk.length; o += 65536) {
          crypto.getRandomValues(chunk.subarray(o, o + 65536));
        }
        await file.write(chunk);
      }
    } finally {
      file.close();
    }
  }
}

/** Bytes in the schema directories (what both methods must deliver). */
function schemaBytes(datadir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(datadir)) {
    if (e.isDirectory) n += treeBytes(`${datadir}/${e.name}`);
  }
  return n;
}

async function emptyDir(dir: string): Promise<void> {
  for (const e of [...Deno.readDirSync(dir)]) {
    await Deno.remove(`${dir}/${e.name}`, { recursive: true });
  }
}

/** Runs a side as the mysql user, with a Deno cache directory it can write. */
function asMysql(n: FixtureNode, root: string): FixtureNode {
  return {
    ...n,
    wrap: ["runuser", "-u", "mysql", "--"],
    env: { DENO_DIR: `${root}/deno-dir`, HOME: root, DENO_NO_UPDATE_CHECK: "1" },
  };
}

/** The node's option file without the TLS keys (else the stock script would want stunnel). */
async function plainNode(n: FixtureNode, root: string, name: string): Promise<FixtureNode> {
  const text = await Deno.readTextFile(n.defaultsFile);
  const plain = text.split("\n").filter((l) => !/^(tca|tcert|tkey)\s*=/.test(l)).join("\n");
  const defaultsFile = `${root}/${name}-plain.cnf`;
  await Deno.writeTextFile(defaultsFile, plain);
  return asMysql({ ...n, defaultsFile }, root);
}

async function chownMysql(path: string): Promise<void> {
  const r = await new Deno.Command("chown", { args: ["-R", "mysql:mysql", path] }).output();
  if (!r.success) throw new Error(`chown -R mysql:mysql ${path} failed`);
}

interface Row {
  method: string;
  run: number;
  seconds: number;
}

const f = await makeFixture({ bigTableBytes: 1024 * 1024 });
try {
  console.log(`generating ${sizeMb} MiB of random table files in ${f.donor.layout.datadir} …`);
  await generateData(f.donor.layout.datadir, sizeMb);
  await Deno.mkdir(`${f.root}/deno-dir`);
  await chownMysql(f.root);
  const expected = schemaBytes(f.donor.layout.datadir);
  const total = treeBytes(f.donor.layout.datadir);
  const methods = [
    {
      method: "rsync_tunnel (TLS)",
      program: undefined,
      joiner: asMysql(f.joiner, f.root),
      donor: asMysql(f.donor, f.root),
    },
    {
      method: "stock rsync (plain)",
      program: STOCK,
      joiner: await plainNode(f.joiner, f.root, "joiner"),
      donor: await plainNode(f.donor, f.root, "donor"),
    },
  ];
  const rows: Row[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const m of methods) {
      await emptyDir(f.joiner.layout.datadir);
      const port = freePort();
      const t0 = performance.now();
      const r = await driveSst({
        address: `127.0.0.1:${port}`,
        joiner: m.joiner,
        donor: m.donor,
        program: m.program,
        timeoutMs: 30 * 60_000,
      });
      const seconds = (performance.now() - t0) / 1000;
      const got = schemaBytes(f.joiner.layout.datadir);
      if (
        r.joiner.code !== 0 || r.donor?.code !== 0 || r.joiner.lines.at(-1) !== TEST_STATE ||
        got !== expected
      ) {
        console.error(r.joiner.stderr.slice(-3000));
        console.error(r.donor?.stderr.slice(-3000));
        throw new Error(
          `${m.method} run ${run} failed: joiner ${r.joiner.code}, donor ${r.donor?.code}, ` +
            `received ${got} of ${expected} bytes`,
        );
      }
      rows.push({ method: m.method, run, seconds });
      const rate = total / 1048576 / seconds;
      console.log(
        `  ${m.method.padEnd(20)} run ${run}: ${seconds.toFixed(2)} s, ${rate.toFixed(0)} MiB/s`,
      );
    }
  }

  const mib = total / 1048576;
  console.log("");
  console.log(
    `data set: ${mib.toFixed(0)} MiB in the donor datadir (${
      (expected / 1048576).toFixed(0)
    } MiB of it in schema directories), ${runs} runs per method, loopback`,
  );
  console.log("| method               | runs (s)                 | median s | median MiB/s |");
  console.log("| -------------------- | ------------------------ | -------- | ------------ |");
  for (const m of methods) {
    const secs = rows.filter((r) => r.method === m.method).map((r) => r.seconds);
    const med = [...secs].sort((a, b) => a - b)[Math.floor(secs.length / 2)];
    console.log(
      `| ${m.method.padEnd(20)} | ${secs.map((s) => s.toFixed(2)).join(", ").padEnd(24)} | ` +
        `${med.toFixed(2).padStart(8)} | ${(mib / med).toFixed(0).padStart(12)} |`,
    );
  }
  console.log("");
  console.log(`wsrep_sst_rsync_tunnel ${VERSION}; deno ${Deno.version.deno}`);
  console.log(versionOf("socat", ["-V"], /version/));
  console.log(versionOf("rsync", ["--version"]));
  console.log(versionOf("openssl", ["version"]));
  console.log(`${versionOf("/usr/sbin/mariadbd", ["--version"])} (stock script ${STOCK})`);
  console.log(`CPUs: ${navigator.hardwareConcurrency}`);
} finally {
  if (keep) console.log(`kept ${f.root}`);
  else await f.cleanup();
}
