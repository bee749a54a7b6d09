output "functions_base_url" {
  description = "FUNCTIONS_BASE_URL: https://REGION-PROJECT.cloudfunctions.net."
  value       = local.functions_base_url
}

output "function_urls" {
  description = "Each function's URL (also its OIDC audience)."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => "${local.functions_base_url}/${fn.name}" }
}

output "function_run_uris" {
  description = "The underlying Cloud Run service URIs (run.app)."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.service_config[0].uri }
}

output "service_accounts" {
  description = "Runtime, scheduler, tasks and build service accounts."
  value = {
    runtime   = google_service_account.runtime.email
    scheduler = google_service_account.scheduler.email
    tasks     = google_service_account.tasks.email
    build     = google_service_account.build.email
  }
}

output "queues" {
  description = "Cloud Tasks queue names."
  value       = [for q in google_cloud_tasks_queue.queue : q.name]
}

output "secrets" {
  description = "Secret Manager secrets whose values the operator must add (docs/deploy.md)."
  value       = sort(tolist(local.secrets))
}

output "source_bucket" {
  description = "Bucket holding the function bundles."
  value       = local.source_bucket
}
