/**
 * Scripts (benchmarks, the demo, packaging, CI helpers) never import from `test/`: what they
 * share with the tests (real clusters in network namespaces, the loopback fixture and driver, the
 * test PKI, the hardening ledger) lives in `scripts/lib/`, which the tests import by design.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sources(path);
    else if (e.isFile && path.endsWith(".ts")) yield path;
  }
}

/** The relative imports of `text` (static and dynamic), as written. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) => m[1]);
}

/** `spec` of a file in `file`'s directory, resolved against the repository root. */
function resolve(file: string, spec: string): string {
  const parts = file.split("/").slice(0, -1);
  for (const p of spec.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== ".") parts.push(p);
  }
  return parts.join("/");
}

Deno.test("scripts: no import reaches into test/ (shared code lives in scripts/lib/)", async () => {
  assertEquals(resolve("scripts/bench/lab.ts", "../../test/e2e/cluster.ts"), "test/e2e/cluster.ts");
  const found: string[] = [];
  for await (const file of sources("scripts")) {
    for (const spec of importsOf(await Deno.readTextFile(file))) {
      if (resolve(file, spec).startsWith("test/")) found.push(`${file}: ${spec}`);
    }
  }
  assertEquals(found, []);
});
