/**
 * The TUN device against the kernel. The device is opened in this process
 * and moved at once into a network namespace of its own, where it gets
 * 10.98.0.1/24 and goes up (its descriptor keeps working across the move);
 * an ICMP Echo Request from 10.98.0.2 written into it comes back as the
 * kernel's Echo Reply (RFC 792). Needs root; skipped without it.
 */
import assert from "node:assert/strict";
import { openTun } from "./tun.ts";

const NETNS = "lts-tun-test";
const IFNAME = "lts-tun-test";
const isRoot = Deno.uid() === 0;

async function sh(script: string): Promise<void> {
  const out = await new Deno.Command("bash", { args: ["-c", script], stderr: "piped" }).output();
  if (out.code !== 0) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
}

/** The Internet checksum (RFC 1071) of `b`: the ones' complement of the ones' complement sum. */
function internetChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.length % 2 === 1) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const ip4 = (s: string) => new Uint8Array(s.split(".").map(Number));

/** An IPv4 packet (RFC 791, no options) carrying an ICMP Echo Request (RFC 792). */
function echoRequest(
  src: string,
  dst: string,
  o: { id: number; seq: number; data: Uint8Array },
): Uint8Array {
  const icmp = new Uint8Array(8 + o.data.length);
  const iv = new DataView(icmp.buffer);
  icmp[0] = 8; // Echo Request, code 0
  iv.setUint16(4, o.id);
  iv.setUint16(6, o.seq);
  icmp.set(o.data, 8);
  iv.setUint16(2, internetChecksum(icmp));
  const packet = new Uint8Array(20 + icmp.length);
  const v = new DataView(packet.buffer);
  packet[0] = 0x45; // version 4, IHL 5
  v.setUint16(2, packet.length);
  v.setUint16(4, o.id); // Identification
  v.setUint16(6, 0x4000); // DF
  packet[8] = 64; // TTL
  packet[9] = 1; // ICMP
  packet.set(ip4(src), 12);
  packet.set(ip4(dst), 16);
  v.setUint16(10, internetChecksum(packet.subarray(0, 20)));
  packet.set(icmp, 20);
  return packet;
}

const address = (b: Uint8Array) => [...b].join(".");

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "openTun: a name over 15 bytes and a missing FFI permission are errors, not throws",
  permissions: { read: true, env: true },
  fn() {
    const long = openTun("sixteen-letters!");
    assert.equal(long.ok, false);
    assert.match(long.ok ? "" : long.error, /1 to 15 bytes/);
    const denied = openTun("lts-x");
    assert.equal(denied.ok, false);
    assert.match(denied.ok ? "" : denied.error, /FFI permission/);
  },
});

Deno.test({
  name:
    "TUN in its own network namespace: an ICMP Echo Request written in, the kernel's Echo Reply read out",
  ignore: !isRoot,
  async fn() {
    await sh(
      `ip netns del ${NETNS} 2>/dev/null || true; ip link del ${IFNAME} 2>/dev/null || true`,
    );
    await sh(`ip netns add ${NETNS}`);
    const opened = openTun(IFNAME);
    try {
      assert.ok(opened.ok, opened.ok ? "" : opened.error);
      const tun = opened.value;
      assert.equal(tun.name, IFNAME);
      await sh(
        `ip link set ${IFNAME} netns ${NETNS} && ip -n ${NETNS} addr add 10.98.0.1/24 dev ${IFNAME} && ` +
          `ip -n ${NETNS} link set ${IFNAME} up`,
      );
      const received: Uint8Array[] = [];
      const arrived = Promise.withResolvers<Uint8Array>();
      tun.onPacket((packet) => {
        // Copied: the view is valid during this call only. The kernel may also send IPv6
        // (router solicitations) on a new interface; only IPv4 ICMP is ours.
        const copy = packet.slice();
        received.push(copy);
        if (copy[0] >> 4 === 4 && copy[9] === 1) arrived.resolve(copy);
      });
      const data = new TextEncoder().encode("lts tun echo 0123456789");
      const request = echoRequest("10.98.0.2", "10.98.0.1", { id: 0x1234, seq: 7, data });
      assert.equal(internetChecksum(request.subarray(0, 20)), 0, "our IPv4 header checksum");
      assert.equal(internetChecksum(request.subarray(20)), 0, "our ICMP checksum");
      assert.equal(tun.write(request), true);
      const reply = await within(
        arrived.promise,
        5000,
        () => `no Echo Reply; read ${received.length} other packets`,
      );

      // IPv4 from 10.98.0.1 to 10.98.0.2, header checksum good.
      const ihl = (reply[0] & 0x0f) * 4;
      const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
      assert.equal(v.getUint16(2), reply.length, "Total Length");
      assert.equal(internetChecksum(reply.subarray(0, ihl)), 0, "IPv4 header checksum");
      assert.equal(address(reply.subarray(12, 16)), "10.98.0.1");
      assert.equal(address(reply.subarray(16, 20)), "10.98.0.2");
      // ICMP Echo Reply (type 0, code 0) with our Identifier, Sequence Number and data.
      const icmp = reply.subarray(ihl);
      assert.equal(icmp[0], 0);
      assert.equal(icmp[1], 0);
      assert.equal(internetChecksum(icmp), 0, "ICMP checksum");
      assert.equal(v.getUint16(ihl + 4), 0x1234);
      assert.equal(v.getUint16(ihl + 6), 7);
      assert.deepEqual(icmp.subarray(8), data);

      assert.equal(tun.stats.packetsOut, 1);
      assert.equal(tun.stats.bytesOut, request.length);
      assert.equal(tun.stats.packetsIn, received.length);
      assert.equal(tun.stats.writeErrors, 0);
      assert.equal(tun.stats.readErrors, 0);
      tun.close();
      await tun.closed;
      assert.equal(tun.write(request), false, "a closed device takes nothing");
    } finally {
      if (opened.ok) {
        opened.value.close();
        await opened.value.closed;
      }
      // The interface goes with its descriptor; the namespace with this.
      await sh(`ip netns del ${NETNS} 2>/dev/null || true`);
    }
  },
});

