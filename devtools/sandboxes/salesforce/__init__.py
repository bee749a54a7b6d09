"""The sandbox Salesforce: SOQL over Account, Contact and Opportunity on the sandbox kit."""
