/**
 * Domain primitives shared by every layer. Addresses are kept in one canonical text form
 * (ipaddr.js `toNormalizedString` for v4, RFC 5952 compressed form for v6, IPv4-mapped v6
 * unwrapped to v4) so that "the same host" is always the same string: map keys, SQLite rows,
 * ufw comments and UI filters all agree.
 */
import ipaddr from 'ipaddr.js';
import * as z from 'zod';
import { canonicalIp, type Ip } from './ip.ts';

export { canonicalIp, type Ip } from './ip.ts';
export type Cidr = string & { readonly __brand: 'Cidr' };
export type Port = number & { readonly __brand: 'Port' };
/** What a ban names: one address, or a network (a prefix ban, canonical CIDR). */
export type BanTarget = Ip | Cidr;
export type IpFamily = 4 | 6;

export function ipFamily(ip: Ip): IpFamily {
  return ip.indexOf(':') >= 0 ? 6 : 4;
}

/** Canonical CIDR (network address, explicit prefix) or null. A bare address becomes /32 or /128. */
export function canonicalCidr(text: string): Cidr | null {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const ip = canonicalIp(addrText);
  if (!ip) return null;
  const family = ipFamily(ip);
  const max = family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const bitsText = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText)) return null;
    bits = Number(bitsText);
    if (bits > max) return null;
  }
  const parsed = ipaddr.parse(ip);
  const network = family === 4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${ip}/${bits}`).toString()
    : (ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/${bits}`) as ipaddr.IPv6).toRFC5952String();
  return `${network}/${bits}` as Cidr;
}

/**
 * Why `text` is not a CIDR, in words a user can act on: a valid address with a prefix longer than
 * its family allows says so ("/33 is too long") instead of "not an address". `orAny` adds the
 * rule editor's third choice to the example.
 */
export function cidrRefusal(text: string, orAny = false): string {
  const t = text.trim();
  const slash = t.indexOf('/');
  const ip = slash < 0 ? null : canonicalIp(t.slice(0, slash));
  const bits = slash < 0 ? '' : t.slice(slash + 1);
  if (ip && /^\d+$/.test(bits)) {
    const max = ipFamily(ip) === 4 ? 32 : 128;
    if (Number(bits) > max) return `the prefix /${bits} is too long: an IPv${max === 32 ? 4 : 6} prefix is at most /${max}`;
  }
  return `"${text}" is not an address or CIDR (e.g. 192.168.1.0/24 or 2001:db8::/32)${orAny ? ', or "any"' : ''}`;
}

export function isPort(n: number): n is Port {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

export const IpSchema = z.string().transform((s, ctx) => {
  const ip = canonicalIp(s.trim());
  if (!ip) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not an IPv4 or IPv6 address` });
    return z.NEVER;
  }
  return ip;
});

export const CidrSchema = z.string().transform((s, ctx) => {
  const cidr = canonicalCidr(s);
  if (!cidr) {
    ctx.addIssue({ code: 'custom', message: cidrRefusal(s) });
    return z.NEVER;
  }
  return cidr;
});

/** What a ban names, as a user or the UI gives it: an address, or a network (CIDR text), canonicalised. */
export const BanTargetSchema = z.string().transform((s, ctx): string => {
  const t = s.trim();
  const target = t.includes('/') ? canonicalCidr(t) : canonicalIp(t);
  if (!target) {
    ctx.addIssue({ code: 'custom', message: t.includes('/') ? cidrRefusal(t) : `"${s}" is not an IPv4 or IPv6 address, nor a network (CIDR)` });
    return z.NEVER;
  }
  return target;
});

export const PortSchema = z
  .number()
  .int('a port is a whole number')
  .min(1, 'ports run from 1 to 65535')
  .max(65535, 'ports run from 1 to 65535')
  .transform((n) => n as Port);

/** Time source injected everywhere time matters, so replay and live runs agree and tests control time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  private t: number;
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
