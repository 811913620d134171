import assert from "node:assert/strict";
import { IpPool, parseIpv4 } from "../ppp/ip_pool.ts";
import { type LinkEvent, PppLink } from "../ppp/link.ts";
import { LocalUsers } from "../ppp/users.ts";
import { newTunStats, type TunDevice, type TunStats } from "../transport/tun.ts";
import {
  type IpLink,
  rangeToCidrs,
  TunBridge,
  tunNameFor,
  tunSetupCommands,
} from "./tun_bridge.ts";

/** A TUN device in memory: what the bridge wrote, and a way to play the kernel. */
class FakeTun implements TunDevice {
  readonly name = "lts-fake";
  readonly written: Uint8Array[] = [];
  readonly closed = Promise.resolve();
  readonly stats: TunStats = newTunStats();
  isClosed = false;
  refuse = false;
  #callback: ((packet: Uint8Array) => void) | undefined;

  write(packet: Uint8Array): boolean {
    if (this.isClosed || this.refuse) return false;
    this.written.push(packet.slice());
    return true;
  }
  onPacket(callback: (packet: Uint8Array) => void): void {
    this.#callback = callback;
  }
  close(): void {
    this.isClosed = true;
  }
  /** The kernel routes `packet` to the device. */
  fromKernel(packet: Uint8Array): void {
    assert.ok(this.#callback, "the bridge reads the device");
    this.#callback(packet);
  }
}

/** A minimal IPv4 packet (header only, RFC 791) from `src` to `dst`. */
function ipv4(src: string, dst: string): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[3] = 28;
  p[9] = 17;
  new DataView(p.buffer).setUint32(12, parseIpv4(src)!);
  new DataView(p.buffer).setUint32(16, parseIpv4(dst)!);
  return p;
}

/** A link that keeps what it is sent. */
function recordingLink(open = true): IpLink & { got: Uint8Array[] } {
  const got: Uint8Array[] = [];
  return { got, sendIp: (p) => open && got.push(p.slice()) > 0 };
}

Deno.test({
  name: "TunBridge: packets from the device go to the link holding their destination",
  permissions: "none",
  fn() {
    const tun = new FakeTun();
    const bridge = new TunBridge(tun);
    const a = recordingLink(), b = recordingLink();
    bridge.attach("10.200.0.10", a);
    bridge.attach("10.200.0.11", b);
    assert.equal(bridge.size, 2);
    assert.equal(bridge.name, "lts-fake");
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.10"));
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.11"));
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.11"));
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.12")); // nobody's
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    tun.fromKernel(v6);
    tun.fromKernel(new Uint8Array([0x45, 0, 0])); // a runt
    assert.equal(a.got.length, 1);
    assert.equal(b.got.length, 2);
    assert.deepEqual(a.got[0], ipv4("192.0.2.1", "10.200.0.10"));
    assert.deepEqual(bridge.stats, {
      toLinks: 3,
      noRoute: 1,
      linkRefused: 0,
      notIpv4: 2,
      toDevice: 0,
      deviceRefused: 0,
      spoofed: 0,
    });
  },
});

Deno.test({
  name: "TunBridge: a link's datagrams reach the device only with its client's source address",
  permissions: "none",
  fn() {
    const tun = new FakeTun();
    const bridge = new TunBridge(tun);
    assert.equal(bridge.deliver(ipv4("10.200.0.10", "192.0.2.1"), "10.200.0.10"), true);
    assert.equal(bridge.deliver(ipv4("10.200.0.99", "192.0.2.1"), "10.200.0.10"), false);
    assert.equal(bridge.deliver(new Uint8Array(10), "10.200.0.10"), false);
    tun.refuse = true;
    assert.equal(bridge.deliver(ipv4("10.200.0.10", "192.0.2.1"), "10.200.0.10"), false);
    assert.equal(tun.written.length, 1);
    assert.deepEqual(tun.written[0], ipv4("10.200.0.10", "192.0.2.1"));
    assert.equal(bridge.stats.toDevice, 1);
    assert.equal(bridge.stats.spoofed, 2);
    assert.equal(bridge.stats.deviceRefused, 1);
  },
});

Deno.test({
  name: "TunBridge: detach stops routing, but not for a newer link holding the address",
  permissions: "none",
  fn() {
    const tun = new FakeTun();
    const bridge = new TunBridge(tun);
    const old = recordingLink(), renewed = recordingLink(), closedLink = recordingLink(false);
    bridge.attach("10.200.0.10", old);
    bridge.attach("10.200.0.10", renewed); // the address went to a new call
    bridge.detach("10.200.0.10", old); // the old call's late end
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.10"));
    assert.equal(old.got.length, 0);
    assert.equal(renewed.got.length, 1);
    bridge.detach("10.200.0.10");
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.10"));
    assert.equal(renewed.got.length, 1);
    assert.equal(bridge.stats.noRoute, 1);
    bridge.attach("10.200.0.11", closedLink);
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.11"));
    assert.equal(bridge.stats.linkRefused, 1);
    assert.throws(() => bridge.attach("10.200.0", old), RangeError);
    bridge.close();
    assert.equal(tun.isClosed, true);
    assert.equal(bridge.size, 0);
  },
});

