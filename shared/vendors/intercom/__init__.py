"""Intercom: contacts, companies, admins and conversations (REST API 2.14).

Point INTERCOM_BASE_URL at the sandbox (devtools.sandboxes.intercom) or at
https://api.intercom.io with a real INTERCOM_ACCESS_TOKEN.
"""
