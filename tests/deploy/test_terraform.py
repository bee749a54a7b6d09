"""Static checks of infra/terraform: no `terraform init`, no providers, no network.

Every .tf parses; every function, queue, schedule and secret is deployed from the manifest
(for_each over it, numbers read from it, none hard-coded); env vars match shared/config.py;
IAM is least privilege; the Firestore indexes and rules are the repository's files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import REPO, TF_DIR, tf_files

FIRESTORE_INDEXES = REPO / "firestore.indexes.json"
FIRESTORE_RULES = REPO / "firestore.rules"
FIREBASE_JSON = REPO / "firebase.json"
EACH_VALUE = re.compile(r"each\.value\.[a-z_]+")


def expr(value: Any) -> str:
    """hcl2 renders expressions as "${...}" strings; unwrap one that is a single expression."""
    assert isinstance(value, str), value
    if not value.startswith("${"):
        return value
    depth = 0
    for i, char in enumerate(value[1:], start=1):
        depth += char == "{"
        depth -= char == "}"
        if depth == 0:
            return value[2:-1] if i == len(value) - 1 else value
    return value


def only(body: dict[str, Any], block: str) -> dict[str, Any]:
    blocks = body[block]
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {block} block"
    return blocks[0]


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: p.name)
def test_every_tf_file_parses(path: Path) -> None:
    hcl2 = pytest.importorskip("hcl2")
    with path.open() as handle:
        assert isinstance(hcl2.load(handle), dict)


def test_there_is_terraform(terraform: dict[str, Any]) -> None:
    assert {"versions.tf", "variables.tf", "main.tf", "functions.tf", "tasks.tf", "scheduler.tf"} <= set(terraform)


def test_providers_are_pinned(terraform: dict[str, Any]) -> None:
    blocks = [b for doc in terraform.values() for b in doc.get("terraform", [])]
    providers: dict[str, Any] = {}
    for block in blocks:
        for req in block.get("required_providers", []):
            providers.update(req)
    assert set(providers) >= {"google", "google-beta"}
    for name in ("google", "google-beta"):
        assert providers[name]["source"] == f"hashicorp/{name}"
        assert re.fullmatch(r"~> \d+\.\d+(\.\d+)?", providers[name]["version"]), providers[name]["version"]


def test_min_instances_default_to_one_warm_instance_where_a_person_waits(
    terraform: dict[str, Any], manifest: dict[str, Any]
) -> None:
    variables = {name: body for doc in terraform.values() for block in doc.get("variable", []) for name, body in block.items()}
    assert variables["interactive_min_instances"]["default"] == 1
    assert variables["min_instances"]["default"] == {}
    functions = manifest["functions"]
    assert functions["records"]["interactive"] and functions["sync-status"]["interactive"]
    machines = ("sync-worker", "sync-scheduler", "webhook-worker", "health", "webhooks", "oauth-callback")
    assert not any(functions[name]["interactive"] for name in machines)
    assert all(not fn["interactive"] for fn in functions.values() if fn["invoker"] != "public")


def test_required_variables(terraform: dict[str, Any]) -> None:
    variables = {name for doc in terraform.values() for block in doc.get("variable", []) for name in block}
    assert {"project_id", "region", "allowed_domains", "firestore_location", "functions_source_bucket"} <= variables


def test_terraform_reads_the_manifest(tf_locals: dict[str, Any]) -> None:
    assert expr(tf_locals["manifest"]) == 'jsondecode(file("${path.module}/manifest.json"))'
    assert expr(tf_locals["functions"]) == "local.manifest.functions"
    assert expr(tf_locals["queues"]) == "local.manifest.queues"
    assert expr(tf_locals["schedules"]) == "local.manifest.schedules"
    assert expr(tf_locals["secrets"]) == "toset(local.manifest.secrets)"


def test_one_function_resource_per_manifest_function(resources: dict[str, Any], manifest: dict[str, Any]) -> None:
    """With for_each over local.functions (= the manifest), the manifest IS the resource list;
    test_manifest.py proves the manifest is current and matches functions/."""
    functions = [k for k in resources if k.startswith("google_cloudfunctions2_function.")]
    assert functions == ["google_cloudfunctions2_function.fn"], "one for_each resource, no hand-written extras"
    fn = resources["google_cloudfunctions2_function.fn"]
    assert expr(fn["for_each"]) == "local.functions"
    assert expr(fn["name"]) == "each.key"
    assert manifest["functions"], "the manifest lists no functions"

    build = only(fn, "build_config")
    assert build["runtime"] == "python312"
    assert expr(build["entry_point"]) == "each.value.entry_point"
    storage = only(only(build, "source"), "storage_source")
    assert expr(storage["object"]) == "google_storage_bucket_object.bundle[each.key].name"

    service = only(fn, "service_config")
    assert expr(service["available_memory"]) == "each.value.memory"
    assert expr(service["timeout_seconds"]) == "each.value.timeout_s"
    assert expr(service["max_instance_count"]) == "each.value.max_instances"
    # warm instances for functions people wait on (the manifest's `interactive`), none for machines'
    assert expr(service["min_instance_count"]) == (
        "lookup(var.min_instances, each.key, each.value.interactive ? var.interactive_min_instances : 0)"
    )
    assert expr(service["service_account_email"]) == "google_service_account.runtime.email"
    assert expr(service["ingress_settings"]).startswith('each.value.invoker == "public" ? "ALLOW_ALL"')
    secret_env = only(service, "dynamic")["secret_environment_variables"]
    assert expr(secret_env["for_each"]) == "toset(each.value.secrets)"
    assert secret_env["content"][0]["version"] == "latest"

    bundle = resources["google_storage_bucket_object.bundle"]
    assert expr(bundle["for_each"]) == "local.functions"
    assert "build/bundles" in expr(_locals_value(resources, "bundles_dir"))
    assert "filesha256(" in bundle["name"], "objects are named by content so changes redeploy"


def _locals_value(resources: dict[str, Any], name: str) -> str:
    import hcl2

    for path in tf_files():
        with path.open() as handle:
            for block in hcl2.load(handle).get("locals", []):
                if name in block:
                    return str(block[name])
    raise KeyError(name)


def test_env_vars_match_shared_config(tf_locals: dict[str, Any]) -> None:
    from shared.config import Settings

    env = set(re.findall(r'"([A-Z][A-Z0-9_]*)": ', tf_locals["common_env"]))
    aliases = {str(f.validation_alias): f for f in Settings.model_fields.values()}
    required = {alias for alias, f in aliases.items() if f.is_required()}
    assert required <= env, f"Terraform does not set {sorted(required - env)}"
    assert env <= set(aliases), f"Terraform sets env vars shared/config.py does not read: {sorted(env - set(aliases))}"
    assert {
        "GOOGLE_CLOUD_PROJECT",
        "FUNCTION_REGION",
        "ALLOWED_DOMAINS",
        "FUNCTIONS_BASE_URL",
        "SCHEDULER_SERVICE_ACCOUNT",
        "TASKS_SERVICE_ACCOUNT",
        "TASKS_LOCATION",
    } <= env
    # never the emulator or test-only settings in production
    assert not env & {"CLOUD_TASKS_EMULATOR_HOST", "FIREBASE_CERTS_URL", "GOOGLE_OIDC_CERTS_URL"}


def test_base_url_and_audiences(tf_locals: dict[str, Any], resources: dict[str, Any]) -> None:
    assert tf_locals["functions_base_url"] == "https://${var.region}-${var.project_id}.cloudfunctions.net"
    job = resources["google_cloud_scheduler_job.sync"]
    target = only(job, "http_target")
    oidc = only(target, "oidc_token")
    # shared/config.py Settings.function_url: base + "/" + name, which is the audience checked in code
    assert oidc["audience"] == "${local.functions_base_url}/${each.value.function}"
    assert expr(oidc["service_account_email"]) == "google_service_account.scheduler.email"
    assert target["uri"].startswith("${local.functions_base_url}/")


def test_queue_numbers_come_from_the_manifest(resources: dict[str, Any], manifest: dict[str, Any]) -> None:
    queues = {k: v for k, v in resources.items() if k.startswith("google_cloud_tasks_queue.")}
    assert list(queues) == ["google_cloud_tasks_queue.queue"]
    queue = queues["google_cloud_tasks_queue.queue"]
    assert expr(queue["for_each"]) == "local.queues"
    assert expr(queue["name"]) == "each.key"
    used: set[str] = set()
    for block in ("rate_limits", "retry_config"):
        for attr, value in only(queue, block).items():
            text = str(value)
            refs = EACH_VALUE.findall(text)
            assert refs, f"{block}.{attr} = {value!r} does not come from the manifest"
            assert not re.search(r"\d", EACH_VALUE.sub("", text)), f"{block}.{attr} = {value!r} hard-codes a number"
            used.update(r.removeprefix("each.value.") for r in refs)
    for name, spec in manifest["queues"].items():
        missing = used - set(spec)
        assert not missing, f"Terraform reads {sorted(missing)} which manifest queue {name} lacks"
    # and no .tf file anywhere spells out one of the manifest's queue numbers as a rate
    text = "\n".join(p.read_text() for p in tf_files())
    assert not re.search(r"max_dispatches_per_second\s*=\s*[\d.]+", text)
    assert not re.search(r"max_concurrent_dispatches\s*=\s*\d+", text)
    assert not re.search(r"max_attempts\s*=\s*\d+", text)


def test_schedules_come_from_the_manifest(resources: dict[str, Any]) -> None:
    job = resources["google_cloud_scheduler_job.sync"]
    assert expr(job["for_each"]) == "local.schedules"
    assert expr(job["schedule"]) == "each.value.cron"
    assert expr(job["time_zone"]) == "each.value.time_zone"
    assert expr(only(job, "http_target")["body"]) == "base64encode(jsonencode(each.value.body))"


def test_secrets_are_created_without_values(resources: dict[str, Any]) -> None:
    secret = resources["google_secret_manager_secret.secret"]
    assert expr(secret["for_each"]) == "local.secrets"
    access = resources["google_secret_manager_secret_iam_member.runtime_access"]
    assert expr(access["for_each"]) == "local.secrets"
    assert access["role"] == "roles/secretmanager.secretAccessor"
    assert "google_service_account.runtime.email" in access["member"]
    placeholder = resources.get("google_secret_manager_secret_version.placeholder")
    if placeholder:  # a placeholder text, never a value from a variable or a file
        assert placeholder["secret_data"].startswith("unset: ")
        assert "var." not in placeholder["secret_data"] and "file(" not in placeholder["secret_data"]


def test_iam_is_least_privilege(resources: dict[str, Any]) -> None:
    text = "\n".join(p.read_text() for p in tf_files())
    assert text.count('"allUsers"') == 1 and "allAuthenticatedUsers" not in text
    public = resources["google_cloud_run_v2_service_iam_member.public_invoker"]
    assert public["member"] == "allUsers" and expr(public["for_each"]) == "local.public_functions"
    machine = resources["google_cloud_run_v2_service_iam_member.machine_invoker"]
    assert expr(machine["for_each"]) == "local.machine_functions"
    assert expr(machine["member"]) == "serviceAccount:${local.invoker_accounts[each.value.invoker]}"
    for binding in (public, machine):
        assert binding["role"] == "roles/run.invoker"

    project_roles = set()
    for key, body in resources.items():
        if key.startswith("google_project_iam_member."):
            role = body["role"]
            project_roles.update(re.findall(r"roles/[A-Za-z.]+", str(body.get("for_each", ""))) or [role])
    assert project_roles <= {
        "roles/datastore.user",
        "roles/logging.logWriter",
        "roles/artifactregistry.writer",
        "roles/storage.objectViewer",
    }, project_roles
    assert not re.search(r"roles/(owner|editor|iam\.serviceAccountTokenCreator)\b", text)
    acts_as = resources["google_service_account_iam_member.runtime_acts_as_tasks"]
    assert acts_as["role"] == "roles/iam.serviceAccountUser"
    assert expr(acts_as["service_account_id"]) == "google_service_account.tasks.name"
    enqueue = resources["google_cloud_tasks_queue_iam_member.runtime_enqueue"]
    assert enqueue["role"] == "roles/cloudtasks.enqueuer"


def test_invoker_locals_follow_the_manifest(tf_locals: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert 'fn.invoker == "public"' in tf_locals["public_functions"]
    assert 'fn.invoker == "scheduler" || fn.invoker == "tasks"' in tf_locals["machine_functions"]
    assert set(tf_locals["invoker_accounts"]) == {"scheduler", "tasks"}
    assert {fn["invoker"] for fn in manifest["functions"].values()} <= {"public", "scheduler", "tasks"}


def test_checkov_skips_are_justified() -> None:
    for path in tf_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = re.search(r"#checkov:skip=(CKV2?_[A-Z0-9]+_\d+):(.{20,})$", line.strip())
                assert match, f"{path.name}: a checkov skip needs an ID and a real reason: {line.strip()}"


def test_no_secret_values_in_terraform() -> None:
    for path in [*tf_files(), *TF_DIR.glob("*.tfvars*")]:
        text = path.read_text()
        assert not re.search(r"(?i)(access_token|api_key|password|private_key)\s*=\s*\"[^\"$]", text), path.name
        assert not re.search(r"dG9rZW4|-----BEGIN", text), path.name


# -- Firestore ------------------------------------------------------------------------------


def index_key(index: dict[str, Any]) -> str:
    """The for_each key infra/terraform/firestore.tf computes (must be unique)."""
    fields = [f"{f['fieldPath']}:{f.get('order', f.get('arrayConfig'))}" for f in index["fields"]]
    return "|".join([index["collectionGroup"], index.get("queryScope", "COLLECTION"), *fields])


def test_indexes_file_is_standard_and_terraform_reads_it(tf_locals: dict[str, Any], resources: dict[str, Any]) -> None:
    data = json.loads(FIRESTORE_INDEXES.read_text())
    assert isinstance(data.get("indexes"), list)
    assert set(data) <= {"indexes", "fieldOverrides"}
    for index in data["indexes"]:
        assert set(index) <= {"collectionGroup", "queryScope", "fields", "density", "apiScope"}, index
        assert index.get("queryScope", "COLLECTION") in ("COLLECTION", "COLLECTION_GROUP")
        assert len(index["fields"]) >= 2, f"a single-field index is not a composite index: {index}"
        for field in index["fields"]:
            assert set(field) in ({"fieldPath", "order"}, {"fieldPath", "arrayConfig"}), field
            assert field.get("order", "ASCENDING") in ("ASCENDING", "DESCENDING")
            assert field.get("arrayConfig", "CONTAINS") == "CONTAINS"
    keys = [index_key(i) for i in data["indexes"]]
    assert len(keys) == len(set(keys)), "duplicate composite indexes in firestore.indexes.json"
    assert "../../firestore.indexes.json" in tf_locals["index_file"]
    assert expr(resources["google_firestore_index.composite"]["for_each"]) == "local.firestore_indexes"
    for override in data.get("fieldOverrides", []):
        assert {"collectionGroup", "fieldPath"} <= set(override) <= {"collectionGroup", "fieldPath", "indexes", "ttl"}
    assert "local.index_file.fieldOverrides" in resources["google_firestore_field.override"]["for_each"]
    db = resources["google_firestore_database.default"]
    assert db["type"] == "FIRESTORE_NATIVE"


def test_rules_deny_by_default_and_get_the_domains_at_deploy(tf_locals: dict[str, Any]) -> None:
    rules = FIRESTORE_RULES.read_text()
    assert rules.startswith("rules_version = '2';")
    assert "match /{document=**} {\n      allow read, write: if false;" in rules
    assert not re.search(r"allow (write|create|update|delete)[^;]*if (true|signed)", rules)
    assert re.search(r"allow write: if false;", rules)
    for collection in ("contacts", "companies", "admins", "conversations", "runs"):
        assert f"'{collection}'" in rules
    assert "request.auth.token.email_verified == true" in rules

    # the line Terraform rewrites, and Terraform's regex, re-run here with Python's re
    marker = re.findall(r"^.*// @allowed-domains$", rules, re.M)
    assert len(marker) == 1 and marker[0].strip() == 'return ["example.com"]; // @allowed-domains'
    call = tf_locals["firestore_rules"]
    pattern = re.search(r'"/(.+)/",', call).group(1).encode().decode("unicode_escape")
    domains = ["example.com", "corp.example.org"]
    rendered = re.sub(pattern, json.dumps(domains, separators=(",", ":")) + "; // @allowed-domains", rules)
    assert 'return ["example.com","corp.example.org"]; // @allowed-domains' in rendered
    assert rendered.count("@allowed-domains") == rules.count("@allowed-domains")
    assert "../../firestore.rules" in call


def test_firebase_json() -> None:
    config = json.loads(FIREBASE_JSON.read_text())
    assert config["firestore"] == {"rules": "firestore.rules", "indexes": "firestore.indexes.json"}
    assert config["emulators"]["firestore"]["port"] == 8080
    assert config["emulators"]["functions"]["port"] == 5001
    assert config["emulators"]["ui"]["enabled"] is False
    sources = config["functions"] if isinstance(config["functions"], list) else [config["functions"]]
    for source in sources:
        assert (REPO / source["source"]).is_dir()
        assert source["runtime"] == "python312"


@pytest.mark.skipif(not shutil.which("terraform"), reason="terraform CLI not installed (optional: fmt only)")
def test_terraform_fmt() -> None:
    """`terraform fmt` needs no init and no providers; CI machines without terraform skip it."""
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-recursive", str(TF_DIR)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
