/**
 * Unit tests for the donor's `--rsh` socat client (src/tunnel/rsh_command.ts): rsync's split of
 * the `--rsh` value is reproduced, then the real `/bin/sh` runs the script with a stand-in socat
 * that records its argv, so what reaches socat is exactly our argv, whatever the values hold.
 *
 * @module
 */
import { assertEquals, assertMatch } from "../support/assert.ts";
import { RSH_ENV_PREFIX, rshSetup, SOCAT_LOG_RE } from "../../src/tunnel/rsh_command.ts";

/** rsync's own split of `--rsh`: spaces separate words, single or double quotes group them. */
function rsyncSplit(rsh: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote = "";
  for (const ch of rsh) {
    if (quote) {
      if (ch === quote) quote = "";
      else word += ch;
    } else if (ch === " ") {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** Runs the `--rsh` command as rsync would and returns the argv the stand-in socat saw. */
async function argvSeenBySocat(args: string[]): Promise<{ argv: string[]; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "rsh-test." });
  const socat = `${dir}/fake socat`;
  await Deno.writeTextFile(
    socat,
    `#!/bin/sh\nprintf '%s\\0' "$0" "$@" > "${dir}/argv"\numask > "${dir}/umask"\n`,
  );
  await Deno.chmod(socat, 0o700);
  const setup = rshSetup({ socat, args, logDir: `${dir}/logs` });
  const [cmd, ...rest] = rsyncSplit(setup.rsh);
  const out = await new Deno.Command(cmd, {
    args: [...rest, "joiner", "rsync", "--server", "--daemon", "."],
    env: setup.env,
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const argv = (await Deno.readTextFile(`${dir}/argv`)).split("\0").slice(0, -1);
  return { argv, dir };
}

Deno.test("rsh: the --rsh value is constant text: no argv value, path or address appears in it", () => {
  const hostile = ["$(touch /tmp/x)", "`id`", "a'b\"c", "OPENSSL:h:1,cert=/d i r/c.pem"];
  const setup = rshSetup({ socat: "/opt/my socat", args: hostile, logDir: "/tmp/it's" });
  for (const v of [...hostile, "/opt/my socat", "/tmp/it's"]) {
    assertEquals(setup.rsh.includes(v), false, `${v} in ${setup.rsh}`);
  }
  assertMatch(setup.rsh, /^\/bin\/sh -c '[^']*'$/);
  assertEquals(setup.env[`${RSH_ENV_PREFIX}ARG0`], hostile[0]);
});

Deno.test("rsh: socat receives every argument verbatim, shell metacharacters included, and ignores rsync's trailing words", async () => {
  const args = [
    "-b",
    "131072",
    "STDIO",
    "OPENSSL:h:1,cert=/d i r/c.pem",
    "$(id) `id` ; | & * ' \"",
  ];
  const { argv, dir } = await argvSeenBySocat(args);
  try {
    assertEquals(argv.slice(1), ["-lf", argv[2], ...args]);
    assertEquals(argv[0], `${dir}/fake socat`);
    assertMatch(argv[2], new RegExp(`^${dir}/logs/socat-\\d+\\.log$`));
    assertMatch(argv[2].slice(argv[2].lastIndexOf("/") + 1), SOCAT_LOG_RE);
    assertEquals((await Deno.readTextFile(`${dir}/umask`)).trim(), "0077", "socat's log is 0600");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
