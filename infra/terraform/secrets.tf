# Secret Manager secrets from the manifest (function secrets, connector secrets and
# token-encryption-key). Terraform creates the secrets, never their values: the operator adds
# versions with `gcloud secrets versions add` (docs/deploy.md). Functions mount version
# "latest" as env vars named by the manifest's secret_env (intercom-access-token ->
# INTERCOM_ACCESS_TOKEN, token-encryption-key -> CREDENTIALS_KEYS).

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# A first version holding a placeholder (not a secret) so that the functions can deploy
# before the real value exists: Cloud Run refuses a revision whose secret has no version.
# The operator's `gcloud secrets versions add` makes a newer "latest"; Terraform never reads
# or changes versions after this one.
resource "google_secret_manager_secret_version" "placeholder" {
  for_each = var.secret_placeholder_versions ? local.secrets : toset([])

  secret          = google_secret_manager_secret.secret[each.value].id
  secret_data     = "unset: add the real value with gcloud secrets versions add ${each.value} (docs/deploy.md)"
  deletion_policy = "ABANDON"

  lifecycle {
    ignore_changes = [secret_data, enabled]
  }
}

# The functions' runtime identity reads these secrets and no others.
resource "google_secret_manager_secret_iam_member" "runtime_access" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}
