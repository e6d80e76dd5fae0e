"""Retrain, evaluate, compare and promote a churn model through the gateway.

    python examples/churn_retrain.py --metric roc_auc --tag champion

1. trains a new churn model version (a CANDIDATE) and follows the job;
2. prints its time-based holdout report (ROC AUC, PR AUC, Brier, lift table);
3. compares it with the active version on the same held-out customers;
4. activates it, and moves the tag to it, only when it is strictly better on
   the chosen metric (or when no version is active yet).

The gateway and token come from --addr/--token, PATRON_ADDR/PATRON_TOKEN,
the patron config file, or the development key of `patron up`. Exit code 0:
trained (promoted or kept as a candidate); 1: a call or the job failed;
2: the metric is not one the churn service reports.
"""

from __future__ import annotations

import argparse
import json
import sys

import grpc
import pandas as pd

import patron

# What the churn service's CompareModels reports (churn.proto).
CHURN_METRICS = ["roc_auc", "pr_auc", "brier", "top_decile_lift"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", help="the gateway, e.g. http://127.0.0.1:50051")
    parser.add_argument("--token", help="bearer token (API key or JWT)")
    parser.add_argument(
        "--metric",
        default="roc_auc",
        choices=CHURN_METRICS,
        help="the metric that decides (brier: lower is better; the others: higher)",
    )
    parser.add_argument("--label-window-days", type=int, default=0, help="N of the churn label; 0 = the default 90")
    parser.add_argument("--tag", default="champion", help="tag moved to the promoted version")
    parser.add_argument("--json", action="store_true", help="end with one JSON line summarising the decision")
    return parser.parse_args()


def holdout_report(evaluation) -> None:
    print(
        f"Holdout from {evaluation.holdout_cutoff.ToDatetime():%Y-%m-%d}, "
        f"{evaluation.label_window_days}-day label window: "
        f"{evaluation.customer_count} customers, {evaluation.churned_count} churned"
    )
    print(
        f"  ROC AUC {evaluation.roc_auc:.4f}  PR AUC {evaluation.pr_auc:.4f}  "
        f"Brier {evaluation.brier_score:.4f}  top-decile lift {evaluation.top_decile_lift:.2f}"
    )
    deciles = pd.DataFrame(
        [
            {
                "decile": row.decile,
                "customers": row.customer_count,
                "churn_rate": row.churn_rate,
                "lift": row.lift,
                "cumulative_capture": row.cumulative_capture,
            }
            for row in evaluation.deciles
        ]
    )
    print(deciles.to_string(index=False, float_format=lambda value: f"{value:.3f}"))


def main() -> int:
    args = parse_args()
    client = patron.Client(address=args.addr, token=args.token)

    print("Training a new churn model version")
    job = client.train("churn", on_progress=patron.print_progress(), label_window_days=args.label_window_days)
    candidate = job.model_version_id
    print(f"New version {candidate}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(job.metrics.items())))

    holdout_report(client.evaluate("churn", model_id=candidate).evaluation)

    summary = {"candidate": candidate, "metric": args.metric, "baseline": None}
    try:
        comparison = client.compare("churn", candidate)
    except grpc.RpcError as error:
        if not patron.nothing_active(error):
            raise
        comparison = None
    if comparison is None:
        print("No version is active yet: the new one has nothing to beat")
        better = True
    else:
        table = patron.comparison_frame(comparison.metrics)
        print(f"Compared with the active version {comparison.baseline_model_id} on the same holdout:")
        print(table.to_string(index=False))
        row = table[table.metric == args.metric]
        if row.empty:
            print(
                f"patron: the churn service reports no metric {args.metric!r}; it reports {list(table.metric)}",
                file=sys.stderr,
            )
            return 2
        better = bool(row.candidate_better.iloc[0])
        summary.update(
            baseline=comparison.baseline_model_id,
            baseline_value=float(row.baseline.iloc[0]),
            candidate_value=float(row.candidate.iloc[0]),
        )

    if better:
        client.activate("churn", candidate)
        client.tag("churn", candidate, add=(args.tag,))
        print(f"Activated {candidate} and tagged it {args.tag!r}")
    else:
        print(f"Kept the active version; {candidate} stays a candidate")
    summary["activated"] = better
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as error:
        print(f"patron: {error.code().name}: {error.details()}", file=sys.stderr)
        sys.exit(1)
    except patron.JobFailed as error:
        print(f"patron: {error}", file=sys.stderr)
        sys.exit(1)
