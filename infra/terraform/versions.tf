# Provider versions are pinned to one major line; `terraform init` writes the exact build
# into .terraform.lock.hcl, which the operator commits in their own deployment repository.
terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  # Remote state in a GCS bucket (versioned, locked during apply). The bucket and prefix
  # come from `terraform init -backend-config=envs/<env>.gcs.tfbackend` (docs/deploy.md):
  # one state per environment, never on a laptop.
  backend "gcs" {}

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.20"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.20"
    }
  }
}

provider "google" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id
}

provider "google-beta" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id
}
