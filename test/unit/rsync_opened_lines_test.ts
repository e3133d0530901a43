/**
 * rsync_runner.ts `stdoutText`: the lines rsync prints for each file it opens reach the listener
 * one by one, even split across reads, and stay out of the text the summary is read from; a
 * listener's error comes after the whole output was read (a full pipe would stall rsync).
 */
import { assertEquals, assertRejects } from "../support/assert.ts";
import { OPENED_PREFIX, stdoutText } from "../../src/transfer/rsync_runner.ts";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(enc.encode(chunk));
      c.close();
    },
  });
}

const summary =
  "sent 1,234 bytes  received 56 bytes  100.00 bytes/sec\ntotal size is 9  speedup is 1.00";

Deno.test("opened names reach the listener whole even when a read splits them, and leave the summary as it was", async () => {
  const text =
    `${OPENED_PREFIX}s1/\n${OPENED_PREFIX}s1/t.ibd\n${OPENED_PREFIX}ib data1\n${summary}\n`;
  const cut = text.indexOf("t.ibd") + 2;
  const names: string[] = [];
  const rest = await stdoutText(
    streamOf([text.slice(0, cut), text.slice(cut)]),
    (n) => names.push(n),
  );
  assertEquals(names, ["s1/", "s1/t.ibd", "ib data1"]);
  assertEquals(rest.trim(), summary);
});

Deno.test("without a listener the output is returned as it came, names included", async () => {
  const text = `${OPENED_PREFIX}a\n${summary}\n`;
  assertEquals(await stdoutText(streamOf([text]), null), text);
});

Deno.test("a listener's error is thrown only after every line was read", async () => {
  const names: string[] = [];
  const text = `${OPENED_PREFIX}a\n${OPENED_PREFIX}b\n${OPENED_PREFIX}c\n`;
  await assertRejects(
    () =>
      stdoutText(streamOf([text]), (n) => {
        names.push(n);
        if (n === "a") throw new Error("unlink failed");
      }),
    Error,
    /unlink failed/,
  );
  assertEquals(names, ["a", "b", "c"]);
});
