"""A local stand-in for Pipedrive's API (v1 field definitions, v2 lists and activities)."""
