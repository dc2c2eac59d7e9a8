"""Writes a service project whose Kubernetes manifests give four findings per Deployment
(single replica, no probes, no limits, a mutable tag): `generate.py DIR DEPLOYMENTS`."""

import os
import sys

root, count = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{root}/deploy", exist_ok=True)
with open(f"{root}/Cargo.toml", "w") as out:
    out.write('[package]\nname = "svc"\nversion = "0.1.0"\nedition = "2021"\n\n'
              '[dependencies]\naxum = "0.8"\n')
per_file = 50
for first in range(0, count, per_file):
    docs = [
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api-{i}\nspec:\n"
        f"  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: api-{i}\n"
        f"          image: registry.example.com/api-{i}:latest\n"
        for i in range(first, min(first + per_file, count))
    ]
    with open(f"{root}/deploy/apps-{first // per_file:03}.yaml", "w") as out:
        out.write("---\n".join(docs))
