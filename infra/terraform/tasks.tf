# Cloud Tasks queues, one per connector; every number comes from the manifest, which takes it
# from shared.sync.queues.queue_spec (the same numbers the local stack uses). max_burst_size
# is output-only in Cloud Tasks (derived from the dispatch rate), so it is not set here;
# a max_retry_duration of 0s means no age limit (the manifest writes 0 for "None").

resource "google_cloud_tasks_queue" "queue" {
  for_each = local.queues

  project  = var.project_id
  location = local.tasks_location
  name     = each.key

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = each.value.max_attempts
    min_backoff        = "${each.value.min_backoff_seconds}s"
    max_backoff        = "${each.value.max_backoff_seconds}s"
    max_doublings      = each.value.max_doublings
    max_retry_duration = "${each.value.max_retry_duration_seconds}s"
  }

  # No per-dispatch logging (a full import dispatches ~100 tasks/s); the worker logs its own outcome.

  depends_on = [google_project_service.enabled]
}
