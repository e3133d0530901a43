/**
 * socat's diagnostics in the server's error log (src/tunnel/socat_log.ts): errors and real
 * warnings become WARNING lines, the notices every socat build prints on every start do not
 * (so a clean SST logs no warning with socat 1.7.4.1 or 1.8).
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { relayLine } from "../../src/tunnel/socat_log.ts";

/** The WSREP_SST lines `relayLine` writes to stderr for `line` (DEBUG is off). */
function relayed(line: string): string[] {
  const out: string[] = [];
  const original = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (p: Uint8Array) => {
    out.push(new TextDecoder().decode(p).trimEnd());
    return p.length;
  };
  try {
    relayLine(line, "joiner 127.0.0.1:4444");
  } finally {
    Deno.stderr.writeSync = original;
  }
  return out.map((l) => l.replace(/ \(\d{8} [\d:.]+\)$/, ""));
}

const CASES: { name: string; line: string; expect: string[] }[] = [
  {
    name: "socat 1.7.4.1's VSOCK probe of an accepted socket is not a warning",
    line: "2026/11/28 15:26:03 socat[17179] W ioctl(6, IOCTL_VM_SOCKETS_GET_LOCAL_CID, ...): " +
      "Inappropriate ioctl for device",
    expect: [],
  },
  {
    name: "socat 1.8's CRL notice is not a warning",
    line: "2026/11/28 15:11:20 socat[19952] W OpenSSL: Warning: this implementation does not " +
      "check CRLs",
    expect: [],
  },
  {
    name: "a SIGCHLD with no child left to reap is not a warning (seen in an SST on socat 1.7.4.1)",
    line: "2026/11/29 10:08:52 socat[3101] W waitpid(-1, {}, WNOHANG): no child has exited",
    expect: [],
  },
  {
    name: "a child that exited on a signal is still a WARNING",
    line: "2026/11/29 10:08:52 socat[3101] W waitpid(): child 3102 exited on signal 9",
    expect: ["WSREP_SST: [WARNING] socat: waitpid(): child 3102 exited on signal 9"],
  },
  {
    name: "another socat warning is a WARNING",
    line: "2026/11/28 15:11:20 socat[1] W read(6, 0x1, 8192): Connection reset by peer",
    expect: ["WSREP_SST: [WARNING] socat: read(6, 0x1, 8192): Connection reset by peer"],
  },
];

for (const c of CASES) {
  Deno.test(`socat log: ${c.name}`, () => {
    assertEquals(relayed(c.line), c.expect);
  });
}
