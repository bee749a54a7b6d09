"""HubSpot: contacts, companies and deals (CRM v3 objects) over OAuth 2."""
