/* SPDX-License-Identifier: MIT */
/* placeholder so the library target has a source; replaced by the real store */
int ctlmock_placeholder(void);
int ctlmock_placeholder(void)
{
	return 0;
}
