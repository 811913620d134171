/**
 * The few libc calls the batched datagram backend (`ffi_udp.ts`) and the TUN
 * device (`tun.ts`) make, bound once per thread with `Deno.dlopen("libc.so.6")`,
 * and the Linux constants and struct layouts they need (x86_64 and aarch64 share all of them: LP64, the
 * generic socket ABI). Private to `transport/`.
 *
 * All calls but `poll` are synchronous FFI calls on the JS thread, so `errno`
 * read right after one is that call's. `poll` is `nonblocking`: Deno runs it
 * on a blocking-pool thread and resolves a promise, which is how a socket
 * waits without blocking the event loop (errno is not readable for it, and
 * not needed).
 *
 * @module
 */

import type { Result } from "./result.ts";

const SYMBOLS = {
  // socket(2), bind(2), getsockname(2), setsockopt(2), close(2)
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // recvmmsg(2), sendmmsg(2): up to UIO_MAXIOV (1024) datagrams per call.
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  // poll(2), on a Deno blocking-pool thread.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // eventfd(2), write(2): wakes a pending poll when a socket closes.
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // open(2) (variadic only for O_CREAT's mode, not used), read(2), and ioctl(2) with one pointer
  // argument (variadic; on LP64 passed as in a plain call): the TUN device.
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound symbols plus `errno` and `strerror` as JS values. */
export interface Libc {
  readonly fn: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
  /** errno of the last failed synchronous call on this thread. */
  errno(): number;
  /** `strerror(code)`, e.g. "Address already in use". */
  describe(code: number): string;
}

/**
 * Linux constants: socket(2), socket(7), ip(7), ipv6(7), poll(2), eventfd(2),
 * errno(3), and classic BPF (`linux/filter.h`).
 */
export const C = {
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_DGRAM: 2,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_REUSEPORT: 15,
  SO_SNDBUFFORCE: 32,
  SO_RCVBUFFORCE: 33,
  SO_ATTACH_REUSEPORT_CBPF: 51,
  MSG_DONTWAIT: 0x40,
  MSG_TRUNC: 0x20,
  POLLIN: 0x1,
  POLLOUT: 0x4,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  EINTR: 4,
  EAGAIN: 11,
  /** `struct sockaddr_in6`; large enough for `sockaddr_in` (16) too. */
  SOCKADDR_BYTES: 28,
  /** `struct mmsghdr`: a 56-byte `msghdr` then `msg_len` and padding. */
  MMSGHDR_BYTES: 64,
  /** `struct iovec`: base pointer and length. */
  IOVEC_BYTES: 16,
  /** `struct pollfd`: fd, events, revents. */
  POLLFD_BYTES: 8,
  /** `struct sock_fprog`: a 16-bit length, padding, then a pointer to the program. */
  SOCK_FPROG_BYTES: 16,
  /** `struct sock_filter`: code (16 bits), jt, jf (8 bits each), k (32 bits). */
  SOCK_FILTER_BYTES: 8,
  /** Classic BPF opcodes: A = the byte at offset k of the packet. */
  BPF_LD_B_ABS: 0x30,
  /** A &= k. */
  BPF_AND_K: 0x54,
  /** A >>= k. */
  BPF_RSH_K: 0x74,
  /** Return A. */
  BPF_RET_A: 0x16,
  /** Most datagrams one recvmmsg/sendmmsg call takes (UIO_MAXIOV). */
  UIO_MAXIOV: 1024,
} as const;

/**
 * Offsets in `struct mmsghdr`, in 32-bit words: `msg_name` (pointer, word 0),
 * `msg_namelen` (2), `msg_iov` (pointer, 4), `msg_iovlen` (size_t, 6),
 * `msg_flags` (12), `msg_len` (14).
 */
export const MMSG = { name: 0, namelen: 2, iov: 4, iovlen: 6, flags: 12, len: 14 } as const;

let bound: Result<Libc, string> | undefined;

/** Opens libc on this thread, once; an error says why it cannot be used. */
export function openLibc(): Result<Libc, string> {
  if (bound !== undefined) return bound;
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    return bound = {
      ok: false,
      error:
        `libc through FFI needs Linux on x86_64 or aarch64, not ${Deno.build.os} ${Deno.build.arch}`,
    };
  }
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    // Not cached: the permission can be granted later.
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return { ok: false, error: "no FFI permission (--allow-ffi) to open libc" };
    }
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (error) {
    return bound = {
      ok: false,
      error: `dlopen libc.so.6: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const fn = lib.symbols;
  const location = fn.__errno_location();
  if (location === null) return bound = { ok: false, error: "__errno_location returned NULL" };
  const errnoView = new Deno.UnsafePointerView(location);
  return bound = {
    ok: true,
    value: {
      fn,
      errno: () => errnoView.getInt32(0),
      describe(code: number): string {
        const text = fn.strerror(code);
        return text === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(text);
      },
    },
  };
}

/** The address of a buffer's first byte as a number (user-space pointers fit in 53 bits). */
export function addressOf(buffer: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

/** Writes a 64-bit pointer at word `at` of `words`, little-endian, without a BigInt. */
export function putPointer(words: Uint32Array, at: number, address: number): void {
  words[at] = address >>> 0;
  words[at + 1] = Math.floor(address / 0x1_0000_0000);
}
