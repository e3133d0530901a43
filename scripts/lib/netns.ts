/**
 * A private IPv4 network of Linux network namespaces for multi-host e2e tests: one namespace per
 * host (`eth0` with an address from a private /24, loopback up), all joined by veth pairs to a
 * bridge that lives in a further namespace of its own — nothing is added to the root namespace,
 * and the addresses exist only inside the lab.
 *
 * Host names resolve inside every host namespace through `/etc/netns/<ns>/hosts`, which
 * `ip netns exec` bind-mounts over `/etc/hosts` (in the private mount namespace it makes for
 * the command). Commands run in a host with {@link NetnsLab.wrap} (`ip netns exec <ns>`, which
 * execs the command, so the child's PID is the command's).
 *
 * {@link NetnsLab.create} verifies the lab before returning (names and reverse names resolve,
 * every host reaches every other by name over TCP) and tears everything down if any step fails;
 * {@link NetnsLab.teardown} kills what still runs in the namespaces (by PID), deletes them (the
 * veths and the bridge go with them) and removes the `/etc/netns/<ns>` files. Every wait is
 * bounded.
 *
 * @module
 */
import { type Child, denoAdapter, run, type RunResult, sleep } from "../../src/proc/process.ts";
import { describe, readProc } from "./procfs.ts";
import { withTeardown } from "./teardown.ts";

/** The default private /24 (first three octets). */
export const LAB_SUBNET = "10.77.0";
/** Last octet of the first host's address (node1 → 10.77.0.11, node2 → .12, …). */
export const LAB_FIRST_HOST = 11;

const NETNS_ETC = "/etc/netns";
/** Namespace names of every lab start with this (the rest is random per lab). */
export const LAB_PREFIX = "e2emh-";

/** One host of the lab. */
export interface LabHost {
  /** Host name, resolvable inside every host namespace. */
  name: string;
  /** Network namespace of the host. */
  ns: string;
  /** IPv4 address of the host's `eth0`. */
  ip: string;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function runCmd(cmd: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
  return run(denoAdapter, { cmd, args }, { timeoutMs });
}

function failure(r: RunResult, timeoutMs: number): string {
  return r.timedOut
    ? `timed out after ${timeoutMs} ms`
    : `exited ${r.code}: ${(r.stderr + r.stdout).trim()}`;
}

/** `ip …`, throwing with the command line and its output on failure. */
async function ip(step: string, args: string[], timeoutMs = 10_000): Promise<string> {
  const r = await runCmd("ip", args, timeoutMs);
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`netns lab: ${step}: ip ${args.join(" ")} ${failure(r, timeoutMs)}`);
  }
  return r.stdout;
}

/** Names of the existing named network namespaces. */
export async function listNamespaces(): Promise<string[]> {
  const r = await runCmd("ip", ["netns", "list"]);
  if (r.code !== 0) return [];
  return r.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((s) => s.length > 0);
}

/**
 * Null if this host can build a lab (root, `ip netns add`, a bridge and a veth pair inside
 * namespaces); otherwise why not, in one line. Leaves nothing behind.
 */
export async function probeNetns(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `network namespaces need Linux (this is ${Deno.build.os})`;
  if (Deno.uid() !== 0) return "network namespaces need root (uid is not 0)";
  const a = `${LAB_PREFIX}probe-${randomHex(4)}`;
  const b = `${a}b`;
  const steps: [string, string[]][] = [
    ["ip netns add", ["netns", "add", a]],
    ["ip netns add (second)", ["netns", "add", b]],
    ["bridge in a namespace", ["-n", a, "link", "add", "br0", "type", "bridge"]],
    ["veth pair between namespaces", [
      "-n",
      a,
      "link",
      "add",
      "v1",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      b,
    ]],
  ];
  try {
    for (const [what, args] of steps) {
      let r: RunResult;
      try {
        r = await runCmd("ip", args);
      } catch (e) {
        return `${what} is impossible here: cannot run ip (${e})`;
      }
      if (r.code !== 0 || r.timedOut) {
        return `${what} is impossible here: ip ${args.join(" ")} ${failure(r, 10_000)}`;
      }
    }
    return null;
  } finally {
    for (const ns of [b, a]) await runCmd("ip", ["netns", "del", ns]).catch(() => {});
  }
}

/** A lab of network namespaces; see the module documentation. */
export class NetnsLab {
  /** Random part of every namespace name of this lab. */
  readonly id = randomHex(3);
  /** The namespace holding the bridge `br0`. */
  readonly bridgeNs: string;
  readonly hosts: LabHost[];
  private readonly created: string[] = [];
  private readonly etcDirs: string[] = [];
  private etcCreated = false;
  private tornDown = false;

  private constructor(names: string[], subnet: string, first: number, prefix: string) {
    this.bridgeNs = `${prefix}${this.id}-br`;
    this.hosts = names.map((name, i) => ({
      name,
      ns: `${prefix}${this.id}-${name}`,
      ip: `${subnet}.${first + i}`,
    }));
  }

