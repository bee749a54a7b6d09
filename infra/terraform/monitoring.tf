# Alerting on failed syncs: every run that ends logs one structured line
# (shared/sync/state.py report_finished: jsonPayload.event = "sync_run_finished", with its
# status and vendor); a log-based metric counts the failed and partial ones, and an alert
# policy notifies var.alert_emails as soon as one appears.

locals {
  failed_syncs_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "jsonPayload.event=\"sync_run_finished\"",
    "jsonPayload.status=(\"failed\" OR \"partial\")",
  ])
}

resource "google_logging_metric" "failed_syncs" {
  project     = var.project_id
  name        = "tributary/failed_syncs"
  description = "Tributary sync runs that ended failed or partial (one log line per run)."
  filter      = local.failed_syncs_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Tributary failed syncs"

    labels {
      key         = "status"
      value_type  = "STRING"
      description = "failed or partial"
    }
    labels {
      key         = "vendor"
      value_type  = "STRING"
      description = "The connection's vendor"
    }
  }

  label_extractors = {
    status = "EXTRACT(jsonPayload.status)"
    vendor = "EXTRACT(jsonPayload.vendor)"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "Tributary (${var.environment}): ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "failed_syncs" {
  project      = var.project_id
  display_name = "Tributary (${var.environment}): a sync failed"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "Failed or partial sync runs"

    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.failed_syncs.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.vendor", "metric.label.status"]
      }

      trigger {
        count = 1
      }
    }
  }

  notification_channels = [for channel in google_monitoring_notification_channel.email : channel.id]

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A Tributary sync run ended **failed** or **partial**. Open the console (Connections, then
      the connection: run history, errors, dead letters), or query the logs:
      `jsonPayload.event="sync_run_finished" AND jsonPayload.status!="succeeded"`.
      docs/deploy.md, "Alerts", says what each status means and what to do.
    EOT
  }

  user_labels = var.labels
}
