/**
 * Issue 4, item 6 (hostile input): shell and socat metacharacters in every value that reaches
 * a command line, a socat address or an rsync configuration are rejected with one clear ERROR
 * line before anything runs — no socat or rsync started (proved by spy wrappers first in PATH
 * that log every start except the `-V`/`--version` probes), no `ready` / `flush tables`, exit
 * 22 (71 for the SST request's secret) — and nothing is executed (`touch PWNED` payloads).
 *
 * Path-like values (tcert, tkey, tca, tmpdir) name files and directories that really exist,
 * so that the socat-safety check, not a "does not exist", is what rejects them. Donor cases
 * run against a real joiner waiting for its donor (the donor looks at the joiner's certificate
 * before it builds socat addresses). A datadir with a space is not hostile: it must work.
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  driveDonor,
  driveSst,
  type NodeSpec,
  type SideResult,
} from "../../scripts/lib/sst_driver.ts";
import {
  type Fixture,
  type FixtureNode,
  leftovers,
  makeFixture,
  makeToolSpy,
  processesMentioning,
  setSst,
} from "../../scripts/lib/fixture.ts";
import {
  diffDigests,
  isTransferredDatadirFile,
  treeDigest,
} from "../../scripts/lib/sample_datadir.ts";
import { record, recordCount } from "../../scripts/lib/ledger.ts";
import { type Child, stop } from "../../src/proc/process.ts";

/** The injection strings; `PWNED` is created in the cwd (the datadir) if one is executed. */
const INJECTIONS: { label: string; text: string }[] = [
  { label: "single quote", text: "'touch PWNED'" },
  { label: "backtick", text: "`touch PWNED`" },
  { label: "$()", text: "$(touch PWNED)" },
  { label: "semicolon", text: ";touch PWNED;" },
  { label: "newline", text: "\ntouch PWNED\n" },
  { label: "comma (socat option separator)", text: ",fork,su=nobody" },
  { label: "colon (socat parameter separator)", text: ":EXEC:touch PWNED" },
  { label: "!! (socat dual address)", text: "!!EXEC:touch PWNED" },
  { label: "backslash", text: "\\,fork" },
  { label: "carriage return", text: "\rtouch PWNED" },
];

/**
 * For `[sst]` values: an option file cannot carry a newline into a value (a `\n` escape cuts
 * the value there, as `my_print_defaults | awk` does for the stock scripts; see
 * option_lookup.ts), so the "newline" case checks what is left; the comma is sockopt's own
 * separator and the colon is legal in cipher lists, so sockopt gets tokens that are not
 * `name[=value]` instead.
 */
const SOCKOPT_INJECTIONS = INJECTIONS.map((i) =>
  i.label.startsWith("comma")
    ? { label: i.label, text: ",EXEC:touch PWNED" }
    : i.label.startsWith("colon")
    ? { label: i.label, text: ",x:EXEC=1" }
    : i
);

/** An `[sst]` value as an option file must spell it (`\` and newline escaped). */
function cnfValue(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll("\r", "\\r");
}

function errorLines(side: SideResult): string[] {
  return side.stderr.split("\n").filter((l) => l.startsWith("WSREP_SST: [ERROR]"));
}

/** One hostile input and the run it gets. */
interface HostileCase {
  label: string;
  /** Runs the side; gets a private datadir, option file and PATH for this case. */
  run(node: NodeSpec, caseDir: string): Promise<SideResult>;
  /** Prepares the case's option file (the node is a copy of the fixture's node). */
  setup?(node: NodeSpec, caseDir: string): Promise<void>;
}

/** What the case did wrong; empty when it was rejected as required. */
type Verdict = string[];

async function runCase(
  f: Fixture,
  base: FixtureNode,
  index: number,
  c: HostileCase,
  expect: { code: number | readonly number[]; error: RegExp },
): Promise<Verdict> {
  const caseDir = `${f.root}/case-${index}`;
  const datadir = `${caseDir}/data`;
  await Deno.mkdir(datadir, { recursive: true });
  const spy = await makeToolSpy(`${caseDir}/spy`);
  const node: NodeSpec = {
    datadir: datadir + "/",
    defaultsFile: `${caseDir}/node.cnf`,
    env: { PATH: spy.path },
  };
  await Deno.copyFile(base.defaultsFile, node.defaultsFile);
  await c.setup?.(node, caseDir);
  const r = await c.run(node, caseDir);
  const problems: string[] = [];
  if (await Deno.stat(`${datadir}/PWNED`).then(() => true, () => false)) {
    problems.push("a payload was EXECUTED (PWNED exists)");
  }
  const errors = errorLines(r);
  const codes = typeof expect.code === "number" ? [expect.code] : expect.code;
  if (!codes.includes(r.code)) problems.push(`exit ${r.code}, expected ${codes.join(" or ")}`);
  if (r.lines.length > 0) problems.push(`printed ${JSON.stringify(r.lines)}`);
  if (errors.length !== 1) problems.push(`${errors.length} ERROR lines`);
  else if (!expect.error.test(errors[0])) problems.push(`unclear ERROR line: ${errors[0]}`);
  if (spy.starts().length > 0) problems.push(`started: ${spy.starts().join(" | ")}`);
  const left = leftovers(datadir);
  if (left.length > 0) problems.push(`left in datadir: ${left.join(", ")}`);
  return problems.map((p) => p.slice(0, 300));
}

