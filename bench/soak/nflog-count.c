/*
 * The soak bench's NFLOG counter (SOAK_NFLOG, an experiment for issue 16 item 1): reads one NFLOG
 * group over netlink (NETLINK_NETFILTER) in the namespace it runs in, with a receive buffer set by
 * SO_RCVBUFFORCE (root: not capped by net.core.rmem_max), and counts what arrives and what was lost.
 * Plain netlink (no libnetfilter_log), so it needs only gcc and libc6-dev, as syn-flood.c does.
 *
 *   nflog-count GROUP RCVBUF_BYTES [SAMPLES_FILE|-] [pipe]
 *
 * - Runs at nice -10, as Portcullis's kmsg reading thread and kmsg-count.c do (root only).
 * - Binds the group, copy mode "packet" (128 bytes), queue threshold 1 (one message per packet, sent
 *   at once), and the instance's sequence numbers (NFULA_SEQ): a gap in them is the exact count of
 *   messages the kernel could not queue (socket full); ENOBUFS from recv() tells that it happened
 *   (once per episode: netlink reports an overrun once until the queue drains).
 * - Latency: bench/soak/syn-flood.c puts its CLOCK_MONOTONIC send time (µs, low 32 bits) in each
 *   SYN's TCP sequence number; per message with a TCP payload, receive time minus that is the
 *   packet-to-reader latency. SAMPLES_FILE gets "SRC DPT ID SENT_US RECV_US" (CLOCK_MONOTONIC µs) for
 *   messages with prefix "[UFW BLOCK]" and SRC ending in 0 mod 16, for a join with kmsg-count's
 *   (on SRC, DPT and the IP ID the kernel gave the packet).
 * - pipe: each batch of datagrams as received (the kernel's netlink messages, each preceded by its
 *   length as a native u32) is written to stdout, for bench/soak/nflog-node.mjs to parse in Node
 *   as a runner would; the summary line then goes to stderr.
 * - Stops on SIGTERM/SIGINT; prints one line: "NFLOG msgs N lost L enobufs E seqgaps G prefixes
 *   P1=n1,P2=n2 lat_us p50 X p99 Y max Z cpu_us U S rcvbuf B" (CPU: user and system µs of this process).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int fd;
static uint32_t nlseq = 1;

/* One NFULNL_MSG_CONFIG request with one attribute; waits for its ack. */
static int config(uint16_t group, uint8_t family, uint16_t attr, const void *data, uint16_t len) {
  char buf[256];
  memset(buf, 0, sizeof buf);
  struct nlmsghdr *nh = (struct nlmsghdr *)buf;
  nh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nh->nlmsg_seq = nlseq++;
  struct nfgenmsg *g = (struct nfgenmsg *)NLMSG_DATA(nh);
  g->nfgen_family = family;
  g->version = NFNETLINK_V0;
  g->res_id = htons(group);
  struct nlattr *a = (struct nlattr *)((char *)g + NLMSG_ALIGN(sizeof *g));
  a->nla_type = attr;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  memcpy((char *)a + NLA_HDRLEN, data, len);
  nh->nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof *g) + NLA_ALIGN(a->nla_len));
  if (send(fd, buf, nh->nlmsg_len, 0) < 0) return -errno;
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r < 0) return -errno;
    struct nlmsghdr *m = (struct nlmsghdr *)buf;
    if (m->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(m))->error;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

#define MAX_PREFIXES 8
static char prefixes[MAX_PREFIXES][64];
static unsigned long prefix_count[MAX_PREFIXES];

