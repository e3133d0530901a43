/**
 * How the certificate checks name the four TLS settings (`tca`, `tcapath`, `tcert`, `tkey`) in
 * their messages, and the little formatting helpers those messages share.
 *
 * @module
 */
import type { SettingName, TlsField } from "../config/tls_settings.ts";
import { oneLine } from "./tls_failures.ts";

/** How messages name the four TLS settings. */
export type TlsNames = Record<TlsField, SettingName>;

/** The `[sst]` key of each TLS setting. */
export type SstKey = "tca" | "tcapath" | "tcert" | "tkey";

/** One TLS setting as messages name it: which one, the key to advise, where it came from. */
export interface Key extends SettingName {
  id: SstKey;
}

/** The four settings of one check. */
export type Keys = Record<SstKey, Key>;

const FIELD_OF: Record<SstKey, TlsField> = {
  tca: "ca",
  tcapath: "caPath",
  tcert: "cert",
  tkey: "key",
};

/** The four settings, named as `names` says or as `[sst] <key>` by default. */
export function keysOf(names: Partial<TlsNames> | undefined): Keys {
  const k = {} as Keys;
  for (const id of Object.keys(FIELD_OF) as SstKey[]) {
    k[id] = { id, setting: `[sst] ${id}`, ...names?.[FIELD_OF[id]] };
  }
  return k;
}

/** The names of the four settings, for callers that word their own messages. */
export function namesOf(k: Keys): TlsNames {
  const strip = ({ setting, where }: Key): SettingName => where ? { setting, where } : { setting };
  return { ca: strip(k.tca), caPath: strip(k.tcapath), cert: strip(k.tcert), key: strip(k.tkey) };
}

/** The bare key (`tkey`) for the default `[sst]` keys, else the group and key as written. */
export function short(key: Key): string {
  return key.setting === `[sst] ${key.id}` ? key.id : key.setting;
}

/** A setting with its value, e.g. `/etc/mysql/my.cnf:12 [mysqld] loose-ssl-cert=/x.pem`. */
export function ref(key: Key, path: string): string {
  return `${key.where ?? key.setting}=${path}`;
}

/** An exception's message on one line. */
export function errorText(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

/** `2026-01-31 12:00:00 UTC` */
export function utc(d: Date): string {
  return d.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC");
}
