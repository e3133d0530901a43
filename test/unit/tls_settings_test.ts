/**
 * The stock `[sst]` TLS vocabulary (src/config/tls_settings.ts), one table of option files and
 * one runner: legacy `t*` keys against the server's `ssl-*` keys, the role keys
 * `ssl-server-*` / `ssl-client-*`, a CA directory given as `tca`, `ssl-mode`, and that every
 * value is named by the file, line, group and key as written. Then the names reaching the
 * certificate checks and socat's options.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { OptionLookup } from "../../src/config/option_lookup.ts";
import {
  type TlsField,
  tlsFrom,
  type TlsRole,
  type TlsSettings,
} from "../../src/config/tls_settings.ts";
import { ConfigError } from "../../src/core/errors.ts";
import { checkTlsFiles } from "../../src/tunnel/certificates.ts";
import { connectAddress, listenAddress } from "../../src/tunnel/socat_address.ts";
import { tlsOptionsOf } from "../../src/tunnel/tls_setup.ts";

/** One resolution case: an option file, a role, and what must come out. */
interface Case {
  name: string;
  role: TlsRole;
  /** The option file; `@F@` stands for its own path. */
  cnf: string;
  /** Paths the resolver must treat as directories. */
  dirs?: string[];
  /** Expected values (undefined = must be unset). */
  values?: Partial<Record<TlsField, string | undefined>>;
  /** Expected `where` of a field, `<line> [group] key` (the file is the option file). */
  where?: Partial<Record<TlsField, string>>;
  /** Expected advice name of a field. */
  setting?: Partial<Record<TlsField, string>>;
  mode?: TlsSettings["mode"];
  /** Expected `where` of ssl-mode (`<line> [group] key`), or null for the default. */
  modeWhere?: string | null;
  /** Each must match one note. */
  notes?: RegExp[];
  /** No notes at all. */
  noNotes?: boolean;
  /** The resolution must fail with exit 22 and a message matching this. */
  error?: RegExp;
}

const LEGACY = "[sst]\ntca=/s/ca.pem\ntcapath=/s/cadir\ntcert=/s/node.crt\ntkey=/s/node.key\n";
const GENERAL = "[mysqld]\nssl-ca=/m/ca.pem\nssl-cert=/m/node.crt\nssl-key=/m/node.key\n";

