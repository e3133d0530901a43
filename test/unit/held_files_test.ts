/**
 * What the joiner tells the donor about what it holds (held_files.ts): an earlier copy by its
 * own schema directories, or by the mark of an SST that did not complete; and whether what it
 * holds changed while an SST ran (its mark stays only then).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  copyOf,
  describeHoldings,
  type HeldFile,
  type Holdings,
  holdingsChanged,
} from "../../src/transfer/held_files.ts";

const MiB = 1024 ** 2;

function holdings(files: HeldFile[], userBytes = 0, userSchemas: string[] = []): Holdings {
  return { files, bytes: files.reduce((n, f) => n + f.size, 0), userBytes, userSchemas };
}

const IBDATA: HeldFile = {
  module: "rsync_tunnel_sst-data_dir",
  rel: "ibdata1",
  size: 12 * MiB,
  allocated: 12 * MiB,
  modified: 1000,
};

Deno.test("a fresh datadir (system files only) holds no earlier copy; with an incomplete SST's mark it does", () => {
  const h = holdings([IBDATA]);
  assertEquals(copyOf(h), { kind: "none" });
  assertEquals(copyOf(h, "an SST to this datadir started at …"), { kind: "copy", mib: 12 });
  assertEquals(copyOf(holdings([]), "an SST to this datadir started at …"), { kind: "none" });
  assertMatch(
    describeHoldings(h, copyOf(h, "an SST started"), "an SST started"),
    /^this node holds an earlier copy: 12\.0 MiB where the SST writes, 0\.0 MiB of it in 0 schema\(s\), what an interrupted SST left \(an SST started\); told to the donor/,
  );
});

Deno.test("1 MiB in the node's own schema directories is an earlier copy, said as an old datadir or an interrupted SST", () => {
  const h = holdings([IBDATA], MiB, ["shop"]);
  assertEquals(copyOf(h), { kind: "copy", mib: 12 });
  assertMatch(
    describeHoldings(h, copyOf(h)),
    /12\.0 MiB where the SST writes, 1\.0 MiB of it in 1 schema\(s\) \(shop\), an old datadir or what an interrupted SST left; told to the donor \(with \[sst\] delta=auto it compares every file and sends only what is missing or differs\)$/,
  );
});

Deno.test("holdings change when a file is added, removed, resized or written, not otherwise", () => {
  const before = holdings([IBDATA]);
  assert(!holdingsChanged(before, holdings([{ ...IBDATA }])));
  assert(holdingsChanged(before, holdings([{ ...IBDATA, modified: 2000 }])));
  assert(holdingsChanged(before, holdings([{ ...IBDATA, size: 13 * MiB }])));
  assert(holdingsChanged(before, holdings([])));
  assert(holdingsChanged(before, holdings([IBDATA, { ...IBDATA, rel: "ibdata2" }])));
});
