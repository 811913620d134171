/**
 * Proxy LCP and proxy authentication AVPs (RFC 2661 §4.4.5) as a LAC that
 * negotiated LCP and authenticated the user itself hands them to an LNS in
 * ICCN. The LCP CONFREQ AVPs carry the CONFREQ body from its first option on
 * (RFC 1661 §6 options: MRU 1, Authentication-Protocol 3, Magic-Number 5).
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { ProxyAuthenType } from "../transport/avp_types.ts";
import { chapResponse, proxyFieldsFromChap } from "./chap.ts";
import { proxyFieldsFromPap } from "./pap.ts";
import type { AvpFields } from "../transport/message.ts";

/** PPP protocol numbers of the authentication protocols (RFC 1334, RFC 1994). */
export const PPP_PAP = 0xc023;
export const PPP_CHAP = 0xc223;

/** How the LAC authenticated the user. */
export type ProxyAuth = "pap" | "chap" | "none";

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** LCP CONFREQ options: MRU, Magic-Number, and optionally Authentication-Protocol. */
export function confreqOptions(
  options: { mru: number; magic: number; auth?: ProxyAuth },
): Uint8Array {
  const bytes = [1, 4, (options.mru >> 8) & 0xff, options.mru & 0xff, 5, 6, ...u32(options.magic)];
  if (options.auth === "pap") bytes.push(3, 4, PPP_PAP >> 8, PPP_PAP & 0xff);
  // CHAP with MD5 (algorithm 5), RFC 1994 §3.
  if (options.auth === "chap") bytes.push(3, 5, PPP_CHAP >> 8, PPP_CHAP & 0xff, 5);
  return new Uint8Array(bytes);
}

/** What the user presented. */
export interface ProxyCredentials {
  name: string;
  password: string;
  /** PPP Identifier of the authentication exchange. */
  id: number;
  /** CHAP: the challenge the LAC sent. */
  challenge?: Uint8Array;
}

/**
 * ICCN fields for proxy LCP (both sides' CONFREQs as the LAC negotiated them)
 * and proxy authentication of `auth` kind.
 *
 * @example
 * ```ts
 * import { proxyFields } from "./proxy.ts";
 * const f = proxyFields("pap", { name: "alice@isp-a.example", password: "pw", id: 1 }, { clientMagic: 1, lacMagic: 2 });
 * if (f.proxyAuthenType !== 3 || f.proxyAuthenName !== "alice@isp-a.example") throw new Error();
 * ```
 */
export function proxyFields(
  auth: ProxyAuth,
  user: ProxyCredentials,
  lcp: { clientMagic: number; lacMagic: number; mru?: number },
): AvpFields {
  const mru = lcp.mru ?? 1500;
  const fromClient = confreqOptions({ mru, magic: lcp.clientMagic });
  const fields: AvpFields = {
    initialReceivedLcpConfreq: fromClient,
    lastReceivedLcpConfreq: fromClient,
    lastSentLcpConfreq: confreqOptions({ mru, magic: lcp.lacMagic, auth }),
  };
  if (auth === "pap") {
    Object.assign(
      fields,
      proxyFieldsFromPap({
        name: user.name,
        password: new TextEncoder().encode(user.password),
        identifier: user.id,
      }),
    );
  } else if (auth === "chap") {
    const challenge = user.challenge ?? new Uint8Array(16);
    Object.assign(
      fields,
      proxyFieldsFromChap({
        name: user.name,
        identifier: user.id,
        challenge,
        // RFC 1994 §4.1: Response = MD5(Identifier ‖ secret ‖ Challenge).
        response: chapResponse(user.id & 0xff, user.password, challenge),
      }),
    );
  } else {
    fields.proxyAuthenType = ProxyAuthenType.NoAuthentication;
  }
  return fields;
}

