/**
 * The donor server's `innodb_flush_log_at_trx_commit` (src/config/trx_commit.ts): mariadbd's
 * argument wins over the option files, MariaDB's default is 1; and the hint after `continue`,
 * only for a flush of 0.3 s or more with 0 or 2 and a datadir on XFS (where 1 was measured to
 * help), naming where the setting was read.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import { SLOW_FLUSH_SECONDS, slowFlushLine, trxCommitFrom } from "../../src/config/trx_commit.ts";

/** The lookup of an option file holding `lines`. */
async function optionsOf(lines: string[]): Promise<{ opts: OptionLookup; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "trx-commit-unit-" });
  const file = `${dir}/my.cnf`;
  await Deno.writeTextFile(file, [...lines, ""].join("\n"));
  const opts = await OptionLookup.load({ defaultsFile: file, env: {} });
  await Deno.remove(dir, { recursive: true });
  return { opts, file };
}

Deno.test("trx commit: read from the server groups with where; mariadbd's argument wins; default 1", async () => {
  const { opts, file } = await optionsOf([
    "[mysqld]",
    "innodb_flush_log_at_trx_commit=0",
    "[galera]",
    "innodb-flush-log-at-trx-commit = 2",
  ]);
  assertEquals(trxCommitFrom(opts, undefined), {
    value: "2",
    where: `${file}:4 [galera] innodb-flush-log-at-trx-commit`,
  });
  assertEquals(trxCommitFrom(opts, "1"), { value: "1", where: "mariadbd's argument" });
  const none = await optionsOf([
    "[mysqld]",
    "datadir=/x",
    "[client]",
    "innodb_flush_log_at_trx_commit=2",
  ]);
  assertEquals(trxCommitFrom(none.opts, undefined), { value: "1", where: "default" });
});

Deno.test("slow flush hint: only at 0.3 s or more, with 0 or 2, the binary log on and on XFS or ext4, naming the setting's place and the wait", () => {
  const two = {
    value: "2",
    where: "/etc/mysql/conf.d/galera.cnf:7 [galera] innodb_flush_log_at_trx_commit",
  };
  const facts = { seconds: 0.68, setting: two, fsType: "xfs", binlog: true };
  assertEquals(slowFlushLine({ ...facts, seconds: SLOW_FLUSH_SECONDS - 0.01 }), null);
  for (const value of ["1", "3"]) {
    assertEquals(slowFlushLine({ ...facts, setting: { value, where: "default" } }), null);
  }
  for (const fsType of ["btrfs", "tmpfs", undefined]) {
    assertEquals(slowFlushLine({ ...facts, fsType }), null, `no hint on ${fsType}`);
  }
  assertEquals(slowFlushLine({ ...facts, binlog: false }), null, "no rotation, no wait");
  const line = slowFlushLine(facts);
  assert(line !== null);
  assert(
    line.startsWith(
      `mariadbd's flush took 0.68 s with innodb_flush_log_at_trx_commit=2 (${two.where}) ` +
        "and the binary log on",
    ),
    line,
  );
  assert(line.includes("rotates the binary log"), line);
  assert(line.includes("SET GLOBAL innodb_flush_log_at_trx_commit=1"), line);
  assert(slowFlushLine({ ...facts, fsType: "ext4" }) !== null, "ext4 as XFS");
  const zero = { value: "0", where: "mariadbd's argument" };
  assert(slowFlushLine({ ...facts, seconds: 0.3, setting: zero }) !== null);
});