/** Runs `cases` (two at a time), records each in the ledger, fails listing every miss. */
async function expectAllRejected(
  f: Fixture,
  base: FixtureNode,
  what: string,
  cases: HostileCase[],
  expect: { code: number | readonly number[]; error: RegExp },
): Promise<void> {
  const verdicts: Verdict[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      verdicts[i] = await runCase(f, base, i, cases[i], expect);
    }
  };
  await Promise.all([worker(), worker()]);
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const ok = verdicts[i].length === 0;
    record({
      kind: "bad-input",
      name: `${what}: ${c.label}`,
      ok,
      detail: ok ? `rejected, exit ${expect.code}` : verdicts[i].join("; "),
    });
    if (!ok) failures.push(`${c.label}: ${verdicts[i].join("; ")}`);
  });
  assertEquals(failures, [], `${what}: every hostile value must be rejected before anything runs`);
}

/** After all runs (and the waiting joiner) ended: no process, no private file left. */
function assertNothingLeft(f: Fixture, what: string): void {
  const procs = processesMentioning(f.root);
  recordCount("orphans", `after hostile ${what}`, procs.length, procs.join("; ") || undefined);
  assertEquals(procs, [], "no process may be left");
  for (const n of [f.joiner, f.donor]) assertEquals(leftovers(n.tmpdir), [], "private files");
}

/** Joiner-only runs: the hostile value is in its `--address` or option file. */
function joinerCase(label: string, f: Fixture, address = f.address): HostileCase {
  return {
    label,
    run: async (node) =>
      (await driveSst({ address, joiner: node, donor: f.donor, noDonor: true, timeoutMs: 30_000 }))
        .joiner,
  };
}

/** A joiner waiting for its donor, for donor cases; stopped (as mariadbd would) afterwards. */
async function withWaitingJoiner(
  f: Fixture,
  body: (ready: { secret: string; address: string }) => Promise<void>,
): Promise<void> {
  let resolveReady: (v: { value: string; child: Child }) => void = () => {};
  const ready = new Promise<{ value: string; child: Child }>((r) => (resolveReady = r));
  const joinerRun = driveSst({
    address: f.address,
    joiner: f.joiner,
    donor: f.donor,
    noDonor: true,
    timeoutMs: 120_000,
    onReady: (value, child) => {
      resolveReady({ value, child });
      return Promise.resolve();
    },
  });
  const got = await Promise.race([ready, joinerRun.then(() => null)]);
  if (!got) throw new Error(`joiner did not get ready: ${(await joinerRun).joiner.stderr}`);
  const at = got.value.lastIndexOf("@");
  try {
    await body({ secret: got.value.slice(0, at), address: got.value.slice(at + 1) });
  } finally {
    await stop(got.child, 5000);
    const j = (await joinerRun).joiner;
    assertEquals(j.lines.length, 1, "the joiner never got a final line");
    assertEquals(leftovers(f.joiner.layout.datadir), [], "nothing reached the joiner's datadir");
  }
}

function donorCase(
  label: string,
  ready: { secret: string; address: string },
  over: { address?: string; remoteAuth?: string } = {},
): HostileCase {
  return {
    label,
    run: (node) =>
      driveDonor({
        donor: node,
        address: over.address ?? ready.address,
        remoteAuth: over.remoteAuth ?? ready.secret,
        timeoutMs: 30_000,
      }),
  };
}

