/* SPDX-License-Identifier: MIT */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "meshgate-controller-mock: not yet\n");
	return 1;
}
