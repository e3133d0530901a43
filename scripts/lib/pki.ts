/**
 * Test PKI made with the real `openssl` command: a CA, optional intermediates, and node
 * certificates with chosen names, validity and layout. Every file is written 0600.
 *
 * @module
 */
import { denoAdapter, run } from "../../src/proc/process.ts";
import { newKeyArgs, randomSerialHex, requestConfig } from "../../src/cli/certs.ts";

/** A certificate authority on disk. */
export interface Ca {
  name: string;
  cert: string;
  key: string;
}

/** A leaf certificate on disk. */
export interface Leaf {
  name: string;
  cert: string;
  key: string;
  /** key followed by certificate in one PEM (the `tcert`-only layout). */
  combined: string;
}

/** Options for {@link makeLeaf}. */
export interface LeafOptions {
  /** Common name; defaults to the leaf name. */
  cn?: string;
  /** subjectAltName entries, e.g. `["DNS:node1", "IP:127.0.0.1"]`; none if empty. */
  sans?: string[];
  /** Validity start/end as openssl `ca` dates (YYYYMMDDHHMMSSZ); default: now .. +30 days. */
  startDate?: string;
  endDate?: string;
  /** extendedKeyUsage purposes; default `["serverAuth", "clientAuth"]`, none if empty. */
  extendedKeyUsage?: string[];
}

async function openssl(args: string[], cwd?: string): Promise<void> {
  const r = await run(denoAdapter, { cmd: "openssl", args, cwd }, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

async function chmodAll(...files: string[]): Promise<void> {
  for (const f of files) await Deno.chmod(f, 0o600);
}

async function writeCaConfig(dir: string, name: string): Promise<string> {
  const file = `${dir}/${name}.req.cnf`;
  await Deno.writeTextFile(
    file,
    requestConfig([
      "basicConstraints = critical, CA:TRUE",
      "keyUsage = critical, keyCertSign, cRLSign",
      "subjectKeyIdentifier = hash",
    ]),
  );
  return file;
}

/** Creates a self-signed CA `name` in `dir`. */
export async function makeCa(dir: string, name: string): Promise<Ca> {
  const cert = `${dir}/${name}.crt`;
  const key = `${dir}/${name}.key`;
  await openssl([
    ...newKeyArgs("self-signed", { key, out: cert, cn: name }),
    "-days",
    "3650",
    // Our own config, not the system one: OpenSSL 1.1.1 would add its v3_ca extensions next to
    // ours (two basicConstraints) and then refuse the CA.
    "-config",
    await writeCaConfig(dir, name),
    "-extensions",
    "ext",
  ]);
  await chmodAll(cert, key);
  return { name, cert, key };
}

async function signWithCa(
  dir: string,
  ca: Ca,
  csr: string,
  out: string,
  extensions: string,
  start: string | undefined,
  end: string | undefined,
): Promise<void> {
  const work = await Deno.makeTempDir({ dir, prefix: ".ca-" });
  await Deno.writeTextFile(`${work}/index.txt`, "");
  await Deno.writeTextFile(`${work}/serial`, randomSerialHex() + "\n");
  await Deno.writeTextFile(`${work}/ext.cnf`, `[ext]\n${extensions}\n`);
  await Deno.writeTextFile(
    `${work}/ca.cnf`,
    [
      "[ca]",
      "default_ca = c",
      "[c]",
      `dir = ${work}`,
      `database = ${work}/index.txt`,
      `serial = ${work}/serial`,
      `new_certs_dir = ${work}`,
      "default_md = sha256",
      "policy = p",
      "unique_subject = no",
      "copy_extensions = none",
      "[p]",
      "commonName = supplied",
    ].join("\n") + "\n",
  );
  const dates = start && end ? ["-startdate", start, "-enddate", end] : ["-days", "30"];
  await openssl([
    "ca",
    "-batch",
    "-notext",
    "-config",
    `${work}/ca.cnf`,
    "-cert",
    ca.cert,
    "-keyfile",
    ca.key,
    "-in",
    csr,
    "-out",
    out,
    "-extfile",
    `${work}/ext.cnf`,
    "-extensions",
    "ext",
    ...dates,
  ]);
  await Deno.remove(work, { recursive: true });
}

/** A new P-256 key and a certificate request for `/CN=<cn>`. */
async function newKeyAndRequest(key: string, csr: string, cn: string): Promise<void> {
  await openssl(newKeyArgs("request", { key, out: csr, cn }));
}

/** Creates an intermediate CA signed by `parent`. */
export async function makeIntermediate(dir: string, parent: Ca, name: string): Promise<Ca> {
  const key = `${dir}/${name}.key`;
  const csr = `${dir}/${name}.csr`;
  const cert = `${dir}/${name}.crt`;
  await newKeyAndRequest(key, csr, name);
  await signWithCa(
    dir,
    parent,
    csr,
    cert,
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign",
    undefined,
    undefined,
  );
  await Deno.remove(csr);
  await chmodAll(cert, key);
  return { name, cert, key };
}

/** Creates a node certificate `name` signed by `ca`. */
export async function makeLeaf(
  dir: string,
  ca: Ca,
  name: string,
  opts: LeafOptions = {},
): Promise<Leaf> {
  const key = `${dir}/${name}.key`;
  const csr = `${dir}/${name}.csr`;
  const cert = `${dir}/${name}.crt`;
  const combined = `${dir}/${name}.pem`;
  await newKeyAndRequest(key, csr, opts.cn ?? name);
  const ext = [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
  ];
  const eku = opts.extendedKeyUsage ?? ["serverAuth", "clientAuth"];
  if (eku.length > 0) ext.push(`extendedKeyUsage=${eku.join(",")}`);
  const sans = opts.sans ?? [];
  if (sans.length > 0) ext.push(`subjectAltName=${sans.join(",")}`);
  await signWithCa(dir, ca, csr, cert, ext.join("\n"), opts.startDate, opts.endDate);
  await Deno.remove(csr);
  await Deno.writeTextFile(
    combined,
    (await Deno.readTextFile(key)) + (await Deno.readTextFile(cert)),
  );
  await chmodAll(cert, key, combined);
  return { name, cert, key, combined };
}

/** Concatenates PEM files (in the given order) into `dir/name`, written 0600. */
export async function makeBundle(dir: string, name: string, parts: string[]): Promise<string> {
  const out = `${dir}/${name}`;
  const texts = await Promise.all(parts.map((p) => Deno.readTextFile(p)));
  await Deno.writeTextFile(out, texts.join(""));
  await chmodAll(out);
  return out;
}

/** Writes `key` protected by `passphrase` (PKCS#8, AES-256) to `dir/name`, 0600. */
export async function encryptKey(
  dir: string,
  key: string,
  name: string,
  passphrase: string,
): Promise<string> {
  const out = `${dir}/${name}`;
  await openssl(["pkey", "-in", key, "-aes256", "-passout", `pass:${passphrase}`, "-out", out]);
  await chmodAll(out);
  return out;
}

/**
 * Creates the directory `dir/name` holding copies of the CA certificates; with `hashed` it
 * also runs `openssl rehash` there (the `<subject-hash>.0` links OpenSSL's capath needs).
 */
export async function makeCaDir(
  dir: string,
  name: string,
  cas: Ca[],
  hashed: boolean,
): Promise<string> {
  const out = `${dir}/${name}`;
  await Deno.mkdir(out);
  for (const ca of cas) await Deno.copyFile(ca.cert, `${out}/${ca.name}.pem`);
  if (hashed) await openssl(["rehash", out]);
  return out;
}
