"""A local stand-in for the Google Sheets API v4 (values.get and values:batchGet): the API's
ValueRange shapes (trailing empty rows and cells left out, the requested range echoed in
A1 notation), Google's error body, per-minute read quotas (429 RESOURCE_EXHAUSTED), and
control endpoints a test edits the spreadsheet with. Built on the sandbox kit."""
