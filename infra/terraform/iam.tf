# Service accounts, least privilege:
#   tributary-functions  runtime of every function: Firestore, its secrets, enqueue on its
#                        queues, and actAs tributary-tasks so tasks carry that SA's OIDC token
#   tributary-scheduler  Cloud Scheduler's OIDC identity: run.invoker on sync-scheduler only
#   tributary-tasks      Cloud Tasks' OIDC identity: run.invoker on sync-worker and webhook-worker only
#   tributary-build      Cloud Build of the function images (not the default compute SA)

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "tributary-functions"
  display_name = "Tributary functions runtime"
  depends_on   = [google_project_service.enabled]
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "tributary-scheduler"
  display_name = "Tributary Cloud Scheduler invoker"
  depends_on   = [google_project_service.enabled]
}

resource "google_service_account" "tasks" {
  project      = var.project_id
  account_id   = "tributary-tasks"
  display_name = "Tributary Cloud Tasks invoker"
  depends_on   = [google_project_service.enabled]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "tributary-build"
  display_name = "Tributary function builds"
  depends_on   = [google_project_service.enabled]
}

locals {
  invoker_accounts = {
    scheduler = google_service_account.scheduler.email
    tasks     = google_service_account.tasks.email
  }
}

# Firestore reads and writes (Firestore IAM is project-wide; the functions' code is the boundary).
resource "google_project_iam_member" "runtime_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

# Enqueue on Tributary's queues only (queue-level grants, not project-level).
resource "google_cloud_tasks_queue_iam_member" "runtime_enqueue" {
  for_each = google_cloud_tasks_queue.queue

  project  = var.project_id
  location = each.value.location
  name     = each.value.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.runtime.email}"
}

# Creating a task with an OIDC token for tributary-tasks needs actAs on that account only.
resource "google_service_account_iam_member" "runtime_acts_as_tasks" {
  service_account_id = google_service_account.tasks.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.runtime.email}"
}

# Builds: what a custom Cloud Functions build service account needs and no more: write build
# logs, push the image to Artifact Registry (gcf-artifacts, created by Cloud Functions), read
# the source Cloud Functions stages in its gcf-v2-sources-* bucket. (roles/cloudbuild.builds.builder
# would also work but can act as other service accounts.)
resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
    "roles/storage.objectViewer",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.build.email}"
}
