# One Cloud Function (gen2, python312) per manifest function, built from the reproducible
# bundle devtools/bundles.py wrote to build/bundles/<name>.zip. The object is named by the
# bundle's sha256, so a function is rebuilt exactly when its code or requirements changed.

resource "google_storage_bucket" "sources" {
  count = var.functions_source_bucket == "" ? 1 : 0

  project                     = var.project_id
  name                        = "${var.project_id}-tributary-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  #checkov:skip=CKV_GCP_62:Access logs of a bucket that only holds build inputs (function zips) add cost, not insight; Cloud Audit Logs cover admin access.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

locals {
  source_bucket = var.functions_source_bucket != "" ? var.functions_source_bucket : google_storage_bucket.sources[0].name

  common_env = merge(var.extra_env, {
    GOOGLE_CLOUD_PROJECT      = var.project_id
    FUNCTION_REGION           = var.region
    TRIBUTARY_ENV             = "production"
    LOG_LEVEL                 = var.log_level
    ALLOWED_DOMAINS           = join(",", local.allowed_domains)
    CORS_ALLOWED_ORIGINS      = join(",", local.cors_origins)
    FUNCTIONS_BASE_URL        = local.functions_base_url
    SCHEDULER_SERVICE_ACCOUNT = google_service_account.scheduler.email
    TASKS_SERVICE_ACCOUNT     = google_service_account.tasks.email
    TASKS_LOCATION            = local.tasks_location
  })
}

resource "google_storage_bucket_object" "bundle" {
  for_each = local.functions

  bucket       = local.source_bucket
  name         = "functions/${each.key}/${filesha256("${local.bundles_dir}/${each.key}.zip")}.zip"
  source       = "${local.bundles_dir}/${each.key}.zip"
  content_type = "application/zip"
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  #checkov:skip=CKV_GCP_124:Public functions are called by browsers over the internet (ALLOW_ALL by design; Firebase ID tokens are verified in code). Machine-only ones use var.machine_ingress and admit only their invoker service account through IAM.

  project     = var.project_id
  location    = var.region
  name        = each.key
  description = "Tributary ${each.key} (${each.value.source_dir})"
  labels      = var.labels

  build_config {
    runtime         = "python312"
    entry_point     = each.value.entry_point
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = local.source_bucket
        object = google_storage_bucket_object.bundle[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    timeout_seconds                  = each.value.timeout_s
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    # Cloud Run serves more than one request per instance only with a whole CPU.
    available_cpu = each.value.concurrency > 1 ? "1" : null
    # Warm instances where a person waits on the answer (a cold one costs about a second of
    # CPU before it answers: bench/results/cold_start.txt); machines' functions scale to zero.
    min_instance_count             = lookup(var.min_instances, each.key, each.value.interactive ? var.interactive_min_instances : 0)
    service_account_email          = google_service_account.runtime.email
    all_traffic_on_latest_revision = true
    ingress_settings               = each.value.invoker == "public" ? "ALLOW_ALL" : var.machine_ingress
    environment_variables          = local.common_env

    dynamic "secret_environment_variables" {
      for_each = toset(each.value.secrets)
      content {
        key        = local.manifest.secret_env[secret_environment_variables.value]
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        # "latest": a rotated secret reaches every new instance without a redeploy.
        version = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_project_iam_member.build,
    google_secret_manager_secret_iam_member.runtime_access,
    google_secret_manager_secret_version.placeholder,
  ]
}

# Public functions (the dashboards' API): anyone may reach them at the IAM layer; every
# route still verifies a Firebase ID token, domain, email_verified and role in code.
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  for_each = local.public_functions

  #checkov:skip=CKV_GCP_102:Browser clients call these with Firebase ID tokens, which Cloud Run IAM cannot verify; authentication is enforced in code (shared/api/policies.py) on every route.
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Machine-only functions: only the service account whose OIDC token the code expects.
resource "google_cloud_run_v2_service_iam_member" "machine_invoker" {
  for_each = local.machine_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${local.invoker_accounts[each.value.invoker]}"
}
