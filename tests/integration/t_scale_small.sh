#!/usr/bin/env bash
# The CI-sized run of t_scale_limits.sh (label long: 10,000 routes and 10,000 NAT
# exclusions): the same checks with 500 of each, and the same over-limit refusals.
MG_SCALE_N=${MG_SCALE_N:-500} MG_SCALE_NAME=scale_small exec bash "$(dirname "$0")/t_scale_limits.sh"
