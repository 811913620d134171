/**
 * The reference for bench/switch_bench.ts: the simplest UDP relay in Deno.
 * One socket, `receive()` into one reused buffer, `send()` the datagram as
 * it came to one fixed destination, await, repeat. No parsing, no rewrite.
 *
 * usage: deno run -A bench/switch/naive_relay.ts LISTEN_PORT DEST_PORT
 * Prints "listening on PORT" when up; on SIGTERM prints {"relayed":n}.
 *
 * @module
 */

const [listenPort, destPort] = Deno.args.map(Number);
const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: listenPort });
const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: destPort };
let relayed = 0;
Deno.addSignalListener("SIGTERM", () => {
  console.log(JSON.stringify({ relayed }));
  Deno.exit(0);
});
console.log(`naive relay: listening on ${(conn.addr as Deno.NetAddr).port}`);
const buffer = new Uint8Array(65536);
while (true) {
  const [packet] = await conn.receive(buffer);
  await conn.send(packet, to);
  relayed++;
}
