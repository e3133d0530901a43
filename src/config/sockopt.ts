/**
 * The `[sst] sockopt` value: extra socat options the operator adds to both tunnel ends. Each
 * token is checked here, when the option file is read, so a bad value stops the SST before any
 * process starts; `tunnel/socat_address.ts` places the tokens into socat addresses.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";

/** One validated `sockopt` token. */
export interface SockoptToken {
  name: string;
  value: string | null;
}

const SOCKOPT_NAME_RE = /^[a-z][a-z0-9-]*$/i;
const SOCKOPT_VALUE_RE = /^[A-Za-z0-9._/@+~%:=!-]*$/;

/**
 * Parses `[sst] sockopt`: comma-separated `name[=value]` tokens, a leading comma tolerated.
 * Rejects CR/LF, spaces, quotes, backslashes and socat's `!!` separator.
 */
export function parseSockopt(raw: string | undefined): SockoptToken[] {
  if (raw === undefined || raw.trim() === "") return [];
  const text = raw.trim().replace(/^,/, "");
  if (/[\r\n\s'"\\`$()[\]{}]/.test(text) || text.includes("!!")) {
    throw new ConfigError(
      `[sst] sockopt='${JSON.stringify(raw).slice(1, -1)}' contains spaces, quotes, ` +
        "backslashes, brackets or '!!'; write plain comma-separated socat options such as " +
        "'cipher=HIGH,no-sni=1'",
    );
  }
  const tokens = text.split(",").map((token) => parseToken(token, raw));
  const forbidden = tokens.find((t) => FORBIDDEN_SOCKOPT.test(t.name));
  if (forbidden) {
    throw new ConfigError(
      `[sst] sockopt='${raw}': '${forbidden.name}' changes how socat runs processes or ` +
        "connections, which this program controls itself; remove it (TLS options such as " +
        "cipher=, min-version= or verify= are fine)",
    );
  }
  return tokens;
}

/** socat options that would change our process and connection plumbing. */
const FORBIDDEN_SOCKOPT =
  /^(fork|max-children|su|su-d|substuser.*|chroot.*|setuid.*|setgid.*|setsid|setpgid|umask|pty|nofork|reuseaddr|reuseport|bind|listen-timeout|accept-timeout)$/;

function parseToken(token: string, raw: string): SockoptToken {
  const eq = token.indexOf("=");
  const name = eq < 0 ? token : token.slice(0, eq);
  const value = eq < 0 ? null : token.slice(eq + 1);
  if (!SOCKOPT_NAME_RE.test(name) || (value !== null && !SOCKOPT_VALUE_RE.test(value))) {
    throw new ConfigError(
      `[sst] sockopt='${raw}': '${token}' is not a socat option of the form name[=value]`,
    );
  }
  return { name: name.toLowerCase(), value };
}
