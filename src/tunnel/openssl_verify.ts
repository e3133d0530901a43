/**
 * The chain check: `openssl verify` of the node's certificate (intermediates from `tcert`)
 * against exactly the configured CAs, for the TLS purpose of the node's role, with the failure
 * turned into one actionable line; the other role's purpose only gives a warning.
 *
 * @module
 */
import type { TlsRole } from "../config/tls_settings.ts";
import { ConfigError, ExitCode, MissingToolError, SstError } from "../core/errors.ts";
import { type ProcessAdapter, run } from "../proc/process.ts";
import { type OpensslCli, opensslCli, trustOnlyArgs } from "./openssl_cli.ts";
import { oneLine } from "./tls_failures.ts";
import { type Key, type Keys, ref, short } from "./tls_keys.ts";

/** A TLS purpose as `openssl verify -purpose` names it. */
export type Purpose = "sslserver" | "sslclient";

/** The TLS purpose libssl checks for the certificate a node of `role` presents. */
export const PURPOSE: Record<TlsRole, Purpose> = { joiner: "sslserver", donor: "sslclient" };

const VERIFY_TIMEOUT_MS = 15_000;

/** What one `openssl verify` run checks. */
export interface VerifyPlan {
  adapter: ProcessAdapter;
  caFile?: string;
  caPath?: string;
  leafPem: string;
  /** tcert, when it holds intermediates after the leaf. */
  untrusted?: string;
  now?: Date;
}

/** How `openssl verify` ended. */
type VerifyOutcome =
  | { ok: true }
  | { ok: false; reason: string; code?: number; depth?: number; subject?: string };

/**
 * Mirrors socat: only the configured CA locations, never OpenSSL's default file, directory or
 * (3.x) store; the options are those the installed `openssl` understands (1.1.1 or 3.x).
 */
export function verifyArgs(
  cli: OpensslCli,
  plan: Omit<VerifyPlan, "adapter" | "leafPem">,
  purpose: Purpose | undefined,
): string[] {
  const args = ["verify", ...trustOnlyArgs(cli, plan)];
  if (plan.untrusted) args.push("-untrusted", plan.untrusted);
  if (purpose) args.push("-purpose", purpose);
  if (plan.now) args.push("-attime", String(Math.floor(plan.now.getTime() / 1000)));
  return args;
}

