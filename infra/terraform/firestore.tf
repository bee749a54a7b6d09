# Firestore (native mode), its composite indexes and its security rules. The indexes and the
# rules come from the repository root (firestore.indexes.json, firestore.rules), the same files
# the emulator and the Firebase CLI read: one source for both.

locals {
  firestore_database = "(default)"

  index_file = jsondecode(file("${path.module}/../../firestore.indexes.json"))
  # key: collection|scope|field:order|field:order ... (stable across reorderings of the file)
  firestore_indexes = {
    for idx in local.index_file.indexes :
    join("|", concat(
      [idx.collectionGroup, try(idx.queryScope, "COLLECTION")],
      [for f in idx.fields : "${f.fieldPath}:${try(f.order, f.arrayConfig)}"]
    )) => idx
  }

  # firestore.rules cannot read env vars: its allowedDomains() list is replaced at deploy with
  # var.allowed_domains (the line ending in "// @allowed-domains"; see firestore.rules).
  rules_domains_line = "${jsonencode(local.allowed_domains)}; // @allowed-domains"
  firestore_rules = replace(
    file("${path.module}/../../firestore.rules"),
    "/\\[[^\\]\\n]*\\]; // @allowed-domains/",
    local.rules_domains_line,
  )
}

resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  project                           = var.project_id
  name                              = local.firestore_database
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = var.firestore_point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # `terraform destroy` leaves the data alone; delete the database by hand if you mean it.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.enabled]
}

resource "google_firestore_index" "composite" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = local.firestore_database
  collection  = each.value.collectionGroup
  query_scope = try(each.value.queryScope, "COLLECTION")

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.fieldPath
      order        = try(fields.value.order, null)
      array_config = try(fields.value.arrayConfig, null)
    }
  }

  depends_on = [google_firestore_database.default]
}

# Single-field index overrides and TTL policies ("fieldOverrides" in the same file, Firebase
# CLI semantics: "indexes": [] exempts the field from automatic indexing).
resource "google_firestore_field" "override" {
  for_each = {
    for o in try(local.index_file.fieldOverrides, []) : "${o.collectionGroup}/${o.fieldPath}" => o
  }

  project    = var.project_id
  database   = local.firestore_database
  collection = each.value.collectionGroup
  field      = each.value.fieldPath

  index_config {
    dynamic "indexes" {
      for_each = try(each.value.indexes, [])
      content {
        order        = try(indexes.value.order, null)
        array_config = try(indexes.value.arrayConfig, null)
        query_scope  = try(indexes.value.queryScope, "COLLECTION")
      }
    }
  }

  dynamic "ttl_config" {
    for_each = try(each.value.ttl, false) ? [1] : []
    content {}
  }

  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_ruleset" "firestore" {
  project = var.project_id

  source {
    files {
      name    = "firestore.rules"
      content = local.firestore_rules
    }
  }

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = strcontains(local.firestore_rules, local.rules_domains_line)
      error_message = "firestore.rules has no line ending in \"// @allowed-domains\" to put var.allowed_domains in."
    }
  }

  depends_on = [google_project_service.enabled, google_firestore_database.default, google_firebase_project.this]
}

resource "google_firebaserules_release" "firestore" {
  project      = var.project_id
  name         = "cloud.firestore"
  ruleset_name = "projects/${var.project_id}/rulesets/${google_firebaserules_ruleset.firestore.name}"

  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}
