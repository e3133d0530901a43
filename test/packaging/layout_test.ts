/**
 * The shared layout of scripts/launcher.ts: what it stages in bundle mode, that the launcher
 * runs its own runtime found through its resolved path (also through a link from elsewhere),
 * and that an alias (one line in ALIASES) becomes a working command link with a man page link:
 * `wsrep_sst_rsync_tunnel_wan`, which the program knows itself run as (its `--version` says so;
 * an outside link of another name is the main name).
 */
import { assert, assertEquals } from "../support/assert.ts";
import { ALIASES, stage } from "../../scripts/launcher.ts";
import { VERSION } from "../../src/core/version.ts";
import { pathWithoutDeno } from "./no_deno_path.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("stage: bundle, runtime, launcher, man page and alias links; the alias and an outside link run the program, the alias as rsync_tunnel_wan", async () => {
  assertEquals(ALIASES, ["wsrep_sst_rsync_tunnel_wan"], "the installed aliases");
  const dir = await Deno.makeTempDir({ prefix: "layout-" });
  try {
    const files = await stage({
      destdir: `${dir}/root`,
      prefix: "/usr",
      bundle: `${REPO}/dist/wsrep_sst_rsync_tunnel.js`,
      manPage: `${REPO}/man/wsrep_sst_rsync_tunnel.1`,
      gzipMan: true,
    });
    assertEquals(files.map((f) => `${f.kind} ${f.path}`), [
      "file /usr/bin/wsrep_sst_rsync_tunnel",
      "file /usr/lib/wsrep_sst_rsync_tunnel/wsrep_sst_rsync_tunnel.js",
      "file /usr/lib/wsrep_sst_rsync_tunnel/deno",
      "file /usr/share/man/man1/wsrep_sst_rsync_tunnel.1.gz",
      "link /usr/bin/wsrep_sst_rsync_tunnel_wan",
      "link /usr/share/man/man1/wsrep_sst_rsync_tunnel_wan.1.gz",
    ], "staged files");
    assertEquals(
      await Deno.readLink(`${dir}/root/usr/bin/wsrep_sst_rsync_tunnel_wan`),
      "wsrep_sst_rsync_tunnel",
      "relative alias link",
    );
    await Deno.symlink(`${dir}/root/usr/bin/wsrep_sst_rsync_tunnel`, `${dir}/elsewhere`);
    const env = { PATH: await pathWithoutDeno(dir) };
    const bin = `${dir}/root/usr/bin`;
    for (
      const [exe, method] of [
        [`${bin}/wsrep_sst_rsync_tunnel_wan`, "wan"],
        [`${bin}/wsrep_sst_rsync_tunnel`, "main"],
        [`${dir}/elsewhere`, "main"],
      ]
    ) {
      const out = await new Deno.Command(exe, { args: ["--version"], env, stdout: "piped" })
        .output();
      assertEquals(out.code, 0, exe);
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      assertEquals(lines[0], `wsrep_sst_rsync_tunnel ${VERSION}`, exe);
      assertEquals(
        lines.at(-1),
        method === "wan"
          ? "run as wsrep_sst_rsync_tunnel_wan (wsrep_sst_method=rsync_tunnel_wan): [sst] " +
            "delta=auto means delta transfer against the joiner's files"
          : "run as wsrep_sst_rsync_tunnel (wsrep_sst_method=rsync_tunnel): [sst] delta=auto " +
            "means delta transfer when the joiner holds an earlier copy, whole files otherwise",
        exe,
      );
    }
    assert(
      (await Deno.readTextFile(`${dir}/root/usr/bin/wsrep_sst_rsync_tunnel`)).includes(
        "DENO_DIR=/dev/null/",
      ),
      "the launcher keeps Deno's caches off disk",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
