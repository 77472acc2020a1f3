/*
 * portcullis-nflog: hands the kernel's NFLOG messages of one group to Portcullis, unchanged.
 *
 *   portcullis-nflog GROUP BUFFER_BYTES
 *
 * Why a program of its own: kernel LOG records go through the printk ring (128 KB on a default
 * kernel, ~28 ms of a 20k/s flood), and a reader held off longer — a VM host stalling a vCPU — loses
 * what was overwritten. NFLOG sends each logged packet over netlink to a socket whose receive
 * buffer root can make as large as it likes (SO_RCVBUFFORCE is not capped by net.core.rmem_max):
 * the soak bench's experiment (bench/soak/nflog-count.c) lost 0 of 1.2M messages where /dev/kmsg
 * lost thousands. Node has no netlink sockets, so this small reader does the socket part and Node
 * decodes the messages (electron/engine/parse/nflog.ts).
 *
 * What it does, and nothing else (plain netlink, libc and the kernel's headers; no library):
 * - binds NFLOG group GROUP in the network namespace it runs in (one reader per group: the kernel
 *   refuses a second with EPERM);
 * - asks for the packet's first COPY_RANGE bytes (the IP header, any IPv6 extension headers and the
 *   transport header LOG prints), one message per packet sent at once (queue threshold 1), and the
 *   group's sequence numbers (NFULA_SEQ): a gap in
 *   them is the exact count of messages the kernel could not queue;
 * - keeps only datagrams from the kernel (sender port 0): a record another process sent (netfilter
 *   netlink takes unicasts only from CAP_NET_ADMIN, so root's) would be taken for a packet;
 * - writes frames to stdout: u32 type, u32 length (both LITTLE-ENDIAN on any machine; the datagram
 *   inside is as the kernel sent it: netlink headers in this host's order, NFULA_* values in network
 *   order — electron/engine/parse/nflog.ts reads them so), then `length` bytes:
 *     1 READY     u32 (little-endian): the receive buffer the kernel granted (written once, after the set-up)
 *     2 DATAGRAM  one netlink datagram as the kernel sent it (one or more netlink messages)
 *     3 OVERRUN   empty: recv() said ENOBUFS, the socket was full and messages were dropped (the
 *                 sequence gap says how many)
 * - stops on SIGTERM/SIGINT, when stdout is closed, or when its parent dies (PR_SET_PDEATHSIG: the
 *   reader never outlives the service that started it).
 * Exit codes: 0 stopped, 1 a system call failed (the message says which), 2 bad arguments.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { FRAME_READY = 1, FRAME_DATAGRAM = 2, FRAME_OVERRUN = 3 };
/* LOG prints the IP header and the transport header's first fields. 128 bytes hold them for IPv4
   and a plain IPv6 header, but an IPv6 sender can put extension headers ahead of TCP and push its
   ports out of a short copy (the probe would not count): 2048 holds a whole standard frame. The
   kernel copies min(packet, range), so a bare SYN costs no more. */
enum { COPY_RANGE = 2048 };
/* The largest datagram read: one message of a COPY_RANGE copy with its attributes, with room. */
enum { DATAGRAM_MAX = 4096 };
/* Limits of BUFFER_BYTES: below 64 KiB a burst is lost at once; above 1 GiB is a typo. */
#define MIN_BUFFER (64L * 1024)
#define MAX_BUFFER (1024L * 1024 * 1024)

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int fd;
static uint32_t request_seq = 1;

/* A whole decimal number in [min, max], or -1. */
static long parse_number(const char *s, long min, long max) {
  if (!*s) return -1;
  for (const char *c = s; *c; c++)
    if (*c < '0' || *c > '9') return -1;
  if (strlen(s) > 10) return -1;
  long v = strtol(s, NULL, 10);
  return v < min || v > max ? -1 : v;
}

