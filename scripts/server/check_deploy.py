#!/usr/bin/env python3
"""Checks deploy/k8s/*.yaml: YAML syntax, the fields `earshot serve` relies on, and the memory rule.

Usage: check_deploy.py DEPLOY_DIR   (exit 0 and "ok" when everything holds; the failures otherwise)
kubeconform / kubectl --dry-run are not available here, so this is a syntax and consistency check, not a
schema validation: every document parses, has apiVersion/kind/metadata.name, and
  - the Deployment's memory request equals its limit, which is --memory-limit + 128 MiB headroom;
  - readiness (and startup) probes hit /health; liveness does not (a draining pod answers 503 there);
  - a preStop hook exists and terminationGracePeriodSeconds exceeds its wait;
  - the Service and HPA point at the Deployment's pods / the Deployment; --host is not loopback.
"""
import glob
import os
import re
import sys

import yaml

UNITS = {"": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
         "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}


def size(text):
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(text))
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


directory = sys.argv[1]
docs = []
problems = []
for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc is None:
                continue
            docs.append(doc)
            if os.path.basename(path) == "kustomization.yaml":
                continue
            for key in ("apiVersion", "kind"):
                if key not in doc:
                    problems.append(f"{path}: no {key}")
            if not doc.get("metadata", {}).get("name"):
                problems.append(f"{path}: no metadata.name")

by_kind = {d.get("kind"): d for d in docs}
deployment = by_kind.get("Deployment")
if deployment is None:
    problems.append("no Deployment")
else:
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = dict(a[2:].split("=", 1) for a in container["args"] if a.startswith("--") and "=" in a)
    limit = size(args["memory-limit"])
    resources = container["resources"]
    request, cap = size(resources["requests"]["memory"]), size(resources["limits"]["memory"])
    if request != cap:
        problems.append(f"memory request {request} != limit {cap}")
    if cap != limit + 128 * 1024**2:
        problems.append(f"memory limit {cap} is not --memory-limit {limit} + 128 MiB")
    if args.get("host") in (None, "127.0.0.1", "localhost"):
        problems.append("--host must not be loopback in a pod")
    for probe in ("readinessProbe", "startupProbe"):
        if container.get(probe, {}).get("httpGet", {}).get("path") != "/health":
            problems.append(f"{probe} must GET /health")
    if container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health":
        problems.append("livenessProbe must not use /health (503 while draining)")
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    wait = pre_stop.get("sleep", {}).get("seconds", 0)
    if not pre_stop:
        problems.append("no preStop hook")
    if pod.get("terminationGracePeriodSeconds", 30) <= wait:
        problems.append("terminationGracePeriodSeconds must exceed the preStop wait")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = by_kind.get("Service")
    if service is None or any(labels.get(k) != v for k, v in service["spec"]["selector"].items()):
        problems.append("the Service does not select the Deployment's pods")
    hpa = by_kind.get("HorizontalPodAutoscaler")
    if hpa is None or hpa["spec"]["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
        problems.append("the HorizontalPodAutoscaler does not scale the Deployment")
    kustomization = next((d for d in docs if d.get("kind") == "Kustomization"), None)
    listed = set(kustomization.get("resources", [])) if kustomization else set()
    files = {os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.yaml"))} - {"kustomization.yaml"}
    if listed != files:
        problems.append(f"kustomization lists {sorted(listed)}, directory has {sorted(files)}")

print("\n".join(problems) if problems else f"ok: {len(docs)} documents")
sys.exit(1 if problems else 0)
