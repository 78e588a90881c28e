/* SPDX-License-Identifier: MIT */
/*
 * One netlink request/ACK loop for every bus we speak (rtnetlink, generic netlink for
 * WireGuard, nftables), in the spirit of iproute2's libnetlink: send a request or a
 * batch, read every answer, and report each error with the kernel's extended-ACK text
 * (NLMSGERR_ATTR_MSG) and which message of the batch it was. NETLINK_CAP_ACK (short
 * ACKs: no echo of large batches) and NETLINK_EXT_ACK are on; dumps end at NLMSG_DONE,
 * whose own error (a failed dump) is reported too.
 */
#ifndef MG_NL_H
#define MG_NL_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "err.h"

#define NL_EXTACK_LEN 160

struct nl_sock {
	struct mnl_socket *mnl;
	uint32_t portid;
	uint32_t seq; /* last sequence number used: nl_seq() hands out the next */
	char *buf;    /* receive buffer */
	size_t buflen;
};

struct nl_opts {
	size_t rcvbuf;   /* bytes of s->buf; 0: MNL_SOCKET_BUFFER_SIZE */
	int sockbuf;     /* SO_SNDBUF/SO_RCVBUF (FORCE when permitted); 0: leave */
	int timeout_s;   /* bound on waiting for any reply; 0: none */
	bool strict_chk; /* NETLINK_GET_STRICT_CHK (kernel-side dump filtering) */
};

/* Open and bind a socket of `bus` (NETLINK_ROUTE, ...); `what` names it in errors. */
int nl_open(struct nl_sock *s, int bus, const struct nl_opts *o, const char *what, mg_err *e);
void nl_close(struct nl_sock *s);
/* The next sequence number. */
uint32_t nl_seq(struct nl_sock *s);

/* errno (positive, 0 for an ACK) of an NLMSG_ERROR, and the kernel's text if any. */
int nl_ack_errno(const struct nlmsghdr *nlh, const char **text);

/*
 * Send one request and run cb (may be NULL) over every data reply until its ACK or
 * NLMSG_DONE. Returns 0, or -1 with errno set and extack holding " (<kernel text>)"
 * or "" (extack may be NULL when extack_len is 0).
 */
int nl_talk(struct nl_sock *s, const struct nlmsghdr *req, mnl_cb_t cb, void *data, char *extack,
	    size_t extack_len);

/* Called for every failed message of a batch: index from first_seq, errno, kernel text. */
typedef void (*nl_err_fn)(size_t index, int err, const char *text, void *arg);

/*
 * Send a batch (the iovecs in one sendmsg) in which `count` messages, numbered from
 * first_seq, each carry NLM_F_ACK; read every answer. The kernel runs a request inside
 * sendmsg(), so every answer is queued when it returns: answers are read until none is
 * left, and one missing (dropped on a full receive buffer) is an error. fn is called for
 * each refused message (in order of arrival); an error for a message outside the range
 * (a batch header) is passed with index SIZE_MAX and ends the wait. Returns the number of
 * refused messages, or -1 with e set when the batch could not be sent or answers are
 * missing.
 */
int nl_batch(struct nl_sock *s, const struct iovec *iov, size_t niov, uint32_t first_seq,
	     size_t count, nl_err_fn fn, void *arg, mg_err *e);

#endif
