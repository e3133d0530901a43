/**
 * The `[sst]` keys the code reads, the table `src/config/sst_keys.ts` and the man page
 * `man/wsrep_sst_rsync_tunnel.1` cannot drift apart: every key a settings lookup asks for is in
 * the table (observed by running the real settings code, and by scanning src/ for lookups that
 * bypass the table), every table key is read, and the page documents exactly the table's keys
 * with the table's defaults. The page also renders with `man` without warnings.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { settingsFrom } from "../../src/config/settings.ts";
import { parseSstArgs } from "../../src/core/args.ts";
import { SST_KEYS } from "../../src/config/sst_keys.ts";
import { ConfigError, ExitCode } from "../../src/core/errors.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const PAGE = `${REPO}man/wsrep_sst_rsync_tunnel.1`;

/** Every (groups, key) the settings code looks up for one option file and role. */
async function lookups(cnf: string, role: string): Promise<Set<string>> {
  const dir = await Deno.makeTempDir({ prefix: "sst-keys-" });
  try {
    await Deno.writeTextFile(`${dir}/my.cnf`, cnf);
    const args = parseSstArgs([
      "--role",
      role,
      "--address",
      "localhost",
      "--datadir",
      dir,
      "--defaults-file",
      `${dir}/my.cnf`,
    ]); // deno-fmt-ignore
    const real = await OptionLookup.load({ defaultsFile: `${dir}/my.cnf` });
    const seen = new Set<string>();
    const spy = new Proxy(real, {
      get(target, prop) {
        const v = Reflect.get(target, prop);
        if (typeof v !== "function") return v;
        return (...a: unknown[]) => {
          if (["get", "has", "origin"].includes(String(prop))) seen.add(`${a[0]} ${a[1]}`);
          return v.apply(target, a);
        };
      },
    });
    try {
      settingsFrom(args, spy, 2);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
    }
    return seen;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Option files that make the settings code take each of its branches. */
const CONFIGS = [
  "",
  "[sst]\ntca=/x/ca.pem\ntcert=/x/c.pem\ntkey=/x/k.pem\n",
  "[mysqld]\nssl-ca=/x/ca.pem\nssl-cert=/x/c.pem\nssl-key=/x/k.pem\n",
  "[sst]\ncompress=zstd\ncompress-level=3\nbwlimit=10M\nsockopt=cipher=HIGH\n",
  "[sst]\ndonor-names=node1.example.com,192.0.2.3\n",
];

async function allLookups(): Promise<Set<string>> {
  const all = new Set<string>();
  for (const cnf of CONFIGS) {
    for (const role of ["joiner", "donor"]) {
      for (const l of await lookups(cnf, role)) all.add(l);
    }
  }
  return all;
}

Deno.test("every key the settings code reads from [sst] is in the key table with its groups", async () => {
  const table = new Set(SST_KEYS.map((k) => `${k.groups} ${k.name}`));
  const missing = [...await allLookups()].filter((l) => l.split(" ")[0].split("|").includes("sst"))
    .filter((l) => !table.has(l));
  assertEquals(missing, [], "add these lookups to src/config/sst_keys.ts and the man page");
});

Deno.test("every key in the table is read by the settings code", async () => {
  const read = await allLookups();
  const unread = SST_KEYS.filter((k) => !read.has(`${k.groups} ${k.name}`)).map((k) => k.name);
  assertEquals(unread, [], "the table lists keys no code reads (or CONFIGS misses a branch)");
});

Deno.test("no option lookup in src/ names an [sst] group itself instead of going through the table", async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (p.endsWith(".ts") && !p.endsWith("/sst_keys.ts")) {
        const text = await Deno.readTextFile(p);
        for (const m of text.matchAll(/\.(get|has|origin)\(\s*(["'`])([^"'`]*)\2\s*,/g)) {
          if (m[3].split("|").includes("sst")) offenders.push(`${p.slice(REPO.length)}: ${m[0]}`);
        }
      }
    }
  };
  await walk(`${REPO}src`);
  assertEquals(
    offenders,
    [],
    "read [sst] keys with sstValue/sstHas/sstOrigin (src/config/sst_keys.ts)",
  );
});

/** The page's `[sst] OPTIONS` entries: name → the default it documents. */
function documentedKeys(page: string): Map<string, string> {
  const section = page.split(/^\.SH /m).find((s) => s.startsWith('"[sst] OPTIONS"'));
  assert(section, "the man page has a [sst] OPTIONS section");
  const out = new Map<string, string>();
  const unescape = (t: string) => t.replaceAll("\\-", "-").trim();
  for (const m of section.matchAll(/^\.TP\n\.B (.+)\nDefault: (.+?)\. Group:/gm)) {
    out.set(unescape(m[1]), unescape(m[2]));
  }
  return out;
}

Deno.test("the man page documents exactly the table's [sst] keys, with the table's defaults", async () => {
  const documented = documentedKeys(await Deno.readTextFile(PAGE));
  const undocumented = SST_KEYS.filter((k) => !documented.has(k.name)).map((k) => k.name);
  assertEquals(undocumented, [], "document these keys in man/wsrep_sst_rsync_tunnel.1");
  const stale = [...documented.keys()].filter((n) => !SST_KEYS.some((k) => k.name === n));
  assertEquals(stale, [], "the man page documents keys the program does not read");
  for (const k of SST_KEYS) assertEquals(documented.get(k.name), k.default, `default of ${k.name}`);
});

Deno.test("the man page renders with man, without warnings, and shows every key", async () => {
  const out = await new Deno.Command("man", {
    args: ["--warnings", "-l", PAGE],
    env: { MANWIDTH: "100", MAN_KEEP_FORMATTING: "0", PAGER: "cat" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  // deno-lint-ignore no-control-regex -- removing man's overstrike (char, backspace) is the point
  const text = new TextDecoder().decode(out.stdout).replace(/.\x08/g, "");
  const warnings = new TextDecoder().decode(out.stderr).trim();
  assertEquals(out.code, 0, warnings);
  assertEquals(warnings, "", "groff warnings");
  assert(text.includes("WSREP_SST_RSYNC_TUNNEL(1)"), text.slice(0, 200));
  for (
    const h of [
      "SYNOPSIS",
      "MODES",
      "[sst] OPTIONS",
      "CERTIFICATES",
      "EXIT STATUS",
      "FILES",
      "EXAMPLES",
    ]
  ) {
    assert(text.includes(`\n${h}\n`), `section ${h} rendered`);
  }
  for (const k of SST_KEYS) {
    assert(new RegExp(`^\\s+${k.name}\\b`, "m").test(text), `${k.name} rendered`);
  }
});

Deno.test("every exit code is in the README's table and the man page's EXIT STATUS", async () => {
  const readme = await Deno.readTextFile(`${REPO}README.md`);
  const table = readme.slice(readme.indexOf("## Exit codes"), readme.indexOf("## Performance"));
  const page = await Deno.readTextFile(PAGE);
  const status = page.slice(page.indexOf('.SH "EXIT STATUS"'), page.indexOf(".SH FILES"));
  for (const code of new Set(Object.values(ExitCode))) {
    assert(new RegExp(`^\\| ${code} +\\|`, "m").test(table), `README exit code ${code}`);
    assert(status.includes(`.B ${code}\n`), `man page exit code ${code}`);
  }
});
