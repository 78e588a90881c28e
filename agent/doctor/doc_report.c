/* SPDX-License-Identifier: MIT */
#include "doc_report.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void doc_report_free(struct doc_report *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

struct doc_finding *doc_add(struct doc_report *r, enum doc_sev sev, const char *check,
			    const char *id, const char *fmt, ...)
{
	struct doc_finding *f;
	va_list ap;

	if (mg_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v), 4096, NULL) < 0) {
		r->oom = true;
		f = &r->scratch;
	} else {
		f = &r->v[r->n++];
	}
	memset(f, 0, sizeof(*f));
	f->sev = sev;
	snprintf(f->check, sizeof(f->check), "%s", check);
	snprintf(f->id, sizeof(f->id), "%s", id);
	va_start(ap, fmt);
	vsnprintf(f->what, sizeof(f->what), fmt, ap);
	va_end(ap);
	return f;
}

void doc_why(struct doc_finding *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

void doc_fix(struct doc_finding *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->fix, sizeof(f->fix), fmt, ap);
	va_end(ap);
}

const char *doc_sev_name(enum doc_sev s)
{
	switch (s) {
	case DOC_OK:
		return "ok";
	case DOC_SKIP:
		return "skip";
	case DOC_WARN:
		return "warn";
	case DOC_FAIL:
		return "fail";
	}
	return "?";
}

size_t doc_count(const struct doc_report *r, enum doc_sev s)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].sev == s;
	return n;
}

int doc_exit_code(const struct doc_report *r)
{
	if (r->oom || doc_count(r, DOC_FAIL))
		return 2;
	return doc_count(r, DOC_WARN) ? 1 : 0;
}

/* Long text wrapped under a label, continuation lines indented. */
static void wrapped(struct mg_buf *out, const char *label, const char *text)
{
	const size_t width = 68; /* with the indent and label: 79 columns */
	size_t len = strlen(text), pos = 0;
	bool first = true;

	while (pos < len) {
		size_t take = len - pos;
		if (take > width) {
			size_t cut = width;
			while (cut > 20 && text[pos + cut] != ' ')
				cut--;
			take = cut > 20 ? cut : width;
		}
		mg_buf_addf(out, "      %-5s%.*s\n", first ? label : "", (int)take, text + pos);
		first = false;
		pos += take;
		while (pos < len && text[pos] == ' ')
			pos++;
	}
}

int doc_render_text(const struct doc_report *r, bool verbose, struct mg_buf *out)
{
	static const struct {
		enum doc_sev s;
		const char *title;
	} groups[] = {{DOC_FAIL, "FAIL"}, {DOC_WARN, "WARN"}, {DOC_OK, "OK"}, {DOC_SKIP, "SKIP"}};
	size_t nf = doc_count(r, DOC_FAIL), nw = doc_count(r, DOC_WARN);

	mg_buf_addf(out, "meshgate doctor: %zu failure%s, %zu warning%s, %zu ok, %zu not checked\n",
		    nf, nf == 1 ? "" : "s", nw, nw == 1 ? "" : "s", doc_count(r, DOC_OK),
		    doc_count(r, DOC_SKIP));
	if (r->oom)
		mg_buf_add(out, "(out of memory: some findings are missing)\n");
	for (size_t g = 0; g < MG_ARRAY_SIZE(groups); g++) {
		size_t n = doc_count(r, groups[g].s);
		if (!n)
			continue;
		mg_buf_addf(out, "\n%s (%zu)\n", groups[g].title, n);
		for (size_t i = 0; i < r->n; i++) {
			const struct doc_finding *f = &r->v[i];
			if (f->sev != groups[g].s)
				continue;
			mg_buf_addf(out, "  [%s/%s] %s\n", f->check, f->id, f->what);
			/* problems get their reason and fix; ok lines only with --verbose */
			if (f->sev < DOC_WARN && !verbose)
				continue;
			if (f->why[0])
				wrapped(out, "why:", f->why);
			if (f->fix[0])
				wrapped(out, "fix:", f->fix);
			if (f->fixable != DOC_FIX_NONE && f->sev >= DOC_WARN)
				wrapped(out, "", "(meshgate doctor --fix repairs this)");
		}
	}
	if (nf + nw)
		mg_buf_addf(out, "\nexit code %d (0 all ok, 1 warnings, 2 failures)\n",
			    doc_exit_code(r));
	return out->failed ? -1 : 0;
}

cJSON *doc_render_json(const struct doc_report *r)
{
	cJSON *root = cJSON_CreateObject(), *sum, *arr;
	bool ok = root != NULL;

	sum = ok ? cJSON_AddObjectToObject(root, "summary") : NULL;
	ok = ok && sum && cJSON_AddNumberToObject(sum, "ok", (double)doc_count(r, DOC_OK)) &&
	     cJSON_AddNumberToObject(sum, "warn", (double)doc_count(r, DOC_WARN)) &&
	     cJSON_AddNumberToObject(sum, "fail", (double)doc_count(r, DOC_FAIL)) &&
	     cJSON_AddNumberToObject(sum, "skip", (double)doc_count(r, DOC_SKIP)) &&
	     cJSON_AddNumberToObject(sum, "exit_code", doc_exit_code(r)) &&
	     cJSON_AddBoolToObject(sum, "complete", !r->oom);
	arr = ok ? cJSON_AddArrayToObject(root, "findings") : NULL;
	ok = ok && arr;
	for (size_t i = 0; ok && i < r->n; i++) {
		const struct doc_finding *f = &r->v[i];
		cJSON *o = cJSON_CreateObject();
		ok = o && cJSON_AddStringToObject(o, "severity", doc_sev_name(f->sev)) &&
		     cJSON_AddStringToObject(o, "check", f->check) &&
		     cJSON_AddStringToObject(o, "id", f->id) &&
		     cJSON_AddStringToObject(o, "what", f->what) &&
		     cJSON_AddStringToObject(o, "why", f->why) &&
		     cJSON_AddStringToObject(o, "fix", f->fix) &&
		     cJSON_AddBoolToObject(o, "fixable", f->fixable != DOC_FIX_NONE) &&
		     cJSON_AddItemToArray(arr, o);
		if (!ok)
			cJSON_Delete(o); /* not attached */
	}
	if (!ok) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}
