/**
 * `certs ca|node|bundle`: the certificates an SST needs, made with the `openssl` command the
 * program already requires. `ca` makes a cluster CA; `node` makes a node key (0600) and a
 * certificate with subjectAltName DNS and IP entries (DNS first, IPv4 before IPv6, which socat
 * 1.7.4 needs) and both TLS purposes (serverAuth for the joiner, clientAuth for the donor),
 * signed by the CA or self-signed; `bundle` concatenates self-signed node certificates into the
 * shared trust file. Each prints the `[sst]` lines to paste on stdout.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { type ProcessAdapter, run } from "../proc/process.ts";
import { ConfigError, ExitCode, MissingToolError, SstError } from "../core/errors.ts";
import { parseHost } from "../core/address.ts";
import * as log from "../core/log.ts";

/** Default validity of node certificates, in days (825: what browsers and many CAs allow). */
export const NODE_DAYS = 825;
/** Default validity of the CA, in days. */
export const CA_DAYS = 3650;

const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;

async function openssl(adapter: ProcessAdapter, args: string[]): Promise<void> {
  let r;
  try {
    r = await run(adapter, { cmd: "openssl", args }, { timeoutMs: 60_000 });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new MissingToolError("openssl is not installed; install the openssl package");
    }
    throw e;
  }
  if (r.code !== 0 || r.timedOut) {
    throw new SstError(
      ExitCode.config,
      `openssl ${args[0]} failed: ${r.stderr.trim().split("\n").at(-1) ?? r.code}`,
    );
  }
}

/**
 * An `openssl req`/`x509` configuration whose `[ext]` section holds exactly `ext`. Given with
 * `-config`, it replaces the system openssl.cnf: OpenSSL 1.1.1 would otherwise add that file's
 * `v3_ca` extensions to an `-x509` request next to ours (a CA with two basicConstraints, which
 * 1.1.1 then refuses to trust), and needs a `distinguished_name` section even with `-subj`.
 */
export function requestConfig(ext: readonly string[]): string {
  return `[req]\ndistinguished_name = dn\n[dn]\n[ext]\n${ext.join("\n")}\n`;
}

/**
 * openssl argv for a new P-256 key in `key` plus, for `/CN=<cn>`, a certificate request
 * (`request`) or a self-signed certificate (`self-signed`) in `out`. Shared with the test PKI.
 */
export function newKeyArgs(
  what: "request" | "self-signed",
  o: { key: string; out: string; cn: string },
): string[] {
  return [
    "req",
    what === "self-signed" ? "-x509" : "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    o.key,
    "-out",
    o.out,
    "-subj",
    `/CN=${o.cn}`,
  ];
}

