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

output "console_url" {
  description = "The web console (Firebase Hosting's default site)."
  value       = var.console_enabled ? "https://${var.project_id}.web.app" : null
}

output "console_config" {
  description = "The console's config.json: `make console ARGS=--from-terraform` reads it. The Firebase web API key is an identifier, not a secret."
  value = var.console_enabled ? {
    mode           = "firebase"
    environment    = var.environment
    functionsBase  = local.functions_base_url
    allowedDomains = local.allowed_domains
    firebase = {
      apiKey     = data.google_firebase_web_app_config.console[0].api_key
      authDomain = data.google_firebase_web_app_config.console[0].auth_domain
      projectId  = var.project_id
      appId      = google_firebase_web_app.console[0].app_id
    }
  } : null
}

output "failed_syncs_metric" {
  description = "The log-based metric the failed-syncs alert watches."
  value       = google_logging_metric.failed_syncs.name
}
