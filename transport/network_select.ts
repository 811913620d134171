/**
 * Picks the production {@link DatagramNetwork}: the batched FFI backend
 * (`ffi_udp.ts`, recvmmsg/sendmmsg) when this process may use FFI, else
 * `Deno.listenDatagram` (`udp.ts`). `lts run --data-plane ffi|deno|auto`
 * maps onto {@link createDatagramNetwork}.
 *
 * @example
 * ```ts
 * import { createDatagramNetwork } from "./network_select.ts";
 *
 * const r = createDatagramNetwork("auto", { maxPendingSends: 4096 });
 * if (!r.ok) throw new Error(r.error);
 * const socket = r.value.network.bind({ hostname: "127.0.0.1", port: 0 });
 * if (!socket.ok) throw new Error(socket.error);
 * console.log(`data plane: ${r.value.kind}`);
 * socket.value.close();
 * await socket.value.closed;
 * ```
 *
 * @module
 */

import type { Endpoint } from "./datagram.ts";
import { FfiUdpNetwork, type FfiUdpNetworkOptions, isFfiAvailable } from "./ffi_udp.ts";
import type { Result } from "./result.ts";
import { DenoUdpNetwork, type UdpSocket } from "./udp.ts";

/** What `--data-plane` accepts: a backend, or `"auto"` for FFI when permitted. */
export type DataPlaneKind = "ffi" | "deno" | "auto";

/** The values of {@link DataPlaneKind}, for option parsers. */
export const DATA_PLANE_KINDS: readonly DataPlaneKind[] = ["ffi", "deno", "auto"];

/** A network whose sockets can also be awaited when closed (both backends' sockets). */
export interface ClosableNetwork {
  /** Binds `local`; see {@link DatagramNetwork.bind}. */
  bind(local: Endpoint): Result<UdpSocket, string>;
}

/** The chosen backend. */
export interface SelectedNetwork {
  readonly network: ClosableNetwork;
  /** The backend in use. */
  readonly kind: "ffi" | "deno";
  /** One line for a log: what was asked and why this backend. */
  readonly reason: string;
}

/** Options passed to whichever backend is chosen (`socketBufferBytes` only the FFI one uses). */
export type DatagramNetworkOptions = FfiUdpNetworkOptions;

/**
 * The network for `kind`: `"ffi"` fails (a Result error) when FFI is not
 * usable; `"auto"` falls back to `"deno"` and says why in `reason`. Throws
 * only a `RangeError` for bad options, like the backends' constructors.
 */
export function createDatagramNetwork(
  kind: DataPlaneKind,
  options: DatagramNetworkOptions = {},
): Result<SelectedNetwork, string> {
  const deno = () =>
    new DenoUdpNetwork({ maxPendingSends: options.maxPendingSends, onError: options.onError });
  const ffi = () => new FfiUdpNetwork(options);
  switch (kind) {
    case "deno":
      return {
        ok: true,
        value: { network: deno(), kind: "deno", reason: "Deno.listenDatagram, as asked" },
      };
    case "ffi":
      if (!isFfiAvailable()) {
        return {
          ok: false,
          error:
            "the ffi data plane needs --allow-ffi and libc.so.6 on Linux x86_64/aarch64 (try --data-plane deno)",
        };
      }
      return {
        ok: true,
        value: { network: ffi(), kind: "ffi", reason: "recvmmsg/sendmmsg via libc, as asked" },
      };
    case "auto":
      return isFfiAvailable()
        ? {
          ok: true,
          value: { network: ffi(), kind: "ffi", reason: "recvmmsg/sendmmsg via libc (auto)" },
        }
        : {
          ok: true,
          value: {
            network: deno(),
            kind: "deno",
            reason: "Deno.listenDatagram (auto: FFI not permitted or not available)",
          },
        };
    default: {
      const never: never = kind;
      return { ok: false, error: `unknown data plane "${never}"` };
    }
  }
}
