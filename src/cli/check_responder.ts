/**
 * The listener side of `check --listen`, one process per verified connection (socat's
 * `EXEC`): greets the client with what socat saw of its certificate, reads the client's one
 * line, reports both to the listener on stderr and exits. Touches no file and starts nothing.
 *
 * @module
 */
import { VERSION } from "../core/version.ts";
import { Stopwatch, withDeadline } from "../proc/wait.ts";
import {
  CHECK_GREETING,
  type Greeting,
  type ResponderReport,
  RESULT_MARKER,
  type SeenCertificate,
} from "./check_wire.ts";

function env(name: string): string {
  return Deno.env.get(name) ?? "";
}

/** socat joins several values of one field with " // ". */
function list(name: string): string[] {
  const v = env(name);
  return v === "" ? [] : v.split(" // ").map((x) => x.trim()).filter((x) => x !== "");
}

/** What socat put into our environment about the client's certificate. */
export function seenFromEnv(): SeenCertificate {
  return {
    subject: env("SOCAT_OPENSSL_X509_SUBJECT"),
    issuer: env("SOCAT_OPENSSL_X509_ISSUER"),
    dns: list("SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_DNS"),
    ip: list("SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_IPADD"),
    peer: `${env("SOCAT_PEERADDR")}:${env("SOCAT_PEERPORT")}`,
    protocol: env("SOCAT_OPENSSL_PROTO_VERSION"),
  };
}

async function firstLine(timeoutMs: number): Promise<string> {
  const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const clock = new Stopwatch();
  while (!text.includes("\n")) {
    const chunk = await withDeadline(reader.read(), {
      ms: clock.left(timeoutMs),
      onTimeout: () => null,
    });
    if (chunk === null || chunk.done) break;
    text += chunk.value;
  }
  reader.releaseLock();
  return text.split("\n")[0].trim().slice(0, 500);
}

/** Runs one responder; returns the exit status. */
export async function runCheckResponder(): Promise<number> {
  const seen = seenFromEnv();
  const greeting: Greeting = { version: VERSION, host: Deno.hostname(), seen };
  const enc = new TextEncoder();
  await Deno.stdout.write(enc.encode(`${CHECK_GREETING} ${JSON.stringify(greeting)}\n`));
  const said = await firstLine(10_000);
  const report: ResponderReport = { seen, said };
  await Deno.stderr.write(enc.encode(`${RESULT_MARKER} ${JSON.stringify(report)}\n`));
  return 0;
}
