/**
 * A hand-driven L2TP peer for the simulation: it sends exactly the control
 * messages a test names, which no L2TP node would (an SCCRQ never
 * followed by SCCCN, ICRQs never followed by ICCN, wrong Challenge
 * Responses).
 *
 * @module
 */

import type { MessageTypeName } from "../transport/avp_types.ts";
import type { Endpoint } from "../transport/datagram.ts";
import {
  type AvpFields,
  buildAvps,
  type ControlMessage,
  decodeControl,
  encodeControl,
  fieldsOf,
} from "../transport/message.ts";
import type { simulation } from "./_l2tp_sim.ts";

/** The AVPs every SCCRQ carries (§6.1), for a peer without authentication. */
export const IDENTITY: AvpFields = {
  protocolVersion: { version: 1, revision: 0 },
  hostName: "raw",
  framingCapabilities: { synchronous: true, asynchronous: true },
};

/**
 * A hand-driven peer on a raw socket: sends the control messages it is told
 * to, with its own Ns and the Nr it owes, and acknowledges every message it
 * receives with a ZLB, so the node's channel never gives up on it.
 */
export function rawPeer(sim: ReturnType<typeof simulation>, address: Endpoint, to: Endpoint) {
  const bound = sim.network.bind(address);
  if (!bound.ok) throw new Error(bound.error);
  const socket = bound.value;
  const received: ControlMessage[] = [];
  let ns = 0;
  let nr = 0;
  let peerTunnelId = 0;
  socket.onReceive((payload) => {
    const m = decodeControl(payload.slice()); // the network reuses its buffers
    if (!m.ok || m.value.type === "ZLB") return;
    if (m.value.header.ns === nr) nr = (nr + 1) & 0xffff;
    received.push(m.value);
    const assigned = fieldsOf(m.value.avps).assignedTunnelId;
    if (m.value.type === "SCCRP" && assigned !== undefined) peerTunnelId = assigned;
    socket.send(encodeControl({ tunnelId: peerTunnelId, sessionId: 0, ns, nr }, []), to);
  });
  return {
    received,
    close: () => socket.close(),
    send(type: MessageTypeName, fields: AvpFields, sessionId = 0) {
      const avps = buildAvps(type, fields);
      socket.send(encodeControl({ tunnelId: peerTunnelId, sessionId, ns, nr }, avps), to);
      ns = (ns + 1) & 0xffff;
    },
    /** SCCRQ, then SCCCN once the SCCRP came: an established tunnel without authentication. */
    establish(assignedTunnelId: number): boolean {
      this.send("SCCRQ", { ...IDENTITY, assignedTunnelId });
      sim.scheduler.advance(20);
      if (peerTunnelId === 0) return false;
      this.send("SCCCN", {});
      sim.scheduler.advance(20);
      return true;
    },
  };
}
