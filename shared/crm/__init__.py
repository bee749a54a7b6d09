"""Records the team owns (customers and contacts): this store is their source of truth.

models.py   what a request may send and what a response carries (strict, sized)
kinds.py    customers and contacts as data: collection, models, filters, sorts
store.py    versioned writes in transactions, soft deletes with undo, the audit trail
reads.py    keyset pages, the change marker (one read) and changes-since
api.py      the HTTP handlers both functions share (ETags, If-Match, Idempotency-Key)
leads.py    converting a synced lead (Google Sheets) into a contact
"""
