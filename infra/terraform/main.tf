# Tributary in one Google Cloud project. Everything about functions, queues, schedules and
# secrets comes from manifest.json (python -m devtools.deploy_manifest); nothing is repeated here.

locals {
  manifest = jsondecode(file("${path.module}/manifest.json"))

  functions = local.manifest.functions
  queues    = local.manifest.queues
  schedules = local.manifest.schedules
  secrets   = toset(local.manifest.secrets)

  repo_root   = abspath("${path.module}/../..")
  bundles_dir = var.bundles_dir != "" ? var.bundles_dir : "${local.repo_root}/build/bundles"

  tasks_location   = var.tasks_location != "" ? var.tasks_location : var.region
  scheduler_region = var.scheduler_region != "" ? var.scheduler_region : var.region

  # shared/config.py: FUNCTIONS_BASE_URL; every OIDC audience is base + "/" + function name.
  functions_base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"

  allowed_domains = [for d in var.allowed_domains : trimprefix(lower(trimspace(d)), "@")]

  public_functions = { for name, fn in local.functions : name => fn if fn.invoker == "public" }
  machine_functions = {
    for name, fn in local.functions : name => fn if fn.invoker == "scheduler" || fn.invoker == "tasks"
  }

  services = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "firebase.googleapis.com",
    "firebasehosting.googleapis.com",
    "firebaserules.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "identitytoolkit.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value
  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy         = false
  disable_dependent_services = false
}

# Optional: make the project a Firebase project (Auth and the rules need it). Most teams add
# Firebase in the console first; then leave manage_firebase_project = false.
resource "google_firebase_project" "this" {
  count    = var.manage_firebase_project ? 1 : 0
  provider = google-beta
  project  = var.project_id

  depends_on = [google_project_service.enabled]
}
