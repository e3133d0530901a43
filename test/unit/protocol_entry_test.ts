/**
 * Issue 25: the protocol is read top to bottom in the two entry functions. Every line written
 * to mariadbd (`protocol.write`/`protocol.final`) is written by `runDonor` or `runJoiner`, and
 * the lines they write, in the order written, are the protocol lines the numbered comment at the
 * top of their file names, in its order.
 */
import { assertEquals } from "../support/assert.ts";
import { REPO_URL, sourceFiles } from "../support/source_files.ts";

const WRITE = /\.protocol\.(write|final)\(/g;

/** The body of `export async function <name>(` in `text`: up to the first `}` in column 0. */
function bodyOf(text: string, name: string): { start: number; end: number } {
  const start = text.indexOf(`export async function ${name}(`);
  if (start < 0) throw new Error(`no exported function ${name}`);
  const end = text.indexOf("\n}\n", start);
  return { start, end };
}

/** The header's numbered list: the JSDoc before the first import, from the line `1. `. */
function numberedSteps(text: string): string {
  const header = text.slice(0, text.indexOf("\nimport "));
  return header.slice(header.search(/^ \* 1\. /m));
}

/** The protocol keywords of `words`, in order, as they appear in backticks in `text`. */
function keywordsInBackticks(text: string, words: string[]): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/`([^`]+)`/g)) {
    const span = m[1].replace(/\s*\n\s*\*\s*/g, " ");
    const w = words.find((k) => span === k || span.startsWith(`${k} `));
    if (w) out.push(w);
  }
  return out;
}

/** The literal lines (their leading words) an entry function writes, in source order. */
function linesWritten(body: string, words: string[]): string[] {
  const out: string[] = [];
  for (const m of body.matchAll(/\.protocol\.(?:write|final)\(\s*[`"]([^`"$]*)/g)) {
    const w = words.find((k) => m[1] === k || m[1].startsWith(`${k} `));
    if (w) out.push(w);
  }
  return out;
}

const SRC = await sourceFiles(new URL("src/", REPO_URL), "src/");
const ENTRIES: Record<string, string> = {
  "src/sst/donor.ts": "runDonor",
  "src/sst/joiner.ts": "runJoiner",
};

Deno.test("only runDonor and runJoiner write protocol lines", () => {
  const outside: string[] = [];
  for (const [path, text] of SRC) {
    const entry = ENTRIES[path];
    const body = entry ? bodyOf(text, entry) : null;
    for (const m of text.matchAll(WRITE)) {
      if (!body || m.index! < body.start || m.index! > body.end) {
        const line = text.slice(0, m.index).split("\n").length;
        outside.push(`${path}:${line}`);
      }
    }
  }
  assertEquals(outside, [], "protocol lines written outside the entry functions");
});

Deno.test("runDonor writes continue, flush tables, continue, done in the header's order", () => {
  const text = SRC.get("src/sst/donor.ts")!;
  const { start, end } = bodyOf(text, "runDonor");
  const words = ["flush tables", "continue", "done"];
  const written = linesWritten(text.slice(start, end), words);
  assertEquals(written, ["continue", "flush tables", "continue", "done"]);
  assertEquals(keywordsInBackticks(numberedSteps(text), words), written);
});

Deno.test("runJoiner writes ready, then the state line, as its header numbers them", () => {
  const text = SRC.get("src/sst/joiner.ts")!;
  const { start, end } = bodyOf(text, "runJoiner");
  const body = text.slice(start, end);
  const words = ["ready"];
  assertEquals(linesWritten(body, words), ["ready"]);
  assertEquals(keywordsInBackticks(numberedSteps(text), words), ["ready"]);
  const ready = body.indexOf(".protocol.write(");
  const final = body.indexOf(".protocol.final(");
  assertEquals(ready >= 0 && final > ready, true, "ready is written before the final state");
});
