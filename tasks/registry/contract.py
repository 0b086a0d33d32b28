"""Names in the served-model contract (docs/architecture.md) that training, the gate and scoring share."""

CHAMPION = "champion"  # the alias that serves
CHALLENGER = "challenger"  # the alias of the latest sweep's best
PREVIOUS_CHAMPION = "previous-champion"  # the champion before the last promotion: the rollback target
REFERENCE_ARTIFACT = "reference/features.parquet"  # training-run artifact: the drift reference
FLOW_RUN_TAG = "prefect_flow_run_id"  # on a retrain's run and version: the Prefect run that made them
