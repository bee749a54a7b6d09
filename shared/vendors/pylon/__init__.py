"""Pylon (usepylon.com): issues, their messages, accounts, users and teams, and the support
dashboard's metrics precomputed after each run that changed something."""
