/**
 * Unit tests for the one IP literal parser (src/core/ip.ts) that SST addresses and certificate
 * name matching share.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import {
  isIpv4,
  isIpv6,
  parseIpBytes,
  parseIpv4Bytes,
  parseIpv6Bytes,
  sameIpBytes,
} from "../../src/core/ip.ts";

/** 16 bytes from eight 16-bit groups. */
function v6(...groups: number[]): number[] {
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

const ACCEPTED: Array<[string, number[]]> = [
  // IPv4
  ["0.0.0.0", [0, 0, 0, 0]],
  ["10.0.0.1", [10, 0, 0, 1]],
  ["192.168.1.10", [192, 168, 1, 10]],
  ["255.255.255.255", [255, 255, 255, 255]],
  ["249.250.199.100", [249, 250, 199, 100]],
  // IPv6, full
  ["1:2:3:4:5:6:7:8", v6(1, 2, 3, 4, 5, 6, 7, 8)],
  ["0:0:0:0:0:0:0:1", v6(0, 0, 0, 0, 0, 0, 0, 1)],
  ["2001:0db8:0000:0000:0000:0000:0000:0005", v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)],
  ["FE80:0:0:0:0:0:1:2", v6(0xfe80, 0, 0, 0, 0, 0, 1, 2)],
  // IPv6, compressed: '::' stands for one or more zero groups, anywhere
  ["::", v6(0, 0, 0, 0, 0, 0, 0, 0)],
  ["::1", v6(0, 0, 0, 0, 0, 0, 0, 1)],
  ["1::", v6(1, 0, 0, 0, 0, 0, 0, 0)],
  ["fe80::1:2", v6(0xfe80, 0, 0, 0, 0, 0, 1, 2)],
  ["2001:db8::5", v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)],
  ["1:2:3:4:5:6:7::", v6(1, 2, 3, 4, 5, 6, 7, 0)],
  ["::2:3:4:5:6:7:8", v6(0, 2, 3, 4, 5, 6, 7, 8)],
  ["1:2:3::6:7:8", v6(1, 2, 3, 0, 0, 6, 7, 8)],
  // IPv4 in the last 32 bits (IPv4-mapped and others)
  ["::ffff:10.0.0.1", v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001)],
  ["::ffff:0a00:0001", v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001)],
  ["::1.2.3.4", v6(0, 0, 0, 0, 0, 0, 0x0102, 0x0304)],
  ["::0.0.0.0", v6(0, 0, 0, 0, 0, 0, 0, 0)],
  ["1:2:3:4:5:6:1.2.3.4", v6(1, 2, 3, 4, 5, 6, 0x0102, 0x0304)],
  ["1::2:1.2.3.4", v6(1, 0, 0, 0, 0, 2, 0x0102, 0x0304)],
];

const REFUSED: Array<[string, string]> = [
  ["", "empty"],
  ["1.2.3", "three octets"],
  ["1.2.3.4.5", "five octets"],
  ["1.2.3.4.", "trailing dot"],
  ["1.2.3.256", "octet above 255"],
  ["999.1.1.1", "octet above 255"],
  ["01.2.3.4", "leading zero (inet_pton refuses it)"],
  ["10.0.0.010", "leading zero in the last octet"],
  ["00.0.0.0", "two zeros"],
  ["1.2.3.a", "hex in IPv4"],
  [" 1.2.3.4", "surrounding space"],
  ["1234", "a number"],
  ["[::1]", "brackets"],
  ["fe80::1%eth0", "zone id"],
  [":", "a colon"],
  [":::", "three colons"],
  [":::::", "five colons"],
  [":1", "single leading colon"],
  ["1:", "single trailing colon"],
  ["1::2::3", "two '::'"],
  ["1:2:3:4:5:6:7", "seven groups"],
  ["1:2:3:4:5:6:7:8:9", "nine groups"],
  ["1::2:3:4:5:6:7:8", "'::' standing for no group"],
  ["1:2:3:4:5:6:7:8::", "'::' after eight groups"],
  ["12345::", "five hex digits"],
  ["g::1", "not hex"],
  ["1.2.3.4:", "IPv4 then a colon"],
  ["1.2.3.4::", "IPv4 before '::' (it must be the last 32 bits)"],
  ["1.2.3.4::5", "IPv4 before '::'"],
  ["1:2:3:4:5:6:7:1.2.3.4", "IPv4 after seven groups"],
  ["::1.2.3", "short IPv4 part"],
  ["::ffff:01.2.3.4", "leading zero in the IPv4 part"],
  ["::ffff:256.1.1.1", "IPv4 part above 255"],
  ["::1.2.3.4:5", "IPv4 not last"],
];

