/**
 * The data plane's forwarding table (DESIGN.md "Control plane vs data
 * plane"): once a session is established its actor programs an entry, and
 * the receive loop hands data messages to it with no actor hop. Entries are
 * removed before a session's state is freed.
 *
 * @module
 */

import type { DatagramSocket, Endpoint } from "../transport/datagram.ts";
import { dataHeaderLength, writeDataHeader } from "../transport/header.ts";

/** Where a session's frames go, and who gets the ones that arrive. */
export interface DataEntry {
  /** Peer's address, Tunnel ID and Session ID for frames we send (§3.1: the recipient's IDs). */
  peer: Endpoint;
  peerTunnelId: number;
  peerSessionId: number;
  /** Send Ns on data messages (Sequencing Required, §5.4). */
  sequencing: boolean;
  /** Next data Ns to send when `sequencing` (§5.4). */
  ns: number;
  /** Called with each PPP frame that arrives; the frame is valid only during the call. */
  receive(frame: Uint8Array): void;
  /** Frames received and sent on this entry. */
  rxFrames: number;
  txFrames: number;
  /** Octets of PPP frames received and sent (headers excluded). */
  rxBytes: number;
  txBytes: number;
  /**
   * A switched session: frames that arrive here go straight out on this other
   * leg's entry, header rewritten, with no actor hop (DESIGN.md data plane).
   */
  forward?: DataEntry;
  /** Set when the entry is removed, so a leg still pointing at it stops forwarding. */
  removed?: boolean;
}

/** The key of a session: our Tunnel ID and Session ID in one number. */
export function sessionKey(tunnelId: number, sessionId: number): number {
  return tunnelId * 0x10000 + sessionId;
}

/** Forwarding entries by {@link sessionKey}, with counters of what found no entry. */
export class ForwardingTable {
  #entries = new Map<number, DataEntry>();
  /** Data messages for a session that has no entry (unknown or not yet established). */
  unknownSession = 0;

  /** Programs or replaces the entry of a session. */
  set(tunnelId: number, sessionId: number, entry: DataEntry): void {
    this.#entries.set(sessionKey(tunnelId, sessionId), entry);
  }

  get(tunnelId: number, sessionId: number): DataEntry | undefined {
    return this.#entries.get(sessionKey(tunnelId, sessionId));
  }

  /** Removes a session's entry; true when there was one. */
  delete(tunnelId: number, sessionId: number): boolean {
    const key = sessionKey(tunnelId, sessionId);
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    entry.removed = true;
    entry.forward = undefined;
    return this.#entries.delete(key);
  }

  /** Entries programmed. */
  get size(): number {
    return this.#entries.size;
  }
}

/**
 * Sends one PPP frame on a session's data channel (§5.3): a data header with
 * the peer's Tunnel ID and Session ID (and Ns when sequencing, §5.4), then the
 * frame. Returns false when the socket refused it.
 */
export function sendFrame(socket: DatagramSocket, entry: DataEntry, frame: Uint8Array): boolean {
  const h = {
    tunnelId: entry.peerTunnelId,
    sessionId: entry.peerSessionId,
    ns: entry.sequencing ? entry.ns : undefined,
  };
  const packet = new Uint8Array(dataHeaderLength(h) + frame.length);
  packet.set(frame, writeDataHeader(packet, h, frame.length));
  if (entry.sequencing) entry.ns = (entry.ns + 1) & 0xffff;
  entry.txFrames++;
  entry.txBytes += frame.length;
  return socket.send(packet, entry.peer) === "ok";
}

/**
 * Switches one received data message to the other leg of its session. When
 * neither leg uses sequencing and no Offset field is present, the Tunnel ID
 * and Session ID are rewritten in place and the datagram goes out as it came
 * (no allocation); otherwise a new header is built (§5.4: each leg keeps its
 * own Ns). Returns false when the other leg is gone or the socket refused.
 */
export function forwardData(
  socket: DatagramSocket,
  packet: Uint8Array,
  header: {
    payloadOffset: number;
    messageLength: number;
    ns: number | null;
    offsetSize: number | null;
  },
  to: DataEntry,
): boolean {
  if (to.removed) return false;
  if (!to.sequencing && header.ns === null && header.offsetSize === null) {
    to.txFrames++;
    to.txBytes += header.messageLength - header.payloadOffset;
    // Flags (2), then Length (2) when the L bit is set, then Tunnel ID and Session ID (§3.1).
    const at = (packet[0] & 0x40) !== 0 ? 4 : 2;
    packet[at] = to.peerTunnelId >> 8;
    packet[at + 1] = to.peerTunnelId & 0xff;
    packet[at + 2] = to.peerSessionId >> 8;
    packet[at + 3] = to.peerSessionId & 0xff;
    return socket.send(packet.subarray(0, header.messageLength), to.peer) === "ok";
  }
  return sendFrame(socket, to, packet.subarray(header.payloadOffset, header.messageLength));
}
