"""Salesforce: Account, Contact and Opportunity through SOQL on the org's instance URL."""