Deno.test("ip: accepted literals and their bytes", () => {
  for (const [text, bytes] of ACCEPTED) {
    assertEquals(parseIpBytes(text), bytes, text);
    const family = bytes.length === 4 ? "ipv4" : "ipv6";
    assertEquals(isIpv4(text), family === "ipv4", `${text}: isIpv4`);
    assertEquals(isIpv6(text), family === "ipv6", `${text}: isIpv6`);
  }
});

Deno.test("ip: refused literals", () => {
  for (const [text, why] of REFUSED) {
    assertEquals(parseIpBytes(text), null, `'${text}' (${why})`);
    assertEquals(isIpv4(text) || isIpv6(text), false, `'${text}' (${why})`);
  }
});

Deno.test("ip: each family parser reads only its own family", () => {
  assertEquals(parseIpv4Bytes("::1"), null);
  assertEquals(parseIpv6Bytes("10.0.0.1"), null);
  assertEquals(parseIpv4Bytes("10.0.0.1"), [10, 0, 0, 1]);
  assertEquals(parseIpv6Bytes("::1"), v6(0, 0, 0, 0, 0, 0, 0, 1));
});

Deno.test("ip: sameIpBytes compares addresses, not spellings; IPv4 never equals IPv6", () => {
  const same = (a: string, b: string) => sameIpBytes(parseIpBytes(a)!, parseIpBytes(b)!);
  assertEquals(same("::1", "0:0:0:0:0:0:0:1"), true);
  assertEquals(same("::ffff:10.0.0.1", "::FFFF:a00:1"), true);
  assertEquals(same("fe80::1:2", "fe80::1:3"), false);
  assertEquals(same("10.0.0.1", "::ffff:10.0.0.1"), false);
});

/** A small deterministic generator (mulberry32), so a failure names a reproducible input. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Literal-shaped strings: groups, octets (some malformed), '::' in random places. */
function candidates(count: number): string[] {
  const next = random(10);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)];
  const octets = ["0", "7", "10", "99", "100", "255", "256", "00", "01", "010", ""] as const;
  const quad = () => Array.from({ length: pick([3, 4, 4, 4, 5]) }, () => pick(octets)).join(".");
  const groups = ["0", "1", "a", "ffff", "FFFF", "0db8", "12", "00000", "g", ""] as const;
  const out: string[] = [];
  while (out.length < count) {
    const valid = next() < 0.7; // mostly well-formed groups, so the edges are '::' and counts
    const parts = Array.from(
      { length: Math.floor(next() * 10) },
      () => valid ? pick(groups.slice(0, 7)) : pick(groups),
    );
    if (next() < 0.6) parts.splice(Math.floor(next() * (parts.length + 1)), 0, "");
    let text = parts.join(":");
    if (next() < 0.3) text += `:${quad()}`;
    out.push(next() < 0.2 ? quad() : text);
  }
  return out;
}

/** What the URL parser (the WHATWG IPv6 host parser) makes of an IPv6 literal, or null. */
function urlIpv6(text: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return null;
  try {
    return parseIpv6Bytes(new URL(`http://[${text}]/`).hostname.slice(1, -1));
  } catch {
    return null;
  }
}

Deno.test("ip: IPv6 literals are read exactly as the URL host parser reads them", () => {
  let accepted = 0;
  for (const text of candidates(20_000)) {
    const expected = urlIpv6(text);
    assertEquals(parseIpv6Bytes(text), expected, text);
    if (expected) accepted++;
  }
  assertEquals(accepted > 2000, true, `only ${accepted} generated literals were valid`);
});
