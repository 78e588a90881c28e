/* SPDX-License-Identifier: MIT */
/*
 * A small read-only XML tree for EC2's answers, built with expat: elements (local names,
 * the namespace dropped) and their text, nothing else. A DTD (and with it any entity
 * declaration) is refused; comments and processing instructions are skipped; adjacent
 * text and CDATA are one text node. Freed in one go, whatever the depth.
 */
#ifndef MG_AWS_XML_H
#define MG_AWS_XML_H

#include <stddef.h>

#include "err.h"

enum xnode_type { XN_ELEMENT, XN_TEXT };

struct xnode {
	enum xnode_type type;
	const char *name; /* element: its local name; text: "" */
	char *content;    /* text: the characters, NUL-terminated; element: NULL */
	size_t len;
	struct xnode *children, *last, *next, *parent;
	struct xnode *all; /* every node of the document, for xdoc_free */
};

struct xdoc {
	struct xnode *root;
	struct xnode *all;
};

/* Parse `len` bytes; NULL with `e` set when malformed or carrying a DTD. */
struct xdoc *xdoc_parse(const char *buf, size_t len, mg_err *e);
void xdoc_free(struct xdoc *d);

#endif
