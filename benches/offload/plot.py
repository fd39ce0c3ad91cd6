"""Draws bench-results/offload.png from bench-results/offload.json: per origin, the hit ratio
and the origin requests per 1,000 client requests over the trace, one line per contender.
Run by make bench-offload with matplotlib (pinned by plot-constraints.txt)."""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results")
data = json.loads((results / "offload.json").read_text())
origins = sorted({r["origin"] for r in data["runs"]}, key=["plone", "django"].index)
fig, axes = plt.subplots(2, len(origins), figsize=(6 * len(origins), 7), squeeze=False, sharex="col")
for col, origin in enumerate(origins):
    for run in (r for r in data["runs"] if r["origin"] == origin):
        xs = [p["upTo"] for p in run["timeline"]]
        axes[0][col].plot(xs, [100 * p["hitRatio"] for p in run["timeline"]], label=run["contender"])
        axes[1][col].plot(xs, [p["originPer1000"] for p in run["timeline"]], label=run["contender"])
    run = next(r for r in data["runs"] if r["origin"] == origin)
    outage = data.get("outage", {}).get(origin)
    for ax in (axes[0][col], axes[1][col]):
        if outage:
            ax.axvspan(outage["start"], outage["end"], color="0.85", label="origin outage")
        ax.grid(True, alpha=0.3)
    axes[0][col].set_title(f"{origin}: {run['clientRequests']:,} requests per contender, seed {data['seed']}")
    axes[0][col].set_ylabel("hit ratio (%)")
    axes[0][col].set_ylim(0, 100)
    axes[1][col].set_ylabel("origin requests per 1,000")
    axes[1][col].set_xlabel("client requests into the trace")
    axes[0][col].legend(fontsize=8, loc="lower right")
fig.tight_layout()
fig.savefig(results / "offload.png", dpi=90)
print(f"{results / 'offload.png'} written")
