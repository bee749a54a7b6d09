"""What deploys the console and watches the syncs: Firebase Hosting serves the build
(firebase.json), Terraform registers the web app and prints the console's config, adds its
origins to CORS, keeps its state in GCS, and alerts on failed syncs through a log-based
metric whose filter matches the line the engine really writes."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from devtools.console_build import OUT, REQUIRED_CONFIG, REQUIRED_FIREBASE
from tests.deploy.conftest import REPO, TF_DIR
from tests.deploy.test_terraform import expr, only


def test_hosting_serves_the_console_build() -> None:
    config = json.loads((REPO / "firebase.json").read_text())
    assert config["hosting"]["public"] == OUT.relative_to(REPO).as_posix() == "build/console"


def test_state_is_remote_in_gcs(terraform: dict[str, Any]) -> None:
    backends = [b for doc in terraform.values() for block in doc.get("terraform", []) for b in block.get("backend", [])]
    assert backends == [{"gcs": {}}], "partial config: bucket and prefix come from -backend-config per environment"
    for env in ("staging", "production"):
        text = (TF_DIR / "envs" / f"{env}.gcs.tfbackend.example").read_text()
        assert re.search(r'^bucket = "', text, re.M) and f'prefix = "tributary/{env}"' in text
        assert f'environment     = "{env}"' in (TF_DIR / "envs" / f"{env}.tfvars.example").read_text()


def test_console_config_output_is_what_the_build_needs(terraform: dict[str, Any]) -> None:
    outputs = {name: body for doc in terraform.values() for block in doc.get("output", []) for name, body in block.items()}
    value = str(outputs["console_config"]["value"])
    for key in (*REQUIRED_CONFIG, *REQUIRED_FIREBASE):
        assert re.search(rf"\b{key}\b", value), f"console_config lacks {key}"
    assert "console_url" in outputs


def test_console_origins_are_allowed_in_cors(tf_locals: dict[str, Any], resources: dict[str, Any]) -> None:
    assert 'CORS_ALLOWED_ORIGINS": "${join(",", local.cors_origins)}' in tf_locals["common_env"]
    assert "${var.project_id}.web.app" in str(tf_locals["console_origins"])
    assert "google_firebase_web_app.console" in resources


def test_failed_syncs_alert(resources: dict[str, Any], tf_locals: dict[str, Any]) -> None:
    from shared.sync.state import RUN_FINISHED_EVENT

    metric = resources["google_logging_metric.failed_syncs"]
    assert expr(metric["filter"]) == "local.failed_syncs_filter"
    filt = str(tf_locals["failed_syncs_filter"])
    assert f'jsonPayload.event="{RUN_FINISHED_EVENT}"' in filt
    assert 'jsonPayload.status=("failed" OR "partial")' in filt
    assert set(metric["label_extractors"]) == {"status", "vendor"}
    policy = resources["google_monitoring_alert_policy.failed_syncs"]
    condition = only(only(policy, "conditions"), "condition_threshold")
    assert "google_logging_metric.failed_syncs.name" in condition["filter"]
    assert condition["comparison"] == "COMPARISON_GT" and condition["threshold_value"] == 0
    assert "google_monitoring_notification_channel.email" in str(policy["notification_channels"])
    channel = resources["google_monitoring_notification_channel.email"]
    assert expr(channel["for_each"]) == "toset(var.alert_emails)"


def test_the_engine_writes_the_line_the_metric_counts() -> None:
    """The formatter Cloud Logging reads turns extra= into jsonPayload fields."""
    from shared.logging import CloudLoggingFormatter
    from shared.sync.models import Counts
    from shared.sync.state import RUN_FINISHED_EVENT, log, report_finished

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.INFO)
    try:
        report_finished("intercom-0123456789ab", "run-1", "intercom", "partial", Counts(fetched=3, failed=1), "vendor_4xx")
        report_finished("intercom-0123456789ab", "run-2", "intercom", "succeeded", Counts(fetched=3), None)
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
    payloads = [json.loads(CloudLoggingFormatter().format(r)) for r in records]
    assert payloads[0]["event"] == RUN_FINISHED_EVENT and payloads[0]["status"] == "partial"
    assert payloads[0]["vendor"] == "intercom" and payloads[0]["severity"] == "WARNING"
    assert payloads[1]["status"] == "succeeded" and payloads[1]["severity"] == "INFO"