async function opensslVerify(plan: VerifyPlan, purpose?: Purpose): Promise<VerifyOutcome> {
  let r;
  try {
    const cli = await opensslCli(plan.adapter);
    r = await run(plan.adapter, { cmd: "openssl", args: verifyArgs(cli, plan, purpose) }, {
      timeoutMs: VERIFY_TIMEOUT_MS,
      input: plan.leafPem,
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new MissingToolError(
        "openssl is not installed (needed to check [sst] tcert against the CA before the " +
          "transfer); install the openssl package",
      );
    }
    throw e;
  }
  if (r.timedOut) {
    throw new SstError(
      ExitCode.timeout,
      `openssl verify did not finish within ${VERIFY_TIMEOUT_MS / 1000} s; check that the ` +
        "openssl command works on this node",
    );
  }
  return r.code === 0 ? { ok: true } : parseVerifyFailure(`${r.stdout}\n${r.stderr}`, r.code);
}

function parseVerifyFailure(output: string, code: number): VerifyOutcome {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const i = lines.findIndex((l) => /^error \d+ at \d+ depth lookup:/.test(l));
  if (i < 0) return { ok: false, reason: oneLine(lines.at(-1) ?? `exit status ${code}`) };
  const m = lines[i].match(/^error (\d+) at (\d+) depth lookup: ?(.*)$/)!;
  return {
    ok: false,
    code: Number(m[1]),
    depth: Number(m[2]),
    reason: oneLine(m[3]),
    subject: i > 0 && !lines[i - 1].startsWith("error") ? lines[i - 1] : undefined,
  };
}

const PURPOSE_TEXT: Record<Purpose, string> = {
  sslserver: "TLS server (TLS Web Server Authentication)",
  sslclient: "TLS client (TLS Web Client Authentication)",
};

const ROLE_OF: Record<Purpose, TlsRole> = { sslserver: "joiner", sslclient: "donor" };

/** What the chain messages name: the settings, the files, the purpose checked. */
export interface ChainContext {
  k: Keys;
  certPath: string;
  caFile?: string;
  caPath?: string;
  purpose?: Purpose;
}

function chainFix(o: Extract<VerifyOutcome, { ok: false }>, ctx: ChainContext): string {
  const { tca, tcapath, tcert } = ctx.k;
  const rehash = ctx.caPath
    ? `; if the CA is in ${short(tcapath)}, run 'openssl rehash ${ctx.caPath}'`
    : "";
  switch (o.code) {
    case 2:
    case 20:
      return `point ${tca.setting} at the CA certificate that issued it (a bundle is fine), ` +
        `or, if an intermediate CA issued it, append that intermediate to ${short(tcert)} ` +
        `after the node certificate${rehash}`;
    case 18:
      return "the certificate is self-signed; use one issued by the cluster's CA, or put it " +
        `into ${tca.setting} on every node`;
    case 19:
      return `the chain in ${short(tcert)} ends at a root CA that is not in ${tca.setting}; ` +
        `add that root to ${short(tca)}${rehash}`;
    case 9:
    case 10:
      return "renew that certificate (or fix this node's clock)";
    case 24:
      return "a certificate used as CA is not marked as one (basicConstraints CA:TRUE); reissue it";
    case 26:
      return `it must be valid for ${PURPOSE_TEXT[ctx.purpose ?? "sslserver"]}, as a ` +
        `${ROLE_OF[ctx.purpose ?? "sslserver"]} needs; reissue it with extendedKeyUsage = ` +
        "serverAuth, clientAuth";
    default:
      return "fix the certificate chain; 'openssl verify' with the same files shows the problem";
  }
}

function chainError(o: Extract<VerifyOutcome, { ok: false }>, ctx: ChainContext): ConfigError {
  const cas = [
    ctx.caFile && ref(ctx.k.tca, ctx.caFile),
    ctx.caPath && ref(ctx.k.tcapath, ctx.caPath),
  ]
    .filter(Boolean).join(" and ");
  const where = o.depth === undefined
    ? ""
    : o.depth === 0
    ? " at the node certificate"
    : ` at chain certificate depth ${o.depth}${o.subject ? ` (${o.subject})` : ""}`;
  return new ConfigError(
    `${ref(ctx.k.tcert, ctx.certPath)} does not verify against ${cas}: openssl verify says ` +
      `"${o.reason}"${where}; ${chainFix(o, ctx)}`,
  );
}

/** Warns when the certificate is unusable in the role this node does not play right now. */
async function purposeWarning(
  plan: VerifyPlan,
  purpose: Purpose,
  cert: Key,
  certPath: string,
): Promise<string | null> {
  const o = await opensslVerify(plan, purpose);
  if (o.ok || o.code !== 26) return null;
  return `${ref(cert, certPath)} is not valid for ${PURPOSE_TEXT[purpose]} ("${o.reason}"), ` +
    `so this node will fail as ${ROLE_OF[purpose]}; reissue it with extendedKeyUsage = ` +
    "serverAuth, clientAuth";
}

/**
 * Runs `openssl verify` for `ctx.purpose` (a failure throws) and for the other purpose (a
 * failure of that purpose only adds a warning).
 */
export async function checkChain(
  plan: VerifyPlan,
  ctx: ChainContext,
  warnings: string[],
): Promise<void> {
  const o = await opensslVerify(plan, ctx.purpose);
  if (!o.ok) throw chainError(o, ctx);
  for (const p of ["sslserver", "sslclient"] as const) {
    if (p === ctx.purpose) continue;
    const w = await purposeWarning(plan, p, ctx.k.tcert, ctx.certPath);
    if (w) warnings.push(w);
  }
}
