variable "project_id" {
  description = "The Google Cloud project Tributary runs in (billing enabled, Firebase added)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (not its name or number)."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and (by default) the queues and scheduler jobs."
  type        = string
  default     = "europe-west1"
}

variable "allowed_domains" {
  description = "Google Workspace / email domains whose verified users may sign in (ALLOWED_DOMAINS and firestore.rules)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_domains) > 0 && alltrue([for d in var.allowed_domains : can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", lower(d)))])
    error_message = "allowed_domains needs at least one domain such as \"example.com\" (no @, no scheme)."
  }
}

variable "firestore_location" {
  description = "Firestore location (a multi-region such as eur3 / nam5, or a region). Cannot change after creation."
  type        = string
  default     = "eur3"
}

variable "create_firestore_database" {
  description = "Create the (default) Firestore database. Set false when the project already has one (or import it)."
  type        = bool
  default     = true
}

variable "firestore_point_in_time_recovery" {
  description = "Keep 7 days of point-in-time recovery for Firestore (costs storage)."
  type        = bool
  default     = true
}

variable "functions_source_bucket" {
  description = "Existing bucket for the function bundles; empty creates <project_id>-tributary-sources."
  type        = string
  default     = ""
}

variable "bundles_dir" {
  description = "Where `python -m devtools.bundles` wrote <function>.zip; empty means <repo>/build/bundles."
  type        = string
  default     = ""
}

variable "tasks_location" {
  description = "Cloud Tasks location (TASKS_LOCATION); empty means var.region."
  type        = string
  default     = ""
}

variable "scheduler_region" {
  description = "Cloud Scheduler location; empty means var.region."
  type        = string
  default     = ""
}

variable "machine_ingress" {
  description = <<-EOT
    Ingress of the functions only Cloud Scheduler / Cloud Tasks call (sync-scheduler, sync-worker).
    ALLOW_ALL works everywhere (IAM run.invoker plus the OIDC check in code guard them);
    ALLOW_INTERNAL_ONLY is tighter (Cloud Run counts Scheduler and Tasks requests from the same project
    as internal); confirm with a sync after switching.
  EOT
  type        = string
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY"], var.machine_ingress)
    error_message = "machine_ingress must be ALLOW_ALL or ALLOW_INTERNAL_ONLY."
  }
}

variable "interactive_min_instances" {
  description = <<-EOT
    Instances kept warm for each function only signed-in people call (the manifest's `interactive`:
    the console's and dashboards' API; not webhooks, health or the machines' functions), so that a person rarely meets a cold start: a cold
    instance spends about a second of CPU (Python, functions-framework, token verification,
    the Firestore client) before its first answer. 0 lets them scale to zero. Cost: docs/deploy.md.
  EOT
  type        = number
  default     = 1

  validation {
    condition     = var.interactive_min_instances >= 0 && floor(var.interactive_min_instances) == var.interactive_min_instances
    error_message = "interactive_min_instances is a whole number of instances, 0 or more."
  }
}

variable "min_instances" {
  description = "Minimum instances per function by deployed name, overriding the rule above (e.g. { \"sync-status\" = 2, \"pylon-trends\" = 0 })."
  type        = map(number)
  default     = {}
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "cors_allowed_origins" {
  description = "Origins (https://dash.example.com) browsers may call the API from; none by default. \"*\" is refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$", o))])
    error_message = "cors_allowed_origins: each entry must be an origin, scheme://host[:port] (no \"*\", no path)."
  }
}

variable "extra_env" {
  description = "More environment variables for every function (e.g. INTERCOM_BASE_URL). Never secrets."
  type        = map(string)
  default     = {}
}

variable "secret_placeholder_versions" {
  description = <<-EOT
    Give each new secret a first version holding a placeholder (not a secret), so the functions
    can deploy before the operator adds the real value with gcloud; functions read version "latest".
  EOT
  type        = bool
  default     = true
}

variable "manage_firebase_project" {
  description = "Add Firebase to the project with Terraform (google-beta). Leave false when it is already a Firebase project."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels put on every resource that takes them."
  type        = map(string)
  default     = { app = "tributary" }
}

variable "environment" {
  description = "Which deployment this is (staging or production): names the alert, the console app and its banner."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "console_enabled" {
  description = "Register the web console (a Firebase web app on Hosting) and allow its origins in CORS."
  type        = bool
  default     = true
}

variable "alert_emails" {
  description = "Who is emailed when a sync fails (the failed-syncs alert policy); empty: the alert shows in Cloud Monitoring only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@ ]+@[^@ ]+\\.[a-z]{2,}$", lower(e)))])
    error_message = "alert_emails must be email addresses."
  }
}
