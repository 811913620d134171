/**
 * IPCP (RFC 1332) on the shared automaton, with the name server options of
 * RFC 1877. The server side assigns the peer's IP-Address from an
 * `allocate()` callback and Naks DNS options to the configured servers; the
 * client side takes what the server Naks.
 *
 * Address pool exhausted (`allocate()` returns `null`): the server rejects
 * the peer's IP-Address option, so the peer learns it gets no address, and
 * Closes IPCP (a `failed` effect with reason "address pool exhausted", then
 * Terminate-Request and, on Terminate-Ack or Max-Terminate, tlf). A client
 * of this module whose IP-Address is rejected while it has none closes too
 * ("peer refused to assign an address").
 *
 * @module
 */

import { PPP_IPCP, PPP_IPV6CP, type PppOption } from "./frame.ts";
import { type LcpModel, protocolReject } from "./lcp.ts";
import {
  combineVerdicts,
  createNegotiation,
  DEFAULT_TIMERS,
  type NegotiationModel,
  type NegotiationTimers,
  type OptionsPolicy,
  type OptionVerdict,
} from "./fsm.ts";

/** IPCP Configuration Option types (RFC 1332 §3, RFC 1877 §1). */
export const IpcpOption = {
  IpAddresses: 1,
  IpCompressionProtocol: 2,
  IpAddress: 3,
  PrimaryDns: 129,
  PrimaryNbns: 130,
  SecondaryDns: 131,
  SecondaryNbns: 132,
} as const;

/** A dotted-quad IPv4 address, e.g. "192.0.2.1". */
export type Ipv4 = string;

/** The unspecified address: "please give me one" (RFC 1332 §3.3, RFC 1877). */
export const UNSPECIFIED: Ipv4 = "0.0.0.0";

/** How our IPCP negotiates. */
export type IpcpConfig =
  | {
    role: "server";
    /** Our own address, requested in our Configure-Request. */
    localAddress: Ipv4;
    /** Hands out the peer's address; `null` when the pool is exhausted. Called once per negotiation. */
    allocate: () => Ipv4 | null;
    /** Name servers to Nak DNS requests to; absent ones are rejected. */
    dns?: { primary?: Ipv4; secondary?: Ipv4 };
    timers?: Partial<NegotiationTimers>;
  }
  | {
    role: "client";
    /** The address to ask for; default 0.0.0.0 (the server assigns). */
    address?: Ipv4;
    /** Ask for primary and secondary DNS (RFC 1877); default false. */
    requestDns?: boolean;
    timers?: Partial<NegotiationTimers>;
  };

/** The IPCP-specific state inside a {@link NegotiationModel}. */
export interface IpcpLocal {
  config: IpcpConfig;
  /** Our address: asked for, then as acknowledged; `null` once rejected. */
  address: Ipv4 | null;
  /** DNS we ask for (client) — `null` once rejected or not wanted. */
  primaryDns: Ipv4 | null;
  secondaryDns: Ipv4 | null;
  /** The peer's address: assigned by us (server) or acknowledged (client). */
  peerAddress: Ipv4 | null;
  /** The server asked `allocate()` and got `null`. */
  exhausted: boolean;
  failure: string | undefined;
}

/** The model of an IPCP negotiation. */
export type IpcpModel = NegotiationModel<IpcpLocal>;

/** Parses a dotted quad to 4 octets, or `null`. */
export function ipv4Bytes(address: Ipv4): Uint8Array | null {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return null;
  }
  return new Uint8Array(parts.map(Number));
}

/** Formats 4 octets as a dotted quad. */
export function ipv4String(bytes: Uint8Array): Ipv4 {
  return Array.from(bytes.subarray(0, 4)).join(".");
}

function addressOption(type: number, address: Ipv4): PppOption {
  const data = ipv4Bytes(address);
  if (data === null) throw new RangeError(`not an IPv4 address: ${address}`);
  return { type, data };
}

