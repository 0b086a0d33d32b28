"""What a retrain killed during registration leaves, as the next train finds it in a real sqlite
MLflow registry: versions without a decision, or a ``promoted`` one whose champion alias never
moved, are marked ``abandoned``; completed and rolled-back promotions are left alone."""

from __future__ import annotations

from tasks.registry.repair import mark_abandoned_versions
from tasks.tracking import mlflow_client

NAME = "shopguard-detector"


def registry_with(settings, *tag_sets: dict[str, str]):
    client = mlflow_client(settings)
    client.create_registered_model(NAME)
    run_id = client.create_run(client.create_experiment("repair")).info.run_id
    for tags in tag_sets:
        version = client.create_model_version(NAME, f"runs:/{run_id}/model", run_id=run_id).version
        for key, value in tags.items():
            client.set_model_version_tag(NAME, version, key, value)
    return client


def aliases(client, **moved: str) -> None:
    for alias, version in moved.items():
        client.set_registered_model_alias(NAME, alias.replace("_", "-"), version)


def decisions(client) -> dict[str, str | None]:
    return {str(v.version): v.tags.get("promotion_decision") for v in client.search_model_versions(f"name = '{NAME}'")}


PROMOTED = {"promotion_decision": "promoted", "decision_applied": "true"}


def test_versions_without_a_decision_and_unapplied_promotions_are_marked(settings):
    client = registry_with(settings, PROMOTED, {"run_id": "x"}, {"promotion_decision": "promoted"})
    aliases(client, champion="1", challenger="3", previous_champion="1")  # killed before champion moved
    assert sorted(mark_abandoned_versions(client, NAME)) == ["2", "3"]
    assert decisions(client) == {"1": "promoted", "2": "abandoned", "3": "abandoned"}
    reason = client.get_model_version(NAME, "3").tags["promotion_reason"]
    assert "died" in reason and "champion stayed 1" in reason
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"  # aliases untouched
    assert mark_abandoned_versions(client, NAME) == []  # idempotent


def test_completed_and_rolled_back_promotions_are_left_alone(settings):
    client = registry_with(settings, PROMOTED, {"promotion_decision": "promoted"}, {"promotion_decision": "rejected"})
    aliases(client, champion="2", previous_champion="1", challenger="3")  # killed after champion moved
    assert mark_abandoned_versions(client, NAME) == []
    # a store from before decision_applied: version 3 promoted, then rolled back (promote moves
    # previous-champion onto the version it replaces)
    client.set_model_version_tag(NAME, "3", "promotion_decision", "promoted")
    aliases(client, champion="2", previous_champion="3")
    assert mark_abandoned_versions(client, NAME) == []
    assert decisions(client) == {"1": "promoted", "2": "promoted", "3": "promoted"}


def test_an_empty_registry_needs_nothing(settings):
    assert mark_abandoned_versions(mlflow_client(settings), NAME) == []
