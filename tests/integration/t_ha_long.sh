#!/usr/bin/env bash
# mg-labels: long
# t_ha.sh with the acceptance timings of issue 15: the active stopped (SIGSTOP) for 30 s,
# 60 s of steady state after each step with zero role changes, and a planned switchover
# (drain).
HA_STOP_S=30 HA_LONG=1 exec bash "$(dirname "$0")/t_ha.sh"