const CASES: Case[] = [
  {
    name: "legacy tca/tcapath/tcert/tkey in [sst] are used, named with file, line and key",
    role: "joiner",
    cnf: LEGACY,
    values: { ca: "/s/ca.pem", caPath: "/s/cadir", cert: "/s/node.crt", key: "/s/node.key" },
    where: { ca: "2 [sst] tca", caPath: "3 [sst] tcapath", cert: "4 [sst] tcert" },
    mode: "VERIFY_IDENTITY",
    modeWhere: null,
    noNotes: true,
  },
  {
    name: "stock-style ssl-ca/ssl-cert/ssl-key in [mysqld] only are used when no t* key is set",
    role: "donor",
    cnf: GENERAL,
    values: { ca: "/m/ca.pem", caPath: undefined, cert: "/m/node.crt", key: "/m/node.key" },
    where: { ca: "2 [mysqld] ssl-ca", cert: "3 [mysqld] ssl-cert", key: "4 [mysqld] ssl-key" },
    setting: { cert: "[mysqld] ssl-cert", caPath: "[sst] tcapath" },
    noNotes: true,
  },
  {
    name: "a key written loose-ssl_cert in [mariadb] is named exactly as written",
    role: "joiner",
    cnf: "[mariadb]\nloose-ssl_cert = /m/node.crt\nloose-ssl-key=/m/node.key\n",
    values: { cert: "/m/node.crt", key: "/m/node.key" },
    where: { cert: "2 [mariadb] loose-ssl_cert", key: "3 [mariadb] loose-ssl-key" },
    setting: { cert: "[mariadb] loose-ssl_cert" },
  },
  {
    name: "ssl-* in the server groups win over ssl-* in [sst] (--mysqld|sst)",
    role: "donor",
    cnf: "[sst]\nssl-cert=/s/node.crt\nssl-ca=/s/ca.pem\n[mysqld]\nssl-cert=/m/node.crt\n",
    values: { cert: "/m/node.crt", ca: "/s/ca.pem" },
    where: { cert: "5 [mysqld] ssl-cert", ca: "3 [sst] ssl-ca" },
  },
  {
    name: "any t* key replaces all ssl-* keys, and the ignored ones are named in a note",
    role: "joiner",
    cnf: LEGACY + GENERAL,
    values: { ca: "/s/ca.pem", cert: "/s/node.crt", key: "/s/node.key" },
    notes: [/:7 \[mysqld\] ssl-ca, \S+:8 \[mysqld\] ssl-cert, \S+:9 \[mysqld\] ssl-key ignored/],
  },
  {
    name: "tca alone still replaces ssl-cert (stock's all-or-nothing): tcert stays unset",
    role: "donor",
    cnf: "[sst]\ntca=/s/ca.pem\n" + GENERAL,
    values: { ca: "/s/ca.pem", cert: undefined, key: undefined },
    setting: { cert: "[sst] tcert", key: "[sst] tkey" },
    notes: [/:5 \[mysqld\] ssl-cert, .* ignored: the \[sst\] tca/],
  },
  {
    name: "identical t* and ssl-* values need no note",
    role: "donor",
    cnf: "[sst]\ntcert=/x/c.pem\n[mysqld]\nssl-cert=/x/c.pem\n",
    values: { cert: "/x/c.pem" },
    noNotes: true,
  },
  {
    name: "joiner: ssl-server-cert/key override the legacy tcert/tkey key by key",
    role: "joiner",
    cnf: LEGACY + "[mysqld]\nloose-ssl-server-cert=/r/server.crt\nloose-ssl-server-key=/r/s.key\n",
    values: { ca: "/s/ca.pem", cert: "/r/server.crt", key: "/r/s.key" },
    where: { ca: "2 [sst] tca", cert: "7 [mysqld] loose-ssl-server-cert" },
  },
  {
    name: "donor: ssl-server-* keys are not the donor's; it keeps the general ones",
    role: "donor",
    cnf: GENERAL + "loose-ssl-server-cert=/r/server.crt\n",
    values: { cert: "/m/node.crt" },
  },
  {
    name: "donor: ssl-client-ca/cert/key from [sst] override the server's ssl-*",
    role: "donor",
    cnf: GENERAL +
      "[sst]\nssl-client-ca=/r/client-ca.pem\nssl-client-cert=/r/c.crt\nssl-client-key=/r/c.key\n",
    values: { ca: "/r/client-ca.pem", cert: "/r/c.crt", key: "/r/c.key" },
    where: { ca: "6 [sst] ssl-client-ca", key: "8 [sst] ssl-client-key" },
  },
  {
    name: "joiner: ssl-client-* keys are not the joiner's",
    role: "joiner",
    cnf: GENERAL + "[sst]\nssl-client-cert=/r/c.crt\n",
    values: { cert: "/m/node.crt" },
  },
  {
    name: "a tca ending in / is a CA path",
    role: "joiner",
    cnf: "[sst]\ntca=/etc/ssl/cadir/\ntcert=/s/node.crt\n",
    values: { ca: undefined, caPath: "/etc/ssl/cadir/" },
    where: { caPath: "2 [sst] tca" },
    setting: { ca: "[sst] tca" },
    notes: [/:2 \[sst\] tca=\/etc\/ssl\/cadir\/ names a directory: used as the CA path/],
  },
  {
    name: "an ssl-ca naming a directory is a CA path and replaces ssl-capath (as stock)",
    role: "donor",
    cnf: "[mysqld]\nssl-ca=/etc/ssl/cadir\nssl-capath=/etc/ssl/other\nssl-cert=/m/c.crt\n",
    dirs: ["/etc/ssl/cadir"],
    values: { ca: undefined, caPath: "/etc/ssl/cadir" },
    where: { caPath: "2 [mysqld] ssl-ca" },
    notes: [/:3 \[mysqld\] ssl-capath=\/etc\/ssl\/other ignored/, /names a directory/],
  },
  {
    name: "an ssl-server-ca naming a directory is the joiner's CA path",
    role: "joiner",
    cnf: LEGACY + "[mysqld]\nloose-ssl-server-ca=/etc/ssl/servercas\n",
    dirs: ["/etc/ssl/servercas"],
    values: { ca: undefined, caPath: "/etc/ssl/servercas", cert: "/s/node.crt" },
    where: { caPath: "7 [mysqld] loose-ssl-server-ca" },
  },
  {
    name: "a CA file is not a CA path",
    role: "joiner",
    cnf: LEGACY,
    dirs: ["/s/cadir"],
    values: { ca: "/s/ca.pem", caPath: "/s/cadir" },
  },
  {
    name: "ssl-mode is case-insensitive and named where it was set",
    role: "donor",
    cnf: GENERAL + "loose-ssl-mode = verify_ca\n",
    mode: "VERIFY_CA",
    modeWhere: "5 [mysqld] loose-ssl-mode",
  },
  {
    name: "ssl-mode=REQUIRED from [sst]",
    role: "joiner",
    cnf: LEGACY + "ssl_mode=Required\n",
    mode: "REQUIRED",
    modeWhere: "6 [sst] ssl_mode",
  },
  {
    name: "ssl-mode in the server groups wins over [sst]",
    role: "joiner",
    cnf: "[sst]\nssl-mode=REQUIRED\n[galera]\nloose-ssl-mode=VERIFY_IDENTITY\n",
    mode: "VERIFY_IDENTITY",
    modeWhere: "4 [galera] loose-ssl-mode",
  },
  {
    name: "without ssl-mode a CA does not weaken the mode to VERIFY_CA (stock would)",
    role: "donor",
    cnf: GENERAL,
    mode: "VERIFY_IDENTITY",
    modeWhere: null,
  },
  {
    name: "ssl-mode=DISABLED is refused, naming where it was set and the way out",
    role: "joiner",
    cnf: GENERAL + "loose-ssl-mode=disabled\n",
    error:
      /:5 \[mysqld\] loose-ssl-mode=disabled asks for an unencrypted transfer, .*never makes; set wsrep_sst_method=rsync .*VERIFY_CA or REQUIRED/,
  },
  {
    name: "an unknown ssl-mode is refused, naming the value and where it came from",
    role: "donor",
    cnf: "[sst]\nssl-mode=PREFERRED\n",
    error: /:2 \[sst\] ssl-mode=PREFERRED is not a known ssl-mode/,
  },
];