/** Server side: the peer's address, allocating on first need. */
function assign(local: IpcpLocal): IpcpLocal {
  if (local.config.role !== "server" || local.peerAddress !== null || local.exhausted) return local;
  const allocated = local.config.allocate();
  return allocated === null
    ? { ...local, exhausted: true, failure: "address pool exhausted" }
    : { ...local, peerAddress: allocated };
}

function judgeServer(
  local: IpcpLocal,
  options: readonly PppOption[],
): { local: IpcpLocal; judged: [PppOption, OptionVerdict][]; appended: PppOption[] } {
  const config = local.config as Extract<IpcpConfig, { role: "server" }>;
  const judged: [PppOption, OptionVerdict][] = [];
  let sawAddress = false;
  for (const o of options) {
    switch (o.type) {
      case IpcpOption.IpAddress: {
        if (sawAddress) {
          judged.push([o, { kind: "reject" }]);
          break;
        }
        sawAddress = true;
        local = assign(local);
        if (local.peerAddress === null) judged.push([o, { kind: "reject" }]);
        else if (o.data.length === 4 && ipv4String(o.data) === local.peerAddress) {
          judged.push([o, { kind: "ack" }]);
        } else {
          judged.push([o, { kind: "nak", option: addressOption(o.type, local.peerAddress) }]);
        }
        break;
      }
      case IpcpOption.PrimaryDns:
      case IpcpOption.SecondaryDns: {
        const server = o.type === IpcpOption.PrimaryDns
          ? config.dns?.primary
          : config.dns?.secondary;
        if (server === undefined) judged.push([o, { kind: "reject" }]);
        else if (o.data.length === 4 && ipv4String(o.data) === server) {
          judged.push([o, { kind: "ack" }]);
        } else judged.push([o, { kind: "nak", option: addressOption(o.type, server) }]);
        break;
      }
      default:
        // IP-Addresses (deprecated), IP-Compression-Protocol, NBNS, unknown.
        judged.push([o, { kind: "reject" }]);
    }
  }
  const appended: PppOption[] = [];
  if (!sawAddress) {
    // RFC 1332 §3.3 lets a Nak carry the address the peer should ask for.
    local = assign(local);
    if (local.peerAddress !== null) {
      appended.push(addressOption(IpcpOption.IpAddress, local.peerAddress));
    }
  }
  return { local, judged, appended };
}

function judgeClient(
  local: IpcpLocal,
  options: readonly PppOption[],
): { local: IpcpLocal; judged: [PppOption, OptionVerdict][] } {
  const judged: [PppOption, OptionVerdict][] = [];
  let peerAddress: Ipv4 | null = null;
  for (const o of options) {
    // The server tells us its own address; we have none to give it.
    if (o.type === IpcpOption.IpAddress && o.data.length === 4 && peerAddress === null) {
      const address = ipv4String(o.data);
      if (address !== UNSPECIFIED) {
        peerAddress = address;
        judged.push([o, { kind: "ack" }]);
        continue;
      }
    }
    judged.push([o, { kind: "reject" }]);
  }
  return { local: { ...local, peerAddress }, judged };
}

function fresh(config: IpcpConfig, keep?: IpcpLocal): IpcpLocal {
  const client = config.role === "client";
  return {
    config,
    address: client ? config.address ?? UNSPECIFIED : config.localAddress,
    primaryDns: client && config.requestDns ? UNSPECIFIED : null,
    secondaryDns: client && config.requestDns ? UNSPECIFIED : null,
    // A server keeps its assignment across renegotiations; the caller releases it.
    peerAddress: !client && keep ? keep.peerAddress : null,
    exhausted: false,
    failure: undefined,
  };
}