int main(int argc, char **argv) {
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: nflog-count GROUP RCVBUF_BYTES [SAMPLES_FILE|-] [pipe]\n");
    return 2;
  }
  int pipe_out = argc == 5 && strcmp(argv[4], "pipe") == 0;
  FILE *report = pipe_out ? stderr : stdout;
  static char out[1 << 20];
  size_t out_n = 0;
  if (pipe_out) {
    fcntl(1, F_SETPIPE_SZ, 1 << 20);
    signal(SIGPIPE, SIG_IGN);
  }
  uint16_t group = (uint16_t)atoi(argv[1]);
  int rcvbuf = atoi(argv[2]);
  FILE *samples = argc >= 4 && strcmp(argv[3], "-") != 0 ? fopen(argv[3], "w") : NULL;
  if (argc >= 4 && strcmp(argv[3], "-") != 0 && !samples) {
    perror(argv[3]);
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  setpriority(PRIO_PROCESS, 0, -10);
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  struct sockaddr_nl sn = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sn, sizeof sn) < 0) {
    perror("bind");
    return 1;
  }
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
    perror("SO_RCVBUFFORCE");
    return 1;
  }
  int got = 0;
  socklen_t gl = sizeof got;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);

  /* PF_UNBIND/PF_BIND are no-ops since Linux 3.17; kept for older kernels, as libpcap does. */
  struct nfulnl_msg_config_cmd cmd = {NFULNL_CFG_CMD_PF_UNBIND};
  config(0, AF_INET, NFULA_CFG_CMD, &cmd, sizeof cmd);
  cmd.command = NFULNL_CFG_CMD_PF_BIND;
  config(0, AF_INET, NFULA_CFG_CMD, &cmd, sizeof cmd);
  cmd.command = NFULNL_CFG_CMD_BIND;
  int e = config(group, AF_UNSPEC, NFULA_CFG_CMD, &cmd, sizeof cmd);
  if (e) {
    fprintf(stderr, "bind group %u: %s\n", group, strerror(-e));
    return 1;
  }
  struct nfulnl_msg_config_mode mode = {.copy_range = htonl(128), .copy_mode = NFULNL_COPY_PACKET};
  uint32_t qthresh = htonl(1);
  uint16_t flags = htons(NFULNL_CFG_F_SEQ);
  if ((e = config(group, AF_UNSPEC, NFULA_CFG_MODE, &mode, sizeof mode)) || (e = config(group, AF_UNSPEC, NFULA_CFG_QTHRESH, &qthresh, sizeof qthresh)) ||
      (e = config(group, AF_UNSPEC, NFULA_CFG_FLAGS, &flags, sizeof flags))) {
    fprintf(stderr, "configure group %u: %s\n", group, strerror(-e));
    return 1;
  }
  fprintf(stderr, "nflog-count: group %u, SO_RCVBUF %d\n", group, got);

  enum { VLEN = 64, BUFSZ = 1024 };
  static char bufs[VLEN][BUFSZ];
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  struct sockaddr_nl from[VLEN];
  for (int i = 0; i < VLEN; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = BUFSZ;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  /* Any process of the namespace may send a netlink unicast to this socket: only the kernel's
     (sender port 0) are NFLOG messages. */
  unsigned long foreign = 0;
  unsigned long count = 0, enobufs = 0, gaps = 0, lost = 0;
  long long last_seq = -1;
  size_t lat_cap = 1 << 22, lat_n = 0;
  uint32_t *lat = malloc(lat_cap * sizeof *lat);
  while (!stop) {
    if (pipe_out && out_n > 0) {
      /* one write per batch received */
      if (write(1, out, out_n) < 0) break;
      out_n = 0;
    }
    for (int i = 0; i < VLEN; i++) {
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int n = recvmmsg(fd, msgs, VLEN, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == ENOBUFS) {
        enobufs++;
        continue;
      }
      if (errno == EINTR) continue;
      perror("recvmmsg");
      break;
    }
    uint64_t now = mono_us();
    for (int i = 0; i < n; i++) {
      int len = (int)msgs[i].msg_len;
      if (from[i].nl_pid != 0) {
        foreign++;
        continue;
      }
      if (pipe_out) {
        uint32_t l = (uint32_t)len;
        if (out_n + 4 + l > sizeof out) {
          if (write(1, out, out_n) < 0) stop = 1;
          out_n = 0;
        }
        memcpy(out + out_n, &l, 4);
        memcpy(out + out_n + 4, bufs[i], l);
        out_n += 4 + l;
      }
      for (struct nlmsghdr *nh = (struct nlmsghdr *)bufs[i]; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
        if (nh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) continue;
        count++;
        const char *prefix = "";
        const uint8_t *payload = NULL;
        int plen = 0;
        struct nfgenmsg *g = NLMSG_DATA(nh);
        int alen = (int)nh->nlmsg_len - NLMSG_LENGTH(sizeof *g);
        for (struct nlattr *a = (struct nlattr *)((char *)g + NLMSG_ALIGN(sizeof *g)); alen >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= alen;
             alen -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
          const char *d = (const char *)a + NLA_HDRLEN;
          switch (a->nla_type & NLA_TYPE_MASK) {
            case NFULA_SEQ: {
              uint32_t s;
              memcpy(&s, d, 4);
              s = ntohl(s);
              if (last_seq >= 0 && s != (uint32_t)(last_seq + 1)) {
                gaps++;
                lost += (uint32_t)(s - (uint32_t)last_seq - 1);
              }
              last_seq = s;
              break;
            }
            case NFULA_PREFIX: prefix = d; break;
            case NFULA_PAYLOAD:
              payload = (const uint8_t *)d;
              plen = a->nla_len - NLA_HDRLEN;
              break;
          }
        }
        int p = 0;
        char key[64];
        snprintf(key, sizeof key, "%s", prefix[0] ? prefix : "-");
        for (char *c = key; *c; c++)
          if (*c == ' ') *c = '_';
        while (p < MAX_PREFIXES && prefixes[p][0] && strcmp(prefixes[p], key) != 0) p++;
        if (p < MAX_PREFIXES) {
          if (!prefixes[p][0]) {
            snprintf(prefixes[p], sizeof prefixes[p], "%s", prefix[0] ? prefix : "-");
            for (char *c = prefixes[p]; *c; c++)
              if (*c == ' ') *c = '_';
          }
          prefix_count[p]++;
        }
        /* IPv4 + TCP: the sequence number is the generator's send stamp. */
        if (payload && plen >= 20 && (payload[0] >> 4) == 4 && payload[9] == 6) {
          int ihl = (payload[0] & 15) * 4;
          if (plen >= ihl + 8) {
            uint32_t sent, src;
            uint16_t dpt, id;
            memcpy(&id, payload + 4, 2);
            memcpy(&sent, payload + ihl + 4, 4);
            memcpy(&src, payload + 12, 4);
            memcpy(&dpt, payload + ihl + 2, 2);
            sent = ntohl(sent);
            uint32_t d = (uint32_t)now - sent;
            if (lat_n < lat_cap) lat[lat_n++] = d;
            if (samples && (ntohl(src) & 15) == 0 && strncmp(prefix, "[UFW BLOCK]", 11) == 0) {
              char ip[INET_ADDRSTRLEN];
              inet_ntop(AF_INET, &src, ip, sizeof ip);
              fprintf(samples, "%s %u %u %u %llu\n", ip, ntohs(dpt), ntohs(id), sent, (unsigned long long)now);
            }
          }
        }
      }
    }
  }
  if (pipe_out && out_n > 0 && write(1, out, out_n) < 0) perror("write");
  if (samples) fclose(samples);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  qsort(lat, lat_n, sizeof *lat, cmp_u32);
  if (foreign) fprintf(stderr, "nflog-count: %lu datagrams not from the kernel ignored\n", foreign);
  fprintf(report, "NFLOG msgs %lu lost %lu enobufs %lu seqgaps %lu prefixes ", count, lost, enobufs, gaps);
  for (int p = 0; p < MAX_PREFIXES && prefixes[p][0]; p++) fprintf(report, "%s%s=%lu", p ? "," : "", prefixes[p], prefix_count[p]);
  if (lat_n)
    fprintf(report, " lat_us p50 %u p99 %u max %u", lat[lat_n / 2], lat[(size_t)(lat_n * 0.99)], lat[lat_n - 1]);
  else
    fprintf(report, " lat_us p50 - p99 - max -");
  fprintf(report, " cpu_us %lld %lld rcvbuf %d\n", (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec, (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, got);
  return 0;
}
