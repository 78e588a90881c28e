/* SPDX-License-Identifier: MIT */
/*
 * The ARM actions the Azure driver needs, in one list: every GET, PUT and DELETE it makes
 * and the operation polls that follow them. cloud/azure/meshgate.arm.json grants exactly
 * these (tests/system/cloud_checks.py reads the strings below and compares).
 */
#ifndef MG_AZURE_PERMS_H
#define MG_AZURE_PERMS_H

enum az_perm {
	AZ_PERM_VM_READ,          /* identity: the VM, for its NICs */
	AZ_PERM_VMSS_VM_READ,     /* identity: a scale set's instance, for its NICs */
	AZ_PERM_VMSS_NIC_READ,    /* identity, forwarding: a scale set's instance NIC */
	AZ_PERM_NIC_READ,         /* identity, forwarding: the VM's NIC */
	AZ_PERM_NIC_WRITE,        /* forwarding: turn enableIPForwarding on */
	AZ_PERM_SUBNET_READ,      /* identity: the NIC's subnet */
	AZ_PERM_VNET_READ,        /* identity, scopes: the VNet's prefixes and tables */
	AZ_PERM_ROUTE_TABLE_READ, /* scopes: a table with its routes (one GET; no route GETs) */
	AZ_PERM_ROUTE_WRITE,      /* plans: create or replace a route */
	AZ_PERM_ROUTE_DELETE,     /* plans: remove a route */
	AZ_PERM_OP_READ,          /* following a write: Azure-AsyncOperation */
	AZ_PERM_OP_RESULT_READ,   /* following a write: Location */
	AZ_PERM_COUNT
};

extern const char *const az_permissions[AZ_PERM_COUNT];

#endif
