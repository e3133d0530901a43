/**
 * No module-level mutable state in `src/` beyond what must be process-wide: the source scan
 * lists every top-level `let`/`var` and every module-level `Map`/`Set` (weak ones too) and
 * fails on any not in {@link ALLOWED}. State that belongs to one SST lives in an object of that
 * SST (the donor's `Tunnel` keeps the socat logs it relayed; a pass keeps whether it logged its
 * first rsync command line). A lookup table typed `ReadonlySet`/`ReadonlyMap` is not state.
 */
import { assertEquals } from "../support/assert.ts";
import { sourceFiles as sourcesUnder } from "../support/source_files.ts";

const SRC = new URL("../../src/", import.meta.url);

/** A module-level variable that may hold state, and why it must. */
interface Allowed {
  file: string;
  name: string;
  why: string;
}

/** The process-wide registries and handles; a new entry needs a reason as good as these. */
const ALLOWED: readonly Allowed[] = [
  {
    file: "proc/process.ts",
    name: "live",
    why: "the children to kill on a signal (stopAll), whoever started them",
  },
  { file: "core/log.ts", name: "secrets", why: "the secrets every log line is redacted of" },
  { file: "core/log.ts", name: "debugEnabled", why: "the process's log level, set once" },
  { file: "proc/raw_dir.ts", name: "libc", why: "libc, opened once per process (dlopen)" },
  { file: "proc/statx.ts", name: "libc", why: "libc, opened once per process (dlopen)" },
  { file: "proc/statfs.ts", name: "libc", why: "libc, opened once per process (dlopen)" },
  { file: "proc/ficlone.ts", name: "libc", why: "libc, opened once per process (dlopen)" },
  {
    file: "tunnel/openssl_cli.ts",
    name: "cache",
    why: "which openssl an adapter runs, asked once (weak: dies with the adapter)",
  },
];

/** Top-level `let`/`var`, or a module-level `const` holding a new (Weak)Map/(Weak)Set. */
const STATE_RE = new RegExp(
  String
    .raw`^(?:export\s+)?(?:(?:let|var)\s+(\w+)|const\s+(\w+)\s*(:[^=]*)?=\s*new\s+(?:Weak)?(?:Map|Set)\b)`,
);

/** Module-level state declarations in `files`: `file name` each. */
export function moduleState(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of files) {
    for (const line of text.split("\n")) {
      const m = STATE_RE.exec(line);
      if (!m) continue;
      if (m[3] && /\bReadonly(?:Set|Map)\b/.test(m[3])) continue;
      out.push(`${file} ${m[1] ?? m[2]}`);
    }
  }
  return out.sort();
}

const allowed = (entry: string) => ALLOWED.some((a) => `${a.file} ${a.name}` === entry);

Deno.test("module state: no top-level let or module-level Map/Set in src/ beyond the process-wide registries", async () => {
  const found = await sourcesUnder(SRC).then(moduleState);
  assertEquals(found.filter((f) => !allowed(f)), []);
  const stale = ALLOWED.filter((a) => !found.includes(`${a.file} ${a.name}`));
  assertEquals(stale, [], "an allowed entry no longer exists: remove it from ALLOWED");
});

Deno.test("module state: the scan finds let, var and module-level maps and sets, and passes read-only tables and state inside functions", () => {
  const files = new Map([
    ["a.ts", "let n = 0;\nexport let m = 1;\nvar v;\n"],
    [
      "b.ts",
      "const seen = new Set<string>();\nexport const byId: Map<string, number> = new Map();\n",
    ],
    ["c.ts", "const w = new WeakMap<object, number>();\n"],
    [
      "d.ts",
      'const NAMES: ReadonlySet<string> = new Set(["x"]);\nfunction f() {\n  let i = 0;\n  const s = new Set();\n}\n',
    ],
  ]);
  assertEquals(moduleState(files), [
    "a.ts m",
    "a.ts n",
    "a.ts v",
    "b.ts byId",
    "b.ts seen",
    "c.ts w",
  ]);
});
