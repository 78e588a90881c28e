/* SPDX-License-Identifier: MIT */
/* The shared netlink request/ACK loop (see nl.h). */
#include "nl.h"

#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

int nl_open(struct nl_sock *s, int bus, const struct nl_opts *o, const char *what, mg_err *e)
{
	int one = 1, fd, err;

	memset(s, 0, sizeof(*s));
	s->mnl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!s->mnl)
		return mg_err_set(e, "%s socket: %s", what, strerror(errno));
	if (mnl_socket_bind(s->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		nl_close(s);
		return mg_err_set(e, "%s bind: %s", what, strerror(err));
	}
	s->portid = mnl_socket_get_portid(s->mnl);
	s->seq = (uint32_t)time(NULL);
	fd = mnl_socket_get_fd(s->mnl);
	/* best effort: old kernels lack them, and everything still works without */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (o->strict_chk)
		(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	if (o->sockbuf) {
		/* FORCE needs CAP_NET_ADMIN; the plain option is capped by [rw]mem_max */
		int sz = o->sockbuf;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (o->timeout_s) {
		/* never block forever on a reply the kernel will not send */
		struct timeval tv = {.tv_sec = o->timeout_s};
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
			err = errno;
			nl_close(s);
			return mg_err_set(e, "%s receive timeout: %s", what, strerror(err));
		}
	}
	s->buflen = o->rcvbuf ? o->rcvbuf : MNL_SOCKET_BUFFER_SIZE;
	s->buf = malloc(s->buflen);
	if (!s->buf) {
		nl_close(s);
		return mg_err_set(e, "%s: out of memory", what);
	}
	return 0;
}

void nl_close(struct nl_sock *s)
{
	if (s->mnl)
		mnl_socket_close(s->mnl);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

uint32_t nl_seq(struct nl_sock *s)
{
	return ++s->seq;
}

static int extack_attr_cb(const struct nlattr *a, void *data)
{
	const char **msg = data;
	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		*msg = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

int nl_ack_errno(const struct nlmsghdr *nlh, const char **text)
{
	*text = NULL;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
		return EBADMSG;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		/* the TLVs follow the echoed request: its header only when capped */
		size_t off = sizeof(*err);
		size_t plen = mnl_nlmsg_get_payload_len(nlh);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (off < plen)
			(void)mnl_attr_parse_payload((const char *)err + off, plen - off,
						     extack_attr_cb, text);
	}
	return err->error < 0 ? -err->error : err->error;
}

struct talk {
	mnl_cb_t cb;
	void *data;
	char extack[NL_EXTACK_LEN];
};

static int talk_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	return t->cb ? t->cb(nlh, t->data) : MNL_CB_OK;
}

static int talk_done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	const char *text = NULL;

	/* a dump that failed half way says so in NLMSG_DONE's payload (with EXT_ACK text) */
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		int err;
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		if (err < 0) {
			if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
				(void)mnl_attr_parse_payload(
				    (const char *)mnl_nlmsg_get_payload(nlh) + sizeof(int),
				    mnl_nlmsg_get_payload_len(nlh) - sizeof(int), extack_attr_cb,
				    &text);
			if (text)
				snprintf(t->extack, sizeof(t->extack), " (%s)", text);
			errno = -err;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

static int talk_err_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	const char *text;
	int err = nl_ack_errno(nlh, &text);
	if (text)
		snprintf(t->extack, sizeof(t->extack), " (%s)", text);
	if (err == 0)
		return MNL_CB_STOP;
	errno = err;
	return MNL_CB_ERROR;
}

int nl_talk(struct nl_sock *s, const struct nlmsghdr *req, mnl_cb_t cb, void *data, char *extack,
	    size_t extack_len)
{
	struct talk t = {.cb = cb, .data = data};
	/* with a control array, libmnl ignores types it has no entry for: give DONE one */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = talk_err_cb, [NLMSG_DONE] = talk_done_cb};
	uint32_t seq = req->nlmsg_seq;

	if (extack_len)
		extack[0] = 0;
	if (mnl_socket_sendto(s->mnl, req, req->nlmsg_len) < 0)
		return -1;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->mnl, s->buf, s->buflen);
		if (n < 0)
			return -1;
		int ret = mnl_cb_run2(s->buf, (size_t)n, seq, s->portid, talk_data_cb, &t, ctl,
				      MNL_ARRAY_SIZE(ctl));
		if (ret < 0) {
			int err = errno;
			if (extack_len)
				snprintf(extack, extack_len, "%s", t.extack);
			errno = err;
			return -1;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int nl_batch(struct nl_sock *s, const struct iovec *iov, size_t niov, uint32_t first_seq,
	     size_t count, nl_err_fn fn, void *arg, mg_err *e)
{
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
	struct msghdr msg = {.msg_name = &snl,
			     .msg_namelen = sizeof(snl),
			     .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = niov};
	int fd = mnl_socket_get_fd(s->mnl);
	size_t answered = 0, refused = 0;
	bool aborted = false;

	if (sendmsg(fd, &msg, 0) < 0)
		return mg_err_set(e, "sending %zu messages: %s", count, strerror(errno));
	while (answered < count && !aborted) {
		ssize_t n = recv(fd, s->buf, s->buflen, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (refused)
				break; /* a refused batch may leave the rest unanswered */
			return mg_err_set(e, "%zu of %zu messages answered", answered, count);
		}
		if (n < 0)
			return mg_err_set(e, "reading answers (%zu of %zu): %s", answered, count,
					  strerror(errno));
		int left = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)s->buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != s->portid)
				continue;
			const char *text;
			int err = nl_ack_errno(nlh, &text);
			size_t idx = nlh->nlmsg_seq - first_seq;
			if (idx >= count) {
				/* a batch header refused (nothing inside ran), or a stale ACK */
				if (err) {
					fn(SIZE_MAX, err, text, arg);
					refused++;
					aborted = true;
				}
				continue;
			}
			answered++;
			if (err) {
				fn(idx, err, text, arg);
				refused++;
			}
		}
	}
	return (int)(refused < (size_t)INT32_MAX ? refused : INT32_MAX);
}
