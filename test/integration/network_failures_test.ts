/**
 * Issue 23 item 8: network failures are not certificate failures. A joiner name that does not
 * resolve, and a port where nothing listens, must each be named as what they are (never "TLS
 * handshake failed … check [sst] tca, tcert and tkey", never 129), with their own exit code:
 * 113 (EHOSTUNREACH: no address for the name) and 111 (ECONNREFUSED). `check --peer` must exit
 * exactly as the donor of an SST to the same address does (the README promises it), so every
 * case runs both and asserts the same code. Real openssl and socat; recorded in the ledger.
 */
import { assertEquals } from "../support/assert.ts";
import { driveDonor, LAUNCHER, type SideResult } from "../../scripts/lib/sst_driver.ts";
import { type Fixture, freePort, waitNoProcesses, withFixture } from "../../scripts/lib/fixture.ts";
import { record } from "../../scripts/lib/ledger.ts";

/** `check --peer <target>` with the donor's option file, as a DBA runs it. */
async function checkPeer(f: Fixture, target: string): Promise<SideResult> {
  const out = await new Deno.Command(LAUNCHER, {
    args: ["check", "--peer", target, "--timeout", "10", "--defaults-file", f.donor.defaultsFile],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    lines: new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== ""),
    stderr: new TextDecoder().decode(out.stderr),
    code: out.code,
    signal: out.signal,
  };
}

/** A donor asked to send to `address` (as mariadbd passes it after the joiner's `ready`). */
function donorTo(f: Fixture, address: string): Promise<SideResult> {
  return driveDonor({
    donor: f.donor,
    address: `${address}/rsync_tunnel_sst/1`,
    remoteAuth: "0123456789abcdef0123456789abcdef",
    timeoutMs: 30_000,
  });
}

/** One network failure. */
interface Case {
  name: string;
  /** `host:port` both the donor and check --peer are pointed at. */
  target: (f: Fixture) => string;
  exit: number;
  /** The ERROR line of either. */
  message: RegExp;
}

const CASES: Case[] = [
  {
    name: "a joiner name that does not resolve",
    // RFC 2606: .invalid never resolves.
    target: () => `no-such-joiner.invalid:${freePort()}`,
    exit: 113,
    message:
      /cannot resolve the joiner's name 'no-such-joiner\.invalid' \(Name or service not known\); .*wsrep_sst_receive_address.*DNS or \/etc\/hosts/,
  },
  {
    name: "a port where nothing listens",
    target: () => `127.0.0.1:${freePort()}`,
    exit: 111,
    message: /nothing listens at joiner 127\.0\.0\.1:\d+ \(connection refused\)/,
  },
];

/** Problems with one side's end: code, one ERROR line naming the cause, no certificate blame. */
function problemsOf(what: string, r: SideResult, c: Case): string[] {
  const out: string[] = [];
  if (r.code !== c.exit) out.push(`${what} exit ${r.code}, want ${c.exit}`);
  const errors = r.stderr.split("\n").filter((l) => l.includes("[ERROR]"));
  if (errors.length !== 1) out.push(`${what}: ${errors.length} ERROR lines: ${errors.join(" | ")}`);
  else if (!c.message.test(errors[0])) out.push(`${what}: ERROR line: ${errors[0]}`);
  if (/TLS handshake|tca, tcert|certificate/i.test(errors.join("\n"))) {
    out.push(`${what} blames the certificates`);
  }
  if (r.lines.some((l) => l.startsWith("done"))) out.push(`${what} printed done`);
  return out;
}

for (const c of CASES) {
  Deno.test(`network: ${c.name}: the donor and check --peer both exit ${c.exit} naming the cause, not the certificates`, () =>
    withFixture({}, async (f) => {
      const target = c.target(f);
      const donor = await donorTo(f, target);
      const check = await checkPeer(f, target);
      const problems = [...problemsOf("donor", donor, c), ...problemsOf("check --peer", check, c)];
      if (donor.code !== check.code) {
        problems.push(`check --peer exits ${check.code}, the donor ${donor.code}`);
      }
      const left = await waitNoProcesses(f.root, 3000);
      problems.push(...left.map((p) => `left running: ${p}`));
      record({
        kind: "fault",
        name: `network: ${c.name} (donor and check --peer)`,
        ok: problems.length === 0,
        detail: problems.join("; ") || undefined,
      });
      assertEquals(problems, [], c.name);
    }));
}

/** A locale whose glibc messages are German, generated when missing (we run as root). */
async function germanLocale(): Promise<string> {
  const name = "de_DE.UTF-8";
  const have = await new Deno.Command("locale", { args: ["-a"], stdout: "piped" }).output();
  if (!/^de_DE\.utf8$/m.test(new TextDecoder().decode(have.stdout))) {
    const made = await new Deno.Command("localedef", {
      args: ["-i", "de_DE", "-f", "UTF-8", name],
      stderr: "piped",
    }).output();
    if (!made.success) throw new Error(`localedef: ${new TextDecoder().decode(made.stderr)}`);
  }
  return name;
}

Deno.test("network: under a translated locale (LC_ALL=de_DE.UTF-8) a refused connection is still named (exit 111): the tools' messages are read in the C locale", () =>
  withFixture({}, async (f) => {
    const locale = await germanLocale();
    const german = { LANG: locale, LC_ALL: locale, LANGUAGE: "de" };
    const target = `127.0.0.1:${freePort()}`;
    // The control: this locale is live here (coreutils translate their messages in it), so a
    // child that took it on would speak German. socat 1.7/1.8, rsync and openssl translate
    // nothing today; our children run with LC_ALL=C all the same (process_env_test.ts).
    const ls = await new Deno.Command("ls", {
      args: [`${f.root}/no-such-file`],
      env: german,
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(ls.stderr);
    assertEquals(/Datei oder Verzeichnis nicht gefunden/.test(said), true, said);
    const c = CASES.find((x) => x.exit === 111)!;
    const donor = await donorTo(
      { ...f, donor: { ...f.donor, env: { ...f.donor.env, ...german } } },
      target,
    );
    const problems = problemsOf("donor (de_DE)", donor, { ...c, target: () => target });
    record({
      kind: "fault",
      name: "network: a refused connection under a translated locale",
      ok: problems.length === 0,
      detail: problems.join("; ") || undefined,
    });
    assertEquals(problems, [], "translated locale");
  }));
