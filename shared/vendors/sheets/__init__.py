"""Google Sheets: marketing leads read from a configured spreadsheet range (Sheets API v4)."""
