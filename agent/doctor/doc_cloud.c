/* SPDX-License-Identifier: MIT */
/*
 * meshgate doctor, the cloud: on a cloud VM, does the NIC carry traffic for others
 * (AWS source/destination check, Azure IP forwarding, GCP canIpForward, OCI
 * skipSourceDestCheck), and can the agent read what it needs; a refused read names the
 * missing permission. Only reads, through the provider contract (cloud.h).
 */
#include "doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prov_text {
	const char *name, *setting, *why, *fix, *fix_after; /* fix, the id, fix_after */
};

static const struct prov_text texts[] = {
    {"aws", "the source/destination check",
     "EC2 drops every packet through this instance that is not addressed to it or from it: "
     "the VPC routes to this ENI carry nothing",
     "aws ec2 modify-network-interface-attribute --network-interface-id ",
     " --no-source-dest-check (the agent does it itself when its role may "
     "ec2:ModifyNetworkInterfaceAttribute)"},
    {"azure", "IP forwarding on the NIC",
     "Azure drops packets through this VM that are not addressed to it: the route tables "
     "pointing at it carry nothing",
     "az network nic update --ids ",
     " --ip-forwarding true (the agent does it itself with "
     "Microsoft.Network/networkInterfaces/write)"},
    {"gcp", "canIpForward",
     "GCP drops packets through this VM that are not addressed to it, and the agent writes no "
     "routes to it",
     "canIpForward is fixed at creation: recreate instance ",
     " with --can-ip-forward (or "
     "gcloud compute instances export, set canIpForward: true, update-from-file)"},
    {"oci", "skipSourceDestCheck on the VNIC",
     "OCI drops packets through this instance that are not addressed to it: the route rules "
     "pointing at it carry nothing",
     "oci network vnic update --vnic-id ",
     " --skip-source-dest-check true (the agent does it "
     "itself with VNIC_UPDATE)"},
};

static const struct prov_text *text_of(const char *name)
{
	for (size_t i = 0; i < MG_ARRAY_SIZE(texts); i++)
		if (!strcmp(texts[i].name, name))
			return &texts[i];
	return NULL;
}

static void denied(struct doc_ctx *c, const char *prov, const char *what,
		   const struct cloud_err *ce)
{
	struct doc_finding *f;

	if (ce->kind == CLOUD_ERR_UNAUTHORIZED) {
		f = doc_add(c->r, DOC_FAIL, "cloud", "permission", "%s: reading %s was refused%s%s",
			    prov, what,
			    ce->permission[0] ? ": missing permission " : " (credentials)",
			    ce->permission);
		doc_why(f, "the agent cannot see (and so cannot keep) the cloud's side of the "
			   "route; it says the same in its status");
		if (ce->permission[0])
			doc_fix(f,
				"grant %s to this instance's role/identity (the permission lists "
				"and templates are in /usr/share/doc/meshgate/cloud/); the refusal "
				"said: %s",
				ce->permission, ce->e.msg);
		else
			doc_fix(f,
				"attach a role/managed identity to this instance; the refusal "
				"said: %s",
				ce->e.msg);
		return;
	}
	f = doc_add(c->r, DOC_WARN, "cloud", "api", "%s: reading %s failed (%s): %s", prov, what,
		    cloud_err_kind_name(ce->kind), ce->e.msg);
	doc_why(f, "until it succeeds the agent cannot manage the cloud's routes");
	doc_fix(f, "check that this instance reaches the provider's API endpoint (a proxy, a "
		   "private endpoint, DNS) and try again");
}

