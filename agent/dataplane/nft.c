/* SPDX-License-Identifier: MIT */
/* nftables: open, close, and removing everything of ours (see nft_priv.h for the files). */
#include "nft_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int nft_open(struct nft_ctx **out, mg_err *e)
{
	struct nft_ctx *c = calloc(1, sizeof(*c));
	/* big buffers for 100,000 elements; small ACKs (no echo of our large batches) */
	const struct nl_opts o = {.rcvbuf = MNL_SOCKET_BUFFER_SIZE * 4, .sockbuf = 8 << 20};

	*out = NULL;
	if (!c)
		return mg_err_set(e, "out of memory");
	if (nl_open(&c->s, NETLINK_NETFILTER, &o, "nftables netlink (is nf_tables available?)", e) <
	    0) {
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void nft_close(struct nft_ctx *c)
{
	if (!c)
		return;
	nl_close(&c->s);
	if (c->mon)
		mnl_socket_close(c->mon);
	free(c);
}

int nft_remove(struct nft_ctx *c, mg_err *e)
{
	struct nft_chain_list cl;
	struct nft_build bd;
	int r;

	if (nft_list_chains(c, &cl, e) < 0)
		return -1;
	if (nft_batch_begin(c, &bd, e) < 0) {
		free(cl.v);
		return -1;
	}
	r = nft_add_table(&bd, NFT_MSG_NEWTABLE, NLM_F_CREATE, e);
	if (r == 0)
		r = nft_add_table(&bd, NFT_MSG_DELTABLE, 0, e);
	if (r == 0)
		r = nft_open_foreign(c, &bd, &cl, "DOCKER-USER", "", false, e);
	if (r == 0)
		r = nft_open_foreign(c, &bd, &cl, "ufw-user-forward", "", false, e);
	if (r == 0)
		r = nft_batch_end(&bd, e);
	nftnl_batch_free(bd.b);
	free(cl.v);
	return r;
}