Deno.test({
  name: "TUN: a receiver that throws is counted and reading goes on; closing ends a pending read",
  ignore: !isRoot,
  async fn() {
    await sh(
      `ip netns del ${NETNS} 2>/dev/null || true; ip link del ${IFNAME} 2>/dev/null || true`,
    );
    await sh(`ip netns add ${NETNS}`);
    const opened = openTun(IFNAME);
    try {
      assert.ok(opened.ok, opened.ok ? "" : opened.error);
      const tun = opened.value;
      await sh(
        `ip link set ${IFNAME} netns ${NETNS} && ip -n ${NETNS} addr add 10.98.0.1/24 dev ${IFNAME} && ` +
          `ip -n ${NETNS} link set ${IFNAME} up`,
      );
      const replies: number[] = [];
      const two = Promise.withResolvers<void>();
      tun.onPacket((packet) => {
        if (packet[0] >> 4 !== 4 || packet[9] !== 1) return;
        const seq = (packet[26] << 8) | packet[27];
        replies.push(seq);
        if (replies.length === 2) two.resolve();
        if (seq === 1) throw new Error("a receiver's bug");
      });
      const data = new Uint8Array(8);
      tun.write(echoRequest("10.98.0.2", "10.98.0.1", { id: 1, seq: 1, data }));
      tun.write(echoRequest("10.98.0.2", "10.98.0.1", { id: 1, seq: 2, data }));
      await within(two.promise, 5000, () => `replies ${replies}`);
      assert.deepEqual(replies, [1, 2]);
      assert.equal(tun.stats.receiverErrors, 1);
      // A read is pending in poll(2) now; close must end it rather than wait for a packet.
      tun.close();
      await tun.closed;
    } finally {
      if (opened.ok) {
        opened.value.close();
        await opened.value.closed;
      }
      await sh(`ip netns del ${NETNS} 2>/dev/null || true`);
    }
  },
});

Deno.test({
  name: "openTun as an unprivileged user: an error naming the refusal, not a throw",
  ignore: !isRoot,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lts-tun-nobody-" });
    try {
      await Deno.chmod(dir, 0o777);
      const tun = new URL("./tun.ts", import.meta.url).href;
      const script =
        `import { openTun } from "${tun}"; console.log(JSON.stringify(openTun("lts-nobody0")));`;
      const out = await new Deno.Command("setpriv", {
        args: [
          ...["--reuid=65534", "--regid=65534", "--clear-groups"],
          ...["env", `DENO_DIR=${dir}`, `HOME=${dir}`, Deno.execPath()],
          ...["eval", "--no-config", script],
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const result = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(result.ok, false);
      // Either open(2) of /dev/net/tun or TUNSETIFF (CAP_NET_ADMIN) refuses, by the device's mode.
      assert.match(
        result.error,
        /^TUN lts-nobody0: (open \/dev\/net\/tun|TUNSETIFF): (Permission denied|Operation not permitted)$/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
