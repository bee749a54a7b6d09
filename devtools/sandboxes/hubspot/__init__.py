"""The sandbox HubSpot: CRM v3 objects, search, v4 associations, OAuth, signed webhooks."""
