/* SPDX-License-Identifier: MIT */
#include "azure_perms.h"

/* tests/system/cloud_checks.py parses this table: one string literal per action */
const char *const az_permissions[AZ_PERM_COUNT] = {
    [AZ_PERM_VM_READ] = "Microsoft.Compute/virtualMachines/read",
    [AZ_PERM_VMSS_VM_READ] = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    [AZ_PERM_VMSS_NIC_READ] =
	"Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces/read",
    [AZ_PERM_NIC_READ] = "Microsoft.Network/networkInterfaces/read",
    [AZ_PERM_NIC_WRITE] = "Microsoft.Network/networkInterfaces/write",
    [AZ_PERM_SUBNET_READ] = "Microsoft.Network/virtualNetworks/subnets/read",
    [AZ_PERM_VNET_READ] = "Microsoft.Network/virtualNetworks/read",
    [AZ_PERM_ROUTE_TABLE_READ] = "Microsoft.Network/routeTables/read",
    [AZ_PERM_ROUTE_WRITE] = "Microsoft.Network/routeTables/routes/write",
    [AZ_PERM_ROUTE_DELETE] = "Microsoft.Network/routeTables/routes/delete",
    [AZ_PERM_OP_READ] = "Microsoft.Network/locations/operations/read",
    [AZ_PERM_OP_RESULT_READ] = "Microsoft.Network/locations/operationResults/read",
};
