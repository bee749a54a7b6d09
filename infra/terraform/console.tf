# The web console: a Firebase web app (its config gives the console the API key and auth
# domain of Firebase Authentication) served by Firebase Hosting's default site,
# https://PROJECT.web.app. Terraform registers the app and prints the console's config
# (terraform output -json console_config); `make console ARGS=--from-terraform` builds it
# and `firebase deploy --only hosting` uploads it (docs/deploy.md). Its origins are added
# to CORS_ALLOWED_ORIGINS so the browser may call the functions.

locals {
  console_origins = var.console_enabled ? [
    "https://${var.project_id}.web.app",
    "https://${var.project_id}.firebaseapp.com",
  ] : []
  cors_origins = distinct(concat(var.cors_allowed_origins, local.console_origins))
}

resource "google_firebase_web_app" "console" {
  count    = var.console_enabled ? 1 : 0
  provider = google-beta

  project         = var.project_id
  display_name    = "Tributary console (${var.environment})"
  deletion_policy = "DELETE"

  depends_on = [google_project_service.enabled, google_firebase_project.this]
}

data "google_firebase_web_app_config" "console" {
  count    = var.console_enabled ? 1 : 0
  provider = google-beta

  project    = var.project_id
  web_app_id = google_firebase_web_app.console[0].app_id
}
