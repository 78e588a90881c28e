/* SPDX-License-Identifier: MIT */
#include "aws_xml.h"

#include <expat.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NS_SEP '\x01' /* expat joins namespace URI and local name with it */

struct build {
	XML_Parser p;
	struct xdoc *d;
	struct xnode *cur; /* the open element */
	const char *err;   /* why the parse was stopped */
};

static void stop(struct build *b, const char *why)
{
	if (!b->err)
		b->err = why;
	XML_StopParser(b->p, XML_FALSE);
}

static struct xnode *node_new(struct build *b, enum xnode_type type, const char *name,
			      size_t name_len)
{
	struct xnode *n = calloc(1, sizeof(*n) + name_len + 1);

	if (!n) {
		stop(b, "out of memory");
		return NULL;
	}
	n->type = type;
	n->name = memcpy((char *)(n + 1), name, name_len);
	n->all = b->d->all;
	b->d->all = n;
	if (b->cur) {
		n->parent = b->cur;
		if (b->cur->last)
			b->cur->last->next = n;
		else
			b->cur->children = n;
		b->cur->last = n;
	}
	return n;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct build *b = ud;
	const char *local = strrchr(name, NS_SEP);
	struct xnode *n;

	(void)attrs;
	local = local ? local + 1 : name;
	if (!b->cur && b->d->root) {
		stop(b, "a second root element");
		return;
	}
	n = node_new(b, XN_ELEMENT, local, strlen(local));
	if (!n)
		return;
	if (!b->d->root)
		b->d->root = n;
	b->cur = n;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct build *b = ud;

	(void)name;
	if (b->cur)
		b->cur = b->cur->parent;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct build *b = ud;
	struct xnode *t;
	char *c;

	if (!b->cur || len <= 0)
		return; /* outside the root: only blanks get here */
	t = b->cur->last;
	if (!t || t->type != XN_TEXT) {
		t = node_new(b, XN_TEXT, "", 0);
		if (!t)
			return;
	}
	if ((size_t)len > SIZE_MAX - t->len - 1 ||
	    !(c = realloc(t->content, t->len + (size_t)len + 1))) {
		stop(b, "out of memory");
		return;
	}
	memcpy(c + t->len, s, (size_t)len);
	t->len += (size_t)len;
	c[t->len] = '\0';
	t->content = c;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sys,
			       const XML_Char *pub, int has_internal)
{
	(void)name;
	(void)sys;
	(void)pub;
	(void)has_internal;
	stop(ud, "XML answer carries a DTD; refused");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int pe, const XML_Char *value,
			      int value_len, const XML_Char *base, const XML_Char *sys,
			      const XML_Char *pub, const XML_Char *notation)
{
	(void)name;
	(void)pe;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sys;
	(void)pub;
	(void)notation;
	stop(ud, "XML answer declares an entity; refused");
}

void xdoc_free(struct xdoc *d)
{
	if (!d)
		return;
	for (struct xnode *n = d->all, *next; n; n = next) {
		next = n->all;
		free(n->content);
		free(n);
	}
	free(d);
}

struct xdoc *xdoc_parse(const char *buf, size_t len, mg_err *e)
{
	struct build b = {0};
	bool ok;

	if (len > INT32_MAX) {
		mg_err_set(e, "XML answer too large");
		return NULL;
	}
	b.d = calloc(1, sizeof(*b.d));
	b.p = XML_ParserCreateNS(NULL, NS_SEP);
	if (!b.d || !b.p) {
		if (b.p)
			XML_ParserFree(b.p);
		free(b.d);
		mg_err_set(e, "out of memory parsing XML");
		return NULL;
	}
	XML_SetUserData(b.p, &b);
	XML_SetElementHandler(b.p, on_start, on_end);
	XML_SetCharacterDataHandler(b.p, on_text);
	XML_SetStartDoctypeDeclHandler(b.p, on_doctype);
	XML_SetEntityDeclHandler(b.p, on_entity);
	ok = XML_Parse(b.p, buf, (int)len, XML_TRUE) == XML_STATUS_OK && !b.err;
	XML_ParserFree(b.p);
	if (!ok || !b.d->root) {
		if (b.err)
			mg_err_set(e, "%s", b.err);
		else if (ok)
			mg_err_set(e, "XML answer has no root element");
		else
			mg_err_set(e, "malformed XML answer");
		xdoc_free(b.d);
		return NULL;
	}
	return b.d;
}
