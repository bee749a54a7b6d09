"""Views: reads that are not plain records (statistics, dashboard lists), each a small module
of its own declared on its connector (shared.vendors.<vendor>), served by the views
function and kept as precomputed documents until their stream changes (runner.py)."""
