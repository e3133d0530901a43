/**
 * The per-SST secret: 128 random bits, hex. The joiner advertises it in `ready`
 * (mariadbd hands it to the donor as `WSREP_SST_OPT_REMOTE_AUTH` through Galera's group
 * channel); every rsync connection authenticates with it and the completion record carries it.
 *
 * @module
 */
import { addSecret } from "../core/log.ts";

/** Makes a new secret and registers it for log redaction. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  addSecret(hex);
  return hex;
}
