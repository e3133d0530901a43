/**
 * The README's "SELinux and AppArmor" commands and claims that can be checked on a Debian host:
 * the policy module shipped in the RPM's doc directory (packaging/selinux/, listed by
 * rpm_test.ts) builds with exactly the README's checkmodule and semodule_package lines, and
 * grants `mysqld_t` nothing but `process execmem`; the port command is the README's; and Debian's
 * mariadb-server ships its AppArmor profile for mariadbd empty (comments only), as the README
 * says. Loading the module (`semodule -i`) and `semanage` need an SELinux host and are not run.
 * Needs checkmodule (checkpolicy) and semodule_package (semodule-utils), and mariadb-server.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const MODULE = `${REPO}/packaging/selinux/wsrep_sst_rsync_tunnel.te`;

async function section(): Promise<string> {
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const start = readme.indexOf("### SELinux and AppArmor");
  assert(start >= 0, "the README has a SELinux and AppArmor section");
  return readme.slice(start, readme.indexOf("\n### ", start + 10));
}

Deno.test("the SELinux module builds with the README's checkmodule and semodule_package lines and grants mysqld_t only execmem", async () => {
  const text = await section();
  const lines = text.split("\n").filter((l) => /^(checkmodule|semodule_package) /.test(l));
  assertEquals(lines, [
    "checkmodule -M -m -o wsrep_sst_rsync_tunnel.mod wsrep_sst_rsync_tunnel.te",
    "semodule_package -o wsrep_sst_rsync_tunnel.pp -m wsrep_sst_rsync_tunnel.mod",
  ]);
  assertMatch(text, /^semanage port -m -t mysqld_port_t -p tcp 4444 /m);
  assertMatch(text, /^cd \/usr\/share\/doc\/wsrep_sst_rsync_tunnel\*\/selinux$/m);
  const dir = await Deno.makeTempDir({ prefix: "selinux-" });
  try {
    await Deno.copyFile(MODULE, `${dir}/wsrep_sst_rsync_tunnel.te`);
    for (const line of lines) {
      const [cmd, ...args] = line.split(" ");
      const r = await new Deno.Command(cmd, { args, cwd: dir, stderr: "piped" }).output()
        .catch((e) => {
          throw new Error(`${cmd} is missing (apt-get install checkpolicy semodule-utils): ${e}`);
        });
      assertEquals(r.code, 0, `${line}: ${new TextDecoder().decode(r.stderr)}`);
    }
    assert((await Deno.stat(`${dir}/wsrep_sst_rsync_tunnel.pp`)).size > 0, "the .pp was made");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const rules = (await Deno.readTextFile(MODULE)).split("\n")
    .filter((l) => /^(allow|type_transition|dontaudit|auditallow)\b/.test(l.trim()));
  assertEquals(rules, ["allow mysqld_t self:process execmem;"]);
  assert(text.includes("`allow mysqld_t self:process execmem;`"), "the README quotes the rule");
});

Deno.test("Debian's mariadb-server ships the mariadbd AppArmor profile empty, as the README says", async () => {
  const profile = await Deno.readTextFile("/etc/apparmor.d/usr.sbin.mariadbd").catch((e) => {
    throw new Error(`mariadb-server is not installed (apt-get install mariadb-server): ${e}`);
  });
  const rules = profile.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  assertEquals(rules, [], "no rule in the profile");
  assertMatch(profile, /intentionally empty to disable apparmor/);
  assertMatch(await section(), /intentionally\s+empty to disable apparmor by default/);
});