/** A random positive 128-bit serial number in hex (no `0x`), as `openssl ca` and x509 take. */
export function randomSerialHex(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f;
  b[0] |= 0x10;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** A self-signed P-256 certificate with exactly the extensions `ext` (CA, or a lone node). */
async function selfSigned(
  adapter: ProcessAdapter,
  o: { dir: string; key: string; cert: string; days: string; cn: string; ext: string[] },
): Promise<void> {
  const work = await Deno.makeTempDir({ dir: o.dir, prefix: ".wsrep-certs-" });
  try {
    const config = `${work}/req.cnf`;
    await Deno.writeTextFile(config, requestConfig(o.ext));
    await openssl(adapter, [
      ...newKeyArgs("self-signed", { key: o.key, out: o.cert, cn: o.cn }),
      "-days",
      o.days,
      "-config",
      config,
      "-extensions",
      "ext",
      "-set_serial",
      randomSerial(),
    ]); // deno-fmt-ignore
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function outDir(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  return await Deno.realPath(dir);
}

async function refuseOverwrite(...paths: string[]): Promise<void> {
  for (const p of paths) {
    if (await exists(p)) {
      throw new ConfigError(`${p} exists already; remove it or choose another --out`);
    }
  }
}

function days(raw: string | undefined, def: number): number {
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new ConfigError(`--days ${raw} must be a positive number of days`);
  }
  return Number(raw);
}

function checkName(what: string, name: string): string {
  if (!NAME_RE.test(name) || /^[\d.]+$/.test(name)) {
    throw new ConfigError(
      `${what} '${name}' is not a host name (letters, digits, '-' and '.'); give IP addresses ` +
        "with --ip",
    );
  }
  return name.replace(/\.$/, "");
}

function randomSerial(): string {
  return `0x${randomSerialHex()}`;
}

/** Options of `certs ca`. */
export interface CaOptions {
  out: string;
  name?: string;
  days?: string;
}

/** `certs ca`: a self-signed CA (`ca.crt`, `ca.key` 0600) in `out`. */
export async function makeClusterCa(o: CaOptions, adapter: ProcessAdapter): Promise<void> {
  const dir = await outDir(o.out);
  const cert = `${dir}/ca.crt`;
  const key = `${dir}/ca.key`;
  await refuseOverwrite(cert, key);
  const cn = o.name ?? "wsrep_sst_rsync_tunnel cluster CA";
  if (!/^[A-Za-z0-9 ._-]{1,64}$/.test(cn)) {
    throw new ConfigError(`--name '${cn}' may hold letters, digits, spaces and . _ - only`);
  }
  await selfSigned(adapter, {
    dir,
    key,
    cert,
    days: String(days(o.days, CA_DAYS)),
    cn,
    ext: [
      "basicConstraints = critical, CA:TRUE, pathlen:0",
      "keyUsage = critical, keyCertSign, cRLSign",
      "subjectKeyIdentifier = hash",
    ],
  });
  await Deno.chmod(key, 0o600);
  await Deno.chmod(cert, 0o644);
  log.info(`certs: made CA ${cert} and its key ${key} (0600: keep it off the database nodes)`);
  console.log(`# on every node (copy ${cert} there):\n[sst]\ntca = ${cert}`);
}

/** Options of `certs node`. */
export interface NodeOptions {
  name: string;
  out: string;
  /** The directory `certs ca` wrote; absent with `selfSigned`. */
  ca?: string;
  ip?: string[];
  dns?: string[];
  days?: string;
  selfSigned?: boolean;
}

/** subjectAltName entries: DNS first, then IPv4, then IPv6 (socat 1.7.4 needs that order). */
export function subjectAltNames(name: string, dns: string[], ips: string[]): string[] {
  const names = [name, ...dns.map((d) => checkName("--dns", d))]
    .filter((n, i, all) => all.indexOf(n) === i);
  const v4: string[] = [];
  const v6: string[] = [];
  for (const ip of ips) {
    let h;
    try {
      h = parseHost(ip);
    } catch {
      h = null;
    }
    if (h?.kind === "ipv4") v4.push(`IP:${h.address}`);
    else if (h?.kind === "ipv6") v6.push(`IP:${h.address}`);
    else throw new ConfigError(`--ip ${ip} is not an IPv4 or IPv6 address`);
  }
  return [...names.map((n) => `DNS:${n}`), ...new Set([...v4, ...v6])];
}

/** `certs node`: `<name>.key` (0600) and `<name>.crt` in `out`, and `ca.crt` beside them. */
export async function makeNodeCertificate(o: NodeOptions, adapter: ProcessAdapter): Promise<void> {
  const name = checkName("node name", o.name);
  if (!o.ca && !o.selfSigned) {
    throw new ConfigError("certs node needs --ca <directory of certs ca> or --self-signed");
  }
  if (o.ca && o.selfSigned) throw new ConfigError("give either --ca or --self-signed, not both");
  const sans = subjectAltNames(name, o.dns ?? [], o.ip ?? []);
  const dir = await outDir(o.out);
  const cert = `${dir}/${name}.crt`;
  const key = `${dir}/${name}.key`;
  const caCopy = `${dir}/ca.crt`;
  const caDir = o.ca ? await Deno.realPath(o.ca).catch(() => o.ca!) : undefined;
  const caCert = caDir && `${caDir}/ca.crt`;
  const caKey = caDir && `${caDir}/ca.key`;
  if (caCert && caKey) {
    for (const f of [caCert, caKey]) {
      if (!(await exists(f))) {
        throw new ConfigError(`${f} does not exist; make the CA with 'certs ca --out ${o.ca}'`);
      }
    }
  }
  await refuseOverwrite(cert, key, ...(caCert && caCert !== caCopy ? [caCopy] : []));
  const ext = [
    "basicConstraints = critical, CA:FALSE",
    ...(o.selfSigned ? [] : ["keyUsage = critical, digitalSignature, keyEncipherment"]),
    "extendedKeyUsage = serverAuth, clientAuth",
    `subjectAltName = ${sans.join(", ")}`,
  ];
  const work = await Deno.makeTempDir({ dir, prefix: ".wsrep-certs-" });
  try {
    const extFile = `${work}/ext.cnf`;
    await Deno.writeTextFile(extFile, requestConfig(ext));
    const validity = String(days(o.days, NODE_DAYS));
    if (o.selfSigned) {
      await selfSigned(adapter, { dir, key, cert, days: validity, cn: name, ext });
    } else {
      const csr = `${work}/node.csr`;
      await openssl(adapter, newKeyArgs("request", { key, out: csr, cn: name }));
      await openssl(adapter, [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        caCert!,
        "-CAkey",
        caKey!,
        "-set_serial",
        randomSerial(),
        "-days",
        validity,
        "-sha256",
        "-extfile",
        extFile,
        "-extensions",
        "ext",
        "-out",
        cert,
      ]); // deno-fmt-ignore
      if (caCert !== caCopy) await Deno.copyFile(caCert!, caCopy);
      await Deno.chmod(caCopy, 0o644);
    }
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  await Deno.chmod(key, 0o600);
  await Deno.chmod(cert, 0o644);
  log.info(
    `certs: made ${cert} (CN=${name}; subjectAltName ${sans.join(", ")}; serverAuth, ` +
      `clientAuth) and its key ${key} (0600); give them to the mysql user (chown mysql)`,
  );
  const tca = o.selfSigned ? "<the file of 'certs bundle'>" : caCopy;
  console.log(`# on ${name}:\n[sst]\ntca   = ${tca}\ntcert = ${cert}\ntkey  = ${key}`);
}

/** `certs bundle`: the self-signed node certificates, concatenated into the trust file. */
export async function makeBundle(
  out: string,
  certs: string[],
): Promise<void> {
  if (certs.length === 0) throw new ConfigError("certs bundle needs the nodes' certificate files");
  if (await exists(out)) {
    throw new ConfigError(`${out} exists already; remove it or choose another --out`);
  }
  const parts: string[] = [];
  for (const file of certs) {
    const text = await Deno.readTextFile(file).catch((e) => {
      throw new ConfigError(`${file} cannot be read (${e.message})`);
    });
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!pems) throw new ConfigError(`${file} holds no PEM certificate`);
    for (const p of pems) {
      const c = new X509Certificate(p);
      if (c.subject !== c.issuer) {
        log.warn(
          `certs: ${file} (${c.subject}) is not self-signed; a CA-issued certificate ` +
            "belongs in the CA scenario (tca = the CA's certificate)",
        );
      }
      parts.push(p);
    }
  }
  await Deno.writeTextFile(out, parts.join("\n") + "\n", { mode: 0o644 });
  await Deno.chmod(out, 0o644);
  const abs = await Deno.realPath(out);
  log.info(`certs: wrote ${abs} with ${parts.length} certificate(s)`);
  console.log(`# on every node (copy ${abs} there):\n[sst]\ntca = ${abs}`);
}