/* Appends one attribute to the request nh (its nlmsg_len grows). */
static void put_attr(struct nlmsghdr *nh, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  memcpy((char *)a + NLA_HDRLEN, data, len);
  nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* Packet datagrams the kernel queued before its answer to the set-up (below), as DATAGRAM frames:
   written after READY. A flood fills at most this much in the moment the set-up takes; any beyond
   it would show as a sequence gap (lost, counted). */
static char early[256 * 1024];
static size_t early_n = 0;

/* Binds GROUP and configures it with ONE NFULNL_MSG_CONFIG request carrying every attribute: the
   kernel creates the instance and applies the copy mode, queue threshold and flags in the same call
   (nfulnl_recv_config). Sent as four requests (as before), a flood's messages between the BIND and
   the FLAGS carried no sequence number (tests/system/nflog-source.test.ts); in one, only those
   logged in the moment between the instance's creation (it logs from then on) and the flags' turn
   can lack one — the decoder accounts for them one each. Packets the kernel sends before its answer
   (ACK) are kept (`early`), not skipped: they are numbered, and skipping them counted them lost.
   Returns the kernel's answer (0 or -errno). */
static int bind_and_configure(uint16_t group) {
  static char buf[DATAGRAM_MAX];
  memset(buf, 0, sizeof buf);
  struct nlmsghdr *nh = (struct nlmsghdr *)buf;
  nh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nh->nlmsg_seq = request_seq;
  struct nfgenmsg *g = (struct nfgenmsg *)NLMSG_DATA(nh);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(group);
  nh->nlmsg_len = NLMSG_LENGTH(sizeof *g);
  /* No PF_BIND/PF_UNBIND: they are no-ops since Linux 3.17, and on an older kernel an UNBIND
     would take NFLOG away from every other logger of the namespace. */
  struct nfulnl_msg_config_cmd cmd = {NFULNL_CFG_CMD_BIND};
  struct nfulnl_msg_config_mode mode = {.copy_range = htonl(COPY_RANGE), .copy_mode = NFULNL_COPY_PACKET};
  uint32_t qthreshold = htonl(1);
  uint16_t flags = htons(NFULNL_CFG_F_SEQ);
  put_attr(nh, NFULA_CFG_CMD, &cmd, sizeof cmd);
  put_attr(nh, NFULA_CFG_MODE, &mode, sizeof mode);
  put_attr(nh, NFULA_CFG_QTHRESH, &qthreshold, sizeof qthreshold);
  put_attr(nh, NFULA_CFG_FLAGS, &flags, sizeof flags);
  if (send(fd, buf, nh->nlmsg_len, 0) < 0) return -errno;
  for (;;) {
    struct sockaddr_nl from;
    socklen_t fl = sizeof from;
    ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (r < 0) return -errno;
    struct nlmsghdr *m = (struct nlmsghdr *)buf;
    if (from.nl_pid != 0 || r < (ssize_t)NLMSG_HDRLEN) continue;
    if (m->nlmsg_type == NLMSG_ERROR) {
      if (r >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && m->nlmsg_seq == request_seq) return ((struct nlmsgerr *)NLMSG_DATA(m))->error;
      continue;
    }
    /* A packet logged already (the kernel's, sender port 0): framed now, written after READY. */
    if (m->nlmsg_type == ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) && early_n + 8 + (size_t)r <= sizeof early) {
      uint32_t type_le = htole32(FRAME_DATAGRAM), len_le = htole32((uint32_t)r);
      memcpy(early + early_n, &type_le, 4);
      memcpy(early + early_n + 4, &len_le, 4);
      memcpy(early + early_n + 8, buf, (size_t)r);
      early_n += 8 + (size_t)r;
    }
  }
}

/* The whole buffer to stdout; false when stdout is gone (the service stopped reading). */
static int write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    p += w;
    n -= (size_t)w;
  }
  return 1;
}

/* Frames of one batch, written with one write() (write_all loops over partial writes; this is the only writer). */
static char out[1 << 20];
static size_t out_n = 0;

