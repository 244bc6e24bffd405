#!/usr/bin/env bash
# Writes deploy/kubernetes/policy-configmap.yaml from a policy file (default: the example
# policy), checking it first. The deploy test holds the committed one to policies/default.yaml.
#   bash scripts/policy_configmap.sh [POLICY.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
policy="${1:-policies/default.yaml}"
if [ -x build/sendgate ]; then build/sendgate --check_policy --policy="$policy"; fi
{
  echo "# The pressure policy sendgate enforces, as a ConfigMap mounted at /etc/sendgate/policy."
  echo "# Written by scripts/policy_configmap.sh from $policy: edit the policy, not this file."
  echo "apiVersion: v1"
  echo "kind: ConfigMap"
  echo "metadata:"
  echo "  name: sendgate-policy"
  echo "  namespace: sendgate"
  echo "data:"
  echo "  policy.yaml: |"
  sed 's/^/    /; s/^    $//' "$policy"
} > deploy/kubernetes/policy-configmap.yaml
echo "deploy/kubernetes/policy-configmap.yaml written from $policy"