/** Creates a copy of `file` (or a directory) whose name carries the injection. */
async function hostileCopy(caseDir: string, file: string | null, inj: string): Promise<string> {
  const dir = `${caseDir}/files`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/x${inj}x`;
  if (file === null) await Deno.mkdir(path);
  else await Deno.copyFile(file, path);
  return path;
}

// ---------------------------------------------------------------------------------------------

Deno.test("hostile input: metacharacters in the joiner's --address are rejected before anything runs (exit 22)", async () => {
  const f = await makeFixture();
  try {
    await expectAllRejected(
      f,
      f.joiner,
      "joiner --address",
      INJECTIONS.map((i) => joinerCase(i.label, f, `127.0.0.1:${f.port}${i.text}`)),
      { code: 22, error: /SST address '.*'/ },
    );
    assertNothingLeft(f, "joiner --address");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: metacharacters in the donor's --address (host or path) are rejected before anything runs (exit 22)", async () => {
  const f = await makeFixture();
  try {
    await withWaitingJoiner(f, async (ready) => {
      const cases = INJECTIONS.flatMap((i) => [
        donorCase(`${i.label} in the path`, ready, { address: `${ready.address}${i.text}` }),
        donorCase(`${i.label} in the host`, ready, {
          address: `127.0.0.1${i.text}:${f.port}/rsync_tunnel_sst/1`,
        }),
      ]);
      await expectAllRejected(f, f.donor, "donor --address", cases, {
        code: 22,
        error: /SST address (host )?'.*'/,
      });
    });
    assertNothingLeft(f, "donor --address");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: metacharacters in the secret of WSREP_SST_OPT_REMOTE_AUTH are rejected before anything runs (exit 71)", async () => {
  const f = await makeFixture();
  try {
    await withWaitingJoiner(f, async (ready) => {
      const cases = INJECTIONS.map((i) =>
        donorCase(i.label, ready, { remoteAuth: `${ready.secret}${i.text}` })
      );
      await expectAllRejected(f, f.donor, "WSREP_SST_OPT_REMOTE_AUTH secret", cases, {
        code: 71,
        error: /WSREP_SST_OPT_REMOTE_AUTH/,
      });
    });
    assertNothingLeft(f, "WSREP_SST_OPT_REMOTE_AUTH secret");
  } finally {
    await f.cleanup();
  }
});

Deno.test({
  name:
    "hostile input: metacharacters before the secret in WSREP_SST_OPT_REMOTE_AUTH are rejected before anything runs (exit 71)",
  fn: async () => {
    const f = await makeFixture();
    try {
      await withWaitingJoiner(f, async (ready) => {
        const cases = INJECTIONS.map((i) =>
          donorCase(i.label, ready, { remoteAuth: `x${i.text}:${ready.secret}` })
        );
        await expectAllRejected(f, f.donor, "WSREP_SST_OPT_REMOTE_AUTH name part", cases, {
          code: 71,
          error: /WSREP_SST_OPT_REMOTE_AUTH/,
        });
      });
    } finally {
      await f.cleanup();
    }
  },
});

Deno.test("hostile input: metacharacters in the joiner's [sst] tcert and tca paths are rejected before socat starts (exit 22)", async () => {
  const f = await makeFixture();
  try {
    const cases = (["tcert", "tca"] as const).flatMap((key) =>
      INJECTIONS.map((i) => ({
        ...joinerCase(`${key}: ${i.label}`, f),
        setup: async (node: NodeSpec, caseDir: string) => {
          const src = key === "tcert" ? f.joiner.leaf.cert : f.ca.cert;
          await setSst(node, { [key]: cnfValue(await hostileCopy(caseDir, src, i.text)) });
        },
      }))
    );
    await expectAllRejected(f, f.joiner, "joiner [sst] tcert/tca path", cases, {
      code: 22,
      // newline: the value is cut there (see above), and the cut path does not exist
      error:
        /\[sst\] (tcert|tca)=('.*' contains characters socat would interpret|.* does not exist)/,
    });
    assertNothingLeft(f, "joiner [sst] tcert/tca path");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: metacharacters in the donor's [sst] tkey path are rejected before socat or rsync starts (exit 22)", async () => {
  const f = await makeFixture();
  try {
    await withWaitingJoiner(f, async (ready) => {
      const cases = INJECTIONS.map((i) => ({
        ...donorCase(i.label, ready),
        setup: async (node: NodeSpec, caseDir: string) => {
          const key = await hostileCopy(caseDir, f.donor.leaf.key, i.text);
          await Deno.chmod(key, 0o600);
          await setSst(node, { tkey: cnfValue(key) });
        },
      }));
      await expectAllRejected(f, f.donor, "donor [sst] tkey path", cases, {
        code: 22,
        error: /\[sst\] tkey=('.*' contains characters socat would interpret|.* does not exist)/,
      });
    });
    assertNothingLeft(f, "donor [sst] tkey path");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: metacharacters in [sst] tmpdir are rejected before socat starts (exit 22, or 2 for what names no directory)", async () => {
  const f = await makeFixture();
  try {
    const cases = INJECTIONS.map((i) => ({
      ...joinerCase(i.label, f),
      setup: async (node: NodeSpec, caseDir: string) => {
        await setSst(node, { tmpdir: cnfValue(await hostileCopy(caseDir, null, i.text)) });
      },
    }));
    await expectAllRejected(f, f.joiner, "[sst] tmpdir", cases, {
      // 22: refused as it is; 2: what is left of it names no directory (':' separates tmpdir
      // lists, as for mariadbd, and a newline ends the option file's value): either way before
      // socat starts, naming tmpdir.
      code: [22, 2],
      error: /tmpdir/,
    });
    assertNothingLeft(f, "[sst] tmpdir");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: metacharacters in [sst] sockopt are rejected before anything runs (exit 22)", async () => {
  const f = await makeFixture();
  try {
    const cases = SOCKOPT_INJECTIONS.filter((i) => i.label !== "newline").map((i) => ({
      ...joinerCase(i.label, f),
      setup: async (node: NodeSpec) => {
        await setSst(node, { sockopt: cnfValue(`cipher=HIGH${i.text}`) });
      },
    }));
    await expectAllRejected(f, f.joiner, "[sst] sockopt", cases, {
      code: 22,
      error: /\[sst\] sockopt='.*'/,
    });
    assertNothingLeft(f, "[sst] sockopt");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: a newline in [sst] sockopt cuts the value there; the tail never reaches socat", async () => {
  const f = await makeFixture();
  try {
    await setSst(f.joiner, { sockopt: cnfValue("cipher=HIGH\nverify=0,su=nobody") });
    let listener = "";
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      noDonor: true,
      timeoutMs: 30_000,
      onReady: async (_value, joiner) => {
        listener = processesMentioning(f.root).find((p) => p.includes("OPENSSL-LISTEN")) ?? "";
        await stop(joiner, 5000);
      },
    });
    const ok = /,cipher=HIGH /.test(listener) && !/verify=0|su=nobody/.test(listener);
    record({
      kind: "bad-input",
      name: "[sst] sockopt: newline (value cut, tail unused)",
      ok,
      detail: listener.slice(0, 300),
    });
    assert(ok, `socat must get cipher=HIGH and nothing after the newline: ${listener}`);
    assertEquals(r.joiner.lines.length, 1);
    assertNothingLeft(f, "[sst] sockopt newline");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: a joiner datadir containing a newline is rejected before socat starts (exit 22)", async () => {
  const f = await makeFixture();
  try {
    const c: HostileCase = {
      label: "newline in --datadir",
      run: async (node, caseDir) => {
        const dd = `${caseDir}/data\ninclude = x`;
        await Deno.mkdir(dd);
        const r = await joinerCase("", f).run({ ...node, datadir: dd + "/" }, caseDir);
        const left = leftovers(dd);
        return left.length > 0 ? { ...r, lines: [...r.lines, `left: ${left}`] } : r;
      },
    };
    await expectAllRejected(f, f.joiner, "joiner datadir", [c], {
      code: 22,
      error: /directory for rsync_tunnel_sst '.*\\ninclude = x' has a newline/,
    });
    assertNothingLeft(f, "joiner datadir");
  } finally {
    await f.cleanup();
  }
});

Deno.test("hostile input: datadirs with a space on both sides are not hostile: the SST works and copies the data identically", async () => {
  const f = await makeFixture({ dataDirNames: { donor: "donor node", joiner: "joiner node" } });
  try {
    assert(f.joiner.layout.datadir.includes(" ") && f.donor.layout.datadir.includes(" "));
    const r = await driveSst({
      address: f.address,
      joiner: f.joiner,
      donor: f.donor,
      timeoutMs: 60_000,
    });
    const diff = diffDigests(
      await treeDigest(f.donor.layout.datadir, isTransferredDatadirFile),
      await treeDigest(f.joiner.layout.datadir, isTransferredDatadirFile),
    );
    const left = processesMentioning(f.root);
    // ok = everything asserted below.
    const ok = r.joiner.code === 0 && r.donor?.code === 0 && diff.length === 0 &&
      left.length === 0;
    record({
      kind: "accepted-input",
      name: "datadir with a space",
      ok,
      detail: `joiner exit ${r.joiner.code}, donor exit ${r.donor?.code}; ` +
        `${diff.length} differences, ${left.length} processes left`,
    });
    assertEquals(r.joiner.code, 0, r.joiner.stderr);
    assertEquals(r.donor?.code, 0, r.donor?.stderr);
    assertEquals(diff, []);
    assertEquals(left, []);
  } finally {
    await f.cleanup();
  }
});
