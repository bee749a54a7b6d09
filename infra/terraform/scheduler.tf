# Cloud Scheduler jobs from the manifest: one tick of the scheduler function, which plans every
# connection that is due (schedules are data on connections) and recovers stalled runs. It POSTs its body
# to the scheduler function with an OIDC token whose audience is the function's URL.

resource "google_cloud_scheduler_job" "sync" {
  for_each = local.schedules

  project     = var.project_id
  region      = local.scheduler_region
  name        = each.key
  description = "Tributary: scheduled sync (${jsonencode(each.value.body)})"
  schedule    = each.value.cron
  time_zone   = each.value.time_zone
  # The function answers 202 once the run is planned; allow its whole timeout.
  attempt_deadline = "${local.functions[each.value.function].timeout_s}s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = "${local.functions_base_url}/${google_cloudfunctions2_function.fn[each.value.function].name}"
    body        = base64encode(jsonencode(each.value.body))
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = "${local.functions_base_url}/${each.value.function}"
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.machine_invoker]
}
