#!/usr/bin/env bash
# The benchmarks' own tools, installed only when missing: wrk (the load generator) and Debian's nginx (the
# X-Accel-Redirect case of bench/content.py). Neither is needed to run or test the service.
source "$(dirname "$0")/../scripts/bootstrap.sh"
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
install_python_packages requirements-dev.txt