Deno.test({
  name:
    "TunBridge with real PPP links: an IPv4 datagram crosses from the device to the client and back",
  permissions: "none",
  fn() {
    // Server and client links on an in-memory wire, as the switch actor drives a terminated call.
    const wire: [PppLink, Uint8Array][] = [];
    const tun = new FakeTun();
    const bridge = new TunBridge(tun);
    const atClient: Uint8Array[] = [];
    const host = (
      to: () => PppLink,
      hooks: { event?: (e: LinkEvent) => void; ip?: (p: Uint8Array) => void },
    ) => ({
      send: (frame: Uint8Array) => void wire.push([to(), frame]),
      now: () => 0,
      arm: () => () => {},
      event: (e: LinkEvent) => hooks.event?.(e),
      ip: hooks.ip,
    });
    // The wiring the switch actor does: attach at "opened", deliver from `ip`.
    const server: PppLink = new PppLink(
      {
        role: "server",
        auth: ["pap"],
        users: new LocalUsers([{ name: "alice", password: "pw" }]),
        localAddress: "10.200.0.1",
        pool: new IpPool({ first: parseIpv4("10.200.0.10")!, last: parseIpv4("10.200.0.20")! }),
      },
      host(() => client, {
        event: (e) => e.type === "opened" && bridge.attach(e.address!, server),
        ip: (p) => void bridge.deliver(p, server.address!),
      }),
    );
    const client: PppLink = new PppLink(
      { role: "client", name: "alice", password: "pw" },
      host(() => server, { ip: (p) => atClient.push(p.slice()) }),
    );
    server.start();
    client.start();
    const run = () => {
      while (wire.length > 0) {
        const [to, frame] = wire.shift()!;
        to.receive(frame);
      }
    };
    run();
    assert.equal(server.address, "10.200.0.10");
    assert.equal(bridge.size, 1);
    tun.fromKernel(ipv4("192.0.2.1", "10.200.0.10"));
    run();
    assert.deepEqual(atClient, [ipv4("192.0.2.1", "10.200.0.10")]);
    assert.equal(client.sendIp(ipv4("10.200.0.10", "192.0.2.1")), true);
    run();
    assert.deepEqual(tun.written, [ipv4("10.200.0.10", "192.0.2.1")]);
  },
});

Deno.test({
  name:
    "tunNameFor and tunSetupCommands: names within IFNAMSIZ, the pool routed as exact CIDR blocks",
  permissions: "none",
  fn() {
    assert.equal(tunNameFor("local"), "lts-local");
    const long = tunNameFor("a-very-long-target-name");
    assert.match(long, /^lts-[0-9a-f]{11}$/);
    assert.notEqual(long, tunNameFor("a-very-long-target-name2"));
    assert.deepEqual(rangeToCidrs(parseIpv4("10.200.0.10")!, parseIpv4("10.200.0.20")!), [
      "10.200.0.10/31",
      "10.200.0.12/30",
      "10.200.0.16/30",
      "10.200.0.20/32",
    ]);
    // The default pool: aligned blocks, each starting where the last ended, ending at its last.
    const first = parseIpv4("100.64.0.2")!, last = parseIpv4("100.64.255.254")!;
    let at = first;
    const blocks = rangeToCidrs(first, last);
    for (const cidr of blocks) {
      const [base, bits] = cidr.split("/");
      const size = 2 ** (32 - Number(bits));
      assert.equal(parseIpv4(base), at, cidr);
      assert.equal(at % size, 0, `${cidr} aligned`);
      at += size;
    }
    assert.equal(at, last + 1);
    assert.equal(blocks.length, 29); // 14 blocks up to 100.64.128.0, 15 after: the fewest
    assert.deepEqual(rangeToCidrs(0, 0xffffffff), ["0.0.0.0/0"]);
    assert.deepEqual(
      tunSetupCommands("lts-local", {
        localAddress: "10.200.0.1",
        pool: { first: parseIpv4("10.200.0.8")!, last: parseIpv4("10.200.0.15")! },
      }),
      [
        "ip addr replace 10.200.0.1/32 dev lts-local",
        "ip link set lts-local up",
        "ip route replace 10.200.0.8/29 dev lts-local",
      ],
    );
  },
});
