/**
 * lts — an L2TPv2 (RFC 2661) tunnel switch. This module is the public API:
 * the wire codec and the runtime the switch is built on.
 *
 * @example
 * ```ts
 * import { buildAvps, decodeControl, encodeControl } from "./mod.ts";
 * const bytes = encodeControl({ tunnelId: 5, sessionId: 0, ns: 0, nr: 0 }, buildAvps("HELLO", {}));
 * const r = decodeControl(bytes);
 * if (!r.ok || r.value.type !== "HELLO") throw new Error();
 * ```
 *
 * @module
 */

export * from "./transport/result.ts";
export * from "./transport/header.ts";
export * from "./transport/avp_types.ts";
export * from "./transport/avp.ts";
export * from "./transport/message_specs.ts";
export * from "./transport/message.ts";
export * from "./transport/auth.ts";
export * from "./transport/describe.ts";
export * from "./transport/pcap.ts";
export * from "./actors/mod.ts";
