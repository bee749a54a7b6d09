"""Pipedrive: per-user connections (each salesperson's API token), persons, organizations,
deals, activities and the custom-field definitions; warmness and "My 500"."""
