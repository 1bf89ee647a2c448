#!/usr/bin/env bash
# Validates the Kubernetes manifests of deploy/ against the Kubernetes schemas, offline
# (kubernetes-validate from PyPI, in a venv under .data, made on first use), strictly (unknown
# fields are errors), for the oldest and newest Kubernetes this project supports. The Prometheus
# Operator's kinds (ServiceMonitor, PrometheusRule) are not in those schemas; tests/it/deploy.rs
# checks what they name. Kustomize patches are partial by design and skipped.
#   scripts/check-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.data/deploy-venv
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
fi
files=()
for f in deploy/kubernetes/base/*.yaml; do
  case "$f" in */kustomization.yaml) continue ;; esac
  grep -q '^apiVersion: monitoring.coreos.com/' "$f" && continue
  files+=("$f")
done
for version in 1.30.0 1.37.0; do
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${files[@]}"
done
echo "deploy/: ${#files[@]} Kubernetes manifests valid (strict) for 1.30 and 1.37"