async function resolve(c: Case): Promise<{ file: string; tls?: TlsSettings; error?: unknown }> {
  const dir = await Deno.makeTempDir({ prefix: "tls-settings-" });
  const file = `${dir}/my.cnf`;
  try {
    await Deno.writeTextFile(file, c.cnf.replaceAll("@F@", file));
    const opts = await OptionLookup.load({ defaultsFile: file });
    try {
      return { file, tls: tlsFrom(opts, c.role, (p) => (c.dirs ?? []).includes(p)) };
    } catch (error) {
      return { file, error };
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const c of CASES) {
  Deno.test(`tls settings: ${c.name}`, async () => {
    const { file, tls, error } = await resolve(c);
    if (c.error) {
      assert(error instanceof ConfigError, `expected a ConfigError, got ${error ?? "success"}`);
      assertEquals(error.exitCode, 22);
      assertMatch(error.message, c.error);
      assert(error.message.includes(file), `names the file: ${error.message}`);
      return;
    }
    if (error) throw error;
    const t = tls!;
    for (const [f, v] of Object.entries(c.values ?? {})) {
      assertEquals(t[f as TlsField], v, `value of ${f}`);
    }
    for (const [f, w] of Object.entries(c.where ?? {})) {
      assertEquals(t.names[f as TlsField].where, `${file}:${w}`, `where of ${f}`);
    }
    for (const [f, s] of Object.entries(c.setting ?? {})) {
      assertEquals(t.names[f as TlsField].setting, s, `setting of ${f}`);
    }
    if (c.mode) assertEquals(t.mode, c.mode, "ssl-mode");
    if (c.modeWhere !== undefined) {
      assertEquals(
        t.modeSource?.where ?? null,
        c.modeWhere && `${file}:${c.modeWhere}`,
        "ssl-mode where",
      );
    }
    for (const re of c.notes ?? []) {
      assert(t.notes.some((n) => re.test(n)), `a note matches ${re}: ${JSON.stringify(t.notes)}`);
    }
    if (c.noNotes) assertEquals(t.notes, [], "no notes");
  });
}

// ---------------------------------------------------------------------------------------------
// The names reach the certificate checks and socat

Deno.test("tls settings: a missing certificate named by [mysqld] loose-ssl-cert is reported as written, not as [sst] tcert", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tls-settings-" });
  try {
    const file = `${dir}/my.cnf`;
    await Deno.writeTextFile(
      file,
      `[mysqld]\nloose-ssl-ca=${dir}/ca.pem\nloose-ssl-cert=${dir}/missing.crt\n`,
    );
    await Deno.writeTextFile(`${dir}/ca.pem`, "not used\n");
    const t = tlsFrom(await OptionLookup.load({ defaultsFile: file }), "joiner");
    const e = await assertRejects(
      () => checkTlsFiles({ ...t, names: t.names }),
      ConfigError,
    );
    assertMatch(
      e.message,
      new RegExp(
        `^${file}:3 \\[mysqld\\] loose-ssl-cert=${dir}/missing\\.crt does not exist; fix the ` +
          "path in \\[mysqld\\] loose-ssl-cert",
      ),
    );
    assert(!e.message.includes("[sst] tcert"), e.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tls settings: without any certificate setting the message says which key to set", async () => {
  const e = await assertRejects(() => checkTlsFiles({ ca: "/x/ca.pem" }), ConfigError);
  assertMatch(e.message, /^\[sst\] tcert is not set; set \[sst\] tcert/);
});

Deno.test("tls settings: a socat-unsafe path is refused naming where it came from", () => {
  let message = "";
  try {
    listenAddress({
      port: 4444,
      ipv6: false,
      maxChildren: 4,
      socatVersion: "1.7.4.4",
      tls: {
        certFile: "/a b/c.crt",
        keyFile: "/k",
        caFile: "/ca",
        names: { cert: { setting: "[mysqld] ssl-cert", where: "/etc/my.cnf:3 [mysqld] ssl-cert" } },
      },
      sockopt: [],
    });
  } catch (e) {
    message = (e as Error).message;
  }
  assertMatch(message, /^\/etc\/my\.cnf:3 \[mysqld\] ssl-cert='\/a b\/c\.crt' contains characters/);
});

const CHECKED = {
  certFile: "/n.crt",
  keyFile: "/n.key",
  caFile: "/ca.pem",
  leaf: {
    subject: "CN=x",
    dnsNames: [],
    ipAddresses: [],
    notBefore: new Date(0),
    notAfter: new Date(0),
    fingerprint256: "",
  },
  warnings: [],
  names: {
    ca: { setting: "[sst] tca" },
    caPath: { setting: "[sst] tcapath" },
    cert: { setting: "[sst] tcert" },
    key: { setting: "[sst] tkey" },
  },
};

Deno.test("tls settings: ssl-mode=REQUIRED makes both ends verify=0; the other modes verify=1", () => {
  const host = { kind: "ipv4" as const, address: "127.0.0.1" };
  const conn = (mode: "REQUIRED" | "VERIFY_CA" | "VERIFY_IDENTITY") =>
    connectAddress({
      host,
      port: 4444,
      peerName: "localhost",
      connectTimeoutSec: 5,
      tls: tlsOptionsOf({ ...CHECKED, mode }),
      sockopt: [],
    });
  assertMatch(conn("REQUIRED"), /,verify=0,/);
  assert(!/verify=1/.test(conn("REQUIRED")), conn("REQUIRED"));
  assertMatch(conn("VERIFY_CA"), /,verify=1,/);
  assertMatch(conn("VERIFY_IDENTITY"), /,verify=1,/);
  const listen = listenAddress({
    port: 4444,
    ipv6: false,
    maxChildren: 4,
    socatVersion: "1.7.4.4",
    tls: tlsOptionsOf({ ...CHECKED, mode: "REQUIRED" }),
    sockopt: [],
  });
  assertMatch(listen, /,verify=0(,|$)/);
});

Deno.test("tls settings: no peer name (VERIFY_CA) gives socat an empty commonname=, a name gives that name", () => {
  const spec = {
    host: { kind: "name" as const, name: "node2.example" },
    port: 4444,
    connectTimeoutSec: 5,
    tls: tlsOptionsOf({ ...CHECKED, mode: "VERIFY_CA" }),
    sockopt: [],
  };
  assertMatch(connectAddress({ ...spec, peerName: null }), /,commonname=,no-sni=1,/);
  assertMatch(
    connectAddress({ ...spec, peerName: "node2.example" }),
    /,commonname=node2\.example,/,
  );
});