/** The IPCP options policy. */
export const IPCP_POLICY: OptionsPolicy<IpcpLocal> = {
  request(local) {
    const options: PppOption[] = [];
    if (local.address !== null) options.push(addressOption(IpcpOption.IpAddress, local.address));
    if (local.primaryDns !== null) {
      options.push(addressOption(IpcpOption.PrimaryDns, local.primaryDns));
    }
    if (local.secondaryDns !== null) {
      options.push(addressOption(IpcpOption.SecondaryDns, local.secondaryDns));
    }
    return options;
  },

  judge(local, options) {
    if (local.config.role === "server") {
      const r = judgeServer(local, options);
      return { local: r.local, verdict: combineVerdicts(r.judged, r.appended) };
    }
    const r = judgeClient(local, options);
    return { local: r.local, verdict: combineVerdicts(r.judged) };
  },

  onAck: (local) => local,

  onNak(local, options) {
    // A server keeps its own address; a client takes what it is given.
    if (local.config.role === "server") return local;
    const next = { ...local };
    for (const o of options) {
      if (o.data.length !== 4) continue;
      const value = ipv4String(o.data);
      if (o.type === IpcpOption.IpAddress) next.address = value;
      if (o.type === IpcpOption.PrimaryDns && next.primaryDns !== null) next.primaryDns = value;
      if (o.type === IpcpOption.SecondaryDns && next.secondaryDns !== null) {
        next.secondaryDns = value;
      }
    }
    return next;
  },

  onReject(local, options) {
    const next = { ...local };
    for (const o of options) {
      if (o.type === IpcpOption.IpAddress) {
        if (next.address === UNSPECIFIED) next.failure = "peer refused to assign an address";
        next.address = null;
      }
      if (o.type === IpcpOption.PrimaryDns) next.primaryDns = null;
      if (o.type === IpcpOption.SecondaryDns) next.secondaryDns = null;
    }
    return next;
  },

  restart: (local) => fresh(local.config, local),

  failure: (local) => local.failure,
};

/**
 * A new IPCP negotiation in the Initial state; feed it with `transition`
 * from `fsm.ts` (Up when LCP is Opened and authentication is done).
 *
 * @example
 * ```ts
 * import { createIpcp } from "./ipcp.ts";
 * const m = createIpcp({ role: "client", requestDns: true });
 * if (m.local.address !== "0.0.0.0" || m.local.primaryDns !== "0.0.0.0") throw new Error();
 * ```
 */
export function createIpcp(config: IpcpConfig): IpcpModel {
  return createNegotiation(
    {
      protocol: PPP_IPCP,
      name: "IPCP",
      policy: IPCP_POLICY,
      timers: { ...DEFAULT_TIMERS, ...config.timers },
    },
    fresh(config),
  );
}

/** What was agreed once IPCP is Opened. */
export interface IpcpAgreement {
  /** Our address (client: as assigned by the server). */
  localAddress: Ipv4 | null;
  /** The peer's address (server: as allocated). */
  peerAddress: Ipv4 | null;
  primaryDns: Ipv4 | null;
  secondaryDns: Ipv4 | null;
}

/**
 * The agreement of an Opened IPCP, or `null` when not Opened.
 *
 * @example
 * ```ts
 * import { createIpcp, ipcpAgreement } from "./ipcp.ts";
 * if (ipcpAgreement(createIpcp({ role: "client" })) !== null) throw new Error();
 * ```
 */
export function ipcpAgreement(model: IpcpModel): IpcpAgreement | null {
  if (model.state !== "Opened") return null;
  const l = model.local;
  return {
    localAddress: l.address,
    peerAddress: l.peerAddress,
    primaryDns: l.primaryDns,
    secondaryDns: l.secondaryDns,
  };
}

/**
 * The LCP Protocol-Reject of an IPv6CP packet, for when IPv6 is off
 * (RFC 5072 §3 rides on RFC 1661 §5.7); `null` unless LCP is Opened.
 *
 * @example
 * ```ts
 * import { createLcp } from "./lcp.ts";
 * import { ipv6cpReject } from "./ipcp.ts";
 * if (ipv6cpReject(createLcp({ magic: () => 1 }), new Uint8Array([1, 1, 0, 4])) !== null) {
 *   throw new Error();
 * }
 * ```
 */
export function ipv6cpReject(
  model: LcpModel,
  ipv6cpPacket: Uint8Array,
): { model: LcpModel; frame: Uint8Array } | null {
  return protocolReject(model, PPP_IPV6CP, ipv6cpPacket);
}
