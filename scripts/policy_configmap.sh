#!/usr/bin/env bash
# Writes deploy/kubernetes/policy-configmap.yaml from a pressure policy and an authorization
# policy (default: the examples), checking both first. The deploy test holds the committed one
# to policies/default.yaml and policies/authz.json.
#   bash scripts/policy_configmap.sh [POLICY.yaml [AUTHZ.json]]
set -euo pipefail
cd "$(dirname "$0")/.."
policy="${1:-policies/default.yaml}"
authz="${2:-policies/authz.json}"
if [ -x build/sendgatectl ]; then build/sendgatectl policy check "$policy" "$authz"; fi
indent() { sed 's/^/    /; s/^    $//' "$1"; }
{
  echo "# The pressure policy and the authorization policy sendgate enforces, as a ConfigMap"
  echo "# mounted at /etc/sendgate/policy. Written by scripts/policy_configmap.sh from $policy"
  echo "# and $authz: edit those, not this file. An authorization policy that holds bearer"
  echo "# tokens belongs in a Secret instead (docs/operations.md, \"Caller roles\")."
  echo "apiVersion: v1"
  echo "kind: ConfigMap"
  echo "metadata:"
  echo "  name: sendgate-policy"
  echo "  namespace: sendgate"
  echo "data:"
  echo "  policy.yaml: |"
  indent "$policy"
  echo "  authz.json: |"
  indent "$authz"
} > deploy/kubernetes/policy-configmap.yaml
echo "deploy/kubernetes/policy-configmap.yaml written from $policy and $authz"