void doc_check_cloud(struct doc_ctx *c)
{
	const struct cloud_provider_ops *ops;
	struct cloud_open_opts oo = {0};
	struct cloud_provider *p;
	struct cloud_identity id;
	struct cloud_err ce = {0};
	struct doc_finding *f;
	mg_err e = {""};
	bool on = false;

	switch (cloud_select_resolve(&c->o->cloud, c->o->timeout_ms, &ops, &e)) {
	case CLOUD_SELECT_FOUND:
		break;
	case CLOUD_SELECT_OFF:
		doc_add(c->r, DOC_SKIP, "cloud", "provider", "cloud checks off (--cloud none)");
		return;
	case CLOUD_SELECT_NOCLOUD:
		doc_add(c->r, DOC_SKIP, "cloud", "provider", "not a cloud VM: %s", e.msg);
		return;
	case CLOUD_SELECT_UNKNOWN:
		doc_add(c->r, DOC_FAIL, "cloud", "provider", "%s", e.msg);
		return;
	}
	oo.ep = c->o->cloud.ep;
	if (c->enrolled) {
		snprintf(oo.mesh.network, sizeof(oo.mesh.network), "%s", c->st.network_id);
		snprintf(oo.mesh.connector, sizeof(oo.mesh.connector), "%s", c->st.device_id);
	}
	p = ops->open(&oo, &e);
	if (!p) {
		doc_add(c->r, DOC_SKIP, "cloud", "provider", "%s: %s", ops->name, e.msg);
		return;
	}
	if (ops->identity(p, &id, &e) < 0) {
		f = doc_add(c->r, DOC_FAIL, "cloud", "identity",
			    "%s: this instance's identity cannot be established: %s", ops->name,
			    e.msg);
		doc_why(f, "without it the agent knows neither its NIC nor its network");
		doc_fix(f,
			"let the instance reach its metadata service (no proxy for "
			"169.254.169.254; AWS: IMDSv2 with a hop limit of 2 when the agent runs "
			"in a container); where the identity is read from the API (Azure: the VM "
			"and its NIC; OCI: the VNIC), grant the read the message names");
		goto out;
	}
	if (ops->refresh_credentials(p, false, &e) < 0) {
		f = doc_add(c->r, DOC_FAIL, "cloud", "permission",
			    "%s: no credentials for instance %s: %s", ops->name, id.instance_id,
			    e.msg);
		doc_why(f, "the agent cannot call the provider's API at all");
		doc_fix(f, "attach a role / managed identity / service account to the instance "
			   "with the permissions in /usr/share/doc/meshgate/cloud/");
		goto out;
	}
	doc_add(c->r, DOC_OK, "cloud", "provider", "%s instance %s, NIC %s in %s", ops->name,
		id.instance_id, id.nic_id, id.network_id);
	const struct prov_text *t = text_of(ops->name);
	if (!ops->read_forwarding || !t) {
		doc_add(c->r, DOC_SKIP, "cloud", "forwarding",
			"%s: this driver cannot read its forwarding setting", ops->name);
	} else if (ops->read_forwarding(p, &id, &on, &ce) < 0) {
		denied(c, ops->name, t->setting, &ce);
	} else if (!on) {
		f = doc_add(c->r, DOC_FAIL, "cloud", "forwarding", "%s: %s blocks forwarding on %s",
			    ops->name, t->setting, id.nic_id);
		doc_why(f, "%s", t->why);
		doc_fix(f, "%s%s%s", t->fix, !strcmp(ops->name, "gcp") ? id.instance_id : id.nic_id,
			t->fix_after);
	} else {
		doc_add(c->r, DOC_OK, "cloud", "forwarding", "%s: %s allows forwarding on %s",
			ops->name, t->setting, id.nic_id);
	}
	struct cloud_scopes sc = {0};
	memset(&ce, 0, sizeof(ce));
	if (ops->list_scopes(p, &id, NULL, 0, &sc, &ce) < 0)
		denied(c, ops->name, "the route tables", &ce);
	else
		doc_add(c->r, DOC_OK, "cloud", "routes-readable", "%s: %zu route table%s readable",
			ops->name, sc.n, sc.n == 1 ? "" : "s");
	cloud_scopes_free(&sc);
out:
	ops->close(p);
}