static int put_frame(uint32_t type, const void *data, uint32_t len) {
  if (out_n + 8 + len > sizeof out) {
    if (!write_all(out, out_n)) return 0;
    out_n = 0;
  }
  uint32_t type_le = htole32(type), len_le = htole32(len);
  memcpy(out + out_n, &type_le, 4);
  memcpy(out + out_n + 4, &len_le, 4);
  if (len) memcpy(out + out_n + 8, data, len);
  out_n += 8 + len;
  return 1;
}

int main(int argc, char **argv) {
  long group = argc == 3 ? parse_number(argv[1], 0, 65535) : -1;
  long buffer = argc == 3 ? parse_number(argv[2], MIN_BUFFER, MAX_BUFFER) : -1;
  if (group < 0 || buffer < 0) {
    fprintf(stderr, "usage: portcullis-nflog GROUP BUFFER_BYTES (GROUP 0-65535, BUFFER_BYTES %ld-%ld)\n", MIN_BUFFER, MAX_BUFFER);
    return 2;
  }
  /* Dies with the service that started it; a parent already gone before the prctl is caught by the
     check after it (the service may itself be pid 1 in a container: compare, do not test for 1). */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: a parked recv returns EINTR and the loop ends */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a closed stdout is a failed write, handled as a stop */
  /* A larger pipe lets the service take a burst in fewer reads; not needed to work. */
  fcntl(1, F_SETPIPE_SZ, 1 << 20);

  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    perror("portcullis-nflog: netlink socket");
    return 1;
  }
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    perror("portcullis-nflog: bind");
    return 1;
  }
  /* Root only, and that is the point: SO_RCVBUF would be capped at net.core.rmem_max (~200 KB). */
  int want = (int)buffer;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0) {
    perror("portcullis-nflog: SO_RCVBUFFORCE (needs CAP_NET_ADMIN)");
    return 1;
  }
  /* recvmmsg wakes at least once a second: a SIGTERM that lands between the loop's check and the
     call (no SA_RESTART, but it may come just before) is seen within a second, not at the next packet. */
  struct timeval tick = {.tv_sec = 1, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  int granted = 0;
  socklen_t gl = sizeof granted;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &gl);

  int e = bind_and_configure((uint16_t)group);
  if (e) {
    fprintf(stderr, "portcullis-nflog: bind NFLOG group %ld: %s%s\n", group, strerror(-e), e == -EPERM || e == -EBUSY ? " (another program reads this group)" : "");
    return 1;
  }
  uint32_t granted32 = htole32((uint32_t)granted);
  if (!put_frame(FRAME_READY, &granted32, 4) || !write_all(out, out_n)) return 0;
  out_n = 0;
  /* What the kernel sent before its answer, in the order it came: after READY, before the rest. */
  if (early_n && !write_all(early, early_n)) return 0;

  /* Up to 64 datagrams a system call: under a flood one recvmmsg empties a good part of the queue. */
  enum { VLEN = 64 };
  static char bufs[VLEN][DATAGRAM_MAX];
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  struct sockaddr_nl from[VLEN];
  for (int i = 0; i < VLEN; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = DATAGRAM_MAX;
  }
  while (!stop) {
    for (int i = 0; i < VLEN; i++) {
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int n = recvmmsg(fd, msgs, VLEN, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (errno == ENOBUFS) {
        /* Netlink says so once per overrun; the messages lost show as a sequence gap. */
        if (!put_frame(FRAME_OVERRUN, NULL, 0) || !write_all(out, out_n)) break;
        out_n = 0;
        continue;
      }
      perror("portcullis-nflog: recvmmsg");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      /* A datagram larger than DATAGRAM_MAX is passed on truncated; the decoder refuses what does not
         parse. With qthreshold 1 each datagram is one message of at most COPY_RANGE (2048) bytes of
         packet plus its attributes (~200), within 4096; only messages batched before the set-up
         applied (the kernel's default threshold) could be larger. */
      if (from[i].nl_pid != 0) continue;
      if (!put_frame(FRAME_DATAGRAM, bufs[i], msgs[i].msg_len)) {
        stop = 1;
        break;
      }
    }
    if (out_n && !write_all(out, out_n)) break;
    out_n = 0;
  }
  return 0;
}