  /**
   * Builds and verifies the lab for `names` (host names, e.g. `node1`…); addresses are
   * `<subnet>.<first>`, `<subnet>.<first + 1>`, … Namespace names start with `prefix`
   * (default {@link LAB_PREFIX}; e.g. `bench-` so a benchmark's lab is told apart from tests').
   */
  static async create(
    names: string[],
    opts: { subnet?: string; first?: number; prefix?: string } = {},
  ): Promise<NetnsLab> {
    const lab = new NetnsLab(
      names,
      opts.subnet ?? LAB_SUBNET,
      opts.first ?? LAB_FIRST_HOST,
      opts.prefix ?? LAB_PREFIX,
    );
    try {
      await lab.build();
      await lab.verify();
    } catch (e) {
      await lab.teardown().catch((t) => console.error(`(lab teardown also failed: ${t})`));
      throw e;
    }
    return lab;
  }

  /** The host called `name`. */
  host(name: string): LabHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`netns lab: no host ${name} (hosts: ${this.names().join(", ")})`);
    return h;
  }

  /** Host names in order. */
  names(): string[] {
    return this.hosts.map((h) => h.name);
  }

  /** Command prefix running a command inside host `name` (network + /etc/hosts). */
  wrap(name: string): string[] {
    return ["ip", "netns", "exec", this.host(name).ns];
  }

  /** Runs a short command inside host `name` (bounded). */
  exec(name: string, cmd: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
    const [c, ...pre] = this.wrap(name);
    return run(denoAdapter, { cmd: c, args: [...pre, cmd, ...args] }, { timeoutMs });
  }

  /** `getent hosts <key>` inside host `name`: `[address, name, …aliases]`, or null. */
  async getent(name: string, key: string): Promise<string[] | null> {
    const r = await this.exec(name, "getent", ["hosts", key]);
    if (r.code !== 0 || r.timedOut) return null;
    const fields = r.stdout.split("\n")[0].trim().split(/\s+/);
    return fields.length >= 2 ? fields : null;
  }

  /** PIDs of the processes inside host `name`'s namespace (or the bridge's, by namespace). */
  async pids(nameOrNs: string): Promise<number[]> {
    const ns = this.hosts.find((h) => h.name === nameOrNs)?.ns ?? nameOrNs;
    const r = await runCmd("ip", ["netns", "pids", ns]);
    if (r.code !== 0) return [];
    return r.stdout.split("\n").filter((l) => /^\d+$/.test(l.trim())).map((l) => Number(l));
  }

  /** The `/etc/hosts` text of every host namespace. */
  hostsFile(): string {
    return [
      "# e2e netns lab " + this.id,
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      ...this.hosts.map((h) => `${h.ip}\t${h.name}`),
    ].join("\n") + "\n";
  }

  private async addNs(ns: string): Promise<void> {
    await ip(`create namespace ${ns}`, ["netns", "add", ns]);
    this.created.push(ns);
    await ip(`loopback up in ${ns}`, ["-n", ns, "link", "set", "lo", "up"]);
  }

  private async build(): Promise<void> {
    const br = this.bridgeNs;
    await this.addNs(br);
    await ip("create bridge", ["-n", br, "link", "add", "br0", "type", "bridge"]);
    await ip("bridge up", ["-n", br, "link", "set", "br0", "up"]);
    try {
      await Deno.stat(NETNS_ETC);
    } catch {
      await Deno.mkdir(NETNS_ETC, { mode: 0o755 });
      this.etcCreated = true;
    }
    for (const [i, h] of this.hosts.entries()) {
      const port = `v${i + 1}`;
      await this.addNs(h.ns);
      await ip(`veth for ${h.name}`, [
        "-n",
        br,
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        h.ns,
      ]);
      await ip(`attach ${h.name} to bridge`, ["-n", br, "link", "set", port, "master", "br0"]);
      await ip(`bridge port of ${h.name} up`, ["-n", br, "link", "set", port, "up"]);
      await ip(`address of ${h.name}`, ["-n", h.ns, "addr", "add", `${h.ip}/24`, "dev", "eth0"]);
      await ip(`eth0 of ${h.name} up`, ["-n", h.ns, "link", "set", "eth0", "up"]);
      const dir = `${NETNS_ETC}/${h.ns}`;
      await Deno.mkdir(dir, { mode: 0o755 });
      this.etcDirs.push(dir);
      await Deno.writeTextFile(`${dir}/hosts`, this.hostsFile());
      await Deno.chmod(`${dir}/hosts`, 0o644);
    }
  }

  /** Names, reverse names, loopback, and TCP by name from every host to every other. */
  private async verify(): Promise<void> {
    for (const h of this.hosts) {
      const lo = await ip(`loopback of ${h.name}`, ["-n", h.ns, "-o", "link", "show", "lo"]);
      if (!/[<,]UP[,>]/.test(lo)) {
        throw new Error(`netns lab: loopback of ${h.name} is down: ${lo}`);
      }
      for (const o of this.hosts) {
        const fwd = await this.getent(h.name, o.name);
        if (fwd?.[0] !== o.ip) {
          throw new Error(
            `netns lab: inside ${h.name}, 'getent hosts ${o.name}' gave ` +
              `${fwd?.join(" ") ?? "nothing"}, expected ${o.ip}`,
          );
        }
        const rev = await this.getent(h.name, o.ip);
        if (rev?.[1] !== o.name) {
          throw new Error(
            `netns lab: inside ${h.name}, 'getent hosts ${o.ip}' gave ` +
              `${rev?.join(" ") ?? "nothing"}, expected ${o.name}`,
          );
        }
      }
    }
    await this.checkTcp();
  }

  /** Each host runs a tiny TCP server on its address; every other host must reach it by name. */
  private async checkTcp(port = 9): Promise<void> {
    const servers: Child[] = [];
    try {
      for (const h of this.hosts) {
        const [c, ...pre] = this.wrap(h.name);
        servers.push(denoAdapter.spawn({
          cmd: c,
          args: [
            ...pre,
            "socat",
            "-T",
            "5",
            `TCP-LISTEN:${port},bind=${h.ip},reuseaddr,fork`,
            `SYSTEM:echo ${h.name}`,
          ],
          stdin: "null",
          stdout: "null",
          stderr: "null",
          group: true,
        }));
      }
      for (const to of this.hosts) {
        for (const from of this.hosts) {
          if (from === to) continue;
          let last = "";
          const deadline = Date.now() + 5000;
          for (;;) {
            const r = await this.exec(from.name, "socat", [
              "-T",
              "3",
              "-u",
              `TCP:${to.name}:${port},connect-timeout=3`,
              "STDOUT",
            ]);
            if (r.code === 0 && r.stdout.trim() === to.name) break;
            last = failure(r, 10_000) + ` stdout=${JSON.stringify(r.stdout.trim())}`;
            if (Date.now() > deadline) {
              throw new Error(
                `netns lab: ${from.name} cannot reach ${to.name} (${to.ip}) over TCP: ${last}`,
              );
            }
            await sleep(100);
          }
        }
      }
    } finally {
      for (const s of servers) s.kill("SIGKILL");
      for (const s of servers) await s.status;
    }
  }

  /**
   * Kills (SIGKILL, by PID) whatever still runs in the lab's namespaces, deletes them and the
   * `/etc/netns` files. Returns the processes it had to kill (a clean test leaves none); throws
   * if a namespace or process survives. Safe to call twice.
   */
  async teardown(): Promise<string[]> {
    if (this.tornDown) return [];
    this.tornDown = true;
    const killed: string[] = [];
    const seen = new Set<number>();
    const problems: string[] = [];
    for (const ns of [...this.created].reverse()) {
      const deadline = Date.now() + 10_000;
      let pids = await this.pids(ns);
      while (pids.length > 0 && Date.now() < deadline) {
        for (const pid of pids) {
          const p = readProc(pid);
          if (p && p.state !== "Z" && !seen.has(pid)) {
            seen.add(pid);
            killed.push(`${ns}: ${describe(p)}`);
          }
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        await sleep(100);
        pids = (await this.pids(ns)).filter((pid) => readProc(pid)?.state !== "Z");
      }
      if (pids.length > 0) problems.push(`processes survive in ${ns}: ${pids.join(", ")}`);
      const r = await runCmd("ip", ["netns", "del", ns]);
      if (r.code !== 0) problems.push(`ip netns del ${ns}: ${failure(r, 10_000)}`);
    }
    for (const dir of this.etcDirs) {
      await Deno.remove(dir, { recursive: true }).catch((e) => problems.push(`rm ${dir}: ${e}`));
    }
    if (this.etcCreated) await Deno.remove(NETNS_ETC).catch(() => {}); // only if empty
    const left = (await listNamespaces()).filter((n) => this.created.includes(n));
    if (left.length > 0) problems.push(`namespaces still listed: ${left.join(", ")}`);
    if (problems.length > 0) throw new Error(`netns lab teardown: ${problems.join("; ")}`);
    return killed;
  }
}

/**
 * Builds a lab, runs `fn`, and always tears the lab down. Processes the teardown had to kill
 * are reported (and fail the call if `fn` succeeded); an error of `fn` is never masked.
 */
export async function withLab<T>(
  names: string[],
  fn: (lab: NetnsLab) => Promise<T>,
): Promise<T> {
  return withTeardown(await NetnsLab.create(names), fn, async (lab) => {
    const killed = await lab.teardown();
    if (killed.length > 0) {
      throw new Error(`netns lab: processes were still running at teardown:\n${killed.join("\n")}`);
    }
  }, "lab teardown");
}
