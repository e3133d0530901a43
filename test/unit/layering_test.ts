/**
 * The floors of `src/`: each folder imports only from its own floor or the ones below it, so
 * errors, logging and addresses (`core/`) never depend on the SST flows built on top of them.
 * The README's "Layout" section lists the same order.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";

/** Lowest first. `main` is `src/main.ts`, the only file above every folder. */
const FLOORS = ["core", "proc", "config", "tunnel", "transfer", "sst", "cli", "main"] as const;

/** One import that goes upward. */
interface Violation {
  file: string;
  imports: string;
}

const SRC = new URL("../../src/", import.meta.url);

function floorOf(path: string): number {
  const slash = path.indexOf("/");
  const folder = slash < 0 ? "main" : path.slice(0, slash);
  const floor = FLOORS.indexOf(folder as typeof FLOORS[number]);
  if (floor < 0) throw new Error(`src/${path}: folder '${folder}' has no floor in FLOORS`);
  return floor;
}

/** Relative import specifiers of one source text, static and dynamic. */
function relativeImports(text: string): string[] {
  const found = text.matchAll(
    /(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm,
  );
  return [...found].map((m) => m[1]);
}

/** The upward imports among `files` (paths relative to src/ mapped to their text). */
function upwardImports(files: ReadonlyMap<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of files) {
    for (const spec of relativeImports(text)) {
      const target = new URL(spec, new URL(file, SRC)).pathname.slice(SRC.pathname.length);
      if (floorOf(target) > floorOf(file)) out.push({ file, imports: target });
    }
  }
  return out;
}

async function sourceFiles(dir = SRC, prefix = ""): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    if (e.isDirectory) {
      const sub = await sourceFiles(new URL(`${e.name}/`, dir), `${rel}/`);
      for (const [k, v] of sub) files.set(k, v);
    } else if (e.name.endsWith(".ts")) {
      files.set(rel, await Deno.readTextFile(new URL(e.name, dir)));
    }
  }
  return files;
}

Deno.test("layering: no file under src/ imports from a higher floor", async () => {
  const files = await sourceFiles();
  assertEquals(upwardImports(files), []);
});

Deno.test("layering: every folder under src/ has a floor", async () => {
  for (const file of (await sourceFiles()).keys()) floorOf(file);
});

Deno.test("layering: the checker finds static and dynamic upward imports and allows downward ones", () => {
  const files = new Map([
    ["core/log.ts", 'import { x } from "../sst/joiner.ts";\n'],
    ["proc/tools.ts", 'const m = await import("../cli/cli.ts");\nimport "../core/errors.ts";\n'],
    ["sst/joiner.ts", 'import { y } from "../core/log.ts";\nimport { z } from "./donor.ts";\n'],
  ]);
  assertEquals(upwardImports(files), [
    { file: "core/log.ts", imports: "sst/joiner.ts" },
    { file: "proc/tools.ts", imports: "cli/cli.ts" },
  ]);
});