/** Who may log in, as `LocalUsers` (users.ts) answers. */
export interface ProxyUsers {
  verify(user: string, password: string): boolean;
  secretFor(user: string): string | undefined;
  readonly acceptAll?: boolean;
}

/**
 * Checks the proxy authentication AVPs of an ICCN (RFC 2661 §4.4.5) against
 * local users, as an LNS does before it trusts a LAC's authentication:
 * PAP — the Response is the password; CHAP (MD5) — the Response must be
 * MD5(Identifier ‖ secret ‖ Challenge) (RFC 1994 §4.1). `"absent"` when the
 * AVPs do not carry a PAP or CHAP exchange (no proxy authentication, another
 * type, or a part missing): the LNS authenticates the user itself.
 *
 * @example
 * ```ts
 * import { proxyFields, verifyProxyAuthentication } from "./proxy.ts";
 * import { LocalUsers } from "./users.ts";
 * const users = new LocalUsers([{ name: "alice", password: "pw" }]);
 * const lcp = { clientMagic: 1, lacMagic: 2 };
 * const good = proxyFields("chap", { name: "alice", password: "pw", id: 7 }, lcp);
 * const bad = proxyFields("pap", { name: "alice", password: "no", id: 1 }, lcp);
 * if (verifyProxyAuthentication(good, users) !== "ok") throw new Error();
 * if (verifyProxyAuthentication(bad, users) !== "bad") throw new Error();
 * ```
 */
export function verifyProxyAuthentication(
  fields: AvpFields,
  users: ProxyUsers,
): "ok" | "bad" | "absent" {
  const { proxyAuthenType: type, proxyAuthenName: name, proxyAuthenResponse: response } = fields;
  if (name === undefined || response === undefined) return "absent";
  if (type === ProxyAuthenType.PppPap) {
    let password: string;
    try {
      password = new TextDecoder("utf-8", { fatal: true }).decode(response);
    } catch {
      return "bad";
    }
    return users.verify(name, password) ? "ok" : "bad";
  }
  if (type === ProxyAuthenType.PppChap) {
    const { proxyAuthenChallenge: challenge, proxyAuthenId: id } = fields;
    if (challenge === undefined || id === undefined) return "absent";
    const secret = users.secretFor(name);
    if (secret === undefined) return users.acceptAll ? "ok" : "bad";
    const expected = chapResponse(id & 0xff, secret, challenge);
    return expected.length === response.length && timingSafeEqual(expected, response)
      ? "ok"
      : "bad";
  }
  return "absent";
}

/**
 * What a server engine's `proxied` start takes from an ICCN (RFC 2661
 * §4.4.5): the last CONFREQs both ways and the user, when the proxy LCP is
 * there and the proxy authentication checks out against `users`;
 * `undefined` otherwise (the LNS then negotiates LCP and authenticates
 * afresh).
 *
 * @example
 * ```ts
 * import { proxiedStart, proxyFields } from "./proxy.ts";
 * import { LocalUsers } from "./users.ts";
 * const users = new LocalUsers([{ name: "alice", password: "pw" }]);
 * const lcp = { clientMagic: 1, lacMagic: 2 };
 * if (proxiedStart(proxyFields("pap", { name: "alice", password: "pw", id: 1 }, lcp), users)?.user !== "alice") {
 *   throw new Error();
 * }
 * if (proxiedStart(proxyFields("pap", { name: "alice", password: "no", id: 1 }, lcp), users)) throw new Error();
 * ```
 */
export function proxiedStart(
  fields: AvpFields,
  users: ProxyUsers,
): { lastSent: Uint8Array; lastReceived: Uint8Array; user: string } | undefined {
  const { lastSentLcpConfreq: lastSent, lastReceivedLcpConfreq: lastReceived } = fields;
  if (lastSent === undefined || lastReceived === undefined) return undefined;
  if (verifyProxyAuthentication(fields, users) !== "ok") return undefined;
  return { lastSent, lastReceived, user: fields.proxyAuthenName! };
}
