/*
 * Traffic generator and sink for bench/dataplane_bench.ts, one thread, so
 * both fit on the core the switch does not use.
 *
 * Sends RFC 2661 §3.1 data messages (flags 0x0002, Tunnel ID, Session ID: a
 * 6-byte header) to TARGET_PORT on 127.0.0.1 with sendmmsg(2) batches of 64,
 * round-robin over the sessions of PAIRS_FILE, as fast as it can or at PPS;
 * counts what reaches SINK_PORT (bound here, SO_RCVBUF 8 MiB) with
 * recvmmsg(2). Each frame carries its session's index after the header, so
 * the sink checks that the IDs were rewritten to the expected pair.
 *
 * usage: dp_blast TARGET_PORT SINK_PORT SIZE DURATION_S WARMUP_S PAIRS_FILE [PPS]
 *   PAIRS_FILE: one "tid:sid>tid2:sid2" per line: IDs sent, IDs expected at the sink.
 * Prints one JSON line; rate_pps counts frames received after WARMUP_S.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXPAIRS 65536

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned tx[MAXPAIRS][2], rx[MAXPAIRS][2];
static uint8_t rbuf[BATCH][2048];

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: dp_blast TARGET_PORT SINK_PORT SIZE DURATION_S WARMUP_S PAIRS_FILE [PPS]\n");
    return 2;
  }
  int target = atoi(argv[1]), sinkPort = atoi(argv[2]), size = atoi(argv[3]);
  double duration = atof(argv[4]), warmup = atof(argv[5]);
  double pps = argc == 8 ? atof(argv[7]) : 0;
  FILE *pf = fopen(argv[6], "r");
  if (!pf) { perror("pairs"); return 1; }
  int pairs = 0;
  while (pairs < MAXPAIRS &&
         fscanf(pf, " %u:%u>%u:%u", &tx[pairs][0], &tx[pairs][1], &rx[pairs][0], &rx[pairs][1]) == 4)
    pairs++;
  fclose(pf);
  if (pairs == 0 || size < 8 || size > 2048) { fprintf(stderr, "bad pairs or size\n"); return 2; }

  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int sink = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 8 << 20;
  if (setsockopt(sink, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
    setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  a.sin_port = htons(sinkPort);
  if (bind(sink, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind sink"); return 1; }
  int out = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(out, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  a.sin_port = htons(target);
  if (connect(out, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }

  /* One prebuilt frame per session: header, session index (4 bytes), filler. */
  uint8_t *frames = calloc(pairs, size);
  for (int i = 0; i < pairs; i++) {
    uint8_t *f = frames + (size_t)i * size;
    f[0] = 0x00; f[1] = 0x02;
    f[2] = tx[i][0] >> 8; f[3] = tx[i][0];
    f[4] = tx[i][1] >> 8; f[5] = tx[i][1];
    f[6] = i >> 8; f[7] = i;
    for (int j = 8; j < size; j++) f[j] = (uint8_t)j;
  }
  struct mmsghdr smsg[BATCH], rmsg[BATCH];
  struct iovec siov[BATCH], riov[BATCH];
  memset(smsg, 0, sizeof smsg);
  memset(rmsg, 0, sizeof rmsg);
  for (int i = 0; i < BATCH; i++) {
    smsg[i].msg_hdr.msg_iov = &siov[i];
    smsg[i].msg_hdr.msg_iovlen = 1;
    riov[i] = (struct iovec){rbuf[i], sizeof rbuf[i]};
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
  }

  unsigned long long sent = 0, sendErrors = 0, received = 0, wrongIds = 0, notData = 0, inWindow = 0;
  double t0 = now(), tEnd = t0 + duration, wStart = t0 + warmup, lastRx = 0;
  int next = 0;

#define DRAIN()                                                                        \
  for (;;) {                                                                           \
    int n = recvmmsg(sink, rmsg, BATCH, MSG_DONTWAIT, NULL);                           \
    if (n <= 0) break;                                                                 \
    double t = now();                                                                  \
    for (int k = 0; k < n; k++) {                                                      \
      uint8_t *f = rbuf[k];                                                            \
      if (rmsg[k].msg_len < 8 || (f[0] & 0x80)) { notData++; continue; }               \
      received++;                                                                      \
      lastRx = t;                                                                      \
      if (t >= wStart && t < tEnd) inWindow++;                                         \
      unsigned i = (f[6] << 8) | f[7];                                                 \
      unsigned tid = (f[2] << 8) | f[3], sid = (f[4] << 8) | f[5];                     \
      if (i >= (unsigned)pairs || tid != rx[i][0] || sid != rx[i][1]) wrongIds++;      \
    }                                                                                  \
    if (n < BATCH) break;                                                              \
  }

  double t = t0;
  while (t < tEnd) {
    if (pps > 0 && sent >= (t - t0) * pps) { /* paced and ahead of schedule: only drain */
      DRAIN();
      t = now();
      continue;
    }
    for (int i = 0; i < BATCH; i++) {
      siov[i] = (struct iovec){frames + (size_t)next * size, (size_t)size};
      if (++next == pairs) next = 0;
    }
    int n = sendmmsg(out, smsg, BATCH, 0);
    if (n > 0) sent += n; else sendErrors++;
    DRAIN();
    t = now();
  }
  /* Tail: whatever the relay still holds, until 300 ms of silence (at most 3 s). */
  double tailEnd = now() + 3.0;
  while (now() < tailEnd) {
    struct pollfd p = {.fd = sink, .events = POLLIN};
    if (poll(&p, 1, 300) <= 0) break;
    DRAIN();
  }
  double window = duration - warmup;
  printf("{\"sent\":%llu,\"received\":%llu,\"in_window\":%llu,\"window_s\":%.3f,"
         "\"rate_pps\":%.0f,\"offered_pps\":%.0f,\"wrong_ids\":%llu,\"not_data\":%llu,"
         "\"send_errors\":%llu,\"tail_s\":%.3f}\n",
         sent, received, inWindow, window, inWindow / window, sent / duration, wrongIds, notData,
         sendErrors, lastRx > tEnd ? lastRx - tEnd : 0.0);
  return 0;
}
